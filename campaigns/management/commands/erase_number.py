"""manage.py erase_number NUMBER --as USER: remove one person's number and name from every table."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.personal_data import ERASE_PERMISSION, ErasureError, number_erase


class Command(PortalCommand):
    help = (
        "Erase one phone number, and the names that went with it, from every table: its callees "
        "and AI customers are deleted; calls, AI call records, push bodies and request log "
        "entries keep their figures without it; the import files it came from are deleted. A "
        "salted digest is kept so the number can be refused later. Give the number as it was "
        "imported (its normalised digits and its plain digits are both matched)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("number", help="the phone number to erase")
        parser.add_argument(
            "--as",
            dest="acting_username",
            metavar="USER",
            required=True,
            help="the portal user (an Admin) recorded as the one who erased it",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["acting_username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise usage_error(f"--as: no portal user named {username!r}")
        if not user.is_active or not user.has_perm(ERASE_PERMISSION):
            raise usage_error(f"--as: user {username!r} may not erase personal data (Admins only)")
        try:
            result = number_erase(number=options["number"], actor=Actor.from_user(user))
        except ErasureError as exc:
            raise usage_error(f"NUMBER: {exc}") from exc
        except PermissionDeniedError as exc:
            raise data_error(str(exc)) from exc
        if result.already_erased:
            self.stderr.write("This number had been erased before; what was found now is gone.")
        self.stdout.write(str(result))
