"""Admin for AI call records: the list, and a record's page with its recording, transcript
(call detail turns) and the raw records ITNIO sent."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.base import ReadOnlyAdmin, badge
from campaigns.models import AiCallRecord
from itnio_portal.itnio import AiTurn


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else "–"


def offset_label(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = max(0, ms) // 1000
    return f"{seconds // 60}:{seconds % 60:02d}"


@admin.register(AiCallRecord)
class AiCallRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "start_display",
        "customer_display",
        "result_badge",
        "intent_level",
        "chat_display",
        "cost_display",
        "has_transcript",
    ]
    list_filter = ["result_status", "intent_level", "task"]
    search_fields = ["=call_id", "called_phone_number", "customer_name"]
    date_hierarchy = "start_time"
    list_select_related = ["task", "app"]
    change_form_template = "admin/campaigns/aicallrecord/change_form.html"
    change_list_template = "admin/campaigns/aicallrecord/change_list.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "call_id",
                    "app",
                    "task",
                    "customer",
                    "called_phone_number",
                    "customer_name",
                    "result_badge",
                    "intent_level",
                    "hangup_by",
                    "start_display",
                    "end_display",
                    "chat_duration",
                    "chat_round",
                    "charged_duration",
                    "cost_display",
                    "customer_concern_display",
                    "analysis_basis",
                    "properties_display",
                    "tags_display",
                ]
            },
        ),
        (
            gettext_lazy("More from ITNIO"),
            {
                "classes": ["collapse"],
                "fields": [
                    "remote_job_id",
                    "dialog_flow_id",
                    "tenant_phone_number_id",
                    "key_id",
                    "call_record_id",
                    "robot_count",
                    "call_count",
                    "redial_times",
                    "attributes",
                    "dynamic_properties",
                    "full_audio_url",
                    "customer_audio_url",
                    "source",
                    "created_at",
                    "synced_at",
                    "raw_display",
                ],
            },
        ),
    ]
    readonly_fields = [f for _title, options in fieldsets for f in options["fields"]]

    @admin.display(description=gettext_lazy("result"), ordering="result_status")
    def result_badge(self, obj: AiCallRecord) -> str:
        state = "final" if obj.result_status == "ANSWERED" else "failed"
        return badge(state, obj.result_status or "–")

    @admin.display(description=gettext_lazy("start"), ordering="start_time")
    def start_display(self, obj: AiCallRecord) -> str:
        return _when(obj.start_time)

    @admin.display(description=gettext_lazy("end"), ordering="end_time")
    def end_display(self, obj: AiCallRecord) -> str:
        return _when(obj.end_time)

    @admin.display(description=gettext_lazy("customer"), ordering="called_phone_number")
    def customer_display(self, obj: AiCallRecord) -> str:
        return format_html(
            '{}<br><span class="portal-quiet">{}</span>',
            obj.customer_name or "–",
            obj.called_phone_number or "",
        )

    @admin.display(description=gettext_lazy("chat"), ordering="chat_duration")
    def chat_display(self, obj: AiCallRecord) -> str:
        if obj.chat_duration is None:
            return "–"
        return _("%(seconds)s s") % {"seconds": obj.chat_duration}

    @admin.display(description=gettext_lazy("cost"), ordering="cost")
    def cost_display(self, obj: AiCallRecord) -> str:
        if obj.cost is None:
            return "–"
        return f"{obj.cost.normalize():f} USD"  # `pay` is in USD (§6.2)

    @admin.display(description=gettext_lazy("transcript"), boolean=True)
    def has_transcript(self, obj: AiCallRecord) -> bool:
        return bool(obj.call_detail_list)

    @admin.display(description=gettext_lazy("customer concern"))
    def customer_concern_display(self, obj: AiCallRecord) -> str:
        return ", ".join(str(v) for v in obj.customer_concern or []) or "–"

    @admin.display(description=gettext_lazy("properties (echoed back)"))
    def properties_display(self, obj: AiCallRecord) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.properties or {}).items()) or "–"

    @admin.display(description=gettext_lazy("tags"))
    def tags_display(self, obj: AiCallRecord) -> str:
        tags = [*(obj.call_record_tags or []), *(obj.customer_tags or [])]
        return ", ".join(str(t) for t in tags) or "–"

    @admin.display(description=gettext_lazy("raw records"))
    def raw_display(self, obj: AiCallRecord) -> str:
        import json

        return format_html(
            '<pre class="portal-raw">{}</pre>', json.dumps(obj.raw, indent=2, ensure_ascii=False)
        )

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = dict(extra_context or {})
        record = AiCallRecord.objects.filter(pk=object_id).first() if object_id else None
        if record is not None:
            turns = [AiTurn.from_api(row) for row in record.call_detail_list or []]
            extra["turns"] = [
                {"turn": t, "at": offset_label(t.start_offset), "robot": t.is_robot} for t in turns
            ]
        return super().changeform_view(request, object_id, form_url, extra)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "can_sync": self.has_query_itnio_permission(request)}
        return super().changelist_view(request, extra)
