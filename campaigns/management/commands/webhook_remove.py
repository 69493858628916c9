"""manage.py webhook_remove ID: delete a webhook subscription with its outbox and log."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error
from campaigns.models import WebhookSubscription
from campaigns.services.outbound_hooks import webhook_unsubscribe


class Command(PortalCommand):
    help = gettext_lazy("Delete a webhook subscription (its undelivered messages go with it).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        subscription = WebhookSubscription.objects.filter(pk=options["id"]).first()
        if subscription is None:
            raise data_error(_("No webhook subscription %(id)s") % {"id": options["id"]})
        url = subscription.url
        pending = webhook_unsubscribe(subscription=subscription)
        self.stdout.write(
            _("Removed webhook %(id)s (%(url)s); %(n)s undelivered message(s) dropped.")
            % {"id": options["id"], "url": url, "n": pending}
        )
