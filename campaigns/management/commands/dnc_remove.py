"""manage.py dnc_remove NUMBER… [--list NAME] --as USER: take numbers off a do-not-call list
(Admins only; each removal lands in the admin history). Prints `removed=N`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.suppression import SuppressionError, dnc_remove


class Command(PortalCommand):
    help = gettext_lazy(
        "Take numbers off a do-not-call list (Admins only; recorded in the admin history)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("numbers", nargs="+", metavar="NUMBER")
        parser.add_argument("--list", dest="list_name", metavar="NAME")
        parser.add_argument(
            "--as",
            dest="acting_username",
            metavar="USER",
            required=True,
            help=gettext_lazy("an Admin"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["acting_username"]).first()
        if user is None:
            raise usage_error(
                _("--as: no portal user named %(user)r") % {"user": options["acting_username"]}
            )
        try:
            removed = dnc_remove(
                numbers=options["numbers"],
                actor=Actor.from_user(user),
                list_name=options["list_name"],
            )
        except PermissionDeniedError as exc:
            raise usage_error(str(exc)) from exc
        except SuppressionError as exc:
            raise usage_error(_("Nothing was removed: %(error)s") % {"error": exc}) from exc
        self.stdout.write(f"removed={removed}")
        if not removed:
            raise data_error(_("None of these numbers is on the list."))
