"""The campaign engine's defects and its one state machine: released callees are sent once,
refused batches are re-batched, the state table drives counts, progress and completion, and a
SENDING mark never sits inside a caller's transaction. The sandbox's own record is the judge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Callee, Campaign, DispatchBatch
from campaigns.services import dispatch
from campaigns.services.actors import Actor
from campaigns.services.calls import call_send_tts, calls_sync_due
from campaigns.services.campaign_plan import campaign_progress
from campaigns.services.campaigns import (
    CampaignError,
    campaign_launch,
    campaign_reconcile,
    campaign_release_unknown,
    campaign_resume,
)
from tests.campaigns.conftest import add_callees

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")
SEND = "/voice/sendGroup"


def sizes(sandbox_state) -> list[int]:
    return [len(r.body["callee"].split(",")) for r in sandbox_state.requests_for(SEND)]


def each_accepted_once(sandbox_state, numbers) -> None:
    accepted = sandbox_state.accepted_callees()
    assert {n: accepted[n] for n in numbers} == dict.fromkeys(numbers, 1)
    assert max(accepted.values()) == 1


@pytest.fixture
def big_campaign(uploaded_file, voice_app):
    return Campaign.objects.create(
        name="Big", app=voice_app, voice_file=uploaded_file, called_info="big"
    )


# ---------------------------------------------------------------------------
# Defect 1: released unknown callees are sent, once, without relaunching
# ---------------------------------------------------------------------------
def test_cli_release_after_a_502_sends_the_released_callees_exactly_once(
    big_campaign, sandbox_state, settings, operator, capsys
):
    settings.ITNIO_SEND_GROUP_MAX = 200
    settings.ITNIO_DISPATCH_CONCURRENCY = 1  # the first request is the first 200 callees
    numbers = add_callees(big_campaign, 450)
    sandbox_state.fail_next(SEND)  # HTTP 502: not processed, so nothing was placed

    call_command("launch_campaign", "Big", "--for-real", "--as", "operator")
    assert sizes(sandbox_state) == [200, 200, 50]
    capsys.readouterr()
    call_command("campaign_status", "Big")
    out = capsys.readouterr().out
    # Nothing pending or sending, but 200 unknown: sent, not finished.
    assert "Big: Sent; 200 callees wait for reconciliation" in out
    assert "not finished: 200 callees wait for reconciliation" in out
    assert "unknown=200" in out
    big_campaign.refresh_from_db()
    assert big_campaign.completed_at is None

    call_command("reconcile_campaign", "Big")
    out = capsys.readouterr().out
    assert "resolved=0 still_unknown=200" in out
    big_campaign.refresh_from_db()
    assert "0 unknown callees found" in big_campaign.state_reason
    assert "250 submitted, 0 rejected, 200 unknown" in big_campaign.state_reason

    call_command("reconcile_campaign", "Big", "--release-unknown", "--yes", "--as", "operator")
    out = capsys.readouterr().out
    assert "released=200" in out
    # The next dispatch (the immediate test backend runs it at once) sent the 200, once.
    assert sizes(sandbox_state) == [200, 200, 50, 200]
    each_accepted_once(sandbox_state, numbers)
    assert not Callee.objects.filter(campaign=big_campaign).exclude(state="submitted").exists()
    big_campaign.refresh_from_db()
    assert big_campaign.state == "completed" and big_campaign.completed_at is not None
    assert "450 submitted, 0 rejected, 0 unknown" in big_campaign.state_reason

    call_command("campaign_status", "Big")
    out = capsys.readouterr().out
    assert "Big: Completed" in out and "wait for reconciliation" not in out

    # Nothing is left to send: another dispatch or tick sends nothing more.
    dispatch.campaign_dispatch(big_campaign.pk)
    assert len(sizes(sandbox_state)) == 4


def test_admin_release_sends_them_and_the_list_says_they_wait(
    client, operator, campaign, sandbox_state, settings
):
    settings.ITNIO_DISPATCH_CONCURRENCY = 1  # the failed request is a full batch of 10
    sandbox_state.fail_next(SEND)
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    client.force_login(operator)
    listing = client.get("/admin/campaigns/campaign/").content.decode()
    assert "Sent; 10 callees wait for reconciliation" in listing
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="waiting-reconciliation"' in page and "10 callees wait for reconciliation" in page
    assert 'id="release-unknown"' in page
    progress = client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/").json()
    assert progress["waiting_for_reconciliation"] == 10
    assert progress["state_display"] == "Sent; 10 callees wait for reconciliation"

    url = f"/admin/campaigns/campaign/{campaign.pk}/release-unknown/"
    assert "Release 10 for resending" in client.get(url).content.decode()
    response = client.post(url, {"post": "yes"}, follow=True)
    assert "Released 10 unknown callees for resending" in response.content.decode()
    assert set(Callee.objects.filter(campaign=campaign).values_list("state", flat=True)) == {
        "submitted"
    }
    each_accepted_once(sandbox_state, Callee.objects.values_list("number", flat=True))
    listing = client.get("/admin/campaigns/campaign/").content.decode()
    assert "wait for reconciliation" not in listing


def test_release_in_a_paused_campaign_waits_for_resume_and_a_cancelled_one_refuses(
    campaign, sandbox_state, settings
):
    settings.ITNIO_DISPATCH_CONCURRENCY = 1
    sandbox_state.fail_next(SEND)
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(state="paused", state_reason="Paused by ops")
    assert campaign_release_unknown(campaign=campaign, actor=SYSTEM) == 10
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert campaign.state_reason.startswith("Paused by ops | 10 unknown callees released")
    assert "10 pending, 25 submitted" in campaign.state_reason
    assert len(sizes(sandbox_state)) == 4  # nothing sent while paused
    campaign_resume(campaign=campaign, actor=SYSTEM)
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    each_accepted_once(sandbox_state, Callee.objects.values_list("number", flat=True))

    other = Campaign.objects.create(
        name="Gone", app=campaign.app, voice_file=campaign.voice_file, state="cancelled"
    )
    Callee.objects.create(campaign=other, number="919800099999", state="unknown")
    with pytest.raises(CampaignError, match="cancelled"):
        campaign_release_unknown(campaign=other, actor=SYSTEM)
    assert Callee.objects.get(campaign=other).state == "unknown"


# ---------------------------------------------------------------------------
# Defect 2: a batch that was not sent is re-batched under the current maximum
# ---------------------------------------------------------------------------
def test_a_refused_batch_is_rebatched_after_the_maximum_is_lowered(
    big_campaign, sandbox_state, settings
):
    settings.ITNIO_SEND_GROUP_MAX = 1000
    numbers = add_callees(big_campaign, 1000)
    sandbox_state.business_code_next(SEND, "-22", "callee holds more than 200 numbers")
    campaign_launch(campaign=big_campaign, actor=SYSTEM)
    big_campaign.refresh_from_db()
    assert big_campaign.state == "paused"
    assert big_campaign.state_reason.startswith("ITNIO refused batch 1")
    assert "-22" in big_campaign.state_reason

    settings.ITNIO_SEND_GROUP_MAX = 200  # the operator lowers it, then resumes
    campaign_resume(campaign=big_campaign, actor=SYSTEM)
    big_campaign.refresh_from_db()
    assert big_campaign.state == "completed", big_campaign.state_reason
    assert sizes(sandbox_state) == [1000, 200, 200, 200, 200, 200]
    each_accepted_once(sandbox_state, numbers)
    batches = DispatchBatch.objects.filter(campaign=big_campaign).order_by("sequence")
    assert [(b.sequence, b.state, b.size) for b in batches] == [
        (1, "sent", 200),
        (2, "sent", 200),
        (3, "sent", 200),
        (4, "sent", 200),
        (5, "sent", 200),
    ]


def test_a_refusal_by_the_portals_own_limit_check_says_so(campaign, sandbox_state, settings):
    settings.ITNIO_LOOP_COUNT_MAX = 1  # the campaign asks for loopCount 2
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert campaign.state_reason.startswith(
        "The portal's own limit check refused batch 1 before sending it (nothing was sent): "
        "loopCount"
    )
    assert "ITNIO refused" not in campaign.state_reason
    assert sandbox_state.requests_for(SEND) == []
    assert set(Callee.objects.values_list("state", flat=True)) == {"pending"}


@pytest.mark.parametrize(("value", "errors"), [(1000, []), (200, []), (1001, ["itnio.E001"])])
def test_send_group_max_above_the_documented_limit_is_a_system_check_error(settings, value, errors):
    settings.ITNIO_SEND_GROUP_MAX = value
    assert [m.id for m in checks.run_checks() if m.id.startswith("itnio.")] == errors
    if errors:
        with pytest.raises(CommandError, match="ITNIO_SEND_GROUP_MAX is 1001"):
            call_command("check")


# ---------------------------------------------------------------------------
# The state table: counts, progress, completion
# ---------------------------------------------------------------------------
def test_progress_counts_final_records_and_48_hours_without_one_as_not_reached(
    campaign, sandbox_state
):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    now = timezone.now()
    progress = campaign_progress(campaign, now=now)
    assert (progress.counts["submitted"], progress.done, progress.percent) == (35, 0, 0.0)
    later = campaign_progress(campaign, now=now + timedelta(hours=49))
    assert (later.counts["submitted"], later.counts["not_reached"], later.percent) == (0, 35, 100.0)

    calls_sync_due(actor=SYSTEM)
    progress = campaign_progress(campaign)
    answered = Callee.objects.filter(campaign=campaign, call__answer_time__isnull=False).count()
    assert progress.counts["reached"] == answered
    assert progress.counts["not_reached"] == 35 - answered
    assert (progress.counts["submitted"], progress.percent) == (0, 100.0)


def test_a_sent_campaign_is_finished_once_reconciliation_resolves_its_unknown(
    campaign, sandbox_state, settings
):
    settings.ITNIO_DISPATCH_CONCURRENCY = 1
    sandbox_state.drop_next(SEND)  # placed, but the answer never came: unknown
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.state, campaign.completed_at) == ("completed", None)
    assert "10 callees wait for reconciliation" in campaign.state_reason
    report = campaign_reconcile(campaign=campaign, actor=SYSTEM)
    assert (report.resolved, report.still_unknown) == (10, 0)
    campaign.refresh_from_db()
    assert campaign.completed_at is not None
    assert campaign.state_reason == (
        "Reconciled by system:test: 10 unknown callees found in ITNIO's records. "
        "All callees sent: 35 submitted, 0 rejected, 0 unknown."
    )
    each_accepted_once(sandbox_state, Callee.objects.values_list("number", flat=True))


def test_the_campaign_page_shows_the_state_table_as_its_legend(client, operator, campaign):
    client.force_login(operator)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="callee-state-legend"' in page
    for words in (
        "may be claimed now",
        "in a request in flight",
        "ITNIO accepted it, no final record yet",
        "the record is final: the call was answered",
        "still not final 48 hours after submission",
        "ITNIO refused the number",
        "reconciliation decides",
    ):
        assert words in page
    assert 'id="count-not_reached"' in page and 'id="count-pending">35<' in page


# ---------------------------------------------------------------------------
# The claim's eligibility step, and SENDING marks outside any caller's transaction
# ---------------------------------------------------------------------------
def test_a_rule_in_the_eligibility_step_decides_what_the_claim_takes(
    campaign, sandbox_state, monkeypatch
):
    original = dispatch.sendable_callees

    def not_ending_in_7(campaign):
        return original(campaign).exclude(number__endswith="7")

    monkeypatch.setattr(dispatch, "sendable_callees", not_ending_in_7)
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    sent = {n for r in sandbox_state.requests_for(SEND) for n in r.body["callee"].split(",")}
    held = set(Callee.objects.filter(number__endswith="7").values_list("number", flat=True))
    assert held and not (sent & held) and len(sent) == 35 - len(held)
    assert set(Callee.objects.filter(number__in=held).values_list("state", flat=True)) == {
        "pending"
    }
    campaign.refresh_from_db()
    assert campaign.state == "running"  # pending callees remain: not sent yet


def test_no_sending_mark_can_be_wrapped_in_a_callers_transaction(
    campaign, sandbox_state, voice_app
):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        dispatch._Claimer(campaign).claim()
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        call_send_tts(app=voice_app, callee="919800000099", language="EN", text="hi", actor=SYSTEM)
    assert sandbox_state.requests_for(SEND) == []
    assert sandbox_state.requests_for("/voice/sendCode") == []
    assert not DispatchBatch.objects.exists()


def test_cancel_stops_the_claim_itself(campaign, sandbox_state, settings):
    settings.ITNIO_DISPATCH_CONCURRENCY = 1

    def operator_cancels(record):
        # While ITNIO holds the first request, an operator cancels the campaign.
        Campaign.objects.filter(pk=campaign.pk).update(state="cancelled")
        connection.close()

    sandbox_state.on_send_held = operator_cancels
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    assert len(sandbox_state.requests_for(SEND)) == 1
    assert Callee.objects.filter(state="pending").count() == 25
