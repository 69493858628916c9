"""Chaos for the audience rules (issue 14, "Scale and safety"): the do-not-call check and the
frequency cap in the claim hold while the sandbox fails 5 % of sends with HTTP 502 and drops
5 % of connections after accepting them, and the workers are SIGKILLed at moments the sandbox
picks and restarted (tests/campaigns/chaos.py). The sandbox's own request record is the judge.

1. Numbers of callees not sent yet are put on the portal-wide do-not-call list while the
   campaign runs: none is in a request whose batch was claimed after its add committed.
2. Two campaigns sharing numbers under cap 1/24, dispatched by two worker processes at once:
   no number is accepted twice in all.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from itertools import pairwise

import pytest
from django.db import connection

from campaigns.models import Callee, Campaign, DispatchBatch
from campaigns.services.actors import Actor
from campaigns.services.campaigns import campaign_reconcile
from campaigns.services.suppression import dnc_add
from tests.campaigns.chaos import BATCH, WorkerKiller, batch_key, received_sends, run
from tests.campaigns.conftest import add_callees
from tests.pg import postgresql_only

on_postgresql = pytest.mark.skipif(
    *postgresql_only.args, reason="slow chaos variants: on the PostgreSQL run only"
)
pytestmark = [pytest.mark.slow, on_postgresql, pytest.mark.django_db(transaction=True)]
DEADLINE_S = 110
SYSTEM = Actor.system("chaos")


def faulty(sandbox_state) -> None:
    sandbox_state.faults.http_502_rate = 0.05
    sandbox_state.faults.drop_after_accept_rate = 0.05


def healed(sandbox_state) -> None:
    sandbox_state.faults.http_502_rate = 0
    sandbox_state.faults.drop_after_accept_rate = 0


def numbers_of(record) -> list[str]:
    return record.body["callee"].split(",")


def reached(requests) -> set[str]:
    """Numbers of a request the sandbox processed (answered, or dropped after accepting): a
    502 is answered before anything is placed."""
    return {n for r in requests if r.response != "http 502" for n in numbers_of(r)}


def test_numbers_put_on_do_not_call_during_the_run_are_never_sent_after_the_add_commits(
    chaos_sandbox, sandbox_state, uploaded_file, voice_app
):
    callees = 3000
    campaign = Campaign.objects.create(
        name="Chaos DNC", app=voice_app, voice_file=uploaded_file, called_info="chaos-dnc"
    )
    numbers = add_callees(campaign, callees, start=628120000001)
    faulty(sandbox_state)
    killer = WorkerKiller(sandbox_state, while_held={3, 12, 22, 32}, after_answer={7, 17, 27, 37})
    # number -> when its add had committed (taken after dnc_add returned: never too early)
    committed: dict[str, float] = {}
    stop = threading.Event()
    rng = random.Random(14)

    def adder() -> None:
        """Every 20 ms, a few numbers of callees still pending: most from the next two batches
        to be claimed (racing the claim), one from further down the list."""
        try:
            while not stop.is_set() and len(committed) < 900:
                pending = list(
                    Callee.objects.filter(
                        campaign=campaign, state=Callee.State.PENDING, batch__isnull=True
                    )
                    .exclude(number__in=list(committed))
                    .order_by("id")
                    .values_list("number", flat=True)
                )
                front, rest = pending[: 2 * BATCH], pending[2 * BATCH :]
                chosen = rng.sample(front, min(4, len(front))) + rng.sample(rest, min(1, len(rest)))
                if chosen:
                    dnc_add(numbers=chosen, actor=SYSTEM, reason="asked during the run")
                    at = time.time()
                    committed.update(dict.fromkeys(chosen, at))
                time.sleep(0.02)
        finally:
            connection.close()

    assert "Running" in run("launch_campaign", "Chaos DNC", "--for-real")
    thread = threading.Thread(target=adder, name="dnc-adder")
    thread.start()
    try:
        elapsed = killer.run_until_done([campaign], DEADLINE_S)
    finally:
        stop.set()
        thread.join()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED, (campaign.state_reason, killer.kills)
    assert len(killer.kills) >= 7 and killer.restarts >= 7, killer.kills
    assert len(committed) >= 300, len(committed)

    # The judge: the requests the sandbox received, each against its batch's claim time (set
    # before the claim's statement read the list: a claim that saw no entry began before it).
    batches = {
        (b.campaign_id, b.sequence): b for b in DispatchBatch.objects.filter(campaign=campaign)
    }
    requests = received_sends(sandbox_state)
    late, after_add, unjudged = [], 0, 0
    for record in requests:
        batch = batches[batch_key(record)]
        claimed = batch.request_started_at.timestamp()
        for number in numbers_of(record):
            if number not in committed:
                continue
            after_add += record.time > committed[number]  # in flight when the add committed
            if claimed > record.time:  # the batch was claimed again later: not this claim's time
                unjudged += 1
            elif claimed > committed[number]:
                late.append((number, committed[number], claimed, record.time, record.seq))
    assert late == [], f"sent though its add had committed before the claim: {late[:5]}"

    callee_rows = Callee.objects.filter(campaign=campaign).select_related("batch")
    by_number = {c.number: c for c in callee_rows}
    received = Counter(n for r in requests for n in numbers_of(r))
    claimed_before_add = []
    for number, at in committed.items():
        callee = by_number[number]
        if callee.batch_id is None:  # never claimed: skipped for the do-not-call list
            assert (callee.state, callee.skip_reason) == ("skipped", "do-not-call"), number
            assert received[number] == 0, number
        else:  # claimed before the add committed, then sent as any other
            assert callee.batch.request_started_at.timestamp() < at, number
            claimed_before_add.append(number)
    skipped = {n for n, c in by_number.items() if c.state == Callee.State.SKIPPED}
    assert skipped and skipped <= set(committed)

    # Every other number: accepted exactly once once reconciled, unless no request of it was
    # ever processed (a 502, or its sender killed while writing it): unknown then, never resent.
    healed(sandbox_state)
    report = campaign_reconcile(campaign=campaign, actor=SYSTEM)
    accepted = sandbox_state.accepted_callees()
    assert max(accepted.values()) == 1, [n for n, c in accepted.items() if c > 1][:10]
    final = dict(Callee.objects.filter(campaign=campaign).values_list("number", "state"))
    assert set(final) == set(numbers)
    processed = reached(requests)
    for number in set(numbers) - skipped:
        if number in processed:
            assert accepted[number] == 1 and final[number] == "submitted", number
        else:
            assert accepted[number] == 0 and final[number] == "unknown", number
    print(
        f"\nchaos dnc: {callees} callees, {len(requests)} sendGroup requests received, "
        f"kills={killer.kills}, added={len(committed)} (skipped {len(skipped)}, claimed before "
        f"the add {len(claimed_before_add)}, in a request received after the add {after_add}, "
        f"unjudged {unjudged}), resolved={report.resolved} still_unknown={report.still_unknown}, "
        f"elapsed={elapsed:.1f}s"
    )


def test_two_campaigns_sharing_numbers_under_cap_1_through_kills_accept_no_number_twice(
    chaos_sandbox, sandbox_state, uploaded_file, voice_app
):
    shared = 1000  # numbers the two share
    each = 2 * shared  # callees of each campaign: every other one shared
    first, second = (
        Campaign.objects.create(
            name=name,
            app=voice_app,
            voice_file=uploaded_file,
            called_info=name.lower(),
            frequency_cap_calls=1,
            frequency_cap_hours=24,
        )
        for name in ("Chaos A", "Chaos B")
    )
    # In the same order in both, every other number shared: both claim the same numbers at once.
    start = 628130000001
    shared_numbers = {str(start + k) for k in range(shared)}
    for campaign, own in ((first, start + 10_000), (second, start + 20_000)):
        Callee.objects.bulk_create(
            Callee(campaign=campaign, number=str(number))
            for k in range(shared)
            for number in (start + k, own + k)
        )
    faulty(sandbox_state)
    killer = WorkerKiller(
        sandbox_state, while_held={3, 14, 27, 40}, after_answer={8, 20, 33, 46}, workers=2
    )
    assert "Running" in run("launch_campaign", "Chaos A", "--for-real")
    assert "Running" in run("launch_campaign", "Chaos B", "--for-real")
    elapsed = killer.run_until_done([first, second], DEADLINE_S)
    for campaign in (first, second):
        campaign.refresh_from_db()
        assert campaign.state == Campaign.State.COMPLETED, (campaign.state_reason, killer.kills)
    assert len(killer.kills) >= 7 and killer.restarts >= 7, killer.kills
    # Both dispatched at once: claims of one campaign fall between claims of the other.
    claimed = sorted(
        DispatchBatch.objects.values_list("request_started_at", "campaign_id", "sequence")
    )
    switches = sum(a[1] != b[1] for a, b in pairwise(claimed))
    assert switches >= 3, claimed

    # The judge: what the sandbox received from each campaign, and what it accepted in all.
    requests = received_sends(sandbox_state)
    sent_by = defaultdict(set)  # number -> the campaigns whose requests it was in
    for record in requests:
        for number in numbers_of(record):
            sent_by[number].add(batch_key(record)[0])
    accepted = sandbox_state.accepted_callees()
    assert max(accepted.values()) == 1, [n for n, c in accepted.items() if c > 1][:10]
    # An attempt whose outcome is unknown counts too: no number went out in both campaigns.
    assert [n for n, c in sent_by.items() if len(c) > 1] == []

    # One campaign claimed each number; the other skipped it for the cap. Nothing is lost.
    rows = list(
        Callee.objects.filter(campaign__in=[first, second]).values_list(
            "number", "campaign_id", "state", "skip_reason", "batch_id"
        )
    )
    assert len(rows) == 2 * each
    claims = Counter(number for number, _c, _s, _r, batch_id in rows if batch_id is not None)
    assert set(claims.values()) == {1} and len(claims) == 2 * each - shared
    skipped = [(n, s, r) for n, _c, s, r, b in rows if b is None]
    assert {(s, r) for _n, s, r in skipped} == {("skipped", "frequency-cap")}
    assert {n for n, _s, _r in skipped} == shared_numbers and len(skipped) == shared

    healed(sandbox_state)
    reports = [campaign_reconcile(campaign=c, actor=SYSTEM) for c in (first, second)]
    final = dict(
        Callee.objects.filter(campaign__in=[first, second], batch__isnull=False).values_list(
            "number", "state"
        )
    )
    processed = reached(requests)
    for number, state in final.items():
        if number in processed:
            assert accepted[number] == 1 and state == "submitted", number
        else:
            assert accepted[number] == 0 and state == "unknown", number
    in_both = len([n for n in shared_numbers if accepted[n]])
    print(
        f"\nchaos cap: 2 x {each} callees ({shared} shared), {len(requests)} sendGroup requests "
        f"received, {len(claimed)} batches claimed (the campaign switched {switches} times), "
        f"kills={killer.kills}, shared numbers accepted {in_both}, "
        f"skipped for the cap {len(skipped)}, "
        f"resolved={sum(r.resolved for r in reports)} "
        f"still_unknown={sum(r.still_unknown for r in reports)}, elapsed={elapsed:.1f}s"
    )
