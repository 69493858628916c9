"""The warnings on every admin page: low balances (campaigns/services/balance_watch.py) and
firing alerts (campaigns/services/alerts.py)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from campaigns.services.alerts import alert_text, firing_alerts
from campaigns.services.balance_watch import low_accounts, low_balance_text

register = template.Library()


@register.inclusion_tag("admin/portal_low_balance.html", takes_context=True)
def low_balance_banner(context: dict[str, Any]) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {"warnings": []}
    may_open = user.has_perm("campaigns.view_itnioaccount")
    warnings = [
        {
            "text": low_balance_text(account),
            "url": reverse("admin:campaigns_itnioaccount_change", args=[account.pk])
            if may_open
            else "",
        }
        for account in low_accounts()
    ]
    alerts = [
        {
            "text": f"{alert.name}: {alert_text(alert)}",
            "url": reverse("admin:campaigns_alertrule_change", args=[alert.pk])
            if user.has_perm("campaigns.view_alertrule")
            else "",
        }
        for alert in firing_alerts()
        if alert.kind != "balance_low"  # the low-balance line above says it already
    ]
    return {"warnings": warnings, "alerts": alerts}
