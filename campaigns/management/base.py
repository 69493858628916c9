"""Shared conventions of every portal command: exit codes, --as USER, ITNIO errors on stderr.

Exit 0 on success, 1 on an ITNIO or data error (message on stderr), 2 on a usage error.
"""

from __future__ import annotations

import getpass
from datetime import datetime, time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.services.numbers import check_region
from itnio_portal.itnio.errors import ItnioError

EXIT_DATA_ERROR = 1
EXIT_USAGE = 2


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_USAGE)


def data_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_DATA_ERROR)


def plain_description(parser: Any) -> Any:
    """The command's `help` (a lazy translation) as text in the active language: argparse
    formats the description with re, which refuses a lazy string (--help would crash)."""
    if parser.description is not None:
        parser.description = str(parser.description)
    return parser


class PortalCommand(BaseCommand):
    """A management command that follows the portal's CLI conventions."""

    #: Commands that spend money set this, which adds `--as USER`.
    spends_money = False

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        plain_description(parser)
        if self.spends_money:
            parser.add_argument(
                "--as",
                dest="acting_username",
                metavar="USER",
                help=gettext_lazy(
                    "portal user to record as the one who spent (default: the OS user)"
                ),
            )
        return parser

    def acting(self, options: dict[str, Any]) -> tuple[Any, str]:
        """(user or None, label) for the person behind this command."""
        username = options.get("acting_username")
        if username:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise usage_error(
                    _("--as: no portal user named %(user)s") % {"user": repr(username)}
                )
            if not user.has_perm("campaigns.place_calls"):
                raise usage_error(
                    _("--as: user %(user)s may not place calls") % {"user": repr(username)}
                )
            return user, username
        return None, f"os:{getpass.getuser()}"

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except ItnioError as exc:
            raise data_error(str(exc)) from exc


def parse_moment(value: str, option: str, *, end_of_day: bool = False) -> datetime:
    """A command-line date or date-time, aware. A plain date means the whole day: parse_datetime
    would read "2024-01-31" as midnight (Python 3.11), making --until stop at its start.
    Impossible dates ("2024-02-30") are usage errors."""
    try:
        day = parse_date(value)
        parsed = None if day is not None else parse_datetime(value)
    except ValueError:
        day = parsed = None
    if day is not None:
        parsed = datetime.combine(day, time.max if end_of_day else time.min)
    if parsed is None:
        raise usage_error(
            _("%(option)s: %(value)s is not a date (YYYY-MM-DD) or date-time")
            % {"option": option, "value": repr(value)}
        )
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def add_file_import_arguments(parser: Any, file_help: Any) -> None:
    """The arguments every command that imports a list file takes after its target: the file,
    --dry-run, --default-region and --rejected (import_callees, import_contacts)."""
    parser.add_argument("file", help=file_help)
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help=gettext_lazy("read and check the file; write nothing"),
    )
    parser.add_argument(
        "--default-region",
        metavar="CC",
        default="",
        help=gettext_lazy(
            "two-letter country (e.g. SG) of the numbers written without their country code"
        ),
    )
    parser.add_argument(
        "--rejected",
        metavar="CSV",
        help=gettext_lazy(
            "also write the rejected and duplicate rows (row, value, reason) to this file"
        ),
    )


def import_file_options(options: dict[str, Any]) -> tuple[str, Path]:
    """The checked default region ("" for none) and the file of those arguments: an unknown
    region code or a missing file is a usage error (exit 2), before anything is read."""
    region = ""
    if options["default_region"]:
        try:
            region = check_region(options["default_region"])
        except ValueError as exc:
            raise usage_error(str(exc)) from exc
    path = Path(options["file"])
    if not path.is_file():
        raise usage_error(_("%(path)s: no such file") % {"path": path})
    return region, path
