"""Chaos: a campaign of thousands of callees against a sandbox that fails 5 % of sends with
HTTP 502 and drops 5 % of connections after accepting them, while the worker process is killed
with SIGKILL at moments the sandbox picks (while it holds a send, and after it answered but
before the worker could commit) and restarted. The sandbox's own request record is the judge."""

from __future__ import annotations

from collections import Counter

import pytest

from campaigns.models import Callee, Campaign
from campaigns.services.actors import Actor
from campaigns.services.campaigns import campaign_reconcile
from tests.campaigns.chaos import WorkerKiller, received_sends, run
from tests.campaigns.conftest import add_callees

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CALLEES = 3000
KILL_WHILE_HELD = {4, 17, 31}
KILL_AFTER_ANSWER = {9, 24, 38}
DEADLINE_S = 170


def test_no_number_is_ever_accepted_twice_through_crashes_and_faults(
    chaos_sandbox, sandbox_state, uploaded_file, voice_app
):
    campaign = Campaign.objects.create(
        name="Chaos", app=voice_app, voice_file=uploaded_file, called_info="chaos"
    )
    numbers = add_callees(campaign, CALLEES, start=628100000001)
    faults = sandbox_state.faults
    faults.http_502_rate = 0.05
    faults.drop_after_accept_rate = 0.05

    killer = WorkerKiller(sandbox_state, while_held=KILL_WHILE_HELD, after_answer=KILL_AFTER_ANSWER)
    out = run("launch_campaign", "Chaos", "--for-real")
    assert "Running" in out
    elapsed = killer.run_until_done([campaign], DEADLINE_S)
    kills, restarts = killer.kills, killer.restarts
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED, (
        campaign.state,
        campaign.state_reason,
        kills,
    )
    assert len(kills) >= 5 and restarts >= 5, kills
    assert elapsed < 180, elapsed

    # The judge: what the sandbox itself accepted.
    accepted = sandbox_state.accepted_callees()
    # A request whose sender was killed while writing it has no parsed body: nothing received.
    received = Counter(
        n for r in received_sends(sandbox_state) for n in r.body["callee"].split(",")
    )
    assert max(accepted.values()) == 1, [n for n, c in accepted.items() if c > 1][:10]
    final = dict(Callee.objects.filter(campaign=campaign).values_list("number", "state"))
    assert len(final) == CALLEES and set(final) == set(numbers)
    assert set(final.values()) <= {"submitted", "rejected", "unknown"}
    for number, state in final.items():
        if state == "submitted":
            assert accepted[number] == 1, number
        elif state == "rejected":
            assert accepted[number] == 0, number
        else:  # unknown: accepted exactly once, or never received at all
            assert accepted[number] == 1 or received[number] == 0 or accepted[number] == 0, number
    unknown = [n for n, s in final.items() if s == "unknown"]
    unknown_accepted = {n for n in unknown if accepted[n] == 1}
    assert unknown and unknown_accepted, (
        "the faults and kills should leave accepted unknown callees"
    )

    # Reconciliation resolves exactly the unknown ones ITNIO accepted.
    faults.http_502_rate = 0
    faults.drop_after_accept_rate = 0
    report = campaign_reconcile(campaign=campaign, actor=Actor.system("chaos"))
    after = dict(
        Callee.objects.filter(campaign=campaign, number__in=unknown).values_list("number", "state")
    )
    assert {n for n, s in after.items() if s == "submitted"} == unknown_accepted
    assert report.resolved == len(unknown_accepted)
    assert report.still_unknown == len(unknown) - len(unknown_accepted)
    voice_ids = dict(
        Callee.objects.filter(number__in=unknown_accepted, campaign=campaign).values_list(
            "number", "voice_id"
        )
    )
    sandbox_voice_ids = {call.callee: vid for vid, call in sandbox_state.calls.items()}
    assert all(voice_ids[n] == sandbox_voice_ids[n] for n in unknown_accepted)
    print(
        f"\nchaos: {CALLEES} callees, "
        f"{len(sandbox_state.requests_for('/voice/sendGroup'))} sendGroup requests, "
        f"kills={kills}, unknown={len(unknown)} (accepted {len(unknown_accepted)}), "
        f"resolved={report.resolved}, elapsed={elapsed:.1f}s"
    )
