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
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise usage_error(f"{option}: {value!r} is not a date (YYYY-MM-DD) or date-time")
        parsed = datetime.combine(day, time.max if end_of_day else time.min)
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
