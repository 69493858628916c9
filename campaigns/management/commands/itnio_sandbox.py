"""manage.py itnio_sandbox --port N [--from-db]: run the built-in fake ITNIO on 127.0.0.1."""

from __future__ import annotations

import argparse
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.fields import UndecryptableSecret
from campaigns.management.base import PortalCommand, usage_error
from campaigns.models import ItnioAccount
from itnio_portal.itnio.sandbox import SandboxServer
from itnio_portal.itnio.sandbox.__main__ import (
    build_parser,
    build_state,
    open_state_file,
    serve_until_stopped,
)
from itnio_portal.itnio.sandbox.persist import StateFileError


class Command(PortalCommand):
    help = gettext_lazy(
        "Run the ITNIO sandbox (a fake ITNIO that checks signatures and parameters, gives calls a "
        "deterministic life with billing fields and pushes status reports). --from-db registers "
        "every account and app of this portal, with each app's push URL. Other options are the "
        "sandbox's own (see python -m itnio_portal.itnio.sandbox --help)."
    )

    def create_parser(
        self, prog_name: str, subcommand: str, **kwargs: Any
    ) -> argparse.ArgumentParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        sandbox = build_parser()
        for action in sandbox._actions:
            if action.dest in {"help", "verbose"}:
                continue
            parser._add_action(action)
        return parser

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--from-db",
            action="store_true",
            help=gettext_lazy("register this portal's accounts and apps"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        namespace = argparse.Namespace(**options)
        state = build_state(namespace)
        if options["from_db"]:
            if not options["account"]:
                state.accounts.pop("sandboxKey", None)  # only the portal's own accounts
            for account in ItnioAccount.objects.prefetch_related("apps"):
                if isinstance(account.api_secret, UndecryptableSecret):
                    self.stderr.write(
                        _("Skipping %(account)s: its secret cannot be decrypted.")
                        % {"account": account.name}
                    )
                    continue
                if account.api_key not in state.accounts:
                    state.add_account(
                        account.api_key, account.api_secret, balance=options["balance"]
                    )
                for app in account.apps.all():
                    state.add_app(account.api_key, app.app_id, kind=app.kind, push_url=app.push_url)
        try:  # after the accounts: the file restores their balances and what they did
            state_file, state_line = open_state_file(options["state"], state)
        except StateFileError as exc:
            raise usage_error(str(exc)) from None
        server = SandboxServer(
            state,
            host=options["host"],
            port=options["port"],
            push_interval=options["push_interval"],
            state_file=state_file,
        )
        self.stdout.write(
            _("ITNIO sandbox on %(url)s (control API: %(url)s/_sandbox/health)")
            % {"url": server.base_url}
        )
        for account in state.accounts.values():
            apps = ", ".join(f"{a.app_id} ({a.kind})" for a in account.apps.values())
            self.stdout.write(
                _("  account %(key)s: apps %(apps)s")
                % {"key": account.api_key, "apps": apps or "-"}
            )
        self.stdout.write(state_line)
        self.stdout.flush()
        serve_until_stopped(server)
