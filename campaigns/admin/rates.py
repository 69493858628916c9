"""Admin for the apps' rate tables: every rate with its source (learned from records, or a
rate card, which wins). Rate cards are imported with `import_rates APP FILE`; the rows are
Admin-only to change (campaigns/roles.py gives Viewers and Operators view only), and every
change lands in the admin's history."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from campaigns.admin.base import PortalModelAdmin
from campaigns.models import AppRate, ItnioApp
from campaigns.services.rates import unit_check


@admin.register(AppRate)
class AppRateAdmin(PortalModelAdmin):
    list_display = ["prefix", "app", "rate", "currency", "bill_period", "source", "updated_at"]
    list_filter = ["source", "currency", "app"]
    search_fields = ["prefix"]
    ordering = ["app", "prefix", "source"]
    list_select_related = ["app"]
    fields = ["app", "prefix", "rate", "currency", "bill_period", "source", "seen_at"]
    readonly_fields = ["seen_at"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # How each voice app's own records read its rates (per 60 s or per second): the share
        # of its recent calls whose cost matches each reading, next to the unit it is set to.
        checks = [
            {"app": app, "unit": app.get_rate_unit_display(), **unit_check(app)}
            for app in ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE).order_by("app_id")[:20]
        ]
        return super().changelist_view(request, {**(extra_context or {}), "unit_checks": checks})
