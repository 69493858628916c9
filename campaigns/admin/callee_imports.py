"""Admin for callee import records: the page of one import with its progress bar (polled while a
background job reads or confirms it), its counts and rejected rows, and confirm / cancel; the
stored file and the rejected-rows CSV as downloads."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.admin.access import requires
from campaigns.admin.base import PLACE_CALLS, PortalModelAdmin, badge
from campaigns.admin.callees import ADD_CALLEE, can_import
from campaigns.formatting import count as format_count
from campaigns.models import CalleeImport
from campaigns.services.actors import Actor
from campaigns.services.import_jobs import confirms_in_background, import_confirm_later, import_note
from campaigns.services.import_records import CANCELLABLE_STATES, import_cancel, import_confirm
from campaigns.services.imports import SAMPLE_SIZE, ImportStateError

#: States in which a background job works on the import (the page polls its progress).
ACTIVE_STATES = (
    CalleeImport.State.QUEUED,
    CalleeImport.State.RUNNING,
    CalleeImport.State.CONFIRMING,
)


def _percent(obj: CalleeImport) -> int:
    if obj.state in (CalleeImport.State.STAGED, CalleeImport.State.CONFIRMED):
        return 100
    if obj.state == CalleeImport.State.CONFIRMING:
        return min(100, obj.confirmed * 100 // obj.imported) if obj.imported else 100
    if not obj.total_bytes:
        return 0
    return min(100, obj.processed_bytes * 100 // obj.total_bytes)


def _size(n: int) -> str:
    if n < 1024:
        return _("%(size)s bytes") % {"size": n}
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / 1024 / 1024:,.1f} MiB"


def _size_display(obj: CalleeImport) -> str:
    if obj.state == CalleeImport.State.CONFIRMING:
        return _("%(done)s of %(total)s callees pending") % {
            "done": format_count(obj.confirmed),
            "total": format_count(obj.imported),
        }
    return _("%(done)s of %(total)s") % {
        "done": _size(obj.processed_bytes),
        "total": _size(obj.total_bytes),
    }


def read_rejected_sample(obj: CalleeImport, limit: int = SAMPLE_SIZE) -> list[list[str]]:
    if not obj.rejected_file:
        return []
    try:
        with obj.rejected_file.open("rb") as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            next(reader, None)
            rows = [r for _i, r in zip(range(limit), reader, strict=False)]
            text.detach()
            return rows
    except (OSError, ValueError):
        return []


@admin.register(CalleeImport)
class CalleeImportAdmin(PortalModelAdmin):
    list_display = [
        "original_name",
        "campaign",
        "state_badge",
        "progress_display",
        "imported",
        "rejected",
        "duplicates",
        "created_at",
    ]  # rows read and who started it: on its page (at 1366 px every column stays in view)
    list_filter = ["state", "campaign"]
    search_fields = ["original_name"]
    list_select_related = ["campaign"]
    change_form_template = "admin/campaigns/calleeimport/change_form.html"
    change_list_template = "admin/campaigns/calleeimport/change_list.html"
    # Progress and counts are shown above the fields, by the page's panel.
    fields = [
        "campaign",
        "file_link",
        "state_badge",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # imports start on the callee import page

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.state in (*CANCELLABLE_STATES, CalleeImport.State.CONFIRMING):
            return False  # cancel it first (or let it be confirmed), so no staged callee stays
        return super().has_delete_permission(request, obj)

    def has_act_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ADD_CALLEE) or request.user.has_perm(PLACE_CALLS)

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: CalleeImport) -> str:
        return badge(obj.state, obj.get_state_display())

    @admin.display(description=gettext_lazy("progress"))
    def progress_display(self, obj: CalleeImport) -> str:
        return f"{_percent(obj)} %"

    @admin.display(description=gettext_lazy("file"))
    def file_link(self, obj: CalleeImport) -> str:
        if not obj.pk or not obj.file:
            return "–"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:campaigns_calleeimport_file", args=[obj.pk]),
            obj.original_name,
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/progress/",
                view(self.progress_view),
                name="campaigns_calleeimport_progress",
            ),
            path(
                "<int:pk>/confirm/",
                view(self.confirm_view),
                name="campaigns_calleeimport_confirm",
            ),
            path(
                "<int:pk>/cancel/",
                view(self.cancel_view),
                name="campaigns_calleeimport_cancel",
            ),
            path(
                "<int:pk>/rejected/",
                view(self.rejected_view),
                name="campaigns_calleeimport_rejected",
            ),
            path("<int:pk>/file/", view(self.file_view), name="campaigns_calleeimport_file"),
            *super().get_urls(),
        ]

    def _get_viewable(self, request: HttpRequest, pk: int) -> CalleeImport:
        obj = get_object_or_404(CalleeImport.objects.select_related("campaign"), pk=pk)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    @requires("view", methods=["GET"])
    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        obj = self._get_viewable(request, pk)
        return JsonResponse(
            {
                "id": obj.pk,
                "state": obj.state,
                "state_display": obj.get_state_display(),
                "percent": _percent(obj),
                "processed_bytes": obj.processed_bytes,
                "total_bytes": obj.total_bytes,
                "size_display": _size_display(obj),
                "rows": obj.rows,
                "imported": obj.imported,
                "rejected": obj.rejected,
                "duplicates": obj.duplicates,
                "confirmed": obj.confirmed,
                "error": obj.error,
                "note": import_note(obj),
                "finished": obj.state not in ACTIVE_STATES,
            }
        )

    @requires("act", methods=["POST"])
    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        obj = self._get_viewable(request, pk)
        staged = obj.imported
        if confirms_in_background(obj):
            try:
                import_confirm_later(callee_import=obj, actor=Actor.from_user(request.user))
            except ImportStateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                message = _(
                    "Confirmed: the %(count)s callees of %(file)s become pending in "
                    "the background, chunk by chunk; this page shows the progress."
                ) % {"count": format_count(staged), "file": obj.original_name}
                self.log_change(request, obj, message)
                self.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:campaigns_calleeimport_change", args=[pk]))
        try:
            count = import_confirm(callee_import=obj, actor=Actor.from_user(request.user))
        except ImportStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            message = _("Confirmed: %(count)s callees of %(file)s are now pending.") % {
                "count": format_count(count),
                "file": obj.original_name,
            }
            if staged > count:
                message += " " + ngettext(
                    "%(n)s number was skipped: it was added to the campaign meanwhile "
                    "(by another import).",
                    "%(n)s numbers were skipped: they were added to the campaign meanwhile "
                    "(by another import).",
                    staged - count,
                ) % {"n": format_count(staged - count)}
            self.log_change(request, obj, message)
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_calleeimport_change", args=[pk]))

    @requires("act", methods=["POST"])
    def cancel_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        obj = self._get_viewable(request, pk)
        try:
            count = import_cancel(callee_import=obj, actor=Actor.from_user(request.user))
        except ImportStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            message = _("Cancelled: %(count)s staged callees of %(file)s were removed.") % {
                "count": format_count(count),
                "file": obj.original_name,
            }
            self.log_change(request, obj, message)
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:campaigns_calleeimport_change", args=[pk]))

    @requires("view", methods=["GET"])
    def rejected_view(self, request: HttpRequest, pk: int) -> FileResponse:
        obj = self._get_viewable(request, pk)
        if not obj.rejected_file:
            raise Http404("This import has no rejected rows.")
        stem = Path(obj.original_name).stem or "callees"
        return FileResponse(
            obj.rejected_file.open("rb"),
            as_attachment=True,
            filename=f"{stem}-rejected.csv",
            content_type="text/csv; charset=utf-8",
        )

    @requires("view", methods=["GET"])
    def file_view(self, request: HttpRequest, pk: int) -> FileResponse:
        obj = self._get_viewable(request, pk)
        if not obj.file:
            raise Http404("The file is not stored.")
        return FileResponse(obj.file.open("rb"), as_attachment=True, filename=obj.original_name)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if obj is not None:
            active = obj.state in ACTIVE_STATES
            extra_context["import_panel"] = {
                "percent": _percent(obj),
                "size_display": _size_display(obj),
                "active": active,
                "staged": obj.state == CalleeImport.State.STAGED,
                "note": import_note(obj),
                "cancellable": obj.state in CANCELLABLE_STATES,
                "can_act": self.has_act_permission(request),
                "progress_url": reverse("admin:campaigns_calleeimport_progress", args=[obj.pk]),
                "confirm_url": reverse("admin:campaigns_calleeimport_confirm", args=[obj.pk]),
                "cancel_url": reverse("admin:campaigns_calleeimport_cancel", args=[obj.pk]),
                "rejected_url": reverse("admin:campaigns_calleeimport_rejected", args=[obj.pk])
                if obj.rejected_file
                else "",
                "rejected_rows": [] if active else read_rejected_sample(obj),
                "sample_size": SAMPLE_SIZE,
                "callees_url": reverse("admin:campaigns_callee_changelist")
                + f"?campaign__id__exact={obj.campaign_id}",
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = extra_context or {}
        extra_context["can_import"] = can_import(request)
        return super().changelist_view(request, extra_context)
