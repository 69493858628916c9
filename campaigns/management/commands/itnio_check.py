"""manage.py itnio_check [--app A]: verify credentials and print balances."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import ItnioAccount, ItnioApp
from campaigns.services.accounts import account_verify
from campaigns.services.actors import Actor
from itnio_portal.itnio import ItnioError


class Command(PortalCommand):
    help = gettext_lazy(
        "Verify ITNIO credentials (GET /sms/getBalance) and print balance, gift and credit."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--app", help=gettext_lazy("ITNIO app ID: check only the account of this app")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["app"]:
            app = ItnioApp.objects.select_related("account").filter(app_id=options["app"]).first()
            if app is None:
                raise usage_error(
                    _("--app: no app with ITNIO app ID %(app)s") % {"app": repr(options["app"])}
                )
            accounts = [app.account]
        else:
            accounts = list(ItnioAccount.objects.all())
            if not accounts:
                raise data_error(_("No ITNIO account is configured (see manage.py itnio_setup)."))
        failures = []
        for account in accounts:
            try:
                account = account_verify(account=account, actor=Actor.system("itnio_check"))
            except ItnioError as exc:
                failures.append(account.name)
                self.stderr.write(
                    _("%(account)s: FAILED: %(error)s") % {"account": account.name, "error": exc}
                )
                continue
            self.stdout.write(
                f"{account.name}: OK balance={account.balance} gift={account.gift} "
                f"credit={account.credit}"
            )
        if failures:
            raise data_error(
                _("Credentials check failed for: %(accounts)s") % {"accounts": ", ".join(failures)}
            )
