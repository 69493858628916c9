"""Dispatch: batches, exactly-once outcomes, pause on refusals, window, tick recovery, reconcile."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from campaigns.models import Call, Callee, Campaign, DispatchBatch
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.calls import calls_sync_due
from campaigns.services.campaign_plan import campaign_plan, campaign_progress
from campaigns.services.campaign_state import in_calling_window
from campaigns.services.campaigns import (
    CampaignError,
    campaign_launch,
    campaign_pause,
    campaign_reconcile,
    campaign_release_unknown,
    campaigns_tick,
)
from campaigns.services.dispatch import campaign_dispatch
from itnio_portal.itnio import ItnioNotSentError
from tests.campaigns.conftest import add_callees
from tests.pg import lost_connection_error

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")


def states(campaign):
    return dict(Callee.objects.filter(campaign=campaign).values_list("number", "state"))


def test_plan_names_what_will_happen(campaign):
    plan = campaign_plan(campaign)
    assert (plan.callees, plan.requests, plan.per_request, plan.problems) == (35, 4, 10, [])
    text = "\n".join(plan.lines())
    assert (
        "35 pending" in text and "4 sendGroup requests of up to 10" in text and "promo.wav" in text
    )


def test_launch_sends_every_callee_once_in_batches(
    campaign, sandbox_state, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        campaign_launch(campaign=campaign, actor=SYSTEM)
    campaign.refresh_from_db()
    assert campaign.state == "completed", campaign.state_reason
    assert set(states(campaign).values()) == {"submitted"}
    requests = sandbox_state.requests_for("/voice/sendGroup")
    assert sorted(len(r.body["callee"].split(",")) for r in requests) == [5, 10, 10, 10]
    assert max(sandbox_state.accepted_callees().values()) == 1
    assert {r.body["calledInfo"] for r in requests} == {
        f"spring [c{campaign.pk}b{i}]" for i in (1, 2, 3, 4)
    }
    assert all(r.body["loopCount"] == 2 and r.body["displayNum"] == "1008122211" for r in requests)
    assert Call.objects.filter(campaign=campaign, kind="group", state="submitted").count() == 35
    callee = Callee.objects.filter(campaign=campaign).first()
    assert callee.call.voice_id == callee.voice_id
    assert DispatchBatch.objects.filter(campaign=campaign, state="sent").count() == 4
    # Accepted is not final: progress counts terminal callees (the state table), so it
    # reaches 100 % once ITNIO's records are final.
    progress = campaign_progress(campaign)
    assert (progress.percent, progress.counts["submitted"]) == (0.0, 35)
    calls_sync_due(actor=SYSTEM)
    progress = campaign_progress(campaign)
    assert progress.percent == 100.0
    assert progress.counts["reached"] + progress.counts["not_reached"] == 35


def test_rejected_numbers_are_marked_with_the_reason(campaign, sandbox_state):
    add_callees(
        campaign, 2, start=919800010000 - 1
    )  # 919800009999 and 919800010000: ...0000 is refused
    campaign_launch_now(campaign)
    callee = Callee.objects.get(campaign=campaign, number="919800010000")
    assert callee.state == "rejected" and "invalid number" in callee.reason
    assert Callee.objects.get(campaign=campaign, number="919800009999").state == "submitted"


def campaign_launch_now(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    return campaign_dispatch(campaign.pk)


@pytest.mark.parametrize("fault", ["502", "drop"])
def test_unknown_outcome_is_never_resent(campaign, sandbox_state, fault):
    (sandbox_state.fail_next if fault == "502" else sandbox_state.drop_next)("/voice/sendGroup")
    report = campaign_launch_now(campaign)
    assert report.unknown == 10
    unknown = [n for n, s in states(campaign).items() if s == "unknown"]
    assert len(unknown) == 10
    batch = DispatchBatch.objects.get(campaign=campaign, state="unknown")
    assert "never resent automatically" in batch.reason
    # Running the dispatcher again sends nothing more.
    campaign_launch_now(campaign)
    assert len(sandbox_state.requests_for("/voice/sendGroup")) == 4
    accepted = sandbox_state.accepted_callees()
    assert all(accepted[n] == (0 if fault == "502" else 1) for n in unknown)
    # Reconciliation resolves the ones ITNIO really placed (the dropped answer), not the 502.
    result = campaign_reconcile(campaign=campaign, actor=SYSTEM)
    if fault == "drop":
        assert (result.resolved, result.still_unknown) == (10, 0)
        assert set(states(campaign).values()) == {"submitted"}
        assert DispatchBatch.objects.get(pk=batch.pk).state == "sent"
        assert Call.objects.filter(campaign=campaign).count() == 35
    else:
        assert (result.resolved, result.still_unknown) == (0, 10)
        assert campaign_release_unknown(campaign=campaign, actor=SYSTEM) == 10
        campaign.refresh_from_db()
        Campaign.objects.filter(pk=campaign.pk).update(state="running")
        campaign_dispatch(campaign.pk)
        assert set(states(campaign).values()) == {"submitted"}
        assert max(sandbox_state.accepted_callees().values()) == 1


def test_connection_refused_returns_the_batch_to_pending_then_pauses(campaign, account, settings):
    settings.DISPATCH_PAUSE_AFTER_NOT_SENT = 1
    account.base_url = "http://127.0.0.1:9"
    account.save()
    report = campaign_launch_now(campaign)
    campaign.refresh_from_db()
    assert report.not_sent >= 1 and report.unknown == 0
    assert campaign.state == "paused" and "could not be reached" in campaign.state_reason
    assert set(states(campaign).values()) == {"pending"}
    assert DispatchBatch.objects.filter(campaign=campaign, state="pending").exists()


@pytest.mark.parametrize(
    ("code", "reason"), [("-10", "balance is insufficient"), ("-1", "Authentication error")]
)
def test_balance_or_auth_errors_pause_with_the_reason(campaign, sandbox_state, code, reason):
    sandbox_state.business_code_next("/voice/sendGroup", code, reason)
    campaign_launch_now(campaign)
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert reason in campaign.state_reason and code in campaign.state_reason
    assert "unknown" not in states(campaign).values()
    # The refused batch, and the one claimed ahead meanwhile (never sent), wait as pending.
    pending = DispatchBatch.objects.filter(campaign=campaign, state="pending")
    assert pending.filter(code=code).count() == 1 and pending.count() <= 2
    pending_ids = list(pending.values_list("pk", flat=True))
    # Resuming sends the same batches again: they were never placed.
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_dispatch(campaign.pk)
    assert set(
        DispatchBatch.objects.filter(pk__in=pending_ids).values_list("state", flat=True)
    ) == {"sent"}
    assert set(states(campaign).values()) == {"submitted"}
    assert max(sandbox_state.accepted_callees().values()) == 1


def test_pause_between_batches(campaign, sandbox_state, settings):
    from django.db import connection

    settings.ITNIO_DISPATCH_CONCURRENCY = 1

    def operator_presses_pause(record):
        # While ITNIO holds the first request, an operator pauses the campaign.
        Campaign.objects.filter(pk=campaign.pk).update(state="paused")
        connection.close()

    sandbox_state.on_send_held = operator_presses_pause
    campaign_launch_now(campaign)
    assert len(sandbox_state.requests_for("/voice/sendGroup")) == 1
    assert list(states(campaign).values()).count("submitted") == 10
    campaign.refresh_from_db()
    assert campaign.state == "paused"


def test_calling_window_including_midnight_crossing(campaign):
    campaign.window_tz = "Asia/Kolkata"
    campaign.window_start, campaign.window_end = time(9, 0), time(18, 0)
    noon_india = timezone.now().replace(hour=6, minute=30)  # 12:00 in Kolkata (UTC+5:30)
    assert in_calling_window(campaign, noon_india)
    assert not in_calling_window(campaign, noon_india + timedelta(hours=8))
    campaign.window_start, campaign.window_end = time(22, 0), time(2, 0)
    assert in_calling_window(campaign, noon_india + timedelta(hours=11))  # 23:00
    assert not in_calling_window(campaign, noon_india)


def test_outside_the_window_nothing_is_sent(campaign, sandbox_state):
    now_utc = timezone.now()
    campaign.window_tz = "UTC"
    campaign.window_start = (now_utc + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    campaign.window_end = (now_utc + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    campaign.save()
    report = campaign_launch_now(campaign)
    assert report.stopped == "outside the calling window"
    assert sandbox_state.requests_for("/voice/sendGroup") == []


def test_tick_starts_scheduled_and_restarts_dead_dispatchers(campaign, sandbox_state, settings):
    campaign.scheduled_start = timezone.now() + timedelta(hours=1)
    campaign.save()
    campaign = campaign_launch(campaign=campaign, actor=SYSTEM)
    assert campaign.state == "scheduled"
    assert sandbox_state.requests_for("/voice/sendGroup") == []
    report = campaigns_tick(now=timezone.now() + timedelta(hours=1, minutes=1))
    assert report.started == ["Spring promo"]
    campaign.refresh_from_db()
    assert campaign.state == "completed"  # the immediate backend ran the dispatch inline
    assert set(states(campaign).values()) == {"submitted"}


def test_a_dead_dispatchers_batches_become_unknown(campaign, sandbox_state, settings):
    # Simulate a dispatcher killed mid-request: batch and callees left SENDING, lease stale.
    settings.DISPATCH_LEASE_SECONDS = 60
    batch = DispatchBatch.objects.create(
        campaign=campaign,
        sequence=1,
        size=2,
        state="sending",
        request_started_at=timezone.now() - timedelta(minutes=10),
    )
    Callee.objects.filter(number__in=["919800000001", "919800000002"]).update(
        batch=batch, state="sending"
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        state="running",
        dispatch_lease="dead",
        dispatch_heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    report = campaigns_tick()
    assert report.unknown_batches == 1 and report.enqueued == ["Spring promo"]
    assert states(campaign)["919800000001"] == "unknown"
    assert list(states(campaign).values()).count("submitted") == 33
    assert "919800000001" not in {
        n
        for r in sandbox_state.requests_for("/voice/sendGroup")
        for n in r.body["callee"].split(",")
    }


def test_a_live_dispatcher_blocks_a_second_one(campaign, sandbox_state):
    Campaign.objects.filter(pk=campaign.pk).update(
        state="running", dispatch_lease="alive", dispatch_heartbeat_at=timezone.now()
    )
    assert campaign_dispatch(campaign.pk).stopped == "another dispatcher is running"
    assert sandbox_state.requests_for("/voice/sendGroup") == []


# A lost database connection (tests/test_dbretry.py and test_lost_connection.py cut real ones
# on PostgreSQL): here the dispatcher's own writes fail the way a dropped connection fails them.
def sent_once_each(campaign, sandbox_state) -> None:
    campaign.refresh_from_db()
    assert campaign.state == "completed", campaign.state_reason
    assert set(states(campaign).values()) == {"submitted"}
    assert len(sandbox_state.requests_for("/voice/sendGroup")) == 4
    assert max(sandbox_state.accepted_callees().values()) == 1
    assert Call.objects.filter(campaign=campaign).count() == 35
    assert campaign.dispatch_lease == ""


def test_a_batch_claimed_as_the_connection_was_lost_is_sent_once_not_left_unknown(
    campaign, sandbox_state, monkeypatch
):
    from campaigns.services import dispatch as service

    original = service._Claimer._claim_new_after
    cut = []

    def claim_then_lose_the_connection(self, last_id):
        claimed = original(self, last_id)  # committed SENDING; the answer never arrives
        if claimed is not None and not cut:
            cut.append(claimed[0].pk)
            raise lost_connection_error()
        return claimed

    monkeypatch.setattr(service._Claimer, "_claim_new_after", claim_then_lose_the_connection)
    campaign_launch_now(campaign)
    assert cut
    sent_once_each(campaign, sandbox_state)
    assert DispatchBatch.objects.get(pk=cut[0]).state == "sent"
    assert DispatchBatch.objects.filter(campaign=campaign).count() == 4


@pytest.mark.parametrize("moment", ["before its commit", "after its commit"])
def test_an_answer_whose_write_was_cut_is_written_once_the_database_is_back(
    campaign, sandbox_state, monkeypatch, moment
):
    from campaigns.services import dispatch as service

    original = service.record_success
    cut = []

    def record_cut(*args, **kwargs):
        if not cut:
            cut.append(moment)
            if moment == "after its commit":
                original(*args, **kwargs)
            raise lost_connection_error()
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "record_success", record_cut)
    report = campaign_launch_now(campaign)
    assert cut
    sent_once_each(campaign, sandbox_state)  # no second Call for a write repeated after commit
    assert report.unknown == 0
    assert DispatchBatch.objects.filter(campaign=campaign, state="sent").count() == 4


def test_a_dispatch_run_cut_outright_starts_again_under_its_lease(
    campaign, sandbox_state, monkeypatch
):
    from campaigns.services import dispatch as service

    original = service.orphans_to_unknown
    cut = []

    def lose_the_connection_once(*args, **kwargs):
        if not cut:
            cut.append(1)
            raise lost_connection_error()
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "orphans_to_unknown", lose_the_connection_once)
    report = campaign_launch_now(campaign)
    assert cut and report.stopped == "nothing left to send"
    sent_once_each(campaign, sandbox_state)


def test_launch_needs_permission_and_a_ready_campaign(campaign, viewer, operator, voice_app):
    with pytest.raises(PermissionDeniedError):
        campaign_launch(campaign=campaign, actor=Actor.from_user(viewer))
    Callee.objects.all().delete()
    with pytest.raises(CampaignError, match="No pending callees"):
        campaign_launch(campaign=campaign, actor=Actor.from_user(operator))
    with pytest.raises(CampaignError, match="Only a running or scheduled"):
        campaign_pause(campaign=campaign, actor=SYSTEM)


def test_a_not_placed_outcome_written_again_leaves_a_batch_claimed_anew_alone(campaign):
    # A recorder's write that committed just before the connection was lost is written again
    # once the database is back; meanwhile a sender may have claimed the batch anew.
    from campaigns.services import dispatch as service

    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    claimer = service._Claimer(campaign)
    batch, _pairs = claimer.claim()
    report = service.DispatchReport()
    error = ItnioNotSentError()
    service.record_failure(campaign, batch, error, report)  # landed, then the cut
    claimer.retry_pending = True
    again, _ = claimer.claim()  # in flight again
    assert again.pk == batch.pk
    service.record_failure(campaign, batch, error, report)  # the repeat
    assert DispatchBatch.objects.get(pk=batch.pk).state == "sending"
    assert set(Callee.objects.filter(batch=batch).values_list("state", flat=True)) == {"sending"}
