"""manage.py api_token create USER [--name N] [--expires DATE] | revoke USER [NAME]: REST API
tokens. `create` prints the token on its last line (shown this once: only a digest is kept)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, parse_moment, usage_error
from campaigns.services.api_tokens import ApiTokenError, api_token_create, api_token_revoke


class Command(PortalCommand):
    help = gettext_lazy(
        "Create or revoke a user's REST API token (create prints the token on its last line)."
    )

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help=str(gettext_lazy("create a token for USER")))
        create.add_argument("user")
        create.add_argument("--name", default="cli", help=str(gettext_lazy("the token's name")))
        create.add_argument(
            "--expires",
            metavar="DATE",
            help=str(gettext_lazy("last day (YYYY-MM-DD) or moment it works (default: never)")),
        )
        revoke = sub.add_parser(
            "revoke", help=str(gettext_lazy("revoke USER's token NAME (default: all of them)"))
        )
        revoke.add_argument("user")
        revoke.add_argument("name", nargs="?")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise usage_error(_("No portal user named %(user)s") % {"user": repr(options["user"])})
        if options["action"] == "create":
            expires = (
                parse_moment(options["expires"], "--expires", end_of_day=True)
                if options["expires"]
                else None
            )
            try:
                token, key = api_token_create(
                    user=user,
                    name=options["name"],
                    expires_at=expires,
                    created_by=f"os:{getpass.getuser()}",
                )
            except ApiTokenError as exc:
                raise data_error(str(exc)) from exc
            self.stdout.write(
                _("Created API token %(name)s of %(user)s (%(prefix)s…); shown only now:")
                % {"name": token.name, "user": user.get_username(), "prefix": token.prefix}
            )
            self.stdout.write(key)
            return
        revoked = api_token_revoke(user=user, name=options["name"])
        if options["name"] and not revoked:
            raise data_error(
                _("%(user)s has no live token named %(name)s")
                % {"user": user.get_username(), "name": repr(options["name"])}
            )
        self.stdout.write(f"revoked={revoked}")
