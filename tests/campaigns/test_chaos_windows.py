"""Chaos with a calling window in the callee's local time that closes and opens again while the
campaign dispatches (issue 15, "Crash safety and speed"): New York and Los Angeles numbers in
turn, 09:00–20:00 local, the sandbox failing 5 % of sends with HTTP 502 and dropping 5 % after
accepting them, the workers SIGKILLed at moments the sandbox picks (tests/campaigns/chaos.py).

The portal's processes read a shifted clock (tests/campaigns/clock/sitecustomize.py; the
sandbox keeps the real one, as ITNIO would, and checks the requests' timestamps against it: the
client signs with the real time): the run starts a minute before 20:00 in New York; once the third
send is answered the clock moves across New York's 20:00 while batches are claimed and in flight
(Los Angeles, three hours behind, goes on); when Los Angeles is done it moves past its 20:00
(night: both closed), then to two seconds before 09:00 in New York the next day, and the running
clock crosses the opening. The judges: the sandbox's record (every callee in one request at most,
accepted at most once) and each request's claim time in the portal's clock (inside the window
of every callee of it)."""

from __future__ import annotations

import os
import time as real_time
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from campaigns.models import Callee, Campaign, DispatchBatch
from campaigns.services import windows
from tests.campaigns import chaos
from tests.campaigns.chaos import SEND_GROUP, WorkerKiller, batch_key, received_sends, run
from tests.pg import postgresql_only

on_postgresql = pytest.mark.skipif(
    *postgresql_only.args, reason="slow chaos variants: on the PostgreSQL run only"
)
pytestmark = [pytest.mark.slow, on_postgresql, pytest.mark.django_db(transaction=True)]
DEADLINE_S = 150
EACH = 400  # callees in each zone
NEW_YORK, LOS_ANGELES = ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")
ZONE_OF_PREFIX = {"1212": NEW_YORK, "1213": LOS_ANGELES}
CLOCK_DIR = Path(__file__).parent / "clock"


class ShiftedClock:
    """The portal processes' clock: an offset to the real one, in a file they read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0.0

    def env(self) -> dict[str, str]:
        paths = [str(CLOCK_DIR), os.environ.get("PYTHONPATH", "")]
        return {
            "PYTHONPATH": os.pathsep.join(p for p in paths if p),
            "PORTAL_TEST_CLOCK_FILE": str(self.path),
        }

    def set(self, when: datetime) -> None:
        self.offset = when.timestamp() - real_time.time()
        part = self.path.with_suffix(".part")
        part.write_text(repr(self.offset), encoding="ascii")
        os.replace(part, self.path)  # never read half written

    def now(self) -> datetime:
        return datetime.fromtimestamp(real_time.time() + self.offset, UTC)


def zone_of(number: str) -> ZoneInfo:
    return ZONE_OF_PREFIX[number[:4]]


def test_a_window_closing_and_opening_during_the_run_sends_everyone_once_inside_it(
    chaos_sandbox, sandbox_state, uploaded_file, voice_app, tmp_path, monkeypatch
):
    today = datetime.now(NEW_YORK).date()
    ny_close = datetime.combine(today, time(20), NEW_YORK)
    la_close = datetime.combine(today, time(20), LOS_ANGELES)
    ny_opens = datetime.combine(today + timedelta(days=1), time(9), NEW_YORK)
    clock = ShiftedClock(tmp_path / "clock")
    clock.set(ny_close - timedelta(minutes=1))
    monkeypatch.setattr(chaos, "extra_env", clock.env())

    campaign = Campaign.objects.create(
        name="Chaos window",
        app=voice_app,
        voice_file=uploaded_file,
        called_info="chaos-window",
        window_start=time(9),
        window_end=time(20),
        window_callee_local=True,
    )
    numbers = [f"{prefix}555{i:04d}" for i in range(EACH) for prefix in ("1212", "1213")]
    Callee.objects.bulk_create(Callee(campaign=campaign, number=n) for n in numbers)
    sandbox_state.faults.http_502_rate = 0.05
    sandbox_state.faults.drop_after_accept_rate = 0.05
    sandbox_state.faults.latency_by_path[SEND_GROUP] = 0.2  # a few batches in flight at once
    killer = WorkerKiller(sandbox_state, while_held={5, 13}, after_answer={9})

    # The close: the third answer moves the clock across New York's 20:00, senders busy.
    answered, kill_hook = count(1), sandbox_state.on_send_answered

    def on_answer(record) -> None:
        kill_hook(record)
        if record.path == SEND_GROUP and next(answered) == 3 and clock.now() < ny_close:
            clock.set(ny_close + timedelta(milliseconds=300))

    sandbox_state.on_send_answered = on_answer
    phase, seen = ["evening"], {}

    def left(prefix: str) -> int:
        return Callee.objects.filter(
            campaign=campaign, number__startswith=prefix, state__in=("pending", "sending")
        ).count()

    def between() -> None:
        """After each round of workers: the clock's next move, once the last one is done."""
        campaign.refresh_from_db()
        if phase[0] == "evening" and clock.now() >= ny_close and not left("1213"):
            # Los Angeles is done; New York waits for its window and the campaign with it.
            groups = windows.waiting_for_window(campaign, clock.now())
            pending = Callee.objects.filter(campaign=campaign, number__startswith="1212")
            seen["evening"] = (campaign.state, pending.filter(state="pending").count(), groups)
            clock.set(la_close + timedelta(seconds=30))  # night: both closed
            seen["night_from"] = len(received_sends(sandbox_state))
            phase[0] = "night"
        elif phase[0] == "night":
            campaign.refresh_from_db()
            seen["night"] = (campaign.state, len(received_sends(sandbox_state)))
            clock.set(ny_opens - timedelta(seconds=2))  # the running clock crosses 09:00
            phase[0] = "morning"

    assert "Running" in run("launch_campaign", "Chaos window", "--for-real")
    elapsed = killer.run_until_done([campaign], DEADLINE_S, between=between)
    campaign.refresh_from_db()
    assert phase[0] == "morning", (
        phase,
        seen,
        killer.kills,
        campaign.state,
        campaign.state_reason,
        len(received_sends(sandbox_state)),
        clock.now(),
    )
    assert campaign.state == Campaign.State.COMPLETED, (campaign.state_reason, killer.kills)
    assert killer.kills, "a worker should have been killed during the run"

    # While New York's window was closed the campaign ran on, waiting, and nothing was sent.
    state, waiting, groups = seen["evening"]
    assert state == Campaign.State.RUNNING and waiting > 0
    assert [(g.zones, g.count, g.next_open) for g in groups] == [
        ("America/New_York", waiting, ny_opens.astimezone(UTC))
    ]
    assert seen["night"] == (Campaign.State.RUNNING, seen["night_from"])

    # Each request against its batch's claim time, in the portal's clock: every callee of it
    # inside its window then. New York's callees went both before its close and after its open.
    window = windows.campaign_window(campaign)
    batches = {(b.campaign_id, b.sequence): b for b in DispatchBatch.objects.all()}
    requests = received_sends(sandbox_state)
    outside, new_york_claims = [], []
    for record in requests:
        claimed = batches[batch_key(record)].request_started_at
        for number in record.body["callee"].split(","):
            zone = zone_of(number)
            if not window.open_in(zone.key, claimed):
                outside.append((number, claimed.astimezone(zone)))
            if zone is NEW_YORK:
                new_york_claims.append(claimed)
    assert outside == [], outside[:5]
    assert min(new_york_claims) < ny_close <= ny_opens <= max(new_york_claims)
    last_claim = max(b.request_started_at for b in batches.values())
    assert campaign.state_changed_at >= last_claim  # completed after the last send only

    # Every callee is in one request at most and the sandbox accepted none twice: a submitted
    # callee exactly once, a rejected one never, an unknown one (a 502, a dropped answer, a kill)
    # at most once, never sent again.
    final = dict(Callee.objects.filter(campaign=campaign).values_list("number", "state"))
    assert set(final) == set(numbers)
    assert set(final.values()) <= {"submitted", "rejected", "unknown"}
    received = Counter(n for r in requests for n in r.body["callee"].split(","))
    assert max(received.values()) == 1, [n for n, c in received.items() if c > 1][:10]
    accepted = sandbox_state.accepted_callees()
    assert max(accepted.values()) == 1, [n for n, c in accepted.items() if c > 1][:10]
    for number, state in final.items():
        if state == "submitted":
            assert accepted[number] == 1 and received[number] == 1, number
        elif state == "rejected":
            assert accepted[number] == 0, number
    unknown = [n for n, s in final.items() if s == "unknown"]
    print(
        f"\nchaos window: {len(numbers)} callees, {len(requests)} sendGroup requests received, "
        f"New York waiting at its close {waiting}, kills={killer.kills}, "
        f"unknown {len(unknown)}, "
        f"elapsed={elapsed:.1f}s"
    )
