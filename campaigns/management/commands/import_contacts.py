"""manage.py import_contacts LIST FILE [--default-region CC] [--dry-run]: import a contact
list file (created if new) through the one import pipeline.

Prints `imported=N rejected=N duplicates=N`. Exit 0 when a row was imported (or would be, with
--dry-run), 1 when none was, 2 when the file (or an option) cannot be used.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import (
    add_file_import_arguments,
    data_error,
    import_file_options,
    usage_error,
)
from campaigns.management.commands.import_callees import Command as ImportCalleesCommand
from campaigns.services.actors import Actor
from campaigns.services.contact_imports import contacts_import
from campaigns.services.tabular import ImportFileError


class Command(ImportCalleesCommand):
    help = (
        "Import contacts from a CSV/TSV/TXT or XLSX file into a contact list (created if new): "
        "invalid and duplicate rows are skipped with their reason; other columns become custom "
        "fields."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("list", help=gettext_lazy("contact list name (created if new)"))
        add_file_import_arguments(
            parser, gettext_lazy("the contact file (.csv, .tsv, .txt or .xlsx)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        region, path = import_file_options(options)
        name = options["list"].strip()
        if not name or len(name) > 100:
            raise usage_error(_("LIST: a name of 1 to 100 characters"))
        verbosity = options["verbosity"]
        out = None
        try:
            if options["rejected"]:
                out = open(options["rejected"], "w", encoding="utf-8-sig", newline="")
            counts, contact_list = contacts_import(
                list_name=name,
                source=path,
                name=path.name,
                actor=Actor(label=f"os:{getpass.getuser()}"),
                dry_run=options["dry_run"],
                rejected_csv=out,
                progress=self._progress if verbosity >= 2 else None,
                default_region=region,
            )
        except ImportFileError as exc:
            raise usage_error(f"{path}: {exc}") from exc
        except OSError as exc:
            raise usage_error(f"{options['rejected']}: {exc.strerror}") from exc
        finally:
            if out is not None:
                out.close()
        self._report(counts, verbosity)
        self.stdout.write(counts.summary())
        if options["dry_run"]:
            self.stderr.write(_("Dry run: nothing was written."))
        elif contact_list is not None and verbosity >= 1:
            self.stderr.write(
                _("Contact list %(name)s now holds %(n)s contacts.")
                % {"name": contact_list.name, "n": contact_list.contacts.count()}
            )
        if not counts.imported:
            raise data_error(
                _("No row was imported.") if not options["dry_run"] else _("No valid row.")
            )
