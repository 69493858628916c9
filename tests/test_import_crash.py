"""Crash: a real task worker reading a callee file is killed with SIGKILL mid-import, as the
kernel or an operator would; the periodic sweep resumes the import on a new worker. Every row
of the file must end up staged exactly once, as if no worker had died; and a file uploaded
again while its first import lies dead is imported whole."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time

import pytest

from campaigns.models import Callee, CalleeImport
from campaigns.services.import_jobs import import_run, import_start
from campaigns.services.import_records import import_cancel, import_confirm
from tests.procs import manage, portal_env, task_worker
from tests.test_import_jobs import ACTOR, callee_file, make_campaign, new_import, outcome

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROWS = 30_000
CHUNK = 200
LEASE_S = 1
DEADLINE_S = 60


@pytest.fixture
def env(settings) -> dict[str, str]:
    # The database backend, so what this process enqueues is what the worker runs.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": ["default", "dispatch", "sync"],
        }
    }
    settings.CALLEE_IMPORT_CHUNK_ROWS = CHUNK
    return {
        "CALLEE_IMPORT_CHUNK_ROWS": str(CHUNK),
        "IMPORT_LEASE_SECONDS": str(LEASE_S),
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }


@pytest.fixture
def workers():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def wait_for(condition, what: str) -> CalleeImport:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        found = condition()
        if found is not None:
            return found
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def reached(import_id: int, rows: int):
    def check() -> CalleeImport | None:
        ci = CalleeImport.objects.get(pk=import_id)
        if ci.state not in ("queued", "running"):
            raise AssertionError(f"the import ended ({ci.state}) before the kill: {ci.error}")
        return ci if ci.rows >= rows else None

    return check


def in_state(import_id: int, state: str):
    def check() -> CalleeImport | None:
        ci = CalleeImport.objects.get(pk=import_id)
        return ci if ci.state == state else None

    return check


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=20)


def sweep(env: dict[str, str]) -> None:
    """The scheduler's job, run by the worker: re-enqueue imports whose worker went silent."""
    out, _ = manage(
        "portal_scheduler", "--job", "resume_stale_imports", env=portal_env(**env)
    ).communicate(timeout=60)
    assert "enqueued resume_stale_imports" in out, out


def left_consistent(import_id: int) -> CalleeImport:
    """What a killed worker leaves: its committed chunks and their counters, nothing else."""
    ci = CalleeImport.objects.get(pk=import_id)
    assert ci.state == "running" and 0 < ci.rows < ROWS
    assert ci.rows % CHUNK == 0
    assert Callee.objects.filter(source=ci, state="staged").count() == ci.imported
    return ci


def test_a_worker_killed_twice_mid_import_leaves_every_row_staged_exactly_once(
    voice_app, env, workers
):
    twin = new_import(make_campaign(voice_app, "Twin"), callee_file(ROWS))
    import_run(twin.pk)  # the oracle: the same file read by a job that never stopped
    expected = outcome(twin)
    campaign = make_campaign(voice_app, "Spring")
    callee_import = import_start(
        campaign=campaign, upload=io.BytesIO(callee_file(ROWS)), name="big.csv", actor=ACTOR
    )

    kill_at, kills = 3 * CHUNK, []
    for attempt in range(2):
        worker = task_worker(**env)
        workers.append(worker)
        if attempt:
            sweep(env)
        wait_for(reached(callee_import.pk, kill_at), f"{kill_at} rows read")
        kill(worker)
        left = left_consistent(callee_import.pk)
        kills.append(left.rows)
        kill_at = left.rows + 5 * CHUNK
        time.sleep(LEASE_S + 0.2)  # its lease goes silent

    workers.append(task_worker(**env))
    sweep(env)
    done = wait_for(in_state(callee_import.pk, "staged"), "the resumed import to be read")
    assert done.resumes == 2 and done.lease == ""
    assert outcome(done) == expected

    assert import_confirm(callee_import=done, actor=ACTOR) == expected["counts"][1]
    pending = Callee.objects.filter(campaign=campaign, source=done, state="pending")
    numbers = list(pending.values_list("number", flat=True))
    assert sorted(numbers) == sorted(expected["staged"]) and len(set(numbers)) == len(numbers)
    print(f"\nimport crash: {ROWS} rows, workers killed with {kills} rows committed")


def test_the_file_of_an_import_whose_worker_was_killed_uploaded_again_is_imported_whole(
    voice_app, env, workers
):
    twin = new_import(make_campaign(voice_app, "Twin"), callee_file(ROWS))
    import_run(twin.pk)
    expected = outcome(twin)
    campaign = make_campaign(voice_app, "Spring")
    first = import_start(
        campaign=campaign, upload=io.BytesIO(callee_file(ROWS)), name="big.csv", actor=ACTOR
    )
    worker = task_worker(**env)
    workers.append(worker)
    wait_for(reached(first.pk, 3 * CHUNK), "a few chunks read")
    kill(worker)
    left_consistent(first.pk)

    workers.append(task_worker(**env))
    second = import_start(
        campaign=campaign, upload=io.BytesIO(callee_file(ROWS)), name="big.csv", actor=ACTOR
    )
    read = wait_for(in_state(second.pk, "staged"), "the second upload to be read")
    assert outcome(read)["counts"] == expected["counts"]
    assert import_confirm(callee_import=read, actor=ACTOR) == expected["counts"][1]
    import_cancel(callee_import=CalleeImport.objects.get(pk=first.pk), actor=ACTOR)

    listed = Callee.objects.filter(campaign=campaign).exclude(state="staged")
    imported = list(listed.filter(source=read).values_list("number", flat=True))
    assert sorted(imported) == sorted(expected["staged"])
    assert listed.count() == len(imported) + 3  # and the 3 numbers listed before
    assert not Callee.objects.filter(campaign=campaign, state="staged").exists()
