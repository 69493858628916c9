"""manage.py sync_sip_records --since DATE [--until DATE] [--group G] [--phone P]: backfill."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from campaigns.management.base import PortalCommand, usage_error
from campaigns.services.actors import Actor
from sipphones.services import sip_records_backfill


def _moment(value: str, option: str, *, end_of_day: bool = False) -> datetime:
    # A plain date first: parse_datetime would read "2024-01-31" as midnight, making --until
    # stop at the start of that day. Impossible dates ("2024-02-30") are usage errors too.
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
        "Backfill SIP-phone call records of a period (POST /voice/recordSipQuery, last two "
        "months only), creating the SIP calls the portal did not know. --group and --phone "
        "filter by exact group or phone name."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--since", required=True, help="start date (YYYY-MM-DD) or date-time")
        parser.add_argument("--until", help="end date (default now)")
        parser.add_argument("--group", help="only this SIP group name (exact)")
        parser.add_argument("--phone", help="only this phone name (exact)")

    def handle(self, *args: Any, **options: Any) -> None:
        since = _moment(options["since"], "--since")
        until = _moment(options["until"], "--until", end_of_day=True) if options["until"] else None
        if until and until <= since:
            raise usage_error("--until must be after --since")
        result = sip_records_backfill(
            since=since,
            until=until,
            group_name=options["group"] or None,
            phone_name=options["phone"] or None,
            actor=Actor.system("sync_sip_records"),
        )
        self.stdout.write(str(result))
