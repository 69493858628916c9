"""manage.py two_factor_reset USER: delete USER's two-factor devices (TOTP and backup codes), for
a lost phone. Audited: a log line naming the OS user (and the user's admin history with --as)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.services.actors import Actor
from campaigns.services.two_factor import TwoFactorError, two_factor_reset


class Command(PortalCommand):
    help = gettext_lazy(
        "Delete a user's two-factor devices (TOTP and backup codes): their next login asks for "
        "the password only, then for a new device when one is required."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("user")
        parser.add_argument(
            "--as",
            dest="acting_username",
            metavar="ADMIN",
            help=str(gettext_lazy("portal user to record in the user's history")),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        user = users.filter(username=options["user"]).first()
        if user is None:
            raise usage_error(_("No portal user named %(user)s") % {"user": repr(options["user"])})
        actor = Actor(label=f"os:{getpass.getuser()}")
        if options["acting_username"]:
            acting = users.filter(username=options["acting_username"]).first()
            if acting is None or not acting.has_perm("auth.change_user"):
                raise usage_error(
                    _("--as: %(user)s is not a portal user who may change users")
                    % {"user": repr(options["acting_username"])}
                )
            actor = Actor.from_user(acting)
        try:
            removed = two_factor_reset(user=user, actor=actor)
        except TwoFactorError as exc:
            raise data_error(str(exc)) from exc
        self.stdout.write(
            _("Two-factor devices of %(user)s reset (%(removed)d removed).")
            % {"user": user.get_username(), "removed": removed}
        )
