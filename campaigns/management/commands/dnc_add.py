"""manage.py dnc_add NUMBER… [--list NAME] [--reason R] [--expires DATE]: put numbers on a
do-not-call list (the portal-wide one by default). Prints `added=N updated=N`."""

from __future__ import annotations

import getpass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, parse_moment, usage_error
from campaigns.services.actors import Actor
from campaigns.services.suppression import SuppressionError, dnc_add


class Command(PortalCommand):
    help = gettext_lazy("Put numbers on a do-not-call list (default: the portal-wide list).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("numbers", nargs="+", metavar="NUMBER")
        parser.add_argument("--list", dest="list_name", metavar="NAME")
        parser.add_argument("--reason", default="")
        parser.add_argument(
            "--expires",
            metavar="DATE",
            help=gettext_lazy("the entry stops applying after this day"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        expires = (
            parse_moment(options["expires"], "--expires", end_of_day=True)
            if options["expires"]
            else None
        )
        try:
            result = dnc_add(
                numbers=options["numbers"],
                actor=Actor(label=f"os:{getpass.getuser()}"),
                list_name=options["list_name"],
                reason=options["reason"],
                expires_at=expires,
            )
        except SuppressionError as exc:
            raise usage_error(_("Nothing was added: %(error)s") % {"error": exc}) from exc
        self.stdout.write(f"added={result.added} updated={result.updated}")
