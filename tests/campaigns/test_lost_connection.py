"""PostgreSQL drops the task worker's connections: the sessions of a real `portal_worker` process
are terminated (pg_terminate_backend, once with new connections refused for two seconds) while it
dispatches a campaign and while it reads a callee import. The process stays up, the campaign
completes with nobody accepted twice (the sandbox's own record is the judge), the import ends.
The scheduler outlives the same cut."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from campaigns.models import Callee, CalleeImport, Campaign, Heartbeat
from campaigns.services.actors import Actor
from campaigns.services.campaigns import campaigns_tick
from campaigns.services.import_jobs import import_start, imports_resume_stale
from tests.campaigns.conftest import add_callees
from tests.pg import postgresql_only
from tests.procs import manage, portal_env, task_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), postgresql_only]
CALLEES = 2000
BATCH = 50  # 40 sendGroup requests
KILL_AT_SEND = {4: 0.0, 14: 2.0, 27: 0.0}  # held send number → seconds connections are refused
DEADLINE_S = 120


@pytest.fixture
def worker(settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": settings.TASK_QUEUES}
    }
    proc = task_worker(
        ITNIO_SEND_GROUP_MAX=str(BATCH),
        ITNIO_DISPATCH_CONCURRENCY="4",
        DISPATCH_LEASE_SECONDS="10",
        DISPATCH_STALE_BATCH_SECONDS="15",
        DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT),
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_the_worker_outlives_lost_connections_while_dispatching_and_nobody_is_called_twice(
    sandbox_state, uploaded_file, voice_app, worker, killer
):
    campaign = Campaign.objects.create(
        name="Dropped", app=voice_app, voice_file=uploaded_file, called_info="dropped"
    )
    numbers = add_callees(campaign, CALLEES, start=628200000001)
    sends = Counter()
    lock = threading.Lock()

    def held(record) -> None:  # a sender is waiting for this answer: cut the database now
        if record.path != "/voice/sendGroup":
            return
        with lock:
            sends["held"] += 1
            n = sends["held"]
        if n in KILL_AT_SEND:
            killer.kill(application_name="portal_worker%", away_s=KILL_AT_SEND[n])

    sandbox_state.on_send_held = held
    launch = manage("launch_campaign", "Dropped", "--for-real", env=portal_env())
    out, _ = launch.communicate(timeout=60)
    assert launch.returncode == 0 and "Running" in out, out

    started = last_tick = time.monotonic()
    while time.monotonic() - started < DEADLINE_S:
        assert worker.poll() is None, ("the worker exited", worker.returncode, killer.terminated)
        campaign.refresh_from_db()
        if campaign.state == Campaign.State.COMPLETED:
            break
        if time.monotonic() - last_tick > 3:
            campaigns_tick()  # the scheduler's recovery job, as production runs it
            last_tick = time.monotonic()
        time.sleep(0.3)
    assert campaign.state == Campaign.State.COMPLETED, (campaign.state, campaign.state_reason)
    assert len(killer.terminated) == len(KILL_AT_SEND) and all(killer.terminated), killer.terminated
    time.sleep(1)
    assert worker.poll() is None, "the worker must still be running"

    # The dispatcher carried on by itself (no restart by the tick), and the worker wrote the
    # outcome of every task it ran although its connections were cut under it.
    dispatches = DBTaskResult.objects.filter(task_path="campaigns.tasks.dispatch_campaign")
    assert [r.status for r in dispatches] == ["SUCCESSFUL"], [
        (r.status, r.traceback[-300:]) for r in dispatches
    ]
    assert not DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()

    # The judge: what the sandbox itself accepted.
    accepted = sandbox_state.accepted_callees()
    assert accepted and max(accepted.values()) == 1, [n for n, c in accepted.items() if c > 1]
    final = dict(Callee.objects.filter(campaign=campaign).values_list("number", "state"))
    assert set(final) == set(numbers)
    assert set(final.values()) <= {"submitted", "rejected", "unknown"}, Counter(final.values())
    for number, state in final.items():
        if state == "submitted":
            assert accepted[number] == 1, number
        elif state == "rejected":
            assert accepted[number] == 0, number
    # Answers that arrived while the database was away were written once it was back.
    assert len(sandbox_state.requests_for("/voice/sendGroup")) >= CALLEES // BATCH
    unknown = sum(1 for s in final.values() if s == "unknown")
    assert unknown == 0, f"{unknown} callees unknown: an answer in flight was not written"


def test_the_worker_outlives_lost_connections_while_reading_an_import(
    campaign, worker, killer, settings
):
    rows = 300_000
    data = ("phone\n" + "".join(f"+62 812 {i:08d}\n" for i in range(rows))).encode()
    callee_import = import_start(
        campaign=campaign,
        upload=SimpleUploadedFile("large.csv", data),
        name="large.csv",
        actor=Actor.system("test"),
    )
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        callee_import.refresh_from_db()
        if callee_import.state == CalleeImport.State.RUNNING and callee_import.rows > 0:
            break
        time.sleep(0.05)
    assert callee_import.state == CalleeImport.State.RUNNING, callee_import.state
    killer.kill(application_name="portal_worker%", away_s=1.0)
    # The cut import's lease goes silent; the scheduler's sweep (run here, as its periodic job
    # would) resumes it from its last committed row on the same, still running worker.
    settings.IMPORT_LEASE_SECONDS = 2
    while time.monotonic() < deadline and worker.poll() is None:
        callee_import.refresh_from_db()
        if callee_import.state != CalleeImport.State.RUNNING:
            break
        imports_resume_stale()
        time.sleep(0.5)
    assert worker.poll() is None, f"the worker exited ({worker.returncode})"
    assert killer.terminated and killer.terminated[0] >= 1
    # Never left "Reading" for ever: it was resumed and read every row exactly once.
    assert callee_import.state == CalleeImport.State.STAGED, (
        callee_import.state,
        callee_import.error,
    )
    staged = Callee.objects.filter(source=callee_import).count()
    assert staged == callee_import.imported == rows
    assert Callee.objects.filter(source=callee_import).values("number").distinct().count() == rows
    time.sleep(1)
    assert worker.poll() is None, "the worker must still be running"


def test_the_scheduler_outlives_lost_connections(killer):
    proc = manage("portal_scheduler", "--interval", "1", env=portal_env(), capture=False)
    try:

        def seen() -> datetime | None:
            return (
                Heartbeat.objects.filter(name="scheduler")
                .values_list("last_seen_at", flat=True)
                .first()
            )

        deadline = time.monotonic() + 30
        while seen() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert seen() is not None, "the scheduler never ticked"
        connection.ensure_connection()
        own = connection.connection.info.backend_pid
        assert killer.kill(all_but=own, away_s=1.5) >= 1
        cut_at = timezone.now()
        while time.monotonic() < deadline and not (seen() > cut_at):
            assert proc.poll() is None, ("the scheduler exited", proc.returncode)
            time.sleep(0.2)
        assert seen() > cut_at, "the scheduler stopped ticking"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=15)
