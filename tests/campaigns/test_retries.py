"""Retries by outcome: the sandbox decides who answers; once their final records are applied
(pushes in bulk, or the record sync), exactly the not-reached callees are called once more when
due, each attempt its own Call; answered, unknown, do-not-call callees are never retried."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Call, Callee, Campaign, PushEvent
from campaigns.services import dispatch, retries
from campaigns.services.actors import Actor
from campaigns.services.calls import calls_sync_due
from campaigns.services.campaign_state import callee_counts
from campaigns.services.campaigns import campaign_reconcile
from campaigns.services.suppression import dnc_add
from itnio_portal.itnio.sandbox.calls import ANSWERED
from tests.conftest import apply_pushes

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")
SEND = "/voice/sendGroup"


def sent_numbers(sandbox_state) -> list[str]:
    return [n for r in sandbox_state.requests_for(SEND) for n in r.body["callee"].split(",")]


def not_answered(sandbox_state) -> set[str]:
    """The callees the sandbox let ring out, found busy or failed (decided by its hash)."""
    return {c.callee for c in sandbox_state.calls.values() if c.life.outcome != ANSWERED}


def run(campaign: Campaign, *, retries_: int = 1, minutes: int = 0) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(
        state="running", retries=retries_, retry_after_minutes=minutes
    )
    campaign.refresh_from_db()
    dispatch.campaign_dispatch(campaign.pk)


def dispatch_later(campaign: Campaign, monkeypatch, minutes: float = 2) -> None:
    """Dispatch as if `minutes` had passed for the retries' due times (the sandbox's records
    hang up a ringing time after submission, so even 0 minutes after hang-up is a little
    later)."""
    later = timezone.now() + timedelta(minutes=minutes)
    with monkeypatch.context() as patch:
        patch.setattr(retries, "timezone", SimpleNamespace(now=lambda: later))
        dispatch.campaign_dispatch(campaign.pk)


def push_every_record(sandbox_state, voice_app) -> None:
    """Store the sandbox's final records as one push entry (as its pusher would), apply it."""
    sandbox_state.advance()
    bodies = [c.push_body() for c in sandbox_state.calls.values() if c.final]
    PushEvent.objects.create(app=voice_app, kind=PushEvent.Kind.VOICE, body=json.dumps(bodies))
    apply_pushes()


def test_exactly_the_not_answered_are_called_once_more_after_the_pushed_records(
    campaign, sandbox_state, voice_app, monkeypatch
):
    run(campaign)
    first = sent_numbers(sandbox_state)
    assert len(first) == 35 and len(set(first)) == 35
    campaign.refresh_from_db()
    assert campaign.state == "running"  # records not final yet: retries may follow

    push_every_record(sandbox_state, voice_app)
    missed = not_answered(sandbox_state)
    assert 0 < len(missed) < 35
    waiting = set(
        Callee.objects.filter(campaign=campaign, state="retry").values_list("number", flat=True)
    )
    assert waiting == missed

    dispatch.campaign_dispatch(campaign.pk)  # their hang-up time has not passed yet
    assert len(sent_numbers(sandbox_state)) == 35
    dispatch_later(campaign, monkeypatch)
    again = sent_numbers(sandbox_state)[35:]
    assert sorted(again) == sorted(missed)  # each once, nobody else
    accepted = sandbox_state.accepted_callees()
    assert {n for n, k in accepted.items() if k == 2} == missed
    assert max(accepted.values()) == 2

    # Each attempt is its own Call, numbered; the callee points at its latest.
    for callee in Callee.objects.filter(campaign=campaign, number__in=missed):
        attempts = list(callee.attempt_calls.order_by("attempt").values_list("attempt", "id"))
        assert [a for a, _id in attempts] == [1, 2] and callee.attempts == 2
        assert callee.call_id == attempts[-1][1] and callee.state == "submitted"
    assert set(
        Callee.objects.filter(campaign=campaign)
        .exclude(number__in=missed)
        .values_list("attempts", flat=True)
    ) == {1}

    # The second records: whoever missed again is not retried a second time (K = 1).
    push_every_record(sandbox_state, voice_app)
    assert not Callee.objects.filter(campaign=campaign, state="retry").exists()
    dispatch_later(campaign, monkeypatch)
    assert len(sent_numbers(sandbox_state)) == 35 + len(missed)
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    figures = retries.attempt_figures(campaign)
    assert figures["attempts"] == 35 + len(missed) and figures["retried"] == len(missed)
    counts = callee_counts(campaign)
    assert counts["reached"] == figures["reached"]
    assert counts["reached"] + counts["not_reached"] == 35
    out = io.StringIO()
    call_command("campaign_status", campaign.name, stdout=out)
    assert (
        f"attempts={35 + len(missed)} retried={len(missed)} reached={figures['reached']}"
        in out.getvalue()
    )


def test_a_retry_waits_for_its_due_time_and_the_campaign_does_not_complete(
    campaign, sandbox_state, monkeypatch
):
    run(campaign, minutes=30)
    calls_sync_due(actor=SYSTEM)  # the record sync applies the final records too
    missed = not_answered(sandbox_state)
    waiting = Callee.objects.filter(campaign=campaign, state="retry")
    assert set(waiting.values_list("number", flat=True)) == missed
    for callee in waiting.select_related("call"):
        assert callee.retry_due_at == callee.call.hangup_time + timedelta(minutes=30)

    dispatch.campaign_dispatch(campaign.pk)  # not due yet: nothing more is sent
    assert len(sent_numbers(sandbox_state)) == 35
    campaign.refresh_from_db()
    assert campaign.state == "running"

    dispatch_later(campaign, monkeypatch, minutes=28)  # not yet: hang-up + 30 minutes
    assert len(sent_numbers(sandbox_state)) == 35
    dispatch_later(campaign, monkeypatch, minutes=32)
    assert sorted(sent_numbers(sandbox_state)[35:]) == sorted(missed)


def test_answered_unknown_and_do_not_call_callees_are_never_retried(
    campaign, sandbox_state, voice_app, settings, monkeypatch
):
    settings.ITNIO_DISPATCH_CONCURRENCY = 1
    sandbox_state.drop_next(SEND, 2)  # the first batches: placed, the answers lost: unknown
    run(campaign)
    unknown = set(
        Callee.objects.filter(campaign=campaign, state="unknown").values_list("number", flat=True)
    )
    assert len(unknown) == 20
    push_every_record(sandbox_state, voice_app)
    missed = not_answered(sandbox_state)
    retried = set(
        Callee.objects.filter(campaign=campaign, state="retry").values_list("number", flat=True)
    )
    assert retried == missed - unknown and retried  # unknown ones wait for reconciliation
    blocked = sorted(retried)[0]
    dnc_add(numbers=[blocked], actor=SYSTEM)

    dispatch_later(campaign, monkeypatch)
    again = sent_numbers(sandbox_state)[35:]
    assert sorted(again) == sorted(retried - {blocked})
    callee = Callee.objects.get(campaign=campaign, number=blocked)
    assert (callee.state, callee.attempts) == ("submitted", 1)
    assert "do-not-call" in callee.reason
    answered = set(Callee.objects.filter(campaign=campaign).values_list("number", flat=True))
    answered -= missed
    assert not (set(again) & answered)

    # The retries' records; then the campaign is sent, its unknown callees wait.
    push_every_record(sandbox_state, voice_app)
    dispatch.campaign_dispatch(campaign.pk)
    campaign.refresh_from_db()
    assert (campaign.state, campaign.completed_at) == ("completed", None)
    # Reconciliation resolves them: the not-answered among them wait for their retry, and the
    # campaign runs again for them.
    assert campaign_reconcile(campaign=campaign, actor=SYSTEM).resolved == 20
    campaign.refresh_from_db()
    waiting = set(
        Callee.objects.filter(campaign=campaign, state="retry").values_list("number", flat=True)
    )
    assert waiting == unknown & missed and waiting
    assert campaign.state == "running"
    sent_before = len(sent_numbers(sandbox_state))
    dispatch_later(campaign, monkeypatch)
    assert sorted(sent_numbers(sandbox_state)[sent_before:]) == sorted(unknown & missed)


def test_a_record_still_not_final_after_48_hours_is_not_retried(
    campaign, sandbox_state, monkeypatch
):
    run(campaign)
    later = timezone.now() + timedelta(hours=49)
    with monkeypatch.context() as patch:  # the final records arrive 49 hours after submission
        patch.setattr(retries, "timezone", SimpleNamespace(now=lambda: later))
        calls_sync_due(actor=SYSTEM)
    assert Call.objects.filter(campaign=campaign, hangup_time__isnull=False).count() == 35
    assert not Callee.objects.filter(campaign=campaign, state="retry").exists()
    dispatch.campaign_dispatch(campaign.pk)
    assert len(sent_numbers(sandbox_state)) == 35
    campaign.refresh_from_db()
    assert campaign.state == "completed"


def test_the_cap_warning_counts_every_attempt():
    assert retries.cap_warning(retries=2, retry_after_minutes=60, cap_calls=1, cap_hours=24)
    assert not retries.cap_warning(retries=2, retry_after_minutes=60, cap_calls=3, cap_hours=24)
    # 2 retries a day apart: one attempt per 24 hours fits a 1-per-24-hours cap.
    assert not retries.cap_warning(retries=2, retry_after_minutes=1440, cap_calls=1, cap_hours=24)
    assert not retries.cap_warning(retries=0, retry_after_minutes=60, cap_calls=1, cap_hours=24)


def test_retries_wait_for_the_calling_window(campaign, sandbox_state, voice_app, monkeypatch):
    run(campaign)
    push_every_record(sandbox_state, voice_app)
    missed = not_answered(sandbox_state)
    now = timezone.localtime(timezone.now(), timezone.get_fixed_timezone(0))
    closed_from = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    closed_until = (now + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    Campaign.objects.filter(pk=campaign.pk).update(
        window_start=closed_from, window_end=closed_until, window_tz="UTC"
    )
    dispatch_later(campaign, monkeypatch)  # due, but outside the window: not sent
    assert len(sent_numbers(sandbox_state)) == 35
    assert (
        set(
            Callee.objects.filter(campaign=campaign, state="retry").values_list("number", flat=True)
        )
        == missed
    )
    Campaign.objects.filter(pk=campaign.pk).update(window_start=None, window_end=None)
    dispatch_later(campaign, monkeypatch)
    assert sorted(sent_numbers(sandbox_state)[35:]) == sorted(missed)


def test_a_cap_that_counts_the_first_attempt_leaves_no_room_for_a_retry(
    campaign, sandbox_state, voice_app, monkeypatch
):
    Campaign.objects.filter(pk=campaign.pk).update(frequency_cap_calls=1, frequency_cap_hours=24)
    run(campaign)
    push_every_record(sandbox_state, voice_app)
    missed = not_answered(sandbox_state)
    assert Callee.objects.filter(campaign=campaign, state="retry").count() == len(missed)
    dispatch_later(campaign, monkeypatch)
    assert len(sent_numbers(sandbox_state)) == 35  # every attempt counts: over the cap
    rows = Callee.objects.filter(campaign=campaign, number__in=missed)
    assert set(rows.values_list("state", "attempts")) == {("submitted", 1)}
    assert all("frequency cap" in r for r in rows.values_list("reason", flat=True))
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    assert callee_counts(campaign)["not_reached"] == len(missed)


def test_the_retry_rule_reads_in_plain_words_singular_and_plural(campaign):
    after = "after the previous attempt's hang-up"
    campaign.retries, campaign.retry_after_minutes = 1, 1
    assert retries.retry_summary(campaign) == f"up to 1, 1 minute {after}"
    campaign.retries, campaign.retry_after_minutes = 2, 1440
    assert retries.retry_summary(campaign) == f"up to 2, 1,440 minutes {after}"
