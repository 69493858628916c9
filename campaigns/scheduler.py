"""The periodic-job registry, the scheduler tick that enqueues due jobs, and which are overdue.

django-tasks has no periodic jobs and django-tasks-db leaves a task RUNNING forever when its
worker is killed, so recovery work (stale-work sweeps, record sync, scheduled starts) is
registered here by the module that owns it and enqueued by `manage.py portal_scheduler`.
Each job's last enqueue time is stored, so a restarted scheduler (or a second one started
by mistake) does not enqueue the same job twice in one interval.

A job is not enqueued again while its last run has not finished (no pile of copies behind a
slow or stopped worker), except after OVERDUE_INTERVALS of its intervals: that run is taken for
lost (a killed worker) and a new one is enqueued. Runs report their end through django-tasks'
`task_finished` signal, whatever the backend, so the admin index can name every job that is
overdue: a run waiting too long, or a job the scheduler has not enqueued for too long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django_tasks.signals import task_finished

from campaigns.models import Heartbeat, ScheduledJobRun

logger = logging.getLogger(__name__)

# "A few intervals": how long a run may wait, or a job go unenqueued, before it is overdue.
OVERDUE_INTERVALS = 3


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Any  # a django_tasks Task
    every: timedelta
    kwargs: dict[str, Any] = field(default_factory=dict)
    label: Any = None  # what staff read (gettext_lazy); the name in words by default

    @property
    def title(self) -> str:
        return str(self.label or self.name.replace("_", " ").capitalize())

    def late_after(self) -> timedelta:
        """Overdue after a few intervals, and never sooner than a few scheduler ticks."""
        tick = timedelta(seconds=settings.SCHEDULER_TICK_SECONDS)
        return OVERDUE_INTERVALS * max(self.every, tick)


_REGISTRY: dict[str, PeriodicJob] = {}


def periodic(
    *, every: timedelta, name: str | None = None, label: Any = None, **kwargs: Any
) -> Callable[[Any], Any]:
    """Register a task (decorated with @task) to be enqueued by the scheduler every `every`."""

    def register(task_obj: Any) -> Any:
        job_name = name or task_obj.name
        _REGISTRY[job_name] = PeriodicJob(job_name, task_obj, every, kwargs, label)
        return task_obj

    return register


def registered_jobs() -> list[PeriodicJob]:
    return sorted(_REGISTRY.values(), key=lambda job: job.name)


def _claim(job: PeriodicJob, now: datetime) -> ScheduledJobRun | None:
    """Mark the job as enqueued now if it is due; the row as it was when this caller should
    enqueue it, None when it should not."""
    with transaction.atomic():
        row, _ = ScheduledJobRun.objects.select_for_update().get_or_create(name=job.name)
        last = row.last_enqueued_at
        if last is not None and now - last < job.every:
            return None
        if row.waiting_since is not None and last is not None and now - last < job.late_after():
            return None  # the last run has not finished: do not queue a copy behind it
        before = ScheduledJobRun(last_enqueued_at=last, waiting_since=row.waiting_since)
        row.last_enqueued_at = now
        row.waiting_since = row.waiting_since or now
        row.save(update_fields=["last_enqueued_at", "waiting_since"])
        return before


def scheduler_tick(*, now: datetime | None = None) -> list[str]:
    """Enqueue every registered job that is due; return the names enqueued."""
    now = now or timezone.now()
    enqueued: list[str] = []
    for job in registered_jobs():
        before = _claim(job, now)
        if before is None:
            continue
        try:
            result = job.task.enqueue(**job.kwargs)
        except Exception:
            # Give the job back so the next tick tries again instead of waiting a whole interval.
            ScheduledJobRun.objects.filter(name=job.name).update(
                last_enqueued_at=before.last_enqueued_at, waiting_since=before.waiting_since
            )
            logger.exception("Could not enqueue periodic job %s", job.name)
            continue
        ScheduledJobRun.objects.filter(name=job.name).update(last_result_id=str(result.id))
        enqueued.append(job.name)
    Heartbeat.objects.update_or_create(
        name="scheduler",
        defaults={
            "last_seen_at": now,
            "detail": gettext("enqueued %(n)s job(s)") % {"n": len(enqueued)},
        },
    )
    return enqueued


def _run_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """A run of a periodic job ended (successfully or not): nothing of it waits any more."""
    try:
        path = task_result.task.module_path
        names = [job.name for job in _REGISTRY.values() if job.task.module_path == path]
        if names:
            ScheduledJobRun.objects.filter(name__in=names).update(
                waiting_since=None, last_finished_at=timezone.now()
            )
    except Exception:  # never turn a finished task into a failed one over bookkeeping
        logger.exception("Could not record the end of task %s", getattr(task_result, "id", "?"))


task_finished.connect(_run_finished, dispatch_uid="campaigns.scheduler.run_finished")


@dataclass(frozen=True)
class OverdueJob:
    job: PeriodicJob
    since: datetime  # waiting since, or last enqueued at
    finished: bool  # False: its run has not finished; True: it has not been enqueued since


def overdue_jobs(*, now: datetime | None = None, scheduler_alive: bool = True) -> list[OverdueJob]:
    """The periodic jobs whose run has waited, or who have gone unenqueued, for more than a few
    of their intervals (the latter only while the scheduler is alive: else it is the one late)."""
    now = now or timezone.now()
    rows = {row.name: row for row in ScheduledJobRun.objects.filter(name__in=_REGISTRY)}
    overdue = []
    for job in registered_jobs():
        row = rows.get(job.name)
        if row is None or row.last_enqueued_at is None:
            continue  # never enqueued yet: the scheduler's own line tells whether it runs
        if row.waiting_since is not None:
            if now - row.waiting_since > job.late_after():
                overdue.append(OverdueJob(job, row.waiting_since, finished=False))
        elif scheduler_alive and now - row.last_enqueued_at > job.late_after():
            overdue.append(OverdueJob(job, row.last_enqueued_at, finished=True))
    return overdue
