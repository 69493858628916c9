"""Admin for AI outbound tasks: the task page (create, update, start, sync, push and remove
customers, the not-yet-called list). The customer import is in ai_customers.py, the call records
in ai_records.py."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin, badge
from campaigns.formatting import count as format_count
from campaigns.forms_ai import AiTaskForm
from campaigns.models import AiCustomer, AiTask
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.ai_customers import (
    ai_customer_counts,
    ai_customers_push,
    ai_customers_remove_uncalled,
    ai_task_no_call,
)
from campaigns.services.ai_errors import AiTaskError, ai_error_message
from campaigns.services.ai_records import ai_sync
from campaigns.services.ai_tasks import (
    CREATE_UNKNOWN,
    NO_PAUSE_NOTE,
    ai_task_create,
    ai_task_start,
    ai_task_update,
)
from itnio_portal.itnio import ItnioError

MODE_SHORT = {
    AiTask.Mode.MANUAL: gettext_lazy("Manual"),
    AiTask.Mode.AUTO: gettext_lazy("Automatic"),
}
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
        gettext_lazy("Schedule"),
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
    (
        gettext_lazy("Redial and duplicates"),
        {"fields": ["redial", "redial_conditions", "call_record_dup"]},
    ),
]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


# ---------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------
# taskList's status words (ITNIO lists none; these are the ones seen and the sandbox's).
RUNNING_STATUSES = ("RUNNING", "IN_PROCESS")
FINISHED_STATUSES = ("COMPLETED", "FINISHED")


def _running(task: AiTask) -> bool:
    return (task.remote_status or "").upper() in RUNNING_STATUSES


def _next_step(task: AiTask) -> str:
    """What the operator does next with a task that is on ITNIO, from what the portal knows."""
    status = (task.remote_status or "").upper()
    if status in RUNNING_STATUSES:
        return _("Running on ITNIO: it calls its customers. “Sync from ITNIO” shows the progress.")
    if status in FINISHED_STATUSES:
        return _("Finished on ITNIO.")
    if not task.customers.filter(state=AiCustomer.State.PUSHED).exists():
        return _("On ITNIO: push its customers, then start it.")
    return _("Its customers are on ITNIO: start it.")


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
        "mode_short",
        "created_at",
    ]  # robots: on the task's page (at 1366 px the list keeps every column in view)
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
        return [(_("At ITNIO"), {"fields": DETAIL_FIELDS}), *fieldsets]

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
    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: AiTask) -> str:
        return badge(obj.state, obj.get_state_display())

    @admin.display(description=gettext_lazy("mode"), ordering="mode")
    def mode_short(self, obj: AiTask) -> str:
        # The list's column: one word (the form and the filter keep the full explanation).
        return str(MODE_SHORT.get(obj.mode, obj.get_mode_display()))

    @admin.display(description=gettext_lazy("ITNIO status"), ordering="remote_status")
    def remote_status_display(self, obj: AiTask) -> str:
        return obj.remote_status or "–"

    @admin.display(description=gettext_lazy("called / total"))
    def progress(self, obj: AiTask) -> str:
        if obj.remote_total is None:
            return "–"
        return f"{obj.remote_completed or 0} / {obj.remote_total}"

    @admin.display(description=gettext_lazy("customers"), ordering="n_customers")
    def customers_count(self, obj: AiTask) -> int:
        return getattr(obj, "n_customers", 0)

    @admin.display(description=gettext_lazy("line"))
    def line_display(self, obj: AiTask) -> str:
        if obj.line_id is None:
            return obj.remote_line_name or "–"
        return _("%(name)s (line %(line)s)") % {
            "name": obj.line_name or _("line"),
            "line": obj.line_id,
        }

    @admin.display(description=gettext_lazy("what to do"))
    def explanation(self, obj: AiTask) -> str:
        if obj.state in (AiTask.State.UNKNOWN, AiTask.State.SENDING):
            extra = CREATE_UNKNOWN if obj.state == AiTask.State.SENDING else ""
            return format_html(
                '<div class="portal-explain" id="task-error">{} {}</div>', obj.last_error, extra
            )
        if obj.state == AiTask.State.DRAFT:
            return _("Not on ITNIO yet: press “Create on ITNIO”.")
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
                    _("Saved here but not on ITNIO yet: press “Update on ITNIO”."),
                )
            )
        if not notes:
            return _next_step(obj)
        return format_html_join("", "{}", ((n,) for n in notes))

    @admin.display(description=gettext_lazy("at ITNIO (taskList)"))
    def remote_display(self, obj: AiTask) -> str:
        if obj.synced_at is None:
            return _("Not synced yet: press “Sync from ITNIO”.")
        rows = [
            (_("status"), obj.remote_status or "–"),
            (_("called / customers"), f"{obj.remote_completed or 0} / {obj.remote_total or 0}"),
            (
                _("here"),
                _("%(pushed)s customers pushed, %(records)s call records")
                % {
                    "pushed": format_count(
                        obj.customers.filter(state=AiCustomer.State.PUSHED).count()
                    ),
                    "records": format_count(obj.call_records.count()),
                },
            ),
            (_("script"), obj.remote_script_name or "–"),
            (_("line"), obj.remote_line_name or "–"),
            (
                _("script unbound"),
                {True: _("yes"), False: _("no")}.get(obj.remote_script_unbound, "–"),
            ),
            (_("synced"), timezone.localtime(obj.synced_at).strftime("%Y-%m-%d %H:%M:%S")),
        ]
        return format_html(
            '<table class="portal-remote" id="remote-status">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    @admin.display(description=gettext_lazy("call records"))
    def records_link(self, obj: AiTask) -> str:
        count = obj.call_records.count()
        link = reverse("admin:campaigns_aicallrecord_changelist") + f"?task__id__exact={obj.pk}"
        return format_html(
            '<a href="{}" id="records-link">{}</a>',
            link,
            _("%(count)s call record(s)") % {"count": count},
        )

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
            extra["task_running"] = _running(task)
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
        self.message_user(
            request,
            _("Task %(name)s: %(text)s") % {"name": task.name, "text": text},
            messages.ERROR,
        )

    @requires("place_calls", methods=["POST"])
    def create_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        task = self._task(request, pk)
        try:
            task = ai_task_create(task=task, actor=Actor.from_user(request.user))
        except (AiTaskError, PermissionDeniedError, ItnioError) as exc:
            self._fail(request, task, exc)
            return self._back(pk)
        if task.state == AiTask.State.CREATED:
            text = _("Created task %(name)s on ITNIO: job %(job)s.") % {
                "name": task.name,
                "job": task.remote_job_id,
            }
            if task.last_error:
                text += f" {task.last_error}"
            self.message_user(request, text, messages.SUCCESS)
        else:
            unsure = (AiTask.State.UNKNOWN, AiTask.State.SENDING)
            level = messages.WARNING if task.state in unsure else messages.ERROR
            self.message_user(
                request,
                _("Task %(name)s: %(text)s") % {"name": task.name, "text": task.last_error},
                level,
            )
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
                request,
                _("Sent task %(name)s's settings to ITNIO.") % {"name": task.name},
                messages.SUCCESS,
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
                "title": _("Start task %(name)s?") % {"name": task.name},
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
            text = _("Started task %(name)s (job %(job)s).") % {
                "name": task.name,
                "job": task.remote_job_id,
            }
            if task.remote_status:
                text += " " + _("ITNIO status: %(status)s.") % {"status": task.remote_status}
            self.message_user(request, text, messages.SUCCESS)
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
        text = _(
            "Synced from ITNIO: %(tasks)s task(s), %(created)s new and %(updated)s updated "
            "call record(s) of the last 24 hours."
        ) % {
            "tasks": result.tasks_seen,
            "created": result.records_created,
            "updated": result.records_updated,
        }
        if result.tasks_learned or result.tasks_resolved:
            text += " " + _(
                "%(learned)s task(s) created in ITNIO's console were added; "
                "%(resolved)s unknown create(s) resolved."
            ) % {"learned": result.tasks_learned, "resolved": result.tasks_resolved}
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
        self.message_user(
            request, _("Task %(name)s: %(text)s") % {"name": task.name, "text": result}, level
        )
        if result.rejected_rows:
            shown = "; ".join(
                f"{name} ({phone}): {why}"
                for name, phone, why in result.rejected_rows[:REJECTED_IN_MESSAGE]
            )
            more = len(result.rejected_rows) - REJECTED_IN_MESSAGE
            if more > 0:
                text = _("Rejected by ITNIO: %(rows)s; and %(more)s more (see the customer list).")
            else:
                text = _("Rejected by ITNIO: %(rows)s.")
            self.message_user(request, text % {"rows": shown, "more": more}, messages.WARNING)
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
        self.message_user(
            request, _("Task %(name)s: %(text)s") % {"name": task.name, "text": result}, level
        )
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
            "title": _("Not yet called: %(name)s") % {"name": task.name},
            "task": task,
            "rows": rows,
            "total": total,
            "error": error,
        }
        return TemplateResponse(request, "admin/campaigns/aitask/no_call.html", context)
