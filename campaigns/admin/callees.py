"""Admin for callees and callee imports: django-import-export's preview → confirm for small files,
a background job with a progress bar for large ones, both through campaigns.services.imports."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import tablib
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
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
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext
from import_export import fields, resources, widgets
from import_export.admin import ImportMixin
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm
from import_export.signals import post_import

from campaigns.admin.access import requires
from campaigns.admin.base import FileDecidesImportForm, PortalModelAdmin, UploadImportMixin
from campaigns.models import Callee, CalleeImport, Campaign
from campaigns.services.actors import Actor
from campaigns.services.import_jobs import (
    confirms_in_background,
    import_confirm_later,
    import_note,
    import_start,
)
from campaigns.services.import_records import CANCELLABLE_STATES, import_cancel, import_confirm
from campaigns.services.imports import (
    IMPORTABLE_STATES,
    SAMPLE_SIZE,
    VALID,
    ImportStateError,
    RejectedRow,
    RejectedWriter,
    RowValidator,
    import_stream,
)
from campaigns.services.tabular import NUMBER_HEADERS, ImportFileError, count_rows, open_rows

REJECTED_SALT = "campaigns.callee-import.rejected"
PREVIEW_MAX_AGE = 24 * 3600
ADD_CALLEE = "campaigns.add_callee"
PLACE_CALLS = "campaigns.place_calls"
#: Valid rows listed on the preview page (all of them are imported).
PREVIEW_ROWS = 100


# ---------------------------------------------------------------------------
# Formats: binary, so the portal's reader handles encodings, delimiters and XLSX alike
# ---------------------------------------------------------------------------
def rows_dataset(data: bytes) -> tablib.Dataset:
    """The file as a dataset of (row in the file, raw number cell), read by open_rows."""
    with open_rows(io.BytesIO(data)) as reader:
        dataset = tablib.Dataset(headers=["row", "number"])
        for row, raw in reader:
            dataset.append((row, raw))
    if not dataset:
        raise ImportFileError(
            f"The file has a header (number column {reader.number_column!r}) but no rows below it."
        )
    return dataset


class _PortalReader:
    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: bytes, **kwargs: Any) -> tablib.Dataset:
        return rows_dataset(in_stream)


class CalleeCSV(_PortalReader, base_formats.CSV):
    pass


class CalleeTSV(_PortalReader, base_formats.TSV):
    pass


class CalleeXLSX(_PortalReader, base_formats.XLSX):
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


# ---------------------------------------------------------------------------
# Resource: django-import-export's row loop, with the portal's RowValidator deciding each row
# ---------------------------------------------------------------------------
class CalleeResource(resources.ModelResource):
    row_number = fields.Field(
        attribute="row_number", column_name="row", widget=widgets.IntegerWidget()
    )
    number = fields.Field(attribute="number", column_name="number")

    class Meta:
        model = Callee
        fields = ("row_number", "number")
        import_id_fields: list[str] = []
        force_init_instance = True  # every row is a new callee; duplicates are skipped rows
        skip_diff = True
        use_bulk = True
        batch_size = 1000
        store_instance = True
        report_skipped = True

    def __init__(
        self,
        campaign: Campaign | None = None,
        callee_import: CalleeImport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.campaign = campaign
        self.callee_import = callee_import
        self.validator: RowValidator | None = None
        self.skipped: list[RejectedRow] = []
        self.rejected = self.duplicates = 0
        self._verdict: tuple[str, str] = (VALID, "")

    @classmethod
    def get_display_name(cls) -> str:
        return "callees"

    def before_import(self, dataset: tablib.Dataset, **kwargs: Any) -> None:
        if self.campaign is None:
            raise ImportStateError("Choose the campaign to import into.")
        self._map_headers(dataset)
        self.validator = RowValidator.for_campaign(self.campaign)

    @staticmethod
    def _map_headers(dataset: tablib.Dataset) -> None:
        """Accept a dataset with the file's own header too (number/phone/mobile/callee/msisdn in
        any case, other columns ignored), numbering rows as in the file."""
        headers = [str(h or "").strip() for h in dataset.headers or []]
        if "number" in headers and "row" in headers:
            return
        lowered = [h.casefold() for h in headers]
        for name in NUMBER_HEADERS:
            if name in lowered:
                headers[lowered.index(name)] = "number"
                break
        else:
            found = ", ".join(repr(h) for h in headers) or "none"
            raise ImportFileError(f"No number column: the columns found are {found}.")
        dataset.headers = headers
        if "row" not in headers:
            dataset.append_col(list(range(2, len(dataset) + 2)), header="row")

    def before_import_row(self, row: dict[str, Any], **kwargs: Any) -> None:
        assert self.validator is not None
        verdict, number, reason = self.validator.check(int(row["row"]), row["number"])
        self._verdict = (verdict, reason)
        if verdict == VALID:
            row["number"] = number

    def skip_row(
        self, instance: Callee, original: Any, row: dict[str, Any], import_validation_errors=None
    ) -> bool:
        verdict, reason = self._verdict
        if verdict == VALID:
            return False
        if reason.startswith(("duplicate", "already")):
            self.duplicates += 1
        else:
            self.rejected += 1
        raw = row["number"]
        value = "" if raw is None else str(int(raw) if isinstance(raw, float) else raw)
        self.skipped.append(RejectedRow(int(row["row"]), value, reason))
        return True

    def init_instance(self, row: dict[str, Any] | None = None) -> Callee:
        return Callee(campaign=self.campaign, state=Callee.State.PENDING, source=self.callee_import)

    def bulk_create(
        self, using_transactions, dry_run, raise_errors, batch_size=None, result=None
    ) -> None:
        if dry_run or self.callee_import is None:
            self.create_instances.clear()  # the preview writes nothing
            return
        batch = list(self.create_instances)
        self.create_instances.clear()
        if not batch:
            return
        try:
            # A concurrent import may have added some numbers since the check: skip, never crash.
            Callee.objects.bulk_create(batch, batch_size=batch_size, ignore_conflicts=True)
            mine = set(
                Callee.objects.filter(
                    source=self.callee_import, number__in=[c.number for c in batch]
                ).values_list("number", flat=True)
            )
            for callee in batch:
                if callee.number not in mine:
                    self.duplicates += 1
                    self.skipped.append(
                        RejectedRow(
                            callee.row_number or 0,
                            callee.number,
                            "already in the campaign (added meanwhile)",
                        )
                    )
        except Exception as exc:
            self.handle_import_error(result, exc, raise_errors)

    def after_import(self, dataset: tablib.Dataset, result: Any, **kwargs: Any) -> None:
        self.skipped.sort(key=lambda r: r.row)
        valid = len(dataset) - self.rejected - self.duplicates
        result.callee_rows = len(dataset)
        result.callee_valid = valid
        result.callee_rejected = self.rejected
        result.callee_duplicates = self.duplicates
        result.callee_skipped = self.skipped[:SAMPLE_SIZE]
        result.callee_skipped_more = max(0, len(self.skipped) - SAMPLE_SIZE)
        result.callee_preview = [
            (r.instance.row_number, r.instance.number)
            for r in result.rows[: PREVIEW_ROWS + len(self.skipped)]
            if r.import_type == r.IMPORT_TYPE_NEW and r.instance is not None
        ][:PREVIEW_ROWS]
        if self.callee_import is None:
            return
        ci = self.callee_import
        buffer = io.StringIO()
        writer = RejectedWriter([buffer])
        for skipped in self.skipped:
            writer.add(skipped.row, skipped.value, skipped.reason)
        if self.skipped:
            stem = Path(ci.original_name).stem[:80] or "callees"
            ci.rejected_file.save(
                f"{stem}-rejected.csv",
                ContentFile(buffer.getvalue().encode("utf-8-sig")),
                save=False,
            )
        ci.rows = len(dataset)
        ci.imported = valid
        ci.rejected = self.rejected
        ci.duplicates = self.duplicates
        ci.processed_bytes = ci.total_bytes
        ci.state = CalleeImport.State.CONFIRMED
        ci.finished_at = timezone.now()
        ci.save()


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

    # django-import-export
    resource_classes = [CalleeResource]
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

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form")
        cleaned = getattr(form, "cleaned_data", None) or {}
        return {"campaign": cleaned.get("campaign")}

    def get_import_data_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.pop("form", None)
        kwargs.pop("request", None)
        return kwargs

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        if isinstance(e, ImportFileError):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    @requires("import")
    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            form = self.create_import_form(request)
            if form.is_valid():
                upload = form.cleaned_data["import_file"]
                limit = settings.CALLEE_IMPORT_BACKGROUND_ROWS
                too_big = upload.size > settings.IMPORT_IN_MEMORY_MAX_BYTES  # for the preview
                if too_big or count_rows(upload, upload.name, stop_after=limit) > limit:
                    return self._import_in_background(request, form)
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None)
        confirm_form = context.get("confirm_form") if context else None
        if confirm_form is not None:
            # Signed, so the download can only read back the file this preview stored.
            token = signing.dumps(
                {
                    "file": confirm_form.initial["import_file_name"],
                    "name": confirm_form.initial["original_file_name"],
                    "campaign": confirm_form.initial["campaign"],
                },
                salt=REJECTED_SALT,
            )
            context["rejected_url"] = (
                reverse("admin:campaigns_callee_import_rejected") + "?" + urlencode({"t": token})
            )
            context["campaign"] = Campaign.objects.filter(
                pk=confirm_form.initial["campaign"]
            ).first()
        if context is not None:
            context.setdefault("background_rows", f"{settings.CALLEE_IMPORT_BACKGROUND_ROWS:,}")
        return response

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
            f"The file {upload.name} has more than {settings.CALLEE_IMPORT_BACKGROUND_ROWS:,} "
            "rows: it is being imported in the background. Confirm it here when it has been read.",
            messages.INFO,
        )
        return HttpResponseRedirect(
            reverse("admin:campaigns_calleeimport_change", args=[callee_import.pk])
        )

    def _import_page(self, request: HttpRequest, form: Any) -> TemplateResponse:
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
                "background_rows": f"{settings.CALLEE_IMPORT_BACKGROUND_ROWS:,}",
            }
        )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    @requires("import", methods=["POST"])
    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """The confirm step, which sends back to the import page with a message when the preview
        is no longer usable (expired, already imported, campaign closed meanwhile)."""
        back = HttpResponseRedirect(reverse("admin:campaigns_callee_import"))
        form = self.create_confirm_form(request)
        if not form.is_valid():
            errors = " ".join(e for field in form.errors.values() for e in field)
            self.message_user(request, f"Nothing was imported: {errors}", messages.ERROR)
            return back
        try:
            return super().process_import(request, **kwargs)
        except (OSError, ImportFileError) as exc:
            detail = str(exc) if isinstance(exc, ImportFileError) else "the preview has expired"
            self.message_user(
                request,
                f"Nothing was imported: {detail}. Upload the file again.",
                messages.ERROR,
            )
            return back

    def process_dataset(
        self, dataset: tablib.Dataset, form: Any, request: HttpRequest, **kwargs: Any
    ) -> Any:
        """The confirm step: record the import, then let the resource write the rows (pending)."""
        campaign = form.cleaned_data["campaign"]
        name = os.path.basename(form.cleaned_data.get("original_file_name") or "callees.csv")
        storage = self.get_tmp_storage_class()(
            name=form.cleaned_data["import_file_name"],
            read_mode="rb",
            **self.get_tmp_storage_class_kwargs(),
        )
        data = storage.read()
        callee_import = CalleeImport(
            campaign=campaign,
            original_name=name[:255],
            total_bytes=len(data),
            created_by=request.user.get_username(),
            state=CalleeImport.State.RUNNING,
        )
        callee_import.file.save(name, ContentFile(data), save=False)
        callee_import.save()
        resource = CalleeResource(campaign=campaign, callee_import=callee_import)
        result = resource.import_data(
            dataset, dry_run=False, raise_errors=False, file_name=name, user=request.user
        )
        if result.has_errors():
            errors = "; ".join(str(e.error) for e in result.base_errors) or "row errors"
            CalleeImport.objects.filter(pk=callee_import.pk).update(
                state=CalleeImport.State.FAILED,
                error=f"Nothing was imported: {errors}",
                finished_at=timezone.now(),
            )
        result.callee_import = callee_import
        return result

    def process_result(self, result: Any, request: HttpRequest) -> HttpResponse:
        callee_import = result.callee_import
        callee_import.refresh_from_db()
        url = reverse("admin:campaigns_calleeimport_change", args=[callee_import.pk])
        if callee_import.state == CalleeImport.State.FAILED:
            self.message_user(request, callee_import.error, messages.ERROR)
            return HttpResponseRedirect(url)
        post_import.send(sender=None, model=self.model)
        self.message_user(
            request,
            f"Imported {callee_import.imported:,} callees into {callee_import.campaign} "
            f"(pending); {callee_import.rejected:,} rows rejected, "
            f"{callee_import.duplicates:,} duplicates skipped.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(url)

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
            with open_rows(io.BytesIO(data)) as rows:
                import_stream(campaign=campaign, rows=rows, dry_run=True, rejected_csv=out)
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
