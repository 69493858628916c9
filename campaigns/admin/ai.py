"""Admin for AI outbound tasks: the task page (create, update, start, sync, customers), the
customer import (django-import-export, preview → confirm), and AI call records with their
recordings and transcripts."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from import_export.admin import ImportMixin
from import_export.formats import base_formats
from import_export.forms import ConfirmImportForm

from campaigns.admin.access import requires
from campaigns.admin.base import (
    FileDecidesImportForm,
    PortalModelAdmin,
    ReadOnlyAdmin,
    UploadImportMixin,
)
from campaigns.forms_ai import AiTaskForm
from campaigns.models import AiCallRecord, AiCustomer, AiTask, ItnioApp
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.ai_tasks import (
    CREATE_UNKNOWN,
    NO_PAUSE_NOTE,
    AiCustomerResource,
    AiTaskError,
    CustomerFileError,
    ai_customer_counts,
    ai_customers_push,
    ai_customers_remove_uncalled,
    ai_error_message,
    ai_sync,
    ai_task_create,
    ai_task_no_call,
    ai_task_start,
    ai_task_update,
    read_customer_file,
)
from itnio_portal.itnio import AiTurn, ItnioError

CUSTOMERS_ON_PAGE = 100
REJECTED_IN_MESSAGE = 10
DETAIL_FIELDS = [
    "state_badge",
    "explanation",
    "remote_job_id",
    "remote_display",
    "records_link",
    "created_by",
    "created_at",
]
SETTINGS_FIELDSETS = [
    (None, {"fields": ["app", "name", "dialog_flow_id", "line", "robot_count"]}),
    (
        "Schedule",
        {
            "fields": [
                "mode",
                "start_at",
                "end_at",
                ("daily_start", "daily_end"),
                "inactive_times",
                "inactive_dates",
                "days_of_week",
            ]
        },
    ),
    ("Redial and duplicates", {"fields": ["redial", "redial_conditions", "call_record_dup"]}),
]


def _badge(state: str, label: str) -> str:
    return format_html('<span class="portal-state portal-state-{}">{}</span>', state, label)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


# ---------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------
@admin.register(AiTask)
class AiTaskAdmin(PortalModelAdmin):
    form = AiTaskForm
    list_display = [
        "name",
        "app",
        "state_badge",
        "remote_status_display",
        "progress",
        "customers_count",
        "robot_count",
        "mode",
        "created_at",
    ]
    list_filter = ["state", "app", "mode"]
    search_fields = ["name", "=remote_job_id"]
    list_select_related = ["app"]
    change_form_template = "admin/campaigns/aitask/change_form.html"
    change_list_template = "admin/campaigns/aitask/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AiTask]:
        return super().get_queryset(request).annotate(n_customers=Count("customers"))

    def get_fieldsets(self, request: HttpRequest, obj: AiTask | None = None) -> list[Any]:
        view_only = obj is not None and not self.has_change_permission(request, obj)
        fieldsets = []
        for title, options in SETTINGS_FIELDSETS:
            fields = list(options["fields"])
            if view_only and "line" in fields:
                # View-only: the form's extra fields do not exist, show stored values instead.
                fields[fields.index("line")] = "line_display"
            fieldsets.append((title, {"fields": fields}))
        if obj is None:
            return fieldsets
        return [("At ITNIO", {"fields": DETAIL_FIELDS}), *fieldsets]

    def get_readonly_fields(self, request: HttpRequest, obj: AiTask | None = None) -> list[str]:
        if obj is None:
            return []
        readonly = list(DETAIL_FIELDS)
        if obj.state != AiTask.State.DRAFT:
            readonly.append("app")  # the task belongs to this app at ITNIO (or may)
        if obj.state in (AiTask.State.UNKNOWN, AiTask.State.SENDING):
            readonly.append("name")  # the unknown create is found again by this name
        return readonly

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        base = super().get_form(request, obj, change=change, **kwargs)
        actor = Actor.from_user(request.user)

        class Form(base):  # type: ignore[valid-type, misc]
            def __init__(self, *args: Any, **kw: Any) -> None:
                kw.setdefault("actor", actor)
                super().__init__(*args, **kw)

        return Form

    def has_delete_permission(self, request: HttpRequest, obj: AiTask | None = None) -> bool:
        if obj is not None and obj.state not in (AiTask.State.DRAFT, AiTask.State.FAILED):
            return False  # ITNIO has the task (or may): there is no delete endpoint (§9)
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: AiTask, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()[:150]
        elif form.changed_data:
            obj.edited_at = timezone.now()
            if obj.state == AiTask.State.FAILED:
                obj.state, obj.last_error = AiTask.State.DRAFT, ""
        super().save_model(request, obj, form, change)

    # --- display -------------------------------------------------------------
    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: AiTask) -> str:
        return _badge(obj.state, obj.get_state_display())

    @admin.display(description="ITNIO status", ordering="remote_status")
    def remote_status_display(self, obj: AiTask) -> str:
        return obj.remote_status or "–"

    @admin.display(description="called / total")
    def progress(self, obj: AiTask) -> str:
        if obj.remote_total is None:
            return "–"
        return f"{obj.remote_completed or 0} / {obj.remote_total}"

    @admin.display(description="customers", ordering="n_customers")
    def customers_count(self, obj: AiTask) -> int:
        return getattr(obj, "n_customers", 0)

    @admin.display(description="line")
    def line_display(self, obj: AiTask) -> str:
        if obj.line_id is None:
            return obj.remote_line_name or "–"
        return f"{obj.line_name or 'line'} (line {obj.line_id})"

    @admin.display(description="what to do")
    def explanation(self, obj: AiTask) -> str:
        if obj.state in (AiTask.State.UNKNOWN, AiTask.State.SENDING):
            extra = CREATE_UNKNOWN if obj.state == AiTask.State.SENDING else ""
            return format_html(
                '<div class="portal-explain" id="task-error">{} {}</div>', obj.last_error, extra
            )
        if obj.state == AiTask.State.DRAFT:
            return "Not on ITNIO yet: press “Create on ITNIO”."
        if obj.state == AiTask.State.FAILED:
            return format_html(
                '<div class="portal-explain" id="task-error">{}</div>', obj.last_error
            )
        notes = []
        if obj.last_error:
            notes.append(
                format_html('<div class="portal-explain" id="task-error">{}</div>', obj.last_error)
            )
        if obj.has_unsent_changes:
            notes.append(
                format_html(
                    '<div class="portal-explain" id="unsent-changes">{}</div>',
                    "Saved here but not on ITNIO yet: press “Update on ITNIO”.",
                )
            )
        if not notes:
            return "On ITNIO: push its customers, then start it."
        return format_html_join("", "{}", ((n,) for n in notes))

    @admin.display(description="at ITNIO (taskList)")
    def remote_display(self, obj: AiTask) -> str:
        if obj.synced_at is None:
            return "Not synced yet: press “Sync from ITNIO”."
        rows = [
            ("status", obj.remote_status or "–"),
            ("called / customers", f"{obj.remote_completed or 0} / {obj.remote_total or 0}"),
            ("script", obj.remote_script_name or "–"),
            ("line", obj.remote_line_name or "–"),
            ("script unbound", {True: "yes", False: "no"}.get(obj.remote_script_unbound, "–")),
            ("synced", timezone.localtime(obj.synced_at).strftime("%Y-%m-%d %H:%M:%S")),
        ]
        return format_html(
            '<table class="portal-remote" id="remote-status">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description="call records")
    def records_link(self, obj: AiTask) -> str:
        count = obj.call_records.count()
        link = reverse("admin:campaigns_aicallrecord_changelist") + f"?task__id__exact={obj.pk}"
        return format_html('<a href="{}" id="records-link">{} call record(s)</a>', link, count)

    # --- views -----------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/create/", wrap(self.create_view), name="campaigns_aitask_create"),
            path("<int:pk>/update/", wrap(self.update_view), name="campaigns_aitask_update"),
            path("<int:pk>/start/", wrap(self.start_view), name="campaigns_aitask_start"),
            path("<int:pk>/sync/", wrap(self.sync_view), name="campaigns_aitask_sync"),
            path("<int:pk>/push/", wrap(self.push_view), name="campaigns_aitask_push"),
            path("<int:pk>/remove/", wrap(self.remove_view), name="campaigns_aitask_remove"),
            path("<int:pk>/not-called/", wrap(self.no_call_view), name="campaigns_aitask_nocall"),
            path("sync/", wrap(self.sync_all_view), name="campaigns_aitask_sync_all"),
            *super().get_urls(),
        ]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "can_place_calls": self.has_place_calls_permission(request),
            "can_sync": self.has_query_itnio_permission(request),
            "no_pause_note": NO_PAUSE_NOTE,
        }
        task = AiTask.objects.filter(pk=object_id).first() if object_id else None
        if task is not None:
            counts = ai_customer_counts(task)
            extra["customer_total"] = sum(counts.values())
            extra["customer_counts"] = [
                (state, _lower_first(AiCustomer.State(state).label), n)
                for state, n in counts.items()
                if n
            ]
            extra["customers"] = list(task.customers.order_by("id")[:CUSTOMERS_ON_PAGE])
            extra["customers_link"] = (
                reverse("admin:campaigns_aicustomer_changelist") + f"?task__id__exact={task.pk}"
            )
        return super().changeform_view(request, object_id, form_url, extra)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {**(extra_context or {}), "can_sync": self.has_query_itnio_permission(request)}
        return super().changelist_view(request, extra)

    def _back(self, pk: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:campaigns_aitask_change", args=[pk]))

    def _task(self, request: HttpRequest, pk: int) -> AiTask:
        return get_object_or_404(AiTask.objects.select_related("app__account"), pk=pk)

    def _fail(self, request: HttpRequest, task: AiTask, exc: Exception) -> None:
        text = ai_error_message(exc) if isinstance(exc, ItnioError) else str(exc)
        self.message_user(request, f"Task {task.name}: {text}", messages.ERROR)

    @requires("place_calls", methods=["POST"])
    def create_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        task = self._task(request, pk)
        try:
            task = ai_task_create(task=task, actor=Actor.from_user(request.user))
        except (AiTaskError, PermissionDeniedError, ItnioError) as exc:
            self._fail(request, task, exc)
            return self._back(pk)
        if task.state == AiTask.State.CREATED:
            note = f" {task.last_error}" if task.last_error else ""
            self.message_user(
                request,
                f"Created task {task.name} on ITNIO: job {task.remote_job_id}.{note}",
                messages.SUCCESS,
            )
        else:
            unsure = (AiTask.State.UNKNOWN, AiTask.State.SENDING)
            level = messages.WARNING if task.state in unsure else messages.ERROR
            self.message_user(request, f"Task {task.name}: {task.last_error}", level)
        return self._back(pk)

    @requires("place_calls", methods=["POST"])
    def update_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        task = self._task(request, pk)
        try:
            ai_task_update(task=task, actor=Actor.from_user(request.user))
        except (AiTaskError, PermissionDeniedError, ItnioError) as exc:
            self._fail(request, task, exc)
        else:
            self.message_user(
                request, f"Sent task {task.name}'s settings to ITNIO.", messages.SUCCESS
            )
        return self._back(pk)

    @requires("place_calls", methods=["POST"])
    def start_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """First POST: what starting means (design.md convention 4); post=yes: start it."""
        task = self._task(request, pk)
        if request.POST.get("post") != "yes":
            counts = ai_customer_counts(task)
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Start task {task.name}?",
                "task": task,
                "counts": counts,
                "pushed": counts[AiCustomer.State.PUSHED],
                "waiting": counts[AiCustomer.State.LOCAL],
                "no_pause_note": NO_PAUSE_NOTE,
            }
            return TemplateResponse(request, "admin/campaigns/aitask/start_confirm.html", context)
        try:
            task = ai_task_start(task=task, actor=Actor.from_user(request.user))
        except (AiTaskError, PermissionDeniedError, ItnioError) as exc:
            self._fail(request, task, exc)
        else:
            status = f" ITNIO status: {task.remote_status}." if task.remote_status else ""
            self.message_user(
                request,
                f"Started task {task.name} (job {task.remote_job_id}).{status}",
                messages.SUCCESS,
            )
        return self._back(pk)

    @requires("query_itnio", methods=["POST"])
    def sync_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        task = self._task(request, pk)
        result = ai_sync(actor=Actor.from_user(request.user), app=task.app)
        self._sync_message(request, result)
        return self._back(pk)

    @requires("query_itnio", methods=["POST"])
    def sync_all_view(self, request: HttpRequest) -> HttpResponseRedirect:
        result = ai_sync(actor=Actor.from_user(request.user))
        self._sync_message(request, result)
        target = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts=None) or not target.startswith(
            "/"
        ):
            target = reverse("admin:campaigns_aitask_changelist")
        return HttpResponseRedirect(target)

    def _sync_message(self, request: HttpRequest, result: Any) -> None:
        text = (
            f"Synced from ITNIO: {result.tasks_seen} task(s), {result.records_created} new and "
            f"{result.records_updated} updated call record(s) of the last 24 hours."
        )
        if result.tasks_learned or result.tasks_resolved:
            text += (
                f" {result.tasks_learned} task(s) created in ITNIO's console were added; "
                f"{result.tasks_resolved} unknown create(s) resolved."
            )
        self.message_user(request, text, messages.SUCCESS)
        for error in result.errors:
            self.message_user(request, error, messages.ERROR)

    @requires("place_calls", methods=["POST"])
    def push_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        task = self._task(request, pk)
        try:
            result = ai_customers_push(task=task, actor=Actor.from_user(request.user))
        except (AiTaskError, PermissionDeniedError, ItnioError) as exc:
            self._fail(request, task, exc)
            return self._back(pk)
        level = messages.SUCCESS if not (result.rejected or result.error) else messages.WARNING
        self.message_user(request, f"Task {task.name}: {result}", level)
        if result.rejected_rows:
            shown = "; ".join(
                f"{name} ({phone}): {why}"
                for name, phone, why in result.rejected_rows[:REJECTED_IN_MESSAGE]
            )
            more = len(result.rejected_rows) - REJECTED_IN_MESSAGE
            suffix = f"; and {more} more (see the customer list)" if more > 0 else ""
            self.message_user(request, f"Rejected by ITNIO: {shown}{suffix}.", messages.WARNING)
        if result.error:
            self.message_user(request, result.error, messages.ERROR)
        return self._back(pk)

    @requires("place_calls", methods=["POST"])
    def remove_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        task = self._task(request, pk)
        try:
            result = ai_customers_remove_uncalled(task=task, actor=Actor.from_user(request.user))
        except (AiTaskError, PermissionDeniedError, ItnioError) as exc:
            self._fail(request, task, exc)
            return self._back(pk)
        level = messages.SUCCESS if not result.error else messages.WARNING
        self.message_user(request, f"Task {task.name}: {result}", level)
        if result.error:
            self.message_user(request, result.error, messages.ERROR)
        return self._back(pk)

    @requires("query_itnio", methods=["GET"])  # asks ITNIO (taskNoCall)
    def no_call_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        task = self._task(request, pk)
        rows, total, error = [], 0, ""
        try:
            rows, total = ai_task_no_call(task=task, actor=Actor.from_user(request.user))
        except (AiTaskError, ItnioError) as exc:
            error = ai_error_message(exc) if isinstance(exc, ItnioError) else str(exc)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Not yet called: {task.name}",
            "task": task,
            "rows": rows,
            "total": total,
            "error": error,
        }
        return TemplateResponse(request, "admin/campaigns/aitask/no_call.html", context)


# ---------------------------------------------------------------------------
# Customers and their import
# ---------------------------------------------------------------------------
class _CustomerReader:
    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: bytes, **kwargs: Any) -> Any:
        return read_customer_file(in_stream, "")


class CustomerCSV(_CustomerReader, base_formats.CSV):
    pass


class CustomerXLSX(_CustomerReader, base_formats.XLSX):
    pass


CUSTOMER_FORMATS = [CustomerCSV, CustomerXLSX]


def importable_tasks() -> QuerySet[AiTask]:
    return AiTask.objects.filter(app__kind=ItnioApp.Kind.AI).order_by("name")


class AiCustomerImportForm(FileDecidesImportForm):
    task = forms.ModelChoiceField(queryset=AiTask.objects.none(), label="AI task")
    target_field = "task"
    file_label = "Customer file"
    file_accept = ".csv,.txt,.xlsx,text/csv"
    file_help = (
        "CSV (comma, semicolon or tab; UTF-8, UTF-16 or Windows-1252) or XLSX (first "
        "sheet) with a header row: name, a phone number column (phone, phoneNumber, "
        "phone_number, mobile or number), optionally gender (MALE/FEMALE); every other "
        "column becomes a property the script can use."
    )

    def target_queryset(self) -> QuerySet[AiTask]:
        return importable_tasks()

    def format_for(self, file_name: str) -> str:
        # The admin lists CSV first, XLSX second.
        return "1" if file_name.lower().endswith((".xlsx", ".xlsm")) else "0"


class AiCustomerConfirmForm(ConfirmImportForm):
    task = forms.ModelChoiceField(queryset=AiTask.objects.none(), widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["task"].queryset = importable_tasks()

    def clean_import_file_name(self) -> str:
        name = super().clean_import_file_name()
        if not re.fullmatch(r"[A-Za-z0-9_]{6,64}", name):
            raise forms.ValidationError("Not a file this import page stored.")
        return name


@admin.register(AiCustomer)
class AiCustomerAdmin(UploadImportMixin, ImportMixin, PortalModelAdmin):
    list_display = [
        "name",
        "phone_number",
        "gender",
        "task",
        "state_badge",
        "reason",
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
        "reason",
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
        if obj is not None and obj.state not in (AiCustomer.State.LOCAL, AiCustomer.State.REJECTED):
            return False  # on ITNIO (or may be): use “Remove uncalled customers”
        return super().has_delete_permission(request, obj)

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: AiCustomer) -> str:
        return _badge(obj.state, obj.get_state_display())

    @admin.display(description="calls", ordering="n_calls")
    def calls(self, obj: AiCustomer) -> int:
        return getattr(obj, "n_calls", 0)

    @admin.display(description="properties")
    def properties_display(self, obj: AiCustomer) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.properties or {}).items()) or "–"

    # --- django-import-export ---------------------------------------------------
    def get_import_form_initial(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_import_form_initial(request)
        task = request.GET.get("task", "")
        if task.isdigit():
            initial["task"] = int(task)
        return initial

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["task"] = import_form.cleaned_data["task"].pk
        return initial

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
                f"{skipped} row(s) were skipped (see the preview's reasons).",
                messages.WARNING,
            )
        self.message_user(
            request,
            "The customers are in the portal: press “Push customers to ITNIO” to add them to "
            "the task at ITNIO.",
            messages.INFO,
        )
        return HttpResponseRedirect(reverse("admin:campaigns_aitask_change", args=[task.pk]))

    def add_success_message(self, result: Any, request: HttpRequest) -> None:
        totals = result.totals
        self.message_user(
            request,
            f"Imported {totals.get('new', 0)} new and {totals.get('update', 0)} updated "
            f"customer(s).",
            messages.SUCCESS,
        )


# ---------------------------------------------------------------------------
# Call records
# ---------------------------------------------------------------------------
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
            "More from ITNIO",
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
    readonly_fields = [f for _, options in fieldsets for f in options["fields"]]

    @admin.display(description="result", ordering="result_status")
    def result_badge(self, obj: AiCallRecord) -> str:
        state = "final" if obj.result_status == "ANSWERED" else "failed"
        return _badge(state, obj.result_status or "–")

    @admin.display(description="start", ordering="start_time")
    def start_display(self, obj: AiCallRecord) -> str:
        return _when(obj.start_time)

    @admin.display(description="end", ordering="end_time")
    def end_display(self, obj: AiCallRecord) -> str:
        return _when(obj.end_time)

    @admin.display(description="customer", ordering="called_phone_number")
    def customer_display(self, obj: AiCallRecord) -> str:
        return format_html(
            '{}<br><span class="portal-quiet">{}</span>',
            obj.customer_name or "–",
            obj.called_phone_number or "",
        )

    @admin.display(description="chat", ordering="chat_duration")
    def chat_display(self, obj: AiCallRecord) -> str:
        return "–" if obj.chat_duration is None else f"{obj.chat_duration} s"

    @admin.display(description="cost", ordering="cost")
    def cost_display(self, obj: AiCallRecord) -> str:
        if obj.cost is None:
            return "–"
        return f"{obj.cost.normalize():f} USD"  # `pay` is in USD (§6.2)

    @admin.display(description="transcript", boolean=True)
    def has_transcript(self, obj: AiCallRecord) -> bool:
        return bool(obj.call_detail_list)

    @admin.display(description="customer concern")
    def customer_concern_display(self, obj: AiCallRecord) -> str:
        return ", ".join(str(v) for v in obj.customer_concern or []) or "–"

    @admin.display(description="properties (echoed back)")
    def properties_display(self, obj: AiCallRecord) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.properties or {}).items()) or "–"

    @admin.display(description="tags")
    def tags_display(self, obj: AiCallRecord) -> str:
        tags = [*(obj.call_record_tags or []), *(obj.customer_tags or [])]
        return ", ".join(str(t) for t in tags) or "–"

    @admin.display(description="raw records")
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
