"""What the chaos tests share: the workers' settings, the `chaos_sandbox` fixture (in
conftest.py), and the killer that SIGKILLs the portal workers at moments the sandbox picks (while
it holds a send, and after it answered but before the worker could commit) and restarts them,
with the scheduler's recovery job in between, until no campaign is running."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from campaigns.models import Campaign
from tests.procs import manage, portal_env

BATCH = 50
SEND_GROUP = "/voice/sendGroup"
#: A batch's tag in every request's calledInfo (DispatchBatch.tag).
TAG = re.compile(r"\[c(\d+)b(\d+)\]")


#: More environment for the portal processes of a test (a shifted clock: test_chaos_windows.py).
extra_env: dict[str, str] = {}


def chaos_env() -> dict[str, str]:
    return portal_env(
        ITNIO_SEND_GROUP_MAX=str(BATCH),
        ITNIO_DISPATCH_CONCURRENCY="4",
        ITNIO_READ_TIMEOUT="3",
        DISPATCH_LEASE_SECONDS="2",
        DISPATCH_STALE_BATCH_SECONDS="3",
        DISPATCH_PAUSE_AFTER_NOT_SENT="1000",
        **extra_env,
    )


def run(*args: str) -> str:
    proc = manage(*args, env=chaos_env())
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def received_sends(sandbox_state) -> list:
    """The sendGroup requests the sandbox received whole. A request whose sender was killed
    while writing it has no parsed body: nothing of it was received."""
    return [r for r in sandbox_state.requests_for(SEND_GROUP) if isinstance(r.body, dict)]


def batch_key(record) -> tuple[int, int]:
    """(campaign id, batch sequence) of a received sendGroup request, from its calledInfo."""
    found = TAG.search(record.body.get("calledInfo") or "")
    assert found, record.body
    return int(found[1]), int(found[2])


class WorkerKiller:
    """Runs `workers` portal_worker processes (--batch: each ends when no task is left) and
    SIGKILLs all of them when the sandbox holds send #n (n in `while_held`) or has answered send
    #n (n in `after_answer`); restarts them after the dead dispatchers' leases went stale."""

    def __init__(
        self,
        sandbox_state,
        *,
        while_held: Iterable[int],
        after_answer: Iterable[int],
        workers: int = 1,
    ) -> None:
        self.while_held, self.after_answer = set(while_held), set(after_answer)
        self.workers = workers
        self.procs: list[subprocess.Popen] = []
        self.kills: list[str] = []
        self.restarts = 0
        self._sends: Counter[str] = Counter()
        self._lock = threading.Lock()
        sandbox_state.on_send_held = self._held
        sandbox_state.on_send_answered = self._answered

    def _kill(self, moment: str) -> None:
        killed = False
        for proc in list(self.procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
        if killed:
            self.kills.append(moment)

    def _count(self, record, what: str, at: set[int]) -> None:
        if record.path != SEND_GROUP:
            return
        with self._lock:
            self._sends[what] += 1
            n = self._sends[what]
        if n in at:
            self._kill(f"{what} send #{n}")

    def _held(self, record) -> None:
        self._count(record, "held", self.while_held)

    def _answered(self, record) -> None:
        self._count(record, "answered", self.after_answer)

    def run_until_done(
        self,
        campaigns: list[Campaign],
        deadline_s: float,
        between: Callable[[], None] | None = None,
    ) -> float:
        """Keep workers running until no campaign of `campaigns` is running or `deadline_s`
        passed; returns the seconds it took. `between` runs after each round of workers,
        before the scheduler's tick (e.g. the record sync, for retries)."""
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            if not Campaign.objects.filter(
                pk__in=[c.pk for c in campaigns], state=Campaign.State.RUNNING
            ).exists():
                break
            self.procs = [
                manage(
                    "portal_worker",
                    "--batch",
                    "--no-reload",
                    "--queue-name",
                    "*",
                    "--no-startup-delay",
                    env=chaos_env(),
                    capture=False,
                )
                for _ in range(self.workers)
            ]
            try:
                for proc in self.procs:
                    proc.wait(timeout=max(1, deadline_s - (time.monotonic() - started)))
            finally:
                procs, self.procs = self.procs, []
                for proc in procs:  # past the deadline: end them before the test fails
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
            if any(proc.returncode == -signal.SIGKILL for proc in procs):
                self.restarts += 1
                time.sleep(2.2)  # let the dead dispatchers' leases go stale
            if between is not None:
                between()
            # The scheduler's recovery job: stuck batches become unknown, dead dispatchers restart.
            run("portal_scheduler", "--job", "campaigns_tick")
        return time.monotonic() - started
