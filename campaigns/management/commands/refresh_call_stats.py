"""manage.py refresh_call_stats [--rebuild] [--max-seconds S]: recompute the daily call figures
of changed days."""

from __future__ import annotations

import time
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.management.base import PortalCommand, usage_error
from campaigns.models import CallStatMark
from campaigns.services.reports import refresh_call_stats


class Command(PortalCommand):
    help = gettext_lazy(
        "Recompute the pre-aggregated daily call figures of every day whose calls changed "
        "(the scheduler does this every minute; the dashboard is exact either way). "
        "--rebuild recomputes every day."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help=gettext_lazy("recompute every day")
        )
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help=gettext_lazy(
                "start no new day after this many seconds (default: no limit; the scheduled "
                "refresh stops after CALL_STATS_REFRESH_MAX_SECONDS)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit = options["max_seconds"]
        if limit is not None and limit < 0:
            raise usage_error(_("--max-seconds must not be negative"))
        started = time.monotonic()
        days = refresh_call_stats(
            rebuild=options["rebuild"], max_seconds=float("inf") if limit is None else limit
        )
        took = time.monotonic() - started
        self.stdout.write(
            ngettext(
                "Recomputed %(count)s day in %(seconds)s s.",
                "Recomputed %(count)s days in %(seconds)s s.",
                days,
            )
            % {"count": days, "seconds": f"{took:.1f}"}
        )
        left = CallStatMark.objects.order_by().values("day").distinct().count()
        if left:
            self.stdout.write(
                ngettext(
                    "%(count)s day changed meanwhile or waited: the next "
                    "run recomputes them (until then they are read from the calls).",
                    "%(count)s days changed meanwhile or waited: the next "
                    "run recomputes them (until then they are read from the calls).",
                    left,
                )
                % {"count": left}
            )
