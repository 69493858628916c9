"""Two-person approval: above LAUNCH_APPROVAL_ABOVE_CALLEES a launch waits for a second person
with approve_launch, never the requester; an approval holds only for the plan it was given."""

from __future__ import annotations

import io

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Callee, Campaign, LaunchApproval
from tests.campaigns.conftest import add_callees
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def approvals_on(settings):
    settings.LAUNCH_APPROVAL_ABOVE_CALLEES = 10


@pytest.fixture
def second_admin(db):
    return make_staff("second", "Admin")


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), str(exc)
    return 0, out.getvalue(), err.getvalue()


def sent(sandbox_state) -> int:
    return len(sandbox_state.requests_for("/voice/sendGroup"))


def test_below_the_threshold_a_launch_needs_nobody_else(
    campaign, operator, settings, sandbox_state
):
    settings.LAUNCH_APPROVAL_ABOVE_CALLEES = 35
    code, _out, _err = run("launch_campaign", campaign.name, "--for-real", "--as", "operator")
    assert code == 0 and sent(sandbox_state) == 4
    assert not LaunchApproval.objects.exists()


def test_a_launch_above_the_threshold_waits_and_only_a_second_person_starts_it(
    campaign, admin_user, second_admin, operator, approvals_on, sandbox_state
):
    code, _out, message = run("launch_campaign", campaign.name, "--for-real", "--as", "boss")
    assert code == 1 and "waits for a second person's approval" in message
    campaign.refresh_from_db()
    assert campaign.state == "draft" and sent(sandbox_state) == 0
    request = LaunchApproval.objects.get()
    assert request.state == "pending" and request.requested_by == "boss"
    assert request.snapshot["audience"] == 35
    # Launching again files nothing new: the same plan is already waiting.
    assert run("launch_campaign", campaign.name, "--for-real", "--as", "boss")[0] == 1
    assert LaunchApproval.objects.count() == 1
    # The requester may not approve their own launch, nor may an Operator.
    code, _out, message = run("approve_campaign", campaign.name, "--as", "boss")
    assert code == 2 and "a second person has to approve it" in message
    code, _out, message = run("approve_campaign", campaign.name, "--as", "operator")
    assert code == 2 and "approve_launch" in message
    assert sent(sandbox_state) == 0
    code, out, _err = run("approve_campaign", campaign.name, "--as", "second")
    assert code == 0 and "Approved and launched; the campaign is completed" in out
    campaign.refresh_from_db()
    assert campaign.state == "completed" and sent(sandbox_state) == 4
    request.refresh_from_db()
    assert request.state == "used" and request.decided_by == "second"
    history = LogEntry.objects.get(object_id=str(campaign.pk))
    assert history.user.username == "second" and "requested by boss" in history.change_message


def test_a_change_to_the_audience_voids_the_request(
    campaign, admin_user, second_admin, approvals_on, sandbox_state
):
    assert run("launch_campaign", campaign.name, "--for-real", "--as", "boss")[0] == 1
    add_callees(campaign, 5, start=919900000001)
    code, _out, message = run("approve_campaign", campaign.name, "--as", "second")
    assert code == 1 and "The plan changed after the request (audience)" in message
    assert LaunchApproval.objects.get().state == "void"
    campaign.refresh_from_db()
    assert campaign.state == "draft" and sent(sandbox_state) == 0
    # A new launch asks again, for the plan as it is now.
    assert run("launch_campaign", campaign.name, "--for-real", "--as", "boss")[0] == 1
    assert LaunchApproval.objects.get(state="pending").snapshot["audience"] == 40


def test_an_approved_plan_changed_before_its_launch_does_not_start(
    campaign, admin_user, second_admin, approvals_on, sandbox_state, monkeypatch
):
    """Approved, but the campaign's launch fails (here: ITNIO's file gone); the audience then
    changes: the next launch does not use the old approval."""
    from campaigns.models import LaunchApproval as Row
    from campaigns.services.actors import Actor
    from campaigns.services.approvals import approval_gate
    from campaigns.services.campaign_plan import campaign_plan

    boss = Actor.from_user(admin_user)
    request = approval_gate(campaign, campaign_plan(campaign), boss)
    Row.objects.filter(pk=request.pk).update(state="approved")
    Callee.objects.filter(campaign=campaign).first().delete()
    waiting = approval_gate(campaign, campaign_plan(campaign), boss)
    assert waiting is not None and waiting.snapshot["audience"] == 34
    assert Row.objects.get(pk=request.pk).state == "void"


def test_a_rejection_needs_a_reason_and_leaves_the_campaign_a_draft(
    campaign, admin_user, second_admin, approvals_on, sandbox_state
):
    assert run("launch_campaign", campaign.name, "--for-real", "--as", "boss")[0] == 1
    code, _out, message = run("reject_campaign", campaign.name, "--as", "second")
    assert code == 1 and "Say why" in message
    code, out, _err = run(
        "reject_campaign", campaign.name, "--as", "second", "--reason", "wrong list"
    )
    assert code == 0 and "Rejected" in out
    request = LaunchApproval.objects.get()
    assert request.state == "rejected" and request.reason == "wrong list"
    assert Campaign.objects.get(pk=campaign.pk).state == "draft" and sent(sandbox_state) == 0
    assert run("approve_campaign", campaign.name, "--as", "second")[0] == 1  # nothing waits


def test_approvers_review_the_launch_in_the_admin(
    client, campaign, admin_user, second_admin, operator, approvals_on, sandbox_state
):
    client.force_login(admin_user)
    launch = f"/admin/campaigns/campaign/{campaign.pk}/launch/"
    page = client.post(launch, {"post": "yes"}, follow=True).content.decode()
    assert "waits for a second person&#x27;s approval" in page
    assert 'id="waiting-approval"' in page
    approval = f"/admin/campaigns/campaign/{campaign.pk}/approval/"
    own = client.get(approval).content.decode()
    assert 'id="not-yours"' in own and 'id="approve-launch"' not in own
    assert client.post(approval, {"decision": "approve"}).status_code == 302
    assert Campaign.objects.get(pk=campaign.pk).state == "draft"
    client.force_login(operator)
    assert client.get(approval).status_code == 403
    home = client.get("/admin/").content.decode()
    assert "launch waits for approval" not in home
    client.force_login(second_admin)
    home = client.get("/admin/").content.decode()
    assert "Spring promo: launch waits for approval (asked by boss)" in home
    page = client.get(approval).content.decode()
    assert 'id="approve-launch"' in page and 'id="approval-snapshot"' in page
    response = client.post(approval, {"decision": "approve"}, follow=True)
    assert "Approved and launched; the campaign is completed" in response.content.decode()
    assert sent(sandbox_state) == 4
    assert "launch waits for approval" not in client.get("/admin/").content.decode()


def test_with_two_factor_on_only_a_session_that_gave_its_code_decides(
    client, campaign, admin_user, second_admin, approvals_on, settings, sandbox_state
):
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert run("launch_campaign", campaign.name, "--for-real", "--as", "boss")[0] == 1
    settings.TWO_FACTOR_REQUIRED = "privileged"
    device = TOTPDevice.objects.create(user=second_admin, name="default", confirmed=True)
    client.force_login(second_admin)  # the password only: no code given
    approval = f"/admin/campaigns/campaign/{campaign.pk}/approval/"
    client.post(approval, {"decision": "approve"})
    assert Campaign.objects.get(pk=campaign.pk).state == "draft" and sent(sandbox_state) == 0
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # as the code step records it
    session.save()
    response = client.post(approval, {"decision": "approve"}, follow=True)
    assert "Approved and launched" in response.content.decode()
    assert sent(sandbox_state) == 4


def test_a_worst_case_above_the_cost_threshold_waits_too(
    campaign, admin_user, second_admin, settings, sandbox_state
):
    """Few callees, but a worst case above LAUNCH_APPROVAL_ABOVE_COST in that currency."""
    import io as _io

    from campaigns.services.actors import Actor
    from campaigns.services.rates import rate_card_import

    card = "prefix,rate,currency,bill_period\n91,0.60,USD,60+60\n"
    rate_card_import(
        app=campaign.app, source=_io.BytesIO(card.encode()), name="card.csv",
        actor=Actor.from_user(admin_user),
    )  # fmt: skip
    settings.LAUNCH_APPROVAL_ABOVE_COST = "10.00 USD"  # 35 callees × up to 120 s × 0.60/min
    code, _out, message = run("launch_campaign", campaign.name, "--for-real", "--as", "boss")
    assert code == 1 and "second person" in message
    assert LaunchApproval.objects.get().snapshot["worst_case"].endswith("USD")
    settings.LAUNCH_APPROVAL_ABOVE_COST = "100.00 EUR"  # another currency: no netting
    LaunchApproval.objects.all().delete()
    assert run("launch_campaign", campaign.name, "--for-real", "--as", "boss")[0] == 0
