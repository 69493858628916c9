"""Shared conventions of every portal command: exit codes, --as USER, ITNIO errors on stderr.

Exit 0 on success, 1 on an ITNIO or data error (message on stderr), 2 on a usage error.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from itnio_portal.itnio.errors import ItnioError

EXIT_DATA_ERROR = 1
EXIT_USAGE = 2


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def data_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_DATA_ERROR)


class PortalCommand(BaseCommand):
    """A management command that follows the portal's CLI conventions."""

    #: Commands that spend money set this, which adds `--as USER`.
    spends_money = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        if self.spends_money:
            parser.add_argument(
                "--as",
                dest="acting_username",
                metavar="USER",
                help="portal user to record as the one who spent (default: the OS user)",
            )
        return parser

    def acting(self, options: dict[str, Any]) -> tuple[Any, str]:
        """(user or None, label) for the person behind this command."""
        username = options.get("acting_username")
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise usage_error(f"--as: no portal user named {username!r}")
            if not user.has_perm("campaigns.place_calls"):
                raise usage_error(f"--as: user {username!r} may not place calls")
            return user, username
        return None, f"os:{getpass.getuser()}"

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except ItnioError as exc:
            raise data_error(str(exc)) from exc
