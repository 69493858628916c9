"""manage.py bill_check [--app A] [--since DATE]: check the calls not checked yet, then print
one line per mismatch (voiceId first) and `mismatches=N checked=N`."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, parse_moment, usage_error
from campaigns.models import BillMismatch, ItnioApp
from campaigns.services.bill_check import bill_check_due, checked_calls, mismatch_totals


def _plain(value: Any) -> str:
    return (
        "-"
        if value is None
        else format(value.normalize() if hasattr(value, "normalize") else value, "f")
    )


class Command(PortalCommand):
    help = gettext_lazy(
        "Check that each final call's billed time follows its duration and bill period, and its "
        "cost is rate × billed time; print the mismatches."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--app", metavar="APP_ID", help=gettext_lazy("one app (ITNIO app ID)"))
        parser.add_argument(
            "--since", metavar="DATE", help=gettext_lazy("calls placed on or after this day")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app = None
        if options["app"]:
            app = ItnioApp.objects.filter(app_id=options["app"]).first()
            if app is None:
                raise usage_error(f"--app: no app {options['app']!r}")
        since = parse_moment(options["since"], "--since").date() if options["since"] else None
        bill_check_due(max_chunks=10_000)
        found = BillMismatch.objects.select_related("call").order_by("day", "id")
        if app is not None:
            found = found.filter(app=app)
        if since is not None:
            found = found.filter(day__gte=since)
        for m in found.iterator():
            self.stdout.write(
                f"{m.call.voice_id or m.call_id} kind={m.kind} "
                f"expected_seconds={_plain(m.expected_seconds)} "
                f"billed_seconds={_plain(m.charged_seconds)} "
                f"expected_cost={_plain(m.expected_cost)} cost={_plain(m.cost)} {m.currency}"
            )
        totals = mismatch_totals(found)
        for currency in sorted(totals.billed):
            self.stdout.write(
                f"billed={_plain(totals.billed[currency])} {currency} "
                f"recomputed={_plain(totals.expected[currency])} {currency}"
            )
        self.stdout.write(
            f"mismatches={found.count()} checked={checked_calls(app=app, since=since)}"
        )
