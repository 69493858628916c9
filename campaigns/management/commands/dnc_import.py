"""manage.py dnc_import FILE [--list NAME] [--reason R] [--default-region CC] [--dry-run]: put a
file's numbers on a do-not-call list through the one import pipeline.

Prints `imported=N rejected=N duplicates=N`; exit codes as import_callees."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import data_error, usage_error
from campaigns.management.commands.import_callees import Command as ImportCalleesCommand
from campaigns.services.actors import Actor
from campaigns.services.contact_imports import dnc_import
from campaigns.services.numbers import check_region
from campaigns.services.suppression import SuppressionError, suppression_list_named
from campaigns.services.tabular import ImportFileError


class Command(ImportCalleesCommand):
    help = gettext_lazy("Put the numbers of a CSV/TSV/TXT or XLSX file on a do-not-call list.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--list", dest="list_name", metavar="NAME")
        parser.add_argument("--reason", default="")
        parser.add_argument("--default-region", metavar="CC", default="")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        region = ""
        try:
            if options["default_region"]:
                region = check_region(options["default_region"])
            target = suppression_list_named(options["list_name"])
        except (ValueError, SuppressionError) as exc:
            raise usage_error(str(exc)) from exc
        path = Path(options["file"])
        if not path.is_file():
            raise usage_error(_("%(path)s: no such file") % {"path": path})
        try:
            counts = dnc_import(
                source=path,
                name=path.name,
                actor=Actor(label=f"os:{getpass.getuser()}"),
                suppression_list=target,
                reason=options["reason"],
                default_region=region,
                dry_run=options["dry_run"],
            )
        except ImportFileError as exc:
            raise usage_error(f"{path}: {exc}") from exc
        self._report(counts, options["verbosity"])
        self.stdout.write(counts.summary())
        if not counts.imported:
            raise data_error(_("No row was imported."))
