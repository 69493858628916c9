"""manage.py import_rates APP FILE [--dry-run]: import a rate card (prefix,rate,currency,
bill_period) onto an app's rate table through the one import pipeline; the card wins over the
learned rates. Admins only (--as), audited.

Prints `imported=N rejected=N duplicates=N`; exit codes as import_callees."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import data_error, usage_error
from campaigns.management.commands.import_callees import Command as ImportCalleesCommand
from campaigns.models import ItnioApp
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.rates import rate_card_import
from campaigns.services.tabular import ImportFileError


class Command(ImportCalleesCommand):
    help = gettext_lazy(
        "Import a rate card (CSV or XLSX with the columns prefix,rate,currency,bill_period) "
        "onto an app's rate table."
    )
    spends_money = True  # for --as USER: the card's history names them (Admins only)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("app", help=gettext_lazy("the ITNIO app ID"))
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        app = ItnioApp.objects.filter(app_id=options["app"]).first()
        if app is None:
            raise usage_error(
                _("No app with ITNIO app ID %(app)s.") % {"app": repr(options["app"])}
            )
        path = Path(options["file"])
        if not path.is_file():
            raise usage_error(_("%(path)s: no such file") % {"path": path})
        actor = Actor(label=label, user=user) if user else Actor(label=f"os:{getpass.getuser()}")
        try:
            counts = rate_card_import(
                app=app, source=path, name=path.name, actor=actor, dry_run=options["dry_run"]
            )
        except PermissionDeniedError as exc:
            raise data_error(str(exc)) from exc
        except ImportFileError as exc:
            raise usage_error(f"{path}: {exc}") from exc
        self._report(counts, options["verbosity"])
        self.stdout.write(counts.summary())
        if not counts.imported:
            raise data_error(_("No row was imported."))
