"""Admin for callees and callee imports: the import page (django-import-export's form and
temporary storage) with a preview → confirm for small files and a background job with a progress
bar for large ones, both through the one import pipeline (campaigns.services.imports)."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import ngettext
from import_export.admin import ImportMixin
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm

from campaigns.admin.access import requires
from campaigns.admin.base import (
    BinaryFormat,
    FileDecidesImportForm,
    PortalModelAdmin,
    UploadImportMixin,
)
from campaigns.models import Callee, CalleeImport, Campaign
from campaigns.services.actors import Actor
from campaigns.services.import_jobs import (
    confirms_in_background,
    import_confirm_later,
    import_note,
    import_start,
)
from campaigns.services.import_records import (
    CANCELLABLE_STATES,
    import_cancel,
    import_confirm,
    import_now,
)
from campaigns.services.imports import (
    IMPORTABLE_STATES,
    SAMPLE_SIZE,
    ImportCounts,
    ImportStateError,
    import_preview,
)
from campaigns.services.tabular import ImportFileError, count_rows, open_rows

REJECTED_SALT = "campaigns.callee-import.rejected"
PREVIEW_MAX_AGE = 24 * 3600
ADD_CALLEE = "campaigns.add_callee"
PLACE_CALLS = "campaigns.place_calls"


# ---------------------------------------------------------------------------
# Formats: binary, so the portal's reader handles encodings, delimiters and XLSX alike
# ---------------------------------------------------------------------------
class CalleeCSV(BinaryFormat, base_formats.CSV):
    pass


class CalleeTSV(BinaryFormat, base_formats.TSV):
    pass


class CalleeXLSX(BinaryFormat, base_formats.XLSX):
    pass


IMPORT_FORMATS = [CalleeCSV, CalleeTSV, CalleeXLSX]


def _format_for(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    index = {".tsv": 1, ".tab": 1, ".xlsx": 2, ".xlsm": 2}.get(suffix, 0)
    return str(index)


# ---------------------------------------------------------------------------
# Forms
# ---------------------------------------------------------------------------
def importable_campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.filter(state__in=IMPORTABLE_STATES).order_by("name")


CAMPAIGN_CLOSED = (
    "This campaign does not take imports any more (it is completed or cancelled), or it no "
    "longer exists."
)


class CalleeImportForm(FileDecidesImportForm):
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        help_text="Draft, scheduled, paused or running campaigns.",
        error_messages={"invalid_choice": CAMPAIGN_CLOSED},
    )
    target_field = "campaign"
    file_label = "Callee file"
    file_accept = ".csv,.tsv,.txt,.xlsx,text/csv"
    file_help = (
        "CSV, TSV or TXT (UTF-8 with or without BOM, UTF-16 or Windows-1252; comma, "
        "semicolon or tab) or XLSX (first sheet)."
    )

    def target_queryset(self) -> QuerySet[Campaign]:
        return importable_campaigns()

    def format_for(self, file_name: str) -> str:
        return _format_for(file_name)


class CalleeConfirmImportForm(ConfirmImportForm):
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": CAMPAIGN_CLOSED},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = importable_campaigns()

    def clean_import_file_name(self) -> str:
        # Only a name django-import-export's temporary storage made (tmpXXXX, a uuid), never a
        # path or another file of the temporary folder.
        name = super().clean_import_file_name()
        if not re.fullmatch(r"[A-Za-z0-9_]{6,64}", name):
            raise forms.ValidationError("Not a file this import page stored.")
        return name


def preview_result(counts: ImportCounts) -> SimpleNamespace:
    """The preview page's figures, as its template reads them."""
    return SimpleNamespace(
        callee_rows=counts.rows,
        callee_valid=counts.imported,
        callee_rejected=counts.rejected,
        callee_duplicates=counts.duplicates,
        callee_skipped=counts.sample,
        callee_skipped_more=counts.skipped_unlisted,
        callee_preview=counts.preview,
    )


# ---------------------------------------------------------------------------
# Callee admin
# ---------------------------------------------------------------------------
def _state_badge(state: str, label: str) -> str:
    return format_html('<span class="portal-state portal-state-{}">{}</span>', state, label)


def _can_import(request: HttpRequest) -> bool:
    return request.user.has_perm(ADD_CALLEE)


@admin.register(Callee)
class CalleeAdmin(UploadImportMixin, ImportMixin, PortalModelAdmin):
    list_display = ["number", "campaign", "state_badge", "batch", "voice_id", "reason"]
    list_filter = ["campaign", "state"]
    search_fields = ["number"]  # see get_search_results: the beginning of the number
    search_help_text = "The beginning of the number (a leading +, spaces and dashes are ignored)."
    list_select_related = ["campaign", "batch"]
    list_per_page = 100
    show_full_result_count = False
    fields = [
        "campaign",
        "number",
        "state",
        "reason",
        "batch",
        "voice_id",
        "call",
        "source",
        "row_number",
    ]
    readonly_fields = fields

    # django-import-export's import page; the rows go through services.imports, not a resource
    import_formats = IMPORT_FORMATS
    import_form_class = CalleeImportForm
    confirm_form_class = CalleeConfirmImportForm
    import_template_name = "admin/campaigns/callee/import.html"
    import_export_change_list_template = "admin/campaigns/callee/change_list.html"
    skip_admin_log = True  # the CalleeImport row is the record of an import

    def has_import_permission(self, request: HttpRequest) -> bool:
        return _can_import(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # callees arrive through imports, where every number is checked

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # dispatch owns the state; a number is fixed by importing it again

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.state not in (Callee.State.PENDING, Callee.State.STAGED):
            return False  # a callee that was sent to ITNIO stays on the books
        return super().has_delete_permission(request, obj)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Callee], search_term: str
    ) -> tuple[QuerySet[Callee], bool]:
        term = search_term.strip().lstrip("+").translate(str.maketrans("", "", " -.()"))
        if not term:
            return queryset, False
        return queryset.filter(Q(number__startswith=term)), False

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: Callee) -> str:
        return _state_badge(obj.state, obj.get_state_display())

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = extra_context or {}
        campaign = request.GET.get("campaign__id__exact")
        extra_context["import_query"] = urlencode({"campaign": campaign}) if campaign else ""
        return super().changelist_view(request, extra_context)

    # --- import ------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/rejected/",
                self.admin_site.admin_view(self.import_rejected_view),
                name="campaigns_callee_import_rejected",
            ),
            *super().get_urls(),
        ]

    def get_import_form_initial(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_import_form_initial(request)
        campaign = request.GET.get("campaign", "")
        if campaign.isdigit():
            initial["campaign"] = int(campaign)
        return initial

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["campaign"] = import_form.cleaned_data["campaign"].pk
        return initial

    @requires("import")
    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """The import page (django-import-export's form and temporary storage); a POST reads the
        file with the import pipeline: a preview (writing nothing) of a small file, the
        background import of a large one."""
        if request.method != "POST":
            response = super().import_action(request, **kwargs)
            response.context_data["background_rows"] = self._background_rows()
            return response
        form = self.create_import_form(request)
        if not form.is_valid():
            return self._import_page(request, form)
        upload = form.cleaned_data["import_file"]
        limit = settings.CALLEE_IMPORT_BACKGROUND_ROWS
        too_big = upload.size > settings.IMPORT_IN_MEMORY_MAX_BYTES  # for the preview
        if too_big or count_rows(upload, upload.name, stop_after=limit) > limit:
            return self._import_in_background(request, form)
        return self._preview(request, form)

    def _preview(self, request: HttpRequest, form: Any) -> TemplateResponse:
        upload = form.cleaned_data["import_file"]
        campaign = form.cleaned_data["campaign"]
        input_format = self.get_import_formats()[int(form.cleaned_data["format"])]()
        storage = self.write_to_tmp_storage(upload, input_format)
        upload.tmp_storage_name = storage.name  # what the confirm step reads again
        try:
            counts = import_preview(
                campaign=campaign, source=io.BytesIO(storage.read()), name=upload.name
            )
        except ImportFileError as exc:
            storage.remove()
            form.add_error("import_file", str(exc))
            return self._import_page(request, form)
        confirm_form = self.create_confirm_form(request, import_form=form)
        # Signed, so the download can only read back the file this preview stored.
        token = signing.dumps(
            {"file": storage.name, "name": upload.name, "campaign": campaign.pk},
            salt=REJECTED_SALT,
        )
        return self._import_page(
            request,
            form,
            confirm_form=confirm_form,
            result=preview_result(counts),
            campaign=campaign,
            rejected_url=reverse("admin:campaigns_callee_import_rejected")
            + "?"
            + urlencode({"t": token}),
        )

    @staticmethod
    def _background_rows() -> str:
        return f"{settings.CALLEE_IMPORT_BACKGROUND_ROWS:,}"

    def _import_in_background(self, request: HttpRequest, form: Any) -> HttpResponse:
        upload = form.cleaned_data["import_file"]
        campaign = form.cleaned_data["campaign"]
        try:
            open_rows(upload, upload.name).close()  # say now, not in the job, what is wrong
            callee_import = import_start(
                campaign=campaign,
                upload=upload,
                name=upload.name,
                actor=Actor.from_user(request.user),
            )
        except (ImportFileError, ImportStateError) as exc:
            form.add_error("import_file", str(exc))
            return self._import_page(request, form)
        self.message_user(
            request,
            f"The file {upload.name} has more than {self._background_rows()} rows: it is being "
            "imported in the background. Confirm it here when it has been read.",
            messages.INFO,
        )
        return HttpResponseRedirect(
            reverse("admin:campaigns_calleeimport_change", args=[callee_import.pk])
        )

    def _import_page(self, request: HttpRequest, form: Any, **extra: Any) -> TemplateResponse:
        context = self.get_import_context_data()
        context.update(self.admin_site.each_context(request))
        context.update(
            {
                "title": "Import",
                "form": form,
                "opts": self.model._meta,
                "media": self.media + form.media,
                "fields_list": [],
                "import_error_display": self.import_error_display,
                "background_rows": self._background_rows(),
                **extra,
            }
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    @requires("import", methods=["POST"])
    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """The confirm step: the stored file goes through the import pipeline (import_now: read
        again, written and confirmed at once, all or nothing). Back to the import page with a
        message when the preview is no longer usable (expired, already imported, campaign
        closed meanwhile)."""
        back = HttpResponseRedirect(reverse("admin:campaigns_callee_import"))
        form = self.create_confirm_form(request)
        if not form.is_valid():
            errors = " ".join(e for field in form.errors.values() for e in field)
            self.message_user(request, f"Nothing was imported: {errors}", messages.ERROR)
            return back
        name = os.path.basename(form.cleaned_data.get("original_file_name") or "callees.csv")
        storage = self.get_tmp_storage_class()(
            name=form.cleaned_data["import_file_name"],
            read_mode="rb",
            **self.get_tmp_storage_class_kwargs(),
        )
        try:
            data = storage.read()
            if data is None:
                raise FileNotFoundError(storage.name)
            _counts, callee_import = import_now(
                campaign=form.cleaned_data["campaign"],
                source=io.BytesIO(data),
                name=name,
                actor=Actor.from_user(request.user),
            )
        except (OSError, ImportFileError, ImportStateError) as exc:
            detail = "the preview has expired" if isinstance(exc, OSError) else str(exc)
            self.message_user(
                request,
                f"Nothing was imported: {detail}. Upload the file again.",
                messages.ERROR,
            )
            return back
        storage.remove()
        assert callee_import is not None
        self.message_user(
            request,
            f"Imported {callee_import.imported:,} callees into {callee_import.campaign} "
            f"(pending); {callee_import.rejected:,} rows rejected, "
            f"{callee_import.duplicates:,} duplicates skipped.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:campaigns_calleeimport_change", args=[callee_import.pk])
        )

    @requires("import", methods=["GET"])
    def import_rejected_view(self, request: HttpRequest) -> HttpResponse:
        """The preview's rejected rows as CSV, read again from the uploaded file."""
        try:
            preview = signing.loads(
                request.GET.get("t", ""), salt=REJECTED_SALT, max_age=PREVIEW_MAX_AGE
            )
        except signing.BadSignature as exc:
            raise Http404("This preview has expired: upload the file again.") from exc
        file_name = os.path.basename(preview["file"])
        campaign = get_object_or_404(Campaign, pk=preview["campaign"])
        storage = self.get_tmp_storage_class()(
            name=file_name, read_mode="rb", **self.get_tmp_storage_class_kwargs()
        )
        try:
            data = storage.read()
        except OSError as exc:
            raise Http404("This preview has expired: upload the file again.") from exc
        if data is None:
            raise Http404("This preview has expired: upload the file again.")
        out = io.StringIO()
        try:
            import_preview(
                campaign=campaign,
                source=io.BytesIO(data),
                name=os.path.basename(preview["name"] or ""),
                rejected_csv=out,
            )
        except ImportFileError as exc:
            raise Http404(str(exc)) from exc
        name = Path(os.path.basename(preview["name"] or "callees")).stem or "callees"
        response = HttpResponse(
            out.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}-rejected.csv"'
        return response


# ---------------------------------------------------------------------------
# Callee imports: progress, rejected rows, confirm / cancel
# ---------------------------------------------------------------------------
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
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:,.1f} KiB"
    return f"{n / 1024 / 1024:,.1f} MiB"


def _size_display(obj: CalleeImport) -> str:
    if obj.state == CalleeImport.State.CONFIRMING:
        return f"{obj.confirmed:,} of {obj.imported:,} callees pending"
    return f"{_size(obj.processed_bytes)} of {_size(obj.total_bytes)}"


def read_rejected_sample(obj: CalleeImport, limit: int = SAMPLE_SIZE) -> list[list[str]]:
    if not obj.rejected_file:
        return []
    try:
        with obj.rejected_file.open("rb") as fh:
            text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            next(reader, None)
            rows = [r for _, r in zip(range(limit), reader, strict=False)]
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
        "rows",
        "imported",
        "rejected",
        "duplicates",
        "created_by",
        "created_at",
    ]
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

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: CalleeImport) -> str:
        return _state_badge(obj.state, obj.get_state_display())

    @admin.display(description="progress")
    def progress_display(self, obj: CalleeImport) -> str:
        return f"{_percent(obj)} %"

    @admin.display(description="file")
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
                message = (
                    f"Confirmed: the {staged:,} callees of {obj.original_name} become pending in "
                    "the background, chunk by chunk; this page shows the progress."
                )
                self.log_change(request, obj, message)
                self.message_user(request, message, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:campaigns_calleeimport_change", args=[pk]))
        try:
            count = import_confirm(callee_import=obj, actor=Actor.from_user(request.user))
        except ImportStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            message = f"Confirmed: {count:,} callees of {obj.original_name} are now pending."
            if staged > count:
                message += " " + ngettext(
                    "%(n)s number was skipped: it was added to the campaign meanwhile "
                    "(by another import).",
                    "%(n)s numbers were skipped: they were added to the campaign meanwhile "
                    "(by another import).",
                    staged - count,
                ) % {"n": f"{staged - count:,}"}
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
            message = f"Cancelled: {count:,} staged callees of {obj.original_name} were removed."
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
        extra_context["can_import"] = _can_import(request)
        return super().changelist_view(request, extra_context)
