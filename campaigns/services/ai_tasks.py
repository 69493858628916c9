"""AI outbound tasks (itnio-api.md §5): the app's lines, create, edit and start a task, and read
tasks back from taskList (sync); the checks every AI operation makes (who may, which app, a task
on ITNIO) and its logged client.

Money rule (design.md convention 3): a task create is preceded by a committed row that says it is
in flight, and the outcome is written afterwards. ITNIO has no idempotency key: an unknown
outcome is reconciled by reading (taskList by the unique task name), never by creating blindly.
ITNIO's API has no pause endpoint (§9). Customers are in ai_customers.py (push, remove) and
ai_customer_import.py (files), call records in ai_records.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import AiTask, ItnioApp
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.ai_errors import AiTaskError, ai_error_message
from campaigns.services.request_log import logged_client
from campaigns.services.sends import (
    send_check_in_flight,
    send_intent,
    send_not_sent,
    send_outcome,
    send_request,
    send_state,
)
from itnio_portal.itnio import (
    AiTaskInfo,
    ItnioApiError,
    ItnioError,
    ItnioLimitError,
)

logger = logging.getLogger(__name__)

NO_PAUSE_NOTE = gettext_lazy("ITNIO's API cannot pause a task: pause the task in ITNIO's console.")
CREATE_UNKNOWN = gettext_lazy(
    "ITNIO may have created the task. Press “Sync from ITNIO”: the portal looks the task up by "
    "its name (names are unique at ITNIO) and attaches its job ID if it exists. Pressing “Create "
    "on ITNIO” again does the same check first, so it never creates the task twice."
)


def _require(actor: Actor, what: str) -> None:
    """`what` is the translated action, e.g. _("start AI tasks")."""
    if not actor.may_place_calls():
        raise PermissionDeniedError(
            _("%(actor)s may not %(action)s.") % {"actor": actor.label, "action": what}
        )


def _client(task_or_app: AiTask | ItnioApp, actor: Actor) -> Any:
    app = task_or_app.app if isinstance(task_or_app, AiTask) else task_or_app
    try:
        return logged_client(app.account, actor=actor, obj=task_or_app)
    except ItnioError as exc:  # e.g. a secret that cannot be decrypted
        raise AiTaskError(str(exc)) from exc


def _check_app(app: ItnioApp) -> None:
    if app.kind != ItnioApp.Kind.AI:
        raise AiTaskError(
            _("App %(app_id)s is a voice app; AI tasks need an AI voice app.")
            % {"app_id": app.app_id}
        )
    if not app.active:
        raise AiTaskError(_("App %(app_id)s is inactive.") % {"app_id": app.app_id})


# ---------------------------------------------------------------------------
# Lines (POST /aivoice/channelList)
# ---------------------------------------------------------------------------
def ai_channels(*, app: ItnioApp, actor: Actor) -> list[tuple[int, str]]:
    """The app's outbound lines as (line ID, name). Raises AiTaskError with a clear sentence."""
    client = _client(app, actor)
    try:
        lines = client.channel_list(app_id=app.app_id)
    except ItnioError as exc:
        raise AiTaskError(
            _("Could not load the lines of app %(app_id)s from ITNIO (channelList): %(error)s")
            % {"app_id": app.app_id, "error": ai_error_message(exc)}
        ) from exc
    return [(line.line_id, line.phone_number) for line in lines if line.line_id is not None]


# ---------------------------------------------------------------------------
# Create / edit / start (taskAdd, taskEdit, taskStart)
# ---------------------------------------------------------------------------
def task_arguments(task: AiTask) -> dict[str, Any]:
    """The client's task_body keyword arguments for a task (taskAdd/taskEdit, §5.1)."""
    if task.dialog_flow_id is None or task.line_id is None:
        raise AiTaskError(
            _("Task %(task)s needs a script ID and a line before it can be sent to ITNIO.")
            % {"task": task.name}
        )
    return {
        "app_id": task.app.app_id,
        "name": task.name,
        "dialog_flow_id": task.dialog_flow_id,
        "mode": task.mode,
        "start_at": task.start_at if task.mode == AiTask.Mode.AUTO else None,
        "daily_start": task.daily_start.strftime("%H:%M"),
        "daily_end": task.daily_end.strftime("%H:%M"),
        "robot_count": task.robot_count,
        "job_phone_number_id": task.line_id,
        "end_at": task.end_at,
        "inactive_times": task.inactive_times or None,
        "inactive_dates": task.inactive_dates or None,
        "days_of_week": task.days_of_week or None,
        "redial": task.redial,
        "redial_conditions": task.redial_conditions or None,
    }


def ai_task_create(*, task: AiTask, actor: Actor) -> AiTask:
    """Create the task on ITNIO (taskAdd) and store its jobId (services/sends.py's protocol).

    created: ITNIO answered with a jobId (or the task turned out to exist under its name after
    an unknown outcome). failed: a business code, explained in last_error. Back to the previous
    state when nothing reached ITNIO. unknown: no usable answer (CREATE_UNKNOWN).
    """
    _require(actor, _("create AI tasks on ITNIO"))
    current = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _check_can_create(current)
    send_check_in_flight(current, "create_started_at", what=_what(current), error=AiTaskError)
    client = _client(current, actor)
    if send_state(current, "create_started_at") == AiTask.State.UNKNOWN:
        # The earlier create may have worked: look for the name first, never create twice.
        found = _find_by_name(client, current)
        if found is not None:
            return _created(current, found, _("Found at ITNIO by name after an unknown outcome."))
    arguments = task_arguments(current)
    try:
        client.task_body(**arguments)  # every documented limit, before anything is marked
    except ItnioLimitError as exc:
        raise AiTaskError(_("Not sent: %(error)s") % {"error": exc}) from exc
    intent = send_intent(
        AiTask,
        current.pk,
        started_field="create_started_at",
        explain_unknown=CREATE_UNKNOWN,
        check=_check_can_create,
        what=_what,
        error=AiTaskError,
    )
    locked = intent.row
    answer = send_request(
        intent,
        lambda: client.task_add(**arguments),
        crash_note=_("The portal failed while sending. %(explanation)s")
        % {"explanation": CREATE_UNKNOWN},
    )
    if answer.not_sent is not None:
        return send_not_sent(intent, answer.not_sent)
    if answer.refused is not None:
        if answer.refused.code == "-33" and intent.was_unknown:
            found = _find_by_name(client, locked)
            if found is not None:
                return _created(
                    locked, found, _("Found at ITNIO by name after an unknown outcome.")
                )
        return send_outcome(locked, AiTask.State.FAILED, ai_error_message(answer.refused))
    if answer.unknown is not None:
        return send_outcome(
            locked,
            AiTask.State.UNKNOWN,
            _("%(error)s. %(explanation)s")
            % {"error": answer.unknown, "explanation": CREATE_UNKNOWN},
        )
    send_outcome(
        locked, AiTask.State.CREATED, "", remote_job_id=answer.value, pushed_at=timezone.now()
    )
    _refresh(locked, client)
    return locked


def _refresh(task: AiTask, client: Any) -> None:
    """Read the task's remote status and totals (taskList); a failed read changes nothing."""
    try:
        info = next(
            (
                i
                for i in _all_tasks(client, task.app, name=task.name)
                if i.job_id == task.remote_job_id
            ),
            None,
        )
    except ItnioError:
        logger.warning("taskList after creating task %s failed", task.pk, exc_info=True)
        return
    if info is not None:
        _apply_info(task, info)


def _check_can_create(task: AiTask) -> None:
    if task.state == AiTask.State.CREATED:
        raise AiTaskError(
            _("Task %(task)s is already on ITNIO (job %(job_id)s).")
            % {"task": task.name, "job_id": task.remote_job_id}
        )
    _check_app(task.app)


def _what(task: AiTask) -> str:
    return _("A create request for task %(task)s") % {"task": task.name}


def _find_by_name(client: Any, task: AiTask) -> AiTaskInfo | None:
    """The ITNIO task with exactly this name (taskList's name filter may match more)."""
    for info in _all_tasks(client, task.app, name=task.name):
        if info.name == task.name and info.job_id:
            return info
    return None


def _created(task: AiTask, info: AiTaskInfo, note: str) -> AiTask:
    send_outcome(task, AiTask.State.CREATED, note, remote_job_id=info.job_id)
    _apply_info(task, info)
    return task


def _set(task: AiTask, state: str, error: str) -> AiTask:
    AiTask.objects.filter(pk=task.pk).update(state=state, last_error=error)
    task.refresh_from_db()
    return task


def _require_on_itnio(task: AiTask) -> None:
    if not task.on_itnio:
        raise AiTaskError(
            _("Task %(task)s is not on ITNIO yet: press “Create on ITNIO” first.")
            % {"task": task.name}
        )


def ai_task_update(*, task: AiTask, actor: Actor) -> AiTask:
    """Send the task's settings to ITNIO (taskEdit). An edit is safe to repeat, so an unknown
    outcome only asks to press the button again."""
    _require(actor, _("change AI tasks on ITNIO"))
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    try:
        client.task_edit(job_id=task.remote_job_id, **task_arguments(task))
    except ItnioLimitError as exc:
        raise AiTaskError(_("Not sent: %(error)s") % {"error": exc}) from exc
    except ItnioApiError as exc:
        message = ai_error_message(exc)
        _set(task, task.state, message)
        raise AiTaskError(message) from exc
    except ItnioError as exc:
        message = _(
            "%(error)s. The change may or may not have reached ITNIO: press “Update on ITNIO” "
            "again (repeating an edit is harmless)."
        ) % {"error": exc}
        _set(task, task.state, message)
        raise AiTaskError(message) from exc
    AiTask.objects.filter(pk=task.pk).update(last_error="", pushed_at=timezone.now())
    task.refresh_from_db()
    return task


def ai_task_start(*, task: AiTask, actor: Actor) -> AiTask:
    """Start the task on ITNIO (taskStart, §5.3): its customers start being called (money).

    Refusals (-45 no customers, -39 running already, …) raise AiTaskError with the English
    message beside ITNIO's reason. After a start the task is synced from taskList.
    """
    _require(actor, _("start AI tasks"))
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    try:
        client.ai_task_start(app_id=task.app.app_id, job_id=task.remote_job_id)
    except ItnioLimitError as exc:
        raise AiTaskError(_("Not sent: %(error)s") % {"error": exc}) from exc
    except ItnioApiError as exc:
        message = ai_error_message(exc)
        _set(task, task.state, message)
        raise AiTaskError(message) from exc
    except ItnioError as exc:
        message = _(
            "%(error)s. The task may have started: press “Sync from ITNIO” to see its status "
            "(starting it again is harmless: ITNIO answers -39 if it is running)."
        ) % {"error": exc}
        _set(task, task.state, message)
        raise AiTaskError(message) from exc
    AiTask.objects.filter(pk=task.pk).update(
        last_error="", started_at=timezone.now(), started_by=actor.label[:150]
    )
    task.refresh_from_db()
    try:
        ai_tasks_sync(actor=actor, app=task.app)
    except ItnioError:
        logger.warning("taskList after starting task %s failed", task.pk, exc_info=True)
    task.refresh_from_db()
    return task


def ai_task_start_job(*, app: ItnioApp, job_id: int, actor: Actor) -> AiTask:
    """Start any ITNIO job of the app by its jobId (the CLI), creating or updating the local
    task: it is looked up in taskList first; a job taskList does not show is still started
    (ITNIO decides), and a local record is made only if ITNIO accepted the start."""
    _require(actor, _("start AI tasks"))
    _check_app(app)
    client = _client(app, actor)
    info = next((i for i in _all_tasks(client, app) if i.job_id == job_id), None)
    task = AiTask.objects.filter(app=app, remote_job_id=job_id).first()
    if task is None and info is not None:
        task = _learn(app, info)
    if task is not None:
        if info is not None:
            _apply_info(task, info)
        return ai_task_start(task=task, actor=actor)
    try:
        client.ai_task_start(app_id=app.app_id, job_id=job_id)
    except ItnioLimitError as exc:
        raise AiTaskError(_("Not sent: %(error)s") % {"error": exc}) from exc
    except ItnioApiError as exc:
        raise AiTaskError(ai_error_message(exc)) from exc
    except ItnioError as exc:
        raise AiTaskError(
            _("%(error)s. The job may have started; run ai_sync to see.") % {"error": exc}
        ) from exc
    task = _learn(app, AiTaskInfo(job_id=job_id, name=f"ITNIO job {job_id}"))
    AiTask.objects.filter(pk=task.pk).update(
        started_at=timezone.now(), started_by=actor.label[:150]
    )
    task.refresh_from_db()
    return task


# ---------------------------------------------------------------------------
# Sync (taskList)
# ---------------------------------------------------------------------------
def _all_tasks(client: Any, app: ItnioApp, name: str | None = None) -> list[AiTaskInfo]:
    out: list[AiTaskInfo] = []
    page = 1
    while True:
        batch = client.task_list(app_id=app.app_id, name=name, current=page, size=100)
        out.extend(batch.records)
        if page >= batch.pages or not batch.records:
            return out
        page += 1


def _apply_info(task: AiTask, info: AiTaskInfo) -> None:
    updates: dict[str, Any] = {
        "remote_status": info.status[:32],
        "remote_total": info.task_total,
        "remote_completed": info.task_completed,
        "remote_script_name": info.dialog_flow_name[:100],
        "remote_line_name": info.job_phone_number_name[:100],
        "remote_script_unbound": info.is_dialog_flow_unbind,
        "remote_created_at": info.create_time,
        "synced_at": timezone.now(),
    }
    AiTask.objects.filter(pk=task.pk).update(**updates)
    for name, value in updates.items():
        setattr(task, name, value)


def _learn(app: ItnioApp, info: AiTaskInfo) -> AiTask:
    """A local record for an ITNIO task the portal did not create."""
    name = info.name or f"ITNIO job {info.job_id}"
    if AiTask.objects.filter(app=app, name=name).exists():
        name = f"{name[:50]} (job {info.job_id})"
    mode = info.mode if info.mode in AiTask.Mode.values else AiTask.Mode.MANUAL
    task = AiTask.objects.create(
        app=app,
        name=name[:64],
        mode=mode,
        robot_count=info.robot_count or 1,
        line_name=info.job_phone_number_name[:100],
        state=AiTask.State.CREATED,
        remote_job_id=info.job_id,
        created_by="learned:taskList",
    )
    _apply_info(task, info)
    return task


@dataclass
class AiSyncResult:
    tasks_seen: int = 0
    tasks_learned: int = 0
    tasks_resolved: int = 0
    records_checked: int = 0
    records_created: int = 0
    records_updated: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"tasks_seen={self.tasks_seen} tasks_learned={self.tasks_learned} "
            f"tasks_resolved={self.tasks_resolved} records_checked={self.records_checked} "
            f"records_created={self.records_created} records_updated={self.records_updated}"
        )
        return text + (f" errors={len(self.errors)}" if self.errors else "")


def _ai_apps(app: ItnioApp | None) -> list[ItnioApp]:
    if app is not None:
        return [app]
    return list(
        ItnioApp.objects.filter(kind=ItnioApp.Kind.AI, active=True).select_related("account")
    )


def ai_tasks_sync(
    *, actor: Actor, app: ItnioApp | None = None, result: AiSyncResult | None = None
) -> AiSyncResult:
    """taskList for every active AI app (or one): refresh remote status and totals, attach the
    job ID of tasks whose create outcome was unknown (by their unique name), and make local
    records of tasks created in ITNIO's console."""
    result = result or AiSyncResult()
    for one in _ai_apps(app):
        client = _client(one, actor)
        for info in _all_tasks(client, one):
            if not info.job_id:
                continue
            result.tasks_seen += 1
            task = AiTask.objects.filter(app=one, remote_job_id=info.job_id).first()
            if task is None:
                task = AiTask.objects.filter(
                    app=one,
                    name=info.name,
                    state__in=(AiTask.State.UNKNOWN, AiTask.State.SENDING),
                    remote_job_id=None,
                ).first()
                if task is not None:
                    _created(task, info, _("Found at ITNIO by name after an unknown outcome."))
                    result.tasks_resolved += 1
                    continue
                if AiTask.objects.filter(app=one, name=info.name).exists():
                    # A local draft with the same name: leave both alone (creating gives -33).
                    continue
                _learn(one, info)
                result.tasks_learned += 1
                continue
            _apply_info(task, info)
    return result
