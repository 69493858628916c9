"""manage.py refresh_call_stats [--rebuild]: recompute the daily call figures of changed days."""

from __future__ import annotations

import time
from typing import Any

from campaigns.management.base import PortalCommand
from campaigns.services.reports import refresh_call_stats


class Command(PortalCommand):
    help = (
        "Recompute the pre-aggregated daily call figures of every day whose calls changed "
        "(the scheduler does this every minute; the dashboard is exact either way). "
        "--rebuild recomputes every day."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--rebuild", action="store_true", help="recompute every day")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        days = refresh_call_stats(rebuild=options["rebuild"])
        took = time.monotonic() - started
        self.stdout.write(f"Recomputed {days} day{'s' if days != 1 else ''} in {took:.1f} s.")
