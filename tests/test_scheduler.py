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
