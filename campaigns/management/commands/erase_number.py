"""manage.py erase_number NUMBER --as USER: remove one person's number and name from every table."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.personal_data import ERASE_PERMISSION, ErasureError, number_erase


class Command(PortalCommand):
    help = gettext_lazy(
        "Erase one phone number, and the names that went with it, from every table: its callees "
        "and AI customers are deleted; calls, AI call records, push bodies and request log "
        "entries keep their figures without it; the import files it came from are deleted. A "
        "salted digest is kept so the number can be refused later. Give the number as it was "
        "imported (its normalised digits and its plain digits are both matched)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("number", help=gettext_lazy("the phone number to erase"))
        parser.add_argument(
            "--as",
            dest="acting_username",
            metavar="USER",
            required=True,
            help=gettext_lazy("the portal user (an Admin) recorded as the one who erased it"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["acting_username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise usage_error(_("--as: no portal user named %(user)s") % {"user": repr(username)})
        if not user.is_active or not user.has_perm(ERASE_PERMISSION):
            raise usage_error(
                _("--as: user %(user)s may not erase personal data (Admins only)")
                % {"user": repr(username)}
            )
        try:
            result = number_erase(number=options["number"], actor=Actor.from_user(user))
        except ErasureError as exc:
            raise usage_error(_("NUMBER: %(error)s") % {"error": exc}) from exc
        except PermissionDeniedError as exc:
            raise data_error(str(exc)) from exc
        if result.already_erased:
            self.stderr.write(_("This number had been erased before; what was found now is gone."))
        self.stdout.write(str(result))
