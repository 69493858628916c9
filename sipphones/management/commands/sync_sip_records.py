"""manage.py sync_sip_records --since DATE [--until DATE] [--group G] [--phone P]: backfill."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, parse_moment, usage_error
from campaigns.services.actors import Actor
from sipphones.services import sip_records_backfill


class Command(PortalCommand):
    help = gettext_lazy(
        "Backfill SIP-phone call records of a period (POST /voice/recordSipQuery, last two "
        "months only), creating the SIP calls the portal did not know. --group and --phone "
        "filter by exact group or phone name."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--since", required=True, help=gettext_lazy("start date (YYYY-MM-DD) or date-time")
        )
        parser.add_argument("--until", help=gettext_lazy("end date (default now)"))
        parser.add_argument("--group", help=gettext_lazy("only this SIP group name (exact)"))
        parser.add_argument("--phone", help=gettext_lazy("only this phone name (exact)"))

    def handle(self, *args: Any, **options: Any) -> None:
        since = parse_moment(options["since"], "--since")
        until = (
            parse_moment(options["until"], "--until", end_of_day=True) if options["until"] else None
        )
        if until and until <= since:
            raise usage_error(_("--until must be after --since"))
        result = sip_records_backfill(
            since=since,
            until=until,
            group_name=options["group"] or None,
            phone_name=options["phone"] or None,
            actor=Actor.system("sync_sip_records"),
        )
        self.stdout.write(str(result))
