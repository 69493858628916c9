"""Admin for the background imports of large contact files: the page of one import with its
progress (the page reloads itself while a task worker reads the file), its counts and the
rejected rows as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin, badge
from campaigns.models import ContactImport


@admin.register(ContactImport)
class ContactImportAdmin(PortalModelAdmin):
    list_display = [
        "original_name",
        "contact_list",
        "state_badge",
        "progress_display",
        "imported",
        "rejected",
        "duplicates",
        "created_at",
    ]  # rows read and who started it: on its page (at 1366 px every column stays in view)
    list_filter = ["state", "contact_list"]
    list_select_related = ["contact_list"]
    fields = [
        "contact_list",
        "original_name",
        "default_region",
        "state_badge",
        "progress_display",
        "rows",
        "imported",
        "rejected",
        "duplicates",
        "rejected_link",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields
    change_form_template = "admin/campaigns/contactimport/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # imports start on the contact import page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting (Admins) goes with the list's own deletion

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: ContactImport) -> str:
        return badge(obj.state, obj.get_state_display())

    @admin.display(description=gettext_lazy("progress"))
    def progress_display(self, obj: ContactImport) -> str:
        return f"{obj.percent} %"

    @admin.display(description=gettext_lazy("rejected rows"))
    def rejected_link(self, obj: ContactImport) -> str:
        if not obj.pk or not obj.rejected_file:
            return "–"
        return format_html(
            '<a href="{}" id="download-rejected">{}</a>',
            reverse("admin:campaigns_contactimport_rejected", args=[obj.pk]),
            gettext("Download rejected rows (CSV)"),
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/rejected/",
                view(self.rejected_view),
                name="campaigns_contactimport_rejected",
            ),
            *super().get_urls(),
        ]

    @requires("view", methods=["GET"])
    def rejected_view(self, request: HttpRequest, pk: int) -> FileResponse:
        obj = get_object_or_404(ContactImport, pk=pk)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        if not obj.rejected_file:
            raise Http404(gettext("This import has no rejected rows."))
        stem = Path(obj.original_name).stem or "contacts"
        return FileResponse(
            obj.rejected_file.open("rb"),
            as_attachment=True,
            filename=f"{stem}-rejected.csv",
            content_type="text/csv; charset=utf-8",
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if obj is not None:
            extra_context["active"] = obj.state in (
                ContactImport.State.QUEUED,
                ContactImport.State.RUNNING,
            )
            extra_context["percent"] = obj.percent
        return super().change_view(request, object_id, form_url, extra_context)
