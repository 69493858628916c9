"""Admin for the apps' rate tables: every rate with its source (learned from records, or a
rate card, which wins). Rate cards are imported with `import_rates APP FILE`; the rows are
Admin-only to change (campaigns/roles.py gives Viewers and Operators view only), and every
change lands in the admin's history."""

from __future__ import annotations

from django.contrib import admin

from campaigns.admin.base import PortalModelAdmin
from campaigns.models import AppRate


@admin.register(AppRate)
class AppRateAdmin(PortalModelAdmin):
    list_display = ["prefix", "app", "rate", "currency", "bill_period", "source", "updated_at"]
    list_filter = ["source", "currency", "app"]
    search_fields = ["prefix"]
    ordering = ["app", "prefix", "source"]
    list_select_related = ["app"]
    fields = ["app", "prefix", "rate", "currency", "bill_period", "source", "seen_at"]
    readonly_fields = ["seen_at"]
