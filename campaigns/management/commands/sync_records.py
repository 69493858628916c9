"""manage.py sync_records [--since DATE] [--until DATE]: refresh or backfill call records."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, parse_moment, usage_error
from campaigns.services.actors import Actor
from campaigns.services.calls import calls_backfill, calls_sync_due


class Command(PortalCommand):
    help = gettext_lazy(
        "Without dates: refresh the calls that are not final (recordGroup). With --since/--until: "
        "backfill every record of that period (recordGroupQuery, last two months only), creating "
        "calls the portal did not know."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--since", help=gettext_lazy("start date (YYYY-MM-DD) or ISO date-time")
        )
        parser.add_argument("--until", help=gettext_lazy("end date (default now)"))

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("sync_records")
        if options["until"] and not options["since"]:
            raise usage_error(_("--until needs --since"))
        if options["since"]:
            since = parse_moment(options["since"], "--since")
            until = (
                parse_moment(options["until"], "--until", end_of_day=True)
                if options["until"]
                else None
            )
            if until and until <= since:
                raise usage_error(_("--until must be after --since"))
            result = calls_backfill(since=since, until=until, actor=actor)
        else:
            result = calls_sync_due(actor=actor)
        self.stdout.write(str(result))
