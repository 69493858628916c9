"""manage.py itnio_setup: create or update an ITNIO account and its apps without calling ITNIO."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error
from campaigns.services.accounts import account_setup


class Command(PortalCommand):
    help = gettext_lazy(
        "Create or update an ITNIO account and its voice (and AI) app. Does not call ITNIO."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True, help=gettext_lazy("the account's unique name"))
        parser.add_argument("--api-key", required=True)
        parser.add_argument("--api-secret", required=True, help=gettext_lazy("stored encrypted"))
        parser.add_argument(
            "--voice-app-id", required=True, help=gettext_lazy("ITNIO app ID of the voice app")
        )
        parser.add_argument("--ai-app-id", help=gettext_lazy("ITNIO app ID of the AI voice app"))
        parser.add_argument(
            "--base-url", help=gettext_lazy("override ITNIO_BASE_URL for this account")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = account_setup(
                name=options["name"],
                api_key=options["api_key"],
                api_secret=options["api_secret"],
                voice_app_id=options["voice_app_id"],
                ai_app_id=options["ai_app_id"],
                base_url=options["base_url"],
            )
        except (ValidationError, ValueError) as exc:
            messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
            raise data_error("; ".join(messages)) from exc
        if result.account_created:
            line = _("Created account %(name)s")
        else:
            line = _("Updated account %(name)s")
        self.stdout.write(line % {"name": result.account.name})
        for app, created in result.apps:
            if created:
                line = _("  created %(kind)s app %(app)s; push URL %(url)s")
            else:
                line = _("  updated %(kind)s app %(app)s; push URL %(url)s")
            self.stdout.write(
                line % {"kind": app.get_kind_display(), "app": app.app_id, "url": app.push_url}
            )
