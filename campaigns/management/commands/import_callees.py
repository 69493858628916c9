"""manage.py import_callees CAMPAIGN FILE [--default-region CC] [--dry-run]: import a callee
list, confirmed at once. With --default-region, national numbers ("9123 4567" with SG) become
international ones and a number not valid for its country is rejected with the reason.

Prints `imported=N rejected=N duplicates=N`. Exit 0 when a row was imported (or would be, with
--dry-run), 1 when none was, 2 when the file (or the campaign) cannot be used.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import (
    PortalCommand,
    add_file_import_arguments,
    data_error,
    import_file_options,
    usage_error,
)
from campaigns.models import Campaign
from campaigns.services.actors import Actor
from campaigns.services.import_records import import_now
from campaigns.services.imports import ImportCounts, ImportStateError
from campaigns.services.tabular import ImportFileError


class Command(PortalCommand):
    help = gettext_lazy(
        "Import callees from a CSV/TSV/TXT or XLSX file into a campaign: invalid and duplicate "
        "rows are skipped with their reason; the rest become pending at once."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("campaign", help=gettext_lazy("campaign ID or name"))
        add_file_import_arguments(
            parser, gettext_lazy("the callee file (.csv, .tsv, .txt or .xlsx)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = self._campaign(options["campaign"])
        region, path = import_file_options(options)
        verbosity = options["verbosity"]
        actor = Actor(label=f"os:{getpass.getuser()}")
        out = None
        try:
            if options["rejected"]:
                out = open(options["rejected"], "w", encoding="utf-8-sig", newline="")
            counts, callee_import = import_now(
                campaign=campaign,
                source=path,
                name=path.name,
                actor=actor,
                dry_run=options["dry_run"],
                rejected_csv=out,
                progress=self._progress if verbosity >= 2 else None,
                default_region=region,
            )
        except ImportFileError as exc:
            raise usage_error(f"{path}: {exc}") from exc
        except ImportStateError as exc:
            raise usage_error(str(exc)) from exc
        except OSError as exc:
            raise usage_error(f"{options['rejected']}: {exc.strerror}") from exc
        finally:
            if out is not None:
                out.close()
        self._report(counts, verbosity)
        self.stdout.write(counts.summary())
        if options["dry_run"]:
            self.stderr.write(_("Dry run: nothing was written."))
        elif callee_import is not None and verbosity >= 1 and counts.skipped:
            self.stderr.write(
                _(
                    "Import #%(id)s: the skipped rows with their reasons are in the "
                    "admin (Callee imports) and its rejected-rows CSV."
                )
                % {"id": callee_import.pk}
            )
        if not counts.imported:
            raise data_error(
                _("No row was imported.") if not options["dry_run"] else _("No valid row.")
            )

    def _campaign(self, value: str) -> Campaign:
        campaign = None
        if value.isdigit():
            campaign = Campaign.objects.filter(pk=int(value)).first()
        if campaign is None:
            campaign = Campaign.objects.filter(name=value).first()
        if campaign is None:
            raise usage_error(_("No campaign with ID or name %(value)s.") % {"value": repr(value)})
        return campaign

    def _progress(self, counts: ImportCounts) -> None:
        percent = counts.bytes_read * 100 // counts.total_bytes if counts.total_bytes else 0
        self.stderr.write(f"{percent:3d} % {counts.summary()}", ending="\r")

    def _report(self, counts: ImportCounts, verbosity: int) -> None:
        if verbosity < 1 or not counts.sample:
            return
        shown = counts.sample if verbosity >= 2 else counts.sample[:10]
        for row in shown:
            self.stderr.write(
                _("row %(row)s: %(value)s: %(reason)s")
                % {"row": row.row, "value": repr(row.value), "reason": row.reason}
            )
        more = counts.skipped - len(shown)
        if more > 0:
            self.stderr.write(
                _("… and %(count)s more skipped rows (see --rejected CSV).") % {"count": more}
            )
        sys.stderr.flush()
