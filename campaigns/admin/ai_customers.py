"""Admin for an AI task's customers and their import from a file (django-import-export's
preview → confirm, the rows read and checked by campaigns.services.ai_customer_import)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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
from campaigns.models import AiCustomer, AiTask, ItnioApp
from campaigns.services.ai_customer_import import (
    AiCustomerResource,
    CustomerFileError,
    read_customer_file,
)


class _CustomerReader(BinaryFormat):
    def create_dataset(self, in_stream: bytes, **kwargs: Any) -> Any:
        return read_customer_file(in_stream, "")


class CustomerCSV(_CustomerReader, base_formats.CSV):
    pass


class CustomerXLSX(_CustomerReader, base_formats.XLSX):
    pass


CUSTOMER_FORMATS = [CustomerCSV, CustomerXLSX]
# Customers that are only in the portal (never on ITNIO, or refused or left out): deletable.
LOCAL_STATES = (AiCustomer.State.LOCAL, AiCustomer.State.REJECTED, AiCustomer.State.SKIPPED)


def importable_tasks() -> QuerySet[AiTask]:
    return AiTask.objects.filter(app__kind=ItnioApp.Kind.AI).order_by("name")


class AiCustomerImportForm(FileDecidesImportForm):
    task = forms.ModelChoiceField(queryset=AiTask.objects.none(), label=gettext_lazy("AI task"))
    target_field = "task"
    file_label = gettext_lazy("Customer file")
    file_accept = ".csv,.txt,.xlsx,text/csv"
    file_help = gettext_lazy(
        "CSV (comma, semicolon or tab; UTF-8, UTF-16 or Windows-1252) or XLSX (first sheet)."
    )

    def target_queryset(self) -> QuerySet[AiTask]:
        return importable_tasks()

    def format_for(self, file_name: str) -> str:
        # The admin lists CSV first, XLSX second.
        return "1" if file_name.lower().endswith((".xlsx", ".xlsm")) else "0"


class AiCustomerConfirmForm(StoredFileConfirmForm):
    task = forms.ModelChoiceField(queryset=AiTask.objects.none(), widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = importable_tasks()


@admin.register(AiCustomer)
class AiCustomerAdmin(UploadImportMixin, ImportMixin, PortalModelAdmin):
    list_display = [
        "name",
        "phone_number",
        "gender",
        "task",
        "state_badge",
        "reason_display",
        "calls",
        "properties_display",
    ]
    list_filter = ["task", "state"]
    search_fields = ["name", "phone_number"]
    list_select_related = ["task"]
    list_per_page = 100
    fields = [
        "task",
        "name",
        "phone_number",
        "gender",
        "properties",
        "state",
        "reason_display",
        "row_number",
        "pushed_at",
        "removed_at",
        "created_at",
    ]
    readonly_fields = fields

    resource_classes = [AiCustomerResource]
    import_formats = CUSTOMER_FORMATS
    import_form_class = AiCustomerImportForm
    confirm_form_class = AiCustomerConfirmForm
    import_template_name = "admin/campaigns/aicustomer/import.html"
    import_export_change_list_template = "admin/campaigns/aicustomer/change_list.html"
    skip_admin_log = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[AiCustomer]:
        return super().get_queryset(request).annotate(n_calls=Count("call_records"))

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.add_aicustomer") and request.user.has_perm(
            "campaigns.place_calls"
        )

    @requires("import")
    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return super().import_action(request, **kwargs)

    @requires("import", methods=["POST"])
    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        return super().process_import(request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers arrive through imports, where every row is checked

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a row is corrected by importing it again

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.state not in LOCAL_STATES:
            return False  # on ITNIO (or may be): use “Remove uncalled customers”
        return super().has_delete_permission(request, obj)

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: AiCustomer) -> str:
        return badge(obj.state, obj.get_state_display())

    @admin.display(description=gettext_lazy("reason"))
    def reason_display(self, obj: AiCustomer) -> str:
        """The portal's own reasons are stored in English (whoever pushed) and shown in the
        reader's language; ITNIO's reasons are shown as ITNIO wrote them."""
        return _(obj.reason) if obj.reason else ""

    @admin.display(description=gettext_lazy("calls"), ordering="n_calls")
    def calls(self, obj: AiCustomer) -> int:
        return getattr(obj, "n_calls", 0)

    @admin.display(description=gettext_lazy("properties"))
    def properties_display(self, obj: AiCustomer) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.properties or {}).items()) or "–"

    # --- django-import-export ---------------------------------------------------
    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form")
        task = None
        if form is not None and hasattr(form, "cleaned_data"):
            task = form.cleaned_data.get("task")
        return {**super().get_import_resource_kwargs(request, **kwargs), "task": task}

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        if isinstance(e, CustomerFileError):
            form.add_error("import_file", str(e))
            return
        super().add_data_read_fail_error_to_form(form, e)

    def process_result(self, result: Any, request: HttpRequest) -> HttpResponse:
        super().process_result(result, request)  # the success message
        task = getattr(result, "ai_task", None)
        if task is None:
            return HttpResponseRedirect(reverse("admin:campaigns_aicustomer_changelist"))
        skipped = len(getattr(result, "ai_skipped", []))
        if skipped:
            self.message_user(
                request,
                _("%(count)s row(s) were skipped (see the preview's reasons).")
                % {"count": skipped},
                messages.WARNING,
            )
        self.message_user(
            request,
            _(
                "The customers are in the portal: press “Push customers to ITNIO” to add them to "
                "the task at ITNIO."
            ),
            messages.INFO,
        )
        return HttpResponseRedirect(reverse("admin:campaigns_aitask_change", args=[task.pk]))

    def add_success_message(self, result: Any, request: HttpRequest) -> None:
        totals = result.totals
        self.message_user(
            request,
            _("Imported %(new)s new and %(updated)s updated customer(s).")
            % {"new": totals.get("new", 0), "updated": totals.get("update", 0)},
            messages.SUCCESS,
        )
