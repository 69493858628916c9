"""Template tags for the admin index: is background work alive, and is any periodic job late?"""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Heartbeat
from campaigns.scheduler import overdue_jobs

register = template.Library()

COMPONENTS = [
    ("scheduler", gettext_lazy("Scheduler"), "manage.py portal_scheduler"),
    ("worker", gettext_lazy("Task worker"), "manage.py portal_worker (or rqworker)"),
    ("push-apply", gettext_lazy("Push apply worker"), "manage.py apply_pushes"),
]


@register.simple_tag
def background_status() -> list[dict[str, object]]:
    """One row per component: when it was last seen and whether that is too long ago."""
    seen = {hb.name: hb for hb in Heartbeat.objects.filter(name__in=[c[0] for c in COMPONENTS])}
    # A component is late after three missed scheduler ticks (the heartbeat job runs every tick).
    late_after = timedelta(seconds=max(3 * settings.SCHEDULER_TICK_SECONDS, 180))
    now = timezone.now()
    rows = []
    for name, label, command in COMPONENTS:
        hb = seen.get(name)
        rows.append(
            {
                "name": name,
                "label": label,
                "command": command,
                "last_seen_at": hb.last_seen_at if hb else None,
                "detail": hb.detail if hb else "",
                "ok": bool(hb and now - hb.last_seen_at <= late_after),
            }
        )
    return rows


@register.simple_tag
def overdue_job_warnings(rows: list[dict[str, object]]) -> list[str]:
    """One sentence per overdue periodic job, naming it (`rows`: background_status's)."""
    scheduler_alive = any(r["name"] == "scheduler" and r["ok"] for r in rows)
    now = timezone.now()
    warnings = []
    for late in overdue_jobs(now=now, scheduler_alive=scheduler_alive):
        words = {
            "job": late.job.title,
            "since": timesince(late.since, now),
            "every": timesince(now - late.job.every, now),
            "queue": late.job.task.queue_name,
        }
        if late.finished:
            text = _(
                "%(job)s has not been started by the scheduler for %(since)s "
                "(it runs every %(every)s)."
            )
        else:
            text = _(
                "%(job)s is overdue: its last run has waited %(since)s without finishing "
                "(it runs every %(every)s). Is a worker serving the “%(queue)s” queue running?"
            )
        warnings.append(text % words)
    return warnings
