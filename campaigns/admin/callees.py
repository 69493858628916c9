"""Admin for callees and callee imports: the import page (django-import-export's form and
temporary storage) with a preview → confirm for small files and a background job with a progress
bar for large ones, both through the one import pipeline (campaigns.services.imports)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from import_export.admin import ImportMixin
from import_export.formats import base_formats

from campaigns.admin.access import requires
from campaigns.admin.base import (
    BinaryFormat,
    FileDecidesImportForm,
    PortalModelAdmin,
    StoredFileConfirmForm,
    UploadImportMixin,
    badge,
)
from campaigns.admin.campaign_retries import attempts_table
from campaigns.formatting import count
from campaigns.models import Callee, Campaign
from campaigns.services.actors import Actor
from campaigns.services.import_jobs import import_start
from campaigns.services.import_records import import_now
from campaigns.services.imports import (
    IMPORTABLE_STATES,
    ImportCancelled,
    ImportCounts,
    ImportStateError,
    import_preview,
)
from campaigns.services.numbers import check_region, strip_number
from campaigns.services.tabular import ImportFileError, count_rows, open_rows

REJECTED_SALT = "campaigns.callee-import.rejected"
PREVIEW_MAX_AGE = 24 * 3600
ADD_CALLEE = "campaigns.add_callee"


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


CAMPAIGN_CLOSED = gettext_lazy(
    "This campaign does not take imports any more (it is completed or cancelled), or it no "
    "longer exists."
)


class CalleeImportForm(FileDecidesImportForm):
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        label=gettext_lazy("Campaign"),
        help_text=gettext_lazy("Draft, scheduled, paused or running campaigns."),
        error_messages={"invalid_choice": CAMPAIGN_CLOSED},
    )
    target_field = "campaign"
    file_label = gettext_lazy("Callee file")
    file_accept = ".csv,.tsv,.txt,.xlsx,text/csv"
    file_help = gettext_lazy(
        "CSV, TSV or TXT (UTF-8 with or without BOM, UTF-16 or Windows-1252; comma, "
        "semicolon or tab) or XLSX (first sheet)."
    )

    default_region = forms.CharField(
        label=gettext_lazy("Default region"),
        required=False,
        max_length=10,
        help_text=gettext_lazy(
            "Optional: the two-letter country (e.g. SG) of numbers written without their "
            "country code. National numbers then become international ones, and a number that "
            "is not valid for its country is rejected with the reason."
        ),
    )

    def target_queryset(self) -> QuerySet[Campaign]:
        return importable_campaigns()

    def format_for(self, file_name: str) -> str:
        return _format_for(file_name)

    def clean_default_region(self) -> str:
        return _clean_region(self.cleaned_data.get("default_region", ""))


def _clean_region(value: str) -> str:
    try:
        return check_region(value) if value.strip() else ""
    except ValueError as exc:
        raise forms.ValidationError(str(exc)) from exc


class CalleeConfirmImportForm(StoredFileConfirmForm):
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(),
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": CAMPAIGN_CLOSED},
    )

    default_region = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = importable_campaigns()

    def clean_default_region(self) -> str:
        return _clean_region(self.cleaned_data.get("default_region", ""))


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


def can_import(request: HttpRequest) -> bool:
    return request.user.has_perm(ADD_CALLEE)


@admin.register(Callee)
class CalleeAdmin(UploadImportMixin, ImportMixin, PortalModelAdmin):
    list_display = ["number", "campaign", "state_badge", "attempts", "batch", "voice_id", "reason"]
    list_filter = ["campaign", "state"]
    search_fields = ["number"]  # see get_search_results: the beginning of the number
    search_help_text = gettext_lazy(
        "The beginning of the number (a leading +, spaces and dashes are ignored)."
    )
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
        "attempts",
        "attempt_list",
        "retry_due_at",
        "variant",
        "source",
        "row_number",
    ]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("every attempt"))
    def attempt_list(self, obj: Callee) -> str:
        return attempts_table(obj)

    # django-import-export's import page; the rows go through services.imports, not a resource
    import_formats = IMPORT_FORMATS
    import_form_class = CalleeImportForm
    confirm_form_class = CalleeConfirmImportForm
    import_template_name = "admin/campaigns/callee/import.html"
    import_export_change_list_template = "admin/campaigns/callee/change_list.html"
    skip_admin_log = True  # the CalleeImport row is the record of an import

    def has_import_permission(self, request: HttpRequest) -> bool:
        return can_import(request)

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
        term = strip_number(search_term)  # a prefix of a number, as the normaliser writes it
        if not term:
            return queryset, False
        return queryset.filter(Q(number__startswith=term)), False

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: Callee) -> str:
        return badge(obj.state, obj.get_state_display())

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

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["default_region"] = import_form.cleaned_data.get("default_region", "")
        return initial

    def _preview(self, request: HttpRequest, form: Any) -> TemplateResponse:
        upload = form.cleaned_data["import_file"]
        campaign = form.cleaned_data["campaign"]
        region = form.cleaned_data.get("default_region", "")
        input_format = self.get_import_formats()[int(form.cleaned_data["format"])]()
        storage = self.write_to_tmp_storage(upload, input_format)
        upload.tmp_storage_name = storage.name  # what the confirm step reads again
        try:
            counts = import_preview(
                campaign=campaign,
                source=io.BytesIO(storage.read()),
                name=upload.name,
                default_region=region,
            )
        except ImportFileError as exc:
            storage.remove()
            form.add_error("import_file", str(exc))
            return self._import_page(request, form)
        confirm_form = self.create_confirm_form(request, import_form=form)
        # Signed, so the download can only read back the file this preview stored.
        token = signing.dumps(
            {"file": storage.name, "name": upload.name, "campaign": campaign.pk, "region": region},
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
        return count(settings.CALLEE_IMPORT_BACKGROUND_ROWS)

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
                default_region=form.cleaned_data.get("default_region", ""),
            )
        except (ImportFileError, ImportStateError) as exc:
            form.add_error("import_file", str(exc))
            return self._import_page(request, form)
        self.message_user(
            request,
            _(
                "The file %(file)s has more than %(rows)s rows: it is being imported in the "
                "background. Confirm it here when it has been read."
            )
            % {"file": upload.name, "rows": self._background_rows()},
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
                "title": _("Import"),
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
            self.message_user(
                request, _("Nothing was imported: %(errors)s") % {"errors": errors}, messages.ERROR
            )
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
                default_region=form.cleaned_data.get("default_region", ""),
            )
        except (OSError, ImportFileError, ImportStateError, ImportCancelled) as exc:
            detail = _("the preview has expired") if isinstance(exc, OSError) else str(exc)
            self.message_user(
                request,
                _("Nothing was imported: %(detail)s. Upload the file again.") % {"detail": detail},
                messages.ERROR,
            )
            return back
        storage.remove()
        assert callee_import is not None
        counts = {
            "imported": count(callee_import.imported),
            "rejected": count(callee_import.rejected),
            "duplicates": count(callee_import.duplicates),
            "campaign": callee_import.campaign,
        }
        imported = ngettext(
            "Imported %(imported)s callee into %(campaign)s (pending)",
            "Imported %(imported)s callees into %(campaign)s (pending)",
            callee_import.imported,
        )
        rejected = ngettext(
            "%(rejected)s row rejected", "%(rejected)s rows rejected", callee_import.rejected
        )
        duplicates = ngettext(
            "%(duplicates)s duplicate skipped",
            "%(duplicates)s duplicates skipped",
            callee_import.duplicates,
        )
        self.message_user(
            request,
            _("%(imported)s; %(rejected)s, %(duplicates)s.")
            % {
                "imported": imported % counts,
                "rejected": rejected % counts,
                "duplicates": duplicates % counts,
            },
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
                default_region=preview.get("region", ""),
            )
        except ImportFileError as exc:
            raise Http404(str(exc)) from exc
        name = Path(os.path.basename(preview["name"] or "callees")).stem or "callees"
        response = HttpResponse(
            out.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{name}-rejected.csv"'
        return response
