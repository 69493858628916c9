"""The scheduler tick: due jobs are enqueued once per interval and run on the task backend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Heartbeat, ScheduledJobRun
from campaigns.scheduler import registered_jobs, scheduler_tick

pytestmark = pytest.mark.django_db


def test_housekeeping_jobs_are_registered():
    names = {job.name for job in registered_jobs()}
    assert {"worker_heartbeat", "prune_task_results"} <= names


def test_tick_enqueues_due_jobs_once_per_interval():
    now = timezone.now()
    first = scheduler_tick(now=now)
    assert "worker_heartbeat" in first
    # The immediate backend ran the task: the worker heartbeat is there.
    assert Heartbeat.objects.get(name="worker").detail == "task ran on ImmediateBackend"
    assert Heartbeat.objects.get(name="scheduler").last_seen_at == now

    assert scheduler_tick(now=now + timedelta(seconds=30)) == []
    again = scheduler_tick(now=now + timedelta(minutes=1))
    assert "worker_heartbeat" in again and "prune_task_results" not in again
    assert "prune_task_results" in scheduler_tick(now=now + timedelta(hours=6, minutes=1))


def test_a_job_that_cannot_be_enqueued_is_retried_next_tick(monkeypatch):
    from campaigns import scheduler

    class BrokenTask:
        name = "broken"

        def enqueue(self, **kwargs):
            raise ConnectionError("redis is down")

    job = scheduler.PeriodicJob("broken", BrokenTask(), timedelta(minutes=5))
    monkeypatch.setitem(scheduler._REGISTRY, "broken", job)
    now = timezone.now()
    assert "broken" not in scheduler_tick(now=now)
    assert ScheduledJobRun.objects.get(name="broken").last_enqueued_at is None
    monkeypatch.setitem(
        scheduler._REGISTRY,
        "broken",
        job.__class__("broken", scheduler._REGISTRY["worker_heartbeat"].task, job.every),
    )
    assert "broken" in scheduler_tick(now=now + timedelta(seconds=1))


def test_portal_scheduler_once(capsys):
    call_command("portal_scheduler", "--once")
    assert "enqueued" in capsys.readouterr().out
    assert Heartbeat.objects.filter(name="scheduler").exists()


def test_prune_task_results_deletes_only_old_finished_results(settings):
    from django_tasks_db.models import DBTaskResult

    from campaigns.tasks import prune_task_results, worker_heartbeat

    # The database backend, as in production (django_tasks resets its backends on this change).
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}
    }
    old, fresh, pending = (str(worker_heartbeat.enqueue().id) for _ in range(3))
    DBTaskResult.objects.filter(id__in=[old, fresh]).update(
        status="SUCCESSFUL", finished_at=timezone.now()
    )
    DBTaskResult.objects.filter(id=old).update(finished_at=timezone.now() - timedelta(days=30))
    assert prune_task_results.call() == 1
    assert {str(i) for i in DBTaskResult.objects.values_list("id", flat=True)} == {fresh, pending}


# ---------------------------------------------------------------------------
# Overdue jobs: runs that do not finish, jobs that are not enqueued
# ---------------------------------------------------------------------------
@pytest.fixture
def queued_in_db(settings):
    """The database backend, as in production: enqueued tasks wait for a worker."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": settings.TASK_QUEUES}
    }


def run_queue(queue: str) -> int:
    """Do what a db_worker serving `queue` does with each of its waiting tasks."""
    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    worker = Worker(
        queue_names=[queue],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )
    ran = 0
    for result in DBTaskResult.objects.ready().filter(queue_name=queue):
        result.claim(worker.worker_id)
        worker.run_task(result)
        ran += 1
    return ran


def test_a_finished_run_is_recorded_whatever_the_backend():
    now = timezone.now()
    scheduler_tick(now=now)  # the immediate backend runs each task inline

    row = ScheduledJobRun.objects.get(name="refresh_call_stats")
    assert row.waiting_since is None and row.last_finished_at is not None


def test_a_run_that_has_not_finished_is_not_queued_again_until_taken_for_lost(queued_in_db):
    from django_tasks_db.models import DBTaskResult

    start = timezone.now() - timedelta(minutes=10)
    assert "refresh_call_stats" in scheduler_tick(now=start)
    # No worker serves "figures": no copies pile up behind the waiting run...
    for minutes in (1, 2):
        assert "refresh_call_stats" not in scheduler_tick(now=start + timedelta(minutes=minutes))
    # ...until three intervals have passed: the run is taken for lost (a killed worker).
    assert "refresh_call_stats" in scheduler_tick(now=start + timedelta(minutes=3))
    refreshes = DBTaskResult.objects.filter(task_path="campaigns.tasks.refresh_call_stats")
    assert refreshes.count() == 2
    assert ScheduledJobRun.objects.get(name="refresh_call_stats").waiting_since == start

    assert run_queue("figures") == 2
    row = ScheduledJobRun.objects.get(name="refresh_call_stats")
    assert row.waiting_since is None and row.last_finished_at is not None
    assert "refresh_call_stats" in scheduler_tick(now=start + timedelta(minutes=4))


def overdue_lines(client) -> list[str]:
    import re

    from django.urls import reverse

    html = client.get(reverse("admin:index")).content.decode()
    row = re.search(r'<tr id="periodic-jobs">(.*?)</tr>', html, re.S)
    assert row, "the index has no line for the periodic jobs"
    return re.findall(r'<span class="overdue-job">(.*?)</span>', row.group(1), re.S)


def test_the_admin_index_names_the_periodic_jobs_that_are_overdue(queued_in_db, client):
    from tests.conftest import make_staff

    client.force_login(make_staff("watcher", "Viewer"))
    start = timezone.now() - timedelta(minutes=10)
    scheduler_tick(now=start)
    run_queue("default")  # the housekeeping worker runs; nothing serves "sync" or "figures"
    scheduler_tick()  # the scheduler is alive

    lines = overdue_lines(client)

    assert (
        "Daily call figures refresh is overdue: its last run has waited 10\xa0minutes without "
        "finishing (it runs every 1\xa0minute). Is a worker serving the “figures” queue running?"
    ) in lines
    assert not any("Worker heartbeat" in line or "Campaign tick" in line for line in lines)
    assert not any("Call record sync" in line for line in lines)  # every 5 minutes: not yet

    run_queue("sync")
    run_queue("figures")
    run_queue("webhooks")
    assert overdue_lines(client) == []

    # A job the scheduler has not enqueued for three of its intervals, while it ticks.
    ScheduledJobRun.objects.filter(name="refresh_call_stats").update(
        last_enqueued_at=timezone.now() - timedelta(minutes=4)
    )
    assert overdue_lines(client) == [
        "Daily call figures refresh has not been started by the scheduler for 4\xa0minutes "
        "(it runs every 1\xa0minute)."
    ]


def test_long_jobs_never_share_the_housekeeping_queue(settings):
    from campaigns import tasks
    from campaigns.management.commands.portal_demo import DEMO_WORKERS

    queues = {
        name: task.queue_name
        for name, task in vars(tasks).items()
        if hasattr(task, "queue_name") and hasattr(task, "enqueue")
    }
    quick = {
        "worker_heartbeat",
        "campaigns_tick",
        "sweep_stale_sends",
        "resume_stale_imports",
        "check_alerts",  # a few bounded queries; an alert must not wait behind a record sync
    }
    assert {name for name, queue in queues.items() if queue == "default"} == quick
    assert queues["refresh_call_stats"] == "figures"
    # The demo runs one worker per queue, and every queue has one.
    assert sorted(queue for _, queue in DEMO_WORKERS) == sorted(settings.TASK_QUEUES)
    assert set(queues.values()) <= set(settings.TASK_QUEUES)
