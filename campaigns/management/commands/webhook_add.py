"""manage.py webhook_add URL --events E[,E…] [--description TEXT]: subscribe a URL to webhook
events; prints the signing secret (whsec_…) on its last line, shown this once."""

from __future__ import annotations

import getpass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, usage_error
from campaigns.models.webhooks import EVENT_TYPES
from campaigns.services.outbound_hooks import WebhookError, webhook_subscribe


class Command(PortalCommand):
    help = gettext_lazy(
        "Subscribe a URL to outbound webhook events (prints the signing secret on its last line)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("url")
        parser.add_argument(
            "--events",
            required=True,
            help=str(
                gettext_lazy("comma-separated events: %(all)s") % {"all": ", ".join(EVENT_TYPES)}
            ),
        )
        parser.add_argument("--description", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            created = webhook_subscribe(
                url=options["url"],
                events=options["events"].split(","),
                description=options["description"],
                created_by=f"os:{getpass.getuser()}",
            )
        except WebhookError as exc:
            raise usage_error(str(exc)) from exc
        subscription = created.subscription
        self.stdout.write(
            _("Subscribed %(url)s (webhook %(id)s) to %(events)s; signing secret, shown only now:")
            % {
                "url": subscription.url,
                "id": subscription.pk,
                "events": ", ".join(subscription.events),
            }
        )
        self.stdout.write(created.secret)
