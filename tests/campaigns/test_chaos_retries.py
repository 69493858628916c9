"""Chaos with retries on (K = 1): the chaos run of test_chaos.py (HTTP 502s, connections dropped
after the sandbox accepted them, workers SIGKILLed while a send is held and after it was
answered) while the record sync applies the final records between rounds, so the not-reached
callees wait for their retry and the next rounds send them. The sandbox's own record is the
judge: no attempt of any callee is accepted twice, no answered callee is called again, and every
not-reached callee is called at most K more times. PostgreSQL only (slow)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from campaigns.models import Call, Callee, Campaign
from itnio_portal.itnio.sandbox.calls import ANSWERED
from tests.campaigns.chaos import WorkerKiller, run
from tests.campaigns.conftest import add_callees
from tests.pg import postgresql_only

pytestmark = [pytest.mark.slow, postgresql_only, pytest.mark.django_db(transaction=True)]
CALLEES = 1000
K = 1
DEADLINE_S = 170


def test_retries_through_crashes_and_faults_never_call_an_attempt_twice(
    chaos_sandbox, sandbox_state, uploaded_file, voice_app
):
    # The sandbox's clock two minutes behind: its records' hang-up times (a ringing time after
    # submission) have passed when they are applied, so retries after 0 minutes are due at once.
    sandbox_state.clock_offset = -120
    campaign = Campaign.objects.create(
        name="Chaos retries",
        app=voice_app,
        voice_file=uploaded_file,
        called_info="chaos",
        retries=K,
        retry_after_minutes=0,
    )
    numbers = add_callees(campaign, CALLEES, start=628200000001)
    faults = sandbox_state.faults
    faults.http_502_rate = 0.05
    faults.drop_after_accept_rate = 0.05

    # Sends 21 and later are retries: one kill falls among them.
    killer = WorkerKiller(sandbox_state, while_held={4, 17}, after_answer={9, 22})
    out = run("launch_campaign", "Chaos retries", "--for-real")
    assert "Running" in out
    elapsed = killer.run_until_done([campaign], DEADLINE_S, between=lambda: run("sync_records"))
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED, (campaign.state, campaign.state_reason)
    sends = len(sandbox_state.requests_for("/voice/sendGroup"))
    assert len(killer.kills) >= 3, (killer.kills, sends)

    # The judge: every call the sandbox accepted, per callee, in the order it accepted them.
    accepted: dict[str, list] = defaultdict(list)
    for call in sorted(sandbox_state.calls.values(), key=lambda c: c.submit_at):
        accepted[call.callee].append(call)
    assert set(accepted) <= set(numbers)
    retried = {n for n, calls in accepted.items() if len(calls) > 1}
    assert retried, "some not-reached callees should have been called again"
    for number, calls in accepted.items():
        assert len(calls) <= 1 + K, (number, len(calls))  # at most K retries, never a duplicate
        for earlier in calls[:-1]:
            assert earlier.life.outcome != ANSWERED, number  # an answered callee is never retried

    # The portal agrees: each accepted attempt is one Call, numbered 1, 2 in order.
    by_callee = defaultdict(list)
    for callee_number, attempt, voice_id in Call.objects.filter(campaign=campaign).values_list(
        "campaign_callee__number", "attempt", "voice_id"
    ):
        by_callee[callee_number].append((attempt, voice_id))
    for number, attempts in by_callee.items():
        assert sorted(a for a, _v in attempts) == list(range(1, len(attempts) + 1)), number
        assert {v for _a, v in attempts} <= {c.voice_id for c in accepted[number]}, number
    assert max(Callee.objects.filter(campaign=campaign).values_list("attempts", flat=True)) <= 2
    # Whoever the portal knew as not reached after attempt 1 was retried, unless that retry's
    # outcome is unknown (a dropped answer) or refused.
    first_missed = Callee.objects.filter(
        campaign=campaign,
        attempt_calls__attempt=1,
        attempt_calls__hangup_time__isnull=False,
        attempt_calls__answer_time__isnull=True,
    )
    assert not first_missed.filter(attempts=1).exclude(state__in=("unknown", "rejected")).exists()
    print(
        f"\nchaos with retries: {CALLEES} callees, {len(retried)} retried, "
        f"{sends} sendGroup requests, kills={killer.kills}, elapsed={elapsed:.1f}s"
    )
