"""manage.py sync_records [--since DATE] [--until DATE]: refresh or backfill call records."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from campaigns.management.base import PortalCommand, usage_error
from campaigns.services.actors import Actor
from campaigns.services.calls import calls_backfill, calls_sync_due


def _moment(value: str, option: str, *, end_of_day: bool = False) -> datetime:
    # A plain date first: since Python 3.11 parse_datetime reads "2024-01-31" as midnight, which
    # would make --until stop at the start of that day. Both raise ValueError for well-formed
    # but impossible values ("2024-02-30"), which is a usage error too.
    try:
        day = parse_date(value)
        parsed = None if day is not None else parse_datetime(value)
    except ValueError:
        day = parsed = None
    if day is not None:
        parsed = datetime.combine(day, time.max if end_of_day else time.min)
    if parsed is None:
        raise usage_error(f"{option}: {value!r} is not a date (YYYY-MM-DD) or date-time")
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


class Command(PortalCommand):
    help = (
        "Without dates: refresh the calls that are not final (recordGroup). With --since/--until: "
        "backfill every record of that period (recordGroupQuery, last two months only), creating "
        "calls the portal did not know."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--since", help="start date (YYYY-MM-DD) or ISO date-time")
        parser.add_argument("--until", help="end date (default now)")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("sync_records")
        if options["until"] and not options["since"]:
            raise usage_error("--until needs --since")
        if options["since"]:
            since = _moment(options["since"], "--since")
            until = (
                _moment(options["until"], "--until", end_of_day=True) if options["until"] else None
            )
            if until and until <= since:
                raise usage_error("--until must be after --since")
            result = calls_backfill(since=since, until=until, actor=actor)
        else:
            result = calls_sync_due(actor=actor)
        self.stdout.write(str(result))
