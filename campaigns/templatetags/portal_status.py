"""Template tags for the admin index: is background work alive?"""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils import timezone

from campaigns.models import Heartbeat

register = template.Library()

COMPONENTS = [
    ("scheduler", "Scheduler", "manage.py portal_scheduler"),
    ("worker", "Task worker", "manage.py portal_worker (or rqworker)"),
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
                "label": label,
                "command": command,
                "last_seen_at": hb.last_seen_at if hb else None,
                "detail": hb.detail if hb else "",
                "ok": bool(hb and now - hb.last_seen_at <= late_after),
            }
        )
    return rows
