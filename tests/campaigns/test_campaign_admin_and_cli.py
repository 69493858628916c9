"""Campaign admin pages and commands: plan first, permissions, steering, status."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Callee, Campaign
from campaigns.services.actors import Actor
from campaigns.services.calls import calls_sync_due

pytestmark = pytest.mark.django_db(transaction=True)


def test_launch_shows_the_plan_then_launches_on_confirmation(
    client, operator, campaign, sandbox_state
):
    client.force_login(operator)
    url = f"/admin/campaigns/campaign/{campaign.pk}/launch/"
    page = client.get(url).content.decode()
    assert "35 pending" in page and "4 sendGroup requests of up to 10" in page
    assert "promo.wav" in page and "1008122211" in page and 'id="confirm-launch"' in page
    assert sandbox_state.requests_for("/voice/sendGroup") == []
    response = client.post(url, {"post": "yes"}, follow=True)
    campaign.refresh_from_db()
    assert campaign.state == "completed"  # the immediate test backend ran the dispatch
    assert "Spring promo: Completed. All callees sent" in response.content.decode()
    assert len(sandbox_state.requests_for("/voice/sendGroup")) == 4
    progress = client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/").json()
    # Accepted, no final record yet: not terminal (the state table), so 0 % until records come.
    assert progress["percent"] == 0.0 and progress["counts"]["submitted"] == 35
    assert progress["state"] == "completed"
    calls_sync_due(actor=Actor.system("test"))
    progress = client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/").json()
    assert progress["percent"] == 100.0
    assert progress["counts"]["reached"] + progress["counts"]["not_reached"] == 35


def test_plan_page_names_what_stops_a_launch(client, operator, campaign):
    Callee.objects.all().delete()
    client.force_login(operator)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/launch/").content.decode()
    assert "No pending callees" in page and 'id="confirm-launch"' not in page


def test_viewer_cannot_launch_or_steer(client, viewer, campaign, sandbox_state):
    client.force_login(viewer)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="launch-campaign"' not in page and 'id="pause-campaign"' not in page
    assert client.get(f"/admin/campaigns/campaign/{campaign.pk}/launch/").status_code == 403
    assert (
        client.post(f"/admin/campaigns/campaign/{campaign.pk}/launch/", {"post": "yes"}).status_code
        == 403
    )
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    assert client.post(f"/admin/campaigns/campaign/{campaign.pk}/steer/pause/").status_code == 403
    campaign.refresh_from_db()
    assert campaign.state == "running"
    assert sandbox_state.requests_for("/voice/sendGroup") == []


def test_pause_resume_cancel_buttons(client, operator, campaign, sandbox_state):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    client.force_login(operator)
    client.post(f"/admin/campaigns/campaign/{campaign.pk}/steer/pause/")
    campaign.refresh_from_db()
    assert campaign.state == "paused" and campaign.state_reason == "Paused by operator"
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="resume-campaign"' in page
    client.post(f"/admin/campaigns/campaign/{campaign.pk}/steer/cancel/")
    campaign.refresh_from_db()
    assert campaign.state == "cancelled"
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'name="_save"' not in page  # a finished campaign is read-only
    assert sandbox_state.requests_for("/voice/sendGroup") == []


def test_commands_create_plan_launch_status(
    voice_app, uploaded_file, capsys, operator, sandbox_state, settings
):
    settings.ITNIO_SEND_GROUP_MAX = 10
    call_command(
        "create_campaign",
        "Autumn",
        "--app",
        voice_app.app_id,
        "--voice-file",
        "promo.wav",
        "--loop-count",
        "2",
    )
    campaign = Campaign.objects.get(name="Autumn")
    assert campaign.state == "draft" and campaign.loop_count == 2
    Callee.objects.bulk_create(
        Callee(campaign=campaign, number=str(628100000001 + i)) for i in range(25)
    )
    capsys.readouterr()
    call_command("launch_campaign", "Autumn")
    out = capsys.readouterr().out
    assert (
        "25 pending" in out
        and "3 sendGroup requests" in out
        and "Plan only: nothing was sent" in out
    )
    assert sandbox_state.requests_for("/voice/sendGroup") == []
    call_command("launch_campaign", "Autumn", "--for-real", "--as", "operator")
    campaign.refresh_from_db()
    assert campaign.state == "completed" and campaign.state_changed_by == "portal"
    call_command("campaign_status", "Autumn")
    out = capsys.readouterr().out
    assert "submitted=25" in out and "progress: 0.0%" in out and "batches: sent=3" in out
    calls_sync_due(actor=Actor.system("test"))  # the records become final
    call_command("campaign_status", "Autumn")
    out = capsys.readouterr().out
    assert "submitted=0" in out and "progress: 100.0%" in out and "batches: sent=3" in out


def test_command_errors_and_exit_codes(voice_app, uploaded_file, viewer, campaign):
    with pytest.raises(CommandError) as exc:
        call_command("create_campaign", "X", "--app", voice_app.app_id, "--voice-file", "nope.wav")
    assert exc.value.returncode == 2
    with pytest.raises(CommandError) as exc:
        call_command(
            "create_campaign",
            "X",
            "--app",
            voice_app.app_id,
            "--voice-file",
            "promo.wav",
            "--loop-count",
            "12",
        )
    assert exc.value.returncode == 2 and "loopCount" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        call_command("launch_campaign", "No such")
    assert exc.value.returncode == 2
    with pytest.raises(CommandError) as exc:
        call_command("launch_campaign", campaign.name, "--for-real", "--as", "viewer")
    assert exc.value.returncode == 2 and "may not place calls" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        call_command("pause_campaign", campaign.name)
    assert exc.value.returncode == 1 and "Only a running or scheduled" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        call_command("reconcile_campaign", campaign.name, "--release-unknown")
    assert exc.value.returncode == 2 and "may already have been called" in str(exc.value)


def test_reconcile_command_resolves_and_releases(campaign, sandbox_state, capsys):
    from campaigns.services.dispatch import campaign_dispatch

    sandbox_state.drop_next("/voice/sendGroup")
    sandbox_state.fail_next("/voice/sendGroup")
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_dispatch(campaign.pk)
    assert Callee.objects.filter(campaign=campaign, state="unknown").count() == 20
    call_command("reconcile_campaign", campaign.name, "--release-unknown", "--yes")
    out = capsys.readouterr().out
    assert "resolved=10 still_unknown=10" in out and "released=10" in out
    # The released ten are sent by the next dispatch (the immediate test backend runs it),
    # once: nothing stays pending.
    assert Callee.objects.filter(campaign=campaign, state="pending").count() == 0
    assert set(Callee.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        "submitted"
    }
    assert max(sandbox_state.accepted_callees().values()) == 1


def test_the_add_campaign_form_has_no_empty_batches_table(client, db):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root2", "r@example.com", "pw"))
    page = client.get("/admin/campaigns/campaign/add/").content.decode()
    assert page.count('name="_save"') >= 1
    assert "Dispatch batches" not in page
