"""The periodic-job registry and the scheduler tick that enqueues due jobs.

django-tasks has no periodic jobs and django-tasks-db leaves a task RUNNING forever when its
worker is killed, so recovery work (stale-work sweeps, record sync, scheduled starts) is
registered here by the module that owns it and enqueued by `manage.py portal_scheduler`.
Each job's last enqueue time is stored, so a restarted scheduler (or a second one started
by mistake) does not enqueue the same job twice in one interval.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaigns.models import Heartbeat, ScheduledJobRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Any  # a django_tasks Task
    every: timedelta
    kwargs: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, PeriodicJob] = {}


def periodic(*, every: timedelta, name: str | None = None, **kwargs: Any) -> Callable[[Any], Any]:
    """Register a task (decorated with @task) to be enqueued by the scheduler every `every`."""

    def register(task_obj: Any) -> Any:
        job_name = name or task_obj.name
        _REGISTRY[job_name] = PeriodicJob(job_name, task_obj, every, kwargs)
        return task_obj

    return register


def registered_jobs() -> list[PeriodicJob]:
    return sorted(_REGISTRY.values(), key=lambda job: job.name)


def _claim(job: PeriodicJob, now: datetime) -> bool:
    """Mark the job as enqueued now if it is due; True when this caller should enqueue it."""
    with transaction.atomic():
        row, _ = ScheduledJobRun.objects.select_for_update().get_or_create(name=job.name)
        if row.last_enqueued_at is not None and now - row.last_enqueued_at < job.every:
            return False
        row.last_enqueued_at = now
        row.save(update_fields=["last_enqueued_at"])
        return True


def scheduler_tick(*, now: datetime | None = None) -> list[str]:
    """Enqueue every registered job that is due; return the names enqueued."""
    now = now or timezone.now()
    enqueued: list[str] = []
    for job in registered_jobs():
        if not _claim(job, now):
            continue
        try:
            result = job.task.enqueue(**job.kwargs)
        except Exception:
            # Give the job back so the next tick tries again instead of waiting a whole interval.
            ScheduledJobRun.objects.filter(name=job.name).update(last_enqueued_at=None)
            logger.exception("Could not enqueue periodic job %s", job.name)
            continue
        ScheduledJobRun.objects.filter(name=job.name).update(last_result_id=str(result.id))
        enqueued.append(job.name)
    Heartbeat.objects.update_or_create(
        name="scheduler",
        defaults={"last_seen_at": now, "detail": f"enqueued {len(enqueued)} job(s)"},
    )
    return enqueued
