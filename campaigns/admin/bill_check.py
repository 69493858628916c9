"""The bill check's page: the calls whose charge does not follow their record, by campaign, app
and day, with the expected and the billed amount, the totals (billed against recomputed) per
currency above the list, and a CSV export. Written only by the bill check."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from campaigns.admin.base import ReadOnlyAdmin
from campaigns.exports import neutralise, stream_table
from campaigns.formatting import money
from campaigns.models import BillMismatch
from campaigns.services.bill_check import mismatch_totals

COLUMNS = [
    "voice_id",
    "campaign",
    "app",
    "day",
    "kind",
    "expected_seconds",
    "billed_seconds",
    "expected_cost",
    "cost",
    "currency",
]


@admin.register(BillMismatch)
class BillMismatchAdmin(ReadOnlyAdmin):
    list_display = ["call_link", "campaign", "app", "day", "kind", "expected", "billed"]
    list_filter = ["kind", "app", "campaign", "day"]
    list_select_related = ["call", "app", "campaign"]
    date_hierarchy = "day"
    actions = ["export_csv"]
    change_list_template = "admin/campaigns/billmismatch/change_list.html"

    @admin.display(description=gettext_lazy("call"), ordering="call_id")
    def call_link(self, obj: BillMismatch) -> str:
        url = reverse("admin:campaigns_call_change", args=[obj.call_id])
        return format_html('<a href="{}">{}</a>', url, obj.call.voice_id or obj.call_id)

    @admin.display(description=gettext_lazy("expected"))
    def expected(self, obj: BillMismatch) -> str:
        return f"{obj.expected_seconds if obj.expected_seconds is not None else '—'} s · " + (
            money(obj.expected_cost, obj.currency) if obj.expected_cost is not None else "—"
        )

    @admin.display(description=gettext_lazy("billed"))
    def billed(self, obj: BillMismatch) -> str:
        return f"{obj.charged_seconds if obj.charged_seconds is not None else '—'} s · " + (
            money(obj.cost, obj.currency) if obj.cost is not None else "—"
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        cl = getattr(response, "context_data", {}).get("cl")
        if cl is not None:
            totals = mismatch_totals(cl.queryset)
            response.context_data["bill_totals"] = [
                (money(totals.billed[c], c), money(totals.expected[c], c))
                for c in sorted(totals.billed)
            ]
        return response

    @admin.action(description=gettext_lazy("Export selected as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[BillMismatch]) -> Any:
        def rows() -> Any:
            yield COLUMNS
            for m in queryset.select_related("call", "app", "campaign").order_by("day", "id"):
                yield [
                    neutralise(m.call.voice_id),
                    neutralise(m.campaign.name if m.campaign else ""),
                    m.app.app_id,
                    m.day.isoformat(),
                    m.kind,
                    m.expected_seconds,
                    m.charged_seconds,
                    m.expected_cost,
                    m.cost,
                    m.currency,
                ]

        return stream_table(rows(), fmt="csv", name="bill-mismatches")
