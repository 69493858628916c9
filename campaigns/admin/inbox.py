"""Admin for the push inbox: every body ITNIO pushed, its processing state, re-process."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.base import ReadOnlyAdmin
from campaigns.formatting import count as format_count
from campaigns.models import PushEvent
from campaigns.services.push_bodies import MalformedPush, parse_body
from campaigns.services.pushes import pushes_reprocess

# A body shown on its page is cut here (the whole body stays in the database).
BODY_DISPLAY_CHARS = 200_000


@admin.register(PushEvent)
class PushEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "app",
        "received_at",
        "state_badge",
        "reports",
        "foreign",
        "error_short",
    ]  # voice or AI: the filter and the entry's page
    list_filter = ["state", "kind", "app"]
    ordering = ["-id"]
    sortable_by = ["id", "kind", "app", "state_badge", "reports", "foreign"]
    actions = ["reprocess"]
    fields = [
        "app",
        "kind",
        "received_at",
        "remote_addr",
        "state_badge",
        "reports",
        "foreign",
        "error",
        "attempts",
        "next_attempt_at",
        "processed_at",
        "body_display",
    ]
    readonly_fields = fields
    list_select_related = ["app"]

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: PushEvent) -> str:
        return format_html(
            '<span class="portal-state portal-state-{}">{}</span>',
            obj.state,
            obj.get_state_display(),
        )

    @admin.display(description=gettext_lazy("error"))
    def error_short(self, obj: PushEvent) -> str:
        return (obj.error[:120] + "…") if len(obj.error) > 120 else obj.error

    @admin.display(description=gettext_lazy("body"))
    def body_display(self, obj: PushEvent) -> str:
        text = obj.body
        if obj.body_bytes is None and len(text) <= BODY_DISPLAY_CHARS:
            try:
                text = json.dumps(parse_body(text), indent=2, ensure_ascii=False)
            except MalformedPush:
                pass  # shown as received
        if len(text) > BODY_DISPLAY_CHARS:
            more = len(text) - BODY_DISPLAY_CHARS
            text = (
                text[:BODY_DISPLAY_CHARS]
                + "\n"
                + _("… (%(count)s more characters)") % {"count": format_count(more)}
            )
        return format_html('<pre class="portal-raw">{}</pre>', text)

    def get_queryset(self, request: HttpRequest) -> Any:
        # A body may be megabytes: the list never loads it; an entry's page reads it on demand.
        return super().get_queryset(request).defer("body", "body_bytes")

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.change_call") or request.user.has_perm(
            "campaigns.place_calls"
        )

    @admin.action(description=gettext_lazy("Re-process selected pushes"), permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: Any) -> None:
        ok, failed = pushes_reprocess(queryset)
        level = messages.SUCCESS if not failed else messages.WARNING
        self.message_user(
            request,
            _("Re-processed %(ok)s push(es); %(failed)s failed (see their error).")
            % {"ok": ok, "failed": failed},
            level,
        )
