"""Admin of alert rules: Admins set them up; everyone in a role sees them and whether they fire."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.base import PortalModelAdmin, badge
from campaigns.models import AlertRule
from campaigns.services.alerts import alert_text


@admin.register(AlertRule)
class AlertRuleAdmin(PortalModelAdmin):
    list_display = ["name", "kind", "threshold", "window", "firing", "checked_at", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name"]
    filter_horizontal = ["recipients"]
    fields = [
        "name",
        "kind",
        "threshold",
        "window",
        "app",
        "quiet_minutes",
        "recipients",
        "active",
        "firing",
        "found",
        "notified_at",
        "checked_at",
    ]
    readonly_fields = ["firing", "found", "notified_at", "checked_at"]

    @admin.display(description=gettext_lazy("state"))
    def firing(self, obj: AlertRule) -> str:
        if obj.firing_since is None:
            return badge("completed", _("Quiet"))
        return badge(
            "failed", _("Firing since %(when)s") % {"when": f"{obj.firing_since:%Y-%m-%d %H:%M}"}
        )

    @admin.display(description=gettext_lazy("what was found"))
    def found(self, obj: AlertRule) -> str:
        return alert_text(obj) if obj.finding else "—"
