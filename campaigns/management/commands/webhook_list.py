"""manage.py webhook_list: the webhook subscriptions (never their secrets)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand
from campaigns.models import WebhookMessage, WebhookSubscription


class Command(PortalCommand):
    help = gettext_lazy("List the webhook subscriptions with their pending and dead messages.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = WebhookSubscription.objects.annotate(
            pending=Count("messages", filter=Q(messages__state=WebhookMessage.State.PENDING)),
            dead=Count("messages", filter=Q(messages__state=WebhookMessage.State.DEAD)),
        ).order_by("id")
        if not rows:
            self.stdout.write(_("No webhook subscriptions."))
            return
        for row in rows:
            state = _("active") if row.active else _("inactive")
            self.stdout.write(
                f"{row.pk}\t{row.url}\t{','.join(row.events)}\t{state}\t"
                f"pending={row.pending} dead={row.dead}"
            )
