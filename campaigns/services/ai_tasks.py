"""AI outbound tasks (itnio-api.md §5, §6.2): create, edit, start and sync tasks; import, push and
remove customers; the not-yet-called list; AI call records from pushes and recordQuery.

Money rule (design.md convention 3): a task create is preceded by a committed row that says it is
in flight, customers by rows marked SENDING, and the outcome is written afterwards. ITNIO has no
idempotency key: an unknown outcome is reconciled by reading (taskList by the unique task name,
taskNoCall for customers), never by resending blindly. ITNIO's API has no pause endpoint (§9).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import tablib
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from import_export import fields, resources, widgets

from campaigns.models import AiCallRecord, AiCustomer, AiTask, ItnioApp
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.personal_data import number_is_erased, scrub_ai_record
from campaigns.services.request_log import logged_client
from campaigns.services.sends import (
    send_check_in_flight,
    send_intent,
    send_not_sent,
    send_outcome,
    send_request,
    send_state,
)
from campaigns.services.tabular_guards import (
    BoundedLines,
    FileLimits,
    ImportFileError,
    check_in_memory,
    check_row,
    load_workbook,
    long_cell_error,
    refuse_binary,
    too_many_rows,
)
from itnio_portal.itnio import (
    AIVOICE_CODES,
    AiCustomerRow,
    AiNoCall,
    AiRecord,
    AiTaskInfo,
    ItnioApiError,
    ItnioError,
    ItnioLimitError,
    ItnioNotSentError,
)
from itnio_portal.itnio.errors import UNKNOWN_CODE_MESSAGE

logger = logging.getLogger(__name__)

NO_PAUSE_NOTE = (
    "ITNIO's API has no pause endpoint (itnio-api.md §9): pause the task in ITNIO's console."
)
CREATE_UNKNOWN = (
    "ITNIO may have created the task. Press “Sync from ITNIO”: the portal looks the task up by "
    "its name (names are unique at ITNIO) and attaches its job ID if it exists. Pressing “Create "
    "on ITNIO” again does the same check first, so it never creates the task twice."
)
CUSTOMERS_UNKNOWN = (
    "The request may have reached ITNIO, so these customers may have been added. The portal does "
    "not resend them: open “Not yet called”, which marks every number ITNIO lists as on ITNIO."
)

# What to do about each /aivoice code (seed 000's table, itnio-api.md §5), shown after the
# English meaning from errors.AIVOICE_CODES and before the vendor's own reason.
AI_CODE_ADVICE: dict[str, str] = {
    "-1": "Check the ITNIO account's API key and secret.",
    "-3": "Top up the ITNIO account, then try again.",
    "-4": "The portal server's clock is off: fix it (NTP), then try again.",
    "-5": "Try again later.",
    "-6": "Allow the portal's IP address in ITNIO's console, then try again.",
    "-27": "Check the task's settings (times as HH:mm, the line, the lists) or the customer rows, "
    "then try again.",
    "-32": "ITNIO does not know this job ID: press “Sync from ITNIO”; the task may have been "
    "deleted in ITNIO's console.",
    "-33": "Choose another name: task names must be unique within the app at ITNIO.",
    "-37": "The app must be an AI voice app of this ITNIO account: check its app ID.",
    "-38": "ITNIO's API has no pause endpoint (itnio-api.md §9): pause or resume the task in "
    "ITNIO's console.",
    "-39": "The task is probably running or finished already: press “Sync from ITNIO” to see "
    "its status.",
    "-45": "Import customers and press “Push customers to ITNIO” first, then start the task.",
    "-46": "Check the task's settings and try again; if it persists, ITNIO has a network problem.",
    "-48": "Set the daily window inside 09:00–20:00, save, then try again.",
    "-49": "Verify the ITNIO account in ITNIO's console first.",
    "-50": "Ask ITNIO to set up pricing (a quote) for this app.",
    "-51": "Every customer needs the properties the script's variables use: add those columns "
    "to the file and import it again.",
    "-52": "Lower the number of robots (or ask ITNIO to raise the account's maximum), save, then "
    "try again.",
    "-55": "The script is unbound: bind it to the app again in ITNIO's console, or use another "
    "script ID.",
    "-57": "The portal sent an empty authentication header: this is a portal bug, report it.",
    "-58": "The portal sent an empty authentication header: this is a portal bug, report it.",
    "-59": "The portal sent an empty authentication header: this is a portal bug, report it.",
}


class AiTaskError(Exception):
    """An AI task operation cannot be done (now); the message says why and what to do."""


def ai_error_message(exc: ItnioError) -> str:
    """An English sentence for any ITNIO error of an /aivoice call, with the vendor's reason."""
    if not isinstance(exc, ItnioApiError):
        return str(exc)
    meaning = AIVOICE_CODES.get(exc.code, (None, UNKNOWN_CODE_MESSAGE))[1]
    advice = AI_CODE_ADVICE.get(exc.code, "")
    reason = f"“{exc.reason}”" if exc.reason else "no reason given"
    return " ".join(p for p in (meaning, advice, f"(ITNIO code {exc.code}: {reason})") if p)


def _require(actor: Actor, what: str) -> None:
    if not actor.may_place_calls():
        raise PermissionDeniedError(f"{actor.label} may not {what}.")


def _client(task_or_app: AiTask | ItnioApp, actor: Actor) -> Any:
    app = task_or_app.app if isinstance(task_or_app, AiTask) else task_or_app
    try:
        return logged_client(app.account, actor=actor, obj=task_or_app)
    except ItnioError as exc:  # e.g. a secret that cannot be decrypted
        raise AiTaskError(str(exc)) from exc


def _check_app(app: ItnioApp) -> None:
    if app.kind != ItnioApp.Kind.AI:
        raise AiTaskError(f"App {app.app_id} is a voice app; AI tasks need an AI voice app.")
    if not app.active:
        raise AiTaskError(f"App {app.app_id} is inactive.")


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
            f"Could not load the lines of app {app.app_id} from ITNIO (channelList): "
            f"{ai_error_message(exc)}"
        ) from exc
    return [(line.line_id, line.phone_number) for line in lines if line.line_id is not None]


# ---------------------------------------------------------------------------
# Create / edit / start (taskAdd, taskEdit, taskStart)
# ---------------------------------------------------------------------------
def task_arguments(task: AiTask) -> dict[str, Any]:
    """The client's task_body keyword arguments for a task (taskAdd/taskEdit, §5.1)."""
    if task.dialog_flow_id is None or task.line_id is None:
        raise AiTaskError(
            f"Task {task.name} needs a script ID and a line before it can be sent to ITNIO."
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
    _require(actor, "create AI tasks on ITNIO")
    current = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _check_can_create(current)
    send_check_in_flight(current, "create_started_at", what=_what(current), error=AiTaskError)
    client = _client(current, actor)
    if send_state(current, "create_started_at") == AiTask.State.UNKNOWN:
        # The earlier create may have worked: look for the name first, never create twice.
        found = _find_by_name(client, current)
        if found is not None:
            return _created(current, found, "Found at ITNIO by name after an unknown outcome.")
    arguments = task_arguments(current)
    try:
        client.task_body(**arguments)  # every documented limit, before anything is marked
    except ItnioLimitError as exc:
        raise AiTaskError(f"Not sent: {exc}") from exc
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
        crash_note=f"The portal failed while sending. {CREATE_UNKNOWN}",
    )
    if answer.not_sent is not None:
        return send_not_sent(intent, answer.not_sent)
    if answer.refused is not None:
        if answer.refused.code == "-33" and intent.was_unknown:
            found = _find_by_name(client, locked)
            if found is not None:
                return _created(locked, found, "Found at ITNIO by name after an unknown outcome.")
        return send_outcome(locked, AiTask.State.FAILED, ai_error_message(answer.refused))
    if answer.unknown is not None:
        return send_outcome(locked, AiTask.State.UNKNOWN, f"{answer.unknown}. {CREATE_UNKNOWN}")
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
        raise AiTaskError(f"Task {task.name} is already on ITNIO (job {task.remote_job_id}).")
    _check_app(task.app)


def _what(task: AiTask) -> str:
    return f"A create request for task {task.name}"


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
        raise AiTaskError(f"Task {task.name} is not on ITNIO yet: press “Create on ITNIO” first.")


def ai_task_update(*, task: AiTask, actor: Actor) -> AiTask:
    """Send the task's settings to ITNIO (taskEdit). An edit is safe to repeat, so an unknown
    outcome only asks to press the button again."""
    _require(actor, "change AI tasks on ITNIO")
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    try:
        client.task_edit(job_id=task.remote_job_id, **task_arguments(task))
    except ItnioLimitError as exc:
        raise AiTaskError(f"Not sent: {exc}") from exc
    except ItnioApiError as exc:
        message = ai_error_message(exc)
        _set(task, task.state, message)
        raise AiTaskError(message) from exc
    except ItnioError as exc:
        message = (
            f"{exc}. The change may or may not have reached ITNIO: press “Update on ITNIO” "
            "again (repeating an edit is harmless)."
        )
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
    _require(actor, "start AI tasks")
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    try:
        client.ai_task_start(app_id=task.app.app_id, job_id=task.remote_job_id)
    except ItnioLimitError as exc:
        raise AiTaskError(f"Not sent: {exc}") from exc
    except ItnioApiError as exc:
        message = ai_error_message(exc)
        _set(task, task.state, message)
        raise AiTaskError(message) from exc
    except ItnioError as exc:
        message = (
            f"{exc}. The task may have started: press “Sync from ITNIO” to see its status "
            "(starting it again is harmless: ITNIO answers -39 if it is running)."
        )
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
    _require(actor, "start AI tasks")
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
        raise AiTaskError(f"Not sent: {exc}") from exc
    except ItnioApiError as exc:
        raise AiTaskError(ai_error_message(exc)) from exc
    except ItnioError as exc:
        raise AiTaskError(f"{exc}. The job may have started; run ai_sync to see.") from exc
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
                    _created(task, info, "Found at ITNIO by name after an unknown outcome.")
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


# ---------------------------------------------------------------------------
# Customers: push (importCustomer), remove (importCustomer/del), not yet called (taskNoCall)
# ---------------------------------------------------------------------------
@dataclass
class PushResult:
    chunks: int = 0
    pushed: int = 0
    rejected: int = 0
    unknown: int = 0
    error: str = ""
    rejected_rows: list[tuple[str, str, str]] = field(default_factory=list)  # name, phone, why

    def __str__(self) -> str:
        text = (
            f"{self.pushed} customer(s) pushed to ITNIO in {self.chunks} request(s), "
            f"{self.rejected} rejected"
        )
        if self.unknown:
            text += f", {self.unknown} with an unknown outcome"
        return text + "."


#: Keys a failed importCustomer row might carry a reason in: the response shape of the failed
#: rows was never documented beyond "the rows that failed" (§5.5).
REASON_KEYS = ("reason", "failReason", "failMsg", "errorMsg", "msg", "message", "remark")
NO_REASON = "ITNIO listed this row among the rows that failed to import (it gave no reason)."


def _row_reason(row: dict[str, Any]) -> str:
    for key in REASON_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return f"ITNIO refused this row: “{value.strip()}”."
    return NO_REASON


def ai_customers_push(*, task: AiTask, actor: Actor) -> PushResult:
    """Push the task's customers that are not on ITNIO yet with importCustomer, ≤100 per request
    (§5.5). Rows ITNIO lists as failed become REJECTED with its reason. A business refusal
    (-51, -32, …) stops the push and leaves the rest local; an unknown outcome marks that chunk
    UNKNOWN and stops (never resent)."""
    _require(actor, "push AI customers to ITNIO")
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    size = client.limits.import_customer_max
    result = PushResult()
    pending = list(
        AiCustomer.objects.filter(task=task, state=AiCustomer.State.LOCAL)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not pending:
        raise AiTaskError(
            f"Task {task.name} has no customers waiting to be pushed: import customers first."
        )
    for start in range(0, len(pending), size):
        ids = pending[start : start + size]
        with transaction.atomic(durable=True):  # the intent, committed before the request
            chunk = list(
                AiCustomer.objects.select_for_update()
                .filter(id__in=ids, state=AiCustomer.State.LOCAL)
                .order_by("id")
            )
            AiCustomer.objects.filter(id__in=[c.id for c in chunk]).update(
                state=AiCustomer.State.SENDING, reason=""
            )
        if not chunk:
            continue
        rows = [
            AiCustomerRow(c.name, c.phone_number, c.gender or None, c.properties or None)
            for c in chunk
        ]
        result.chunks += 1
        try:
            failed = client.import_customer(
                app_id=task.app.app_id,
                job_id=task.remote_job_id,
                customers=rows,
                call_record_dup=task.call_record_dup or None,
            )
        except (ItnioNotSentError, ItnioLimitError, ItnioApiError) as exc:
            # A definite "no": nothing of this chunk was added; it stays local with the reason.
            message = ai_error_message(exc)
            if isinstance(exc, ItnioNotSentError | ItnioLimitError):
                message = f"Not sent: {exc}. Nothing reached ITNIO; push again."
            _mark(chunk, AiCustomer.State.LOCAL, message)
            result.error = message
            return result
        except ItnioError as exc:
            _mark(chunk, AiCustomer.State.UNKNOWN, f"{exc}. {CUSTOMERS_UNKNOWN}")
            result.unknown += len(chunk)
            result.error = f"{exc}. {CUSTOMERS_UNKNOWN}"
            return result
        except BaseException:
            _mark(chunk, AiCustomer.State.UNKNOWN, f"The portal failed. {CUSTOMERS_UNKNOWN}")
            raise
        rejected = _match_failed(chunk, failed)
        now = timezone.now()
        with transaction.atomic(durable=True):
            for customer in chunk:
                if customer.id in rejected:
                    reason = rejected[customer.id]
                    AiCustomer.objects.filter(pk=customer.pk).update(
                        state=AiCustomer.State.REJECTED, reason=reason
                    )
                    result.rejected += 1
                    result.rejected_rows.append((customer.name, customer.phone_number, reason))
                else:
                    AiCustomer.objects.filter(pk=customer.pk).update(
                        state=AiCustomer.State.PUSHED, reason="", pushed_at=now
                    )
                    result.pushed += 1
    if result.pushed:
        # An earlier refusal (e.g. -45 "no customers") no longer describes the task.
        AiTask.objects.filter(pk=task.pk).update(last_error="")
    return result


def _mark(customers: Iterable[AiCustomer], state: str, reason: str) -> None:
    with transaction.atomic(durable=True):
        ids = [c.id for c in customers]
        AiCustomer.objects.filter(id__in=ids).update(state=state, reason=reason)


def _match_failed(chunk: Sequence[AiCustomer], failed: list[dict[str, Any]]) -> dict[int, str]:
    """Customer id → reason for each failed row: by phone number, else by name."""
    by_phone = {c.phone_number: c for c in chunk}
    by_name: dict[str, list[AiCustomer]] = {}
    for c in chunk:
        by_name.setdefault(c.name, []).append(c)
    out: dict[int, str] = {}
    for row in failed:
        phone = str(row.get("phoneNumber") or "")
        customer = by_phone.get(phone)
        if customer is None or customer.id in out:
            candidates = [c for c in by_name.get(str(row.get("name") or ""), []) if c.id not in out]
            customer = candidates[0] if candidates else None
        if customer is not None:
            out[customer.id] = _row_reason(row)
    return out


def ai_task_no_call(*, task: AiTask, actor: Actor, limit: int = 1000) -> tuple[list[AiNoCall], int]:
    """The task's customers ITNIO has not called yet (taskNoCall, §5.7): (rows up to `limit`,
    total). Customers whose push outcome was unknown and that ITNIO lists are marked on ITNIO."""
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    rows, total = _no_call(_client(task, actor), task, limit)
    phones = {r.called_phone_number for r in rows}
    AiCustomer.objects.filter(
        task=task, state=AiCustomer.State.UNKNOWN, phone_number__in=phones
    ).update(
        state=AiCustomer.State.PUSHED,
        reason="Resolved: ITNIO lists this number among the task's customers.",
        pushed_at=timezone.now(),
    )
    return rows, total


def _no_call(client: Any, task: AiTask, limit: int | None) -> tuple[list[AiNoCall], int]:
    out: list[AiNoCall] = []
    page, total = 1, 0
    while True:
        batch = client.task_no_call(
            app_id=task.app.app_id, job_id=task.remote_job_id, current=page, size=100
        )
        total = batch.total
        out.extend(r for r in batch.records if r.job_id in (None, task.remote_job_id))
        if (limit is not None and len(out) >= limit) or page >= batch.pages or not batch.records:
            return (out[:limit] if limit is not None else out), total
        page += 1


@dataclass
class RemoveResult:
    requested: int = 0
    removed: int = 0
    error: str = ""

    def __str__(self) -> str:
        return (
            f"ITNIO removed {self.removed} uncalled customer(s) of the {self.requested} asked for."
        )


def ai_customers_remove_uncalled(*, task: AiTask, actor: Actor) -> RemoveResult:
    """Remove the task's not-yet-called customers from ITNIO (importCustomer/del, §5.6).

    taskNoCall says which numbers are uncalled; they are removed in requests of ≤100 numbers
    (no limit is documented), then taskNoCall is read again and every asked-for number that is
    gone and was never called becomes REMOVED, whatever the answers were (even unknown ones).
    """
    _require(actor, "remove AI customers from ITNIO")
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    uncalled, _ = _no_call(client, task, None)
    listed = {r.called_phone_number for r in uncalled}
    candidates = list(
        AiCustomer.objects.filter(
            task=task,
            state__in=(AiCustomer.State.PUSHED, AiCustomer.State.UNKNOWN),
            phone_number__in=listed,
        ).order_by("id")
    )
    result = RemoveResult(requested=len(candidates))
    if not candidates:
        raise AiTaskError(
            f"ITNIO lists no uncalled customers of task {task.name} that the portal pushed."
        )
    size = client.limits.import_customer_max
    for start in range(0, len(candidates), size):
        chunk = candidates[start : start + size]
        try:
            result.removed += client.import_customer_del(
                app_id=task.app.app_id,
                job_id=task.remote_job_id,
                numbers=[(c.phone_number, c.name) for c in chunk],
            )
        except ItnioApiError as exc:
            result.error = ai_error_message(exc)
            break
        except ItnioError as exc:
            result.error = f"{exc}. The portal checked with taskNoCall what was removed."
            break
    still, _ = _no_call(client, task, None)
    remaining = {r.called_phone_number for r in still}
    gone = [c.id for c in candidates if c.phone_number not in remaining]
    called = set(
        AiCallRecord.objects.filter(customer_id__in=gone).values_list("customer_id", flat=True)
    )
    AiCustomer.objects.filter(id__in=[i for i in gone if i not in called]).update(
        state=AiCustomer.State.REMOVED,
        reason="Removed from ITNIO before it was called.",
        removed_at=timezone.now(),
    )
    AiCustomer.objects.filter(
        id__in=[c.id for c in candidates if c.phone_number in remaining],
        state=AiCustomer.State.UNKNOWN,
    ).update(state=AiCustomer.State.PUSHED, reason="Resolved: ITNIO lists this number.")
    return result


def ai_customer_counts(task: AiTask) -> dict[str, int]:
    rows = AiCustomer.objects.filter(task=task).values("state").annotate(n=Count("id"))
    counts = {state: 0 for state in AiCustomer.State.values}
    for row in rows:
        counts[row["state"]] = row["n"]
    return counts


# ---------------------------------------------------------------------------
# Call records: push (§6.2) and recordQuery (§5.8)
# ---------------------------------------------------------------------------
RECORD_FIELDS = (
    "key_id",
    "call_record_id",
    "dialog_flow_id",
    "tenant_phone_number_id",
    "called_phone_number",
    "customer_name",
    "result_status",
    "intent_level",
    "hangup_by",
    "analysis_basis",
    "start_time",
    "end_time",
    "chat_duration",
    "chat_round",
    "charged_duration",
    "cost",
    "robot_count",
    "call_count",
    "redial_times",
    "customer_concern",
    "attributes",
    "properties",
    "dynamic_properties",
    "call_record_tags",
    "customer_tags",
    "full_audio_url",
    "customer_audio_url",
    "call_detail_list",
)
_CHAR_LIMITS = {
    f.name: f.max_length for f in AiCallRecord._meta.get_fields() if getattr(f, "max_length", None)
}


def ai_record_upsert(*, app: ItnioApp, record: AiRecord, source: str) -> tuple[AiCallRecord, bool]:
    """Upsert the record with this callId. Only the fields the source carried are written, so a
    recordQuery row (no transcript, no cost) never blanks what the push gave, and the other way
    round; duplicates are harmless. (record, created)"""
    if not record.call_id:
        raise ValueError("an AI call record without callId")
    for _attempt in range(2):
        try:
            with transaction.atomic():
                row = (
                    AiCallRecord.objects.select_for_update().filter(call_id=record.call_id).first()
                )
                created = row is None
                if row is None:
                    row = AiCallRecord(call_id=record.call_id, app=app, source=source)
                for name in RECORD_FIELDS:
                    if name not in record.present:
                        continue
                    value = getattr(record, name)
                    limit = _CHAR_LIMITS.get(name)
                    if isinstance(value, str) and limit:
                        value = value[:limit]
                    if value is None and isinstance(getattr(row, name), str):
                        value = ""
                    setattr(row, name, value)
                if "job_id" in record.present and record.job_id is not None:
                    row.remote_job_id = record.job_id
                _link(row, app)
                row.raw = {**(row.raw or {}), source: record.raw}
                row.source = source
                row.synced_at = timezone.now()
                if row.erased_at is not None or number_is_erased(row.called_phone_number):
                    scrub_ai_record(row)  # an erased number: keep the figures, not the person
                    row.erased_at = row.erased_at or row.synced_at
                row.save()
                return row, created
        except IntegrityError:
            continue  # two writers created the same callId at once: the second one updates
    raise RuntimeError(f"Could not upsert the AI call record {record.call_id}")


def _link(row: AiCallRecord, app: ItnioApp) -> None:
    if row.remote_job_id and row.task_id is None:
        row.task = AiTask.objects.filter(app=app, remote_job_id=row.remote_job_id).first()
    if row.task_id and row.customer_id is None and row.called_phone_number:
        row.customer = AiCustomer.objects.filter(
            task_id=row.task_id, phone_number=row.called_phone_number
        ).first()
        if row.customer is not None and not row.customer_name:
            row.customer_name = row.customer.name


def ai_records_sync(
    *,
    actor: Actor,
    since: datetime,
    until: datetime | None = None,
    app: ItnioApp | None = None,
    result: AiSyncResult | None = None,
) -> AiSyncResult:
    """recordQuery for every active AI app (or one) from `since` to `until` (default now), pages
    of 100, upserting by callId. No window limit is documented for /aivoice (§5.8, §8), but the
    period is split in days to keep answers small."""
    result = result or AiSyncResult()
    # Whole seconds: the query format has no fractions (a window must not shrink to nothing).
    since = since.replace(microsecond=0)
    until = until or timezone.now()
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    if since >= until:
        return result
    for one in _ai_apps(app):
        client = _client(one, actor)
        start = since
        while start < until:
            end = min(start + timedelta(days=1), until)
            page = 1
            while True:
                batch = client.record_query(
                    app_id=one.app_id, start=start, end=end, current=page, size=100
                )
                for record in batch.records:
                    if not record.call_id:
                        continue
                    result.records_checked += 1
                    _row, created = ai_record_upsert(
                        app=one, record=record, source=AiCallRecord.Source.RECORD_QUERY
                    )
                    result.records_created += int(created)
                    result.records_updated += int(not created)
                if page >= batch.pages or not batch.records:
                    break
                page += 1
            start = end
    return result


def ai_sync(
    *, actor: Actor, since: datetime | None = None, app: ItnioApp | None = None
) -> AiSyncResult:
    """taskList then recordQuery (default: the last 24 hours) for every AI app; an app whose
    sync fails is reported in `errors` and the others still run."""
    since = since or timezone.now() - timedelta(hours=24)
    result = AiSyncResult()
    for one in _ai_apps(app):
        try:
            ai_tasks_sync(actor=actor, app=one, result=result)
            ai_records_sync(actor=actor, since=since, app=one, result=result)
        except (ItnioError, AiTaskError) as exc:
            message = ai_error_message(exc) if isinstance(exc, ItnioError) else str(exc)
            result.errors.append(f"{one.app_id}: {message}")
    return result


# ---------------------------------------------------------------------------
# Importing customers from a file (the admin preview and the CLI share this)
# ---------------------------------------------------------------------------
def _key(header: object) -> str:
    return "".join(ch for ch in str(header or "").casefold() if ch.isalnum())


#: Header variants (case, spaces, _ and - ignored).
NAME_HEADERS = ("name", "customername", "customer", "fullname")
PHONE_HEADERS = ("phone", "phonenumber", "mobile", "number")
GENDER_HEADERS = ("gender", "sex")
COLUMNS = ("row", "name", "phone_number", "gender", "properties")
_PHONE_PUNCTUATION = str.maketrans("", "", " -.()/")


class CustomerFileError(Exception):
    """The file cannot be read as a customer list; the message says why."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # XLSX numbers (a phone number typed as a number)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        return text
    return data.decode("cp1252", errors="replace")


def _bounded(rows: Iterable[tuple[str, Any]], limits: FileLimits) -> list[list[object]]:
    """The rows, each checked (columns, cell length), refused past AI_CUSTOMER_IMPORT_MAX_ROWS:
    the whole file is held in memory."""
    limits = dataclasses.replace(
        limits, max_rows=min(limits.max_rows, settings.AI_CUSTOMER_IMPORT_MAX_ROWS)
    )
    out: list[list[object]] = []
    for where, row in rows:
        if len(out) > limits.max_rows:  # the header and max_rows rows below it
            raise too_many_rows(limits, "AI_CUSTOMER_IMPORT_MAX_ROWS")
        cells = list(row)
        check_row(cells, where, limits)
        out.append(cells)
    return out


def _raw_rows(data: bytes, file_name: str) -> list[list[object]]:
    if not data.strip():
        raise CustomerFileError("The file is empty.")
    limits = FileLimits.current()
    try:  # the bomb guards of the file reader (tabular_guards.py)
        check_in_memory(len(data), limits)
        if data.startswith(b"PK\x03\x04"):
            try:
                book = load_workbook(io.BytesIO(data), limits)
            except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
                raise CustomerFileError(f"The XLSX file cannot be read ({exc}).") from exc
            try:
                sheet = book.worksheets[0]
                sheet.reset_dimensions()  # a sheet may hold more rows than it declares
                rows = enumerate(sheet.iter_rows(values_only=True), start=1)
                return _bounded(((f"Row {n}", cells) for n, cells in rows), limits)
            finally:
                book.close()
        if Path(file_name).suffix.lower() in (".xls", ".xlsx"):
            raise CustomerFileError("This is not an XLSX file: save it as XLSX or CSV.")
        refuse_binary(data[:4096])
        text = _decode(data)
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(BoundedLines(io.StringIO(text), limits), dialect)
        try:
            return _bounded(((f"Line {reader.line_num}", r) for r in reader), limits)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise long_cell_error(f"Line {reader.line_num}", limits) from exc
            message = f"Line {reader.line_num} cannot be read as CSV: {exc}."
            raise CustomerFileError(message) from exc
    except ImportFileError as exc:
        raise CustomerFileError(str(exc)) from exc


def read_customer_file(data: bytes, file_name: str = "") -> tablib.Dataset:
    """A CSV (comma, semicolon or tab; UTF-8, UTF-16 or Windows-1252) or XLSX (first sheet)
    customer list as a dataset with the columns COLUMNS: name, phone number (headers phone,
    phoneNumber, phone_number, mobile, number), gender, and every other column in properties."""
    rows = _raw_rows(data, file_name)
    while rows and not any(_cell(v) for v in rows[0]):
        rows.pop(0)
    if not rows:
        raise CustomerFileError("The file is empty.")
    headers = [_cell(h) for h in rows[0]]
    keys = [_key(h) for h in headers]

    def find(options: tuple[str, ...]) -> int | None:
        for option in options:
            if option in keys:
                return keys.index(option)
        return None

    phone_at, name_at, gender_at = find(PHONE_HEADERS), find(NAME_HEADERS), find(GENDER_HEADERS)
    found = ", ".join(repr(h) for h in headers if h) or "none"
    if phone_at is None:
        raise CustomerFileError(
            "No phone number column (phone, phoneNumber, phone_number, mobile or number); "
            f"the columns found are {found}."
        )
    if name_at is None:
        raise CustomerFileError(f"No name column (name or customer name); found {found}.")
    extra = [
        (i, h)
        for i, h in enumerate(headers)
        if i not in (phone_at, name_at, gender_at) and h and not h.startswith("Unnamed")
    ]
    dataset = tablib.Dataset(headers=list(COLUMNS))
    for number, raw in enumerate(rows[1:], start=2):
        cells = [_cell(v) for v in raw] + [""] * (len(headers) - len(raw))
        if not any(cells):
            continue
        properties = {h: cells[i] for i, h in extra if i < len(cells)}
        dataset.append(
            (
                number,
                cells[name_at],
                cells[phone_at],
                cells[gender_at] if gender_at is not None else "",
                properties,
            )
        )
    if not dataset:
        raise CustomerFileError("The file has a header row but no customers below it.")
    return dataset


def clean_phone(raw: str) -> str | None:
    """Digits of a phone number (+, spaces, dashes, dots, brackets dropped); an ID without
    whitespace (ITNIO's "encryption scenarios", §5.5) is kept as it is. None when unusable."""
    text = raw.strip()
    if not text:
        return None
    digits = text.translate(_PHONE_PUNCTUATION).removeprefix("+")
    if digits.isascii() and digits.isdigit():
        return digits
    if any(ch.isspace() for ch in text):
        return None
    return text


def clean_gender(raw: str) -> str:
    """MALE or FEMALE (any case); anything else is unknown ("" here, JSON null at ITNIO)."""
    value = raw.strip().upper()
    return value if value in AiCustomer.Gender.values else ""


RE_IMPORTABLE = (AiCustomer.State.LOCAL, AiCustomer.State.REJECTED, AiCustomer.State.REMOVED)


class CustomerRowValidator:
    """Decides each row: (values, "") when valid, (None, reason) when skipped. Shared by the
    admin's import preview and ai_import_customers."""

    def __init__(self, task: AiTask) -> None:
        self.task = task
        self.max_phone = 32  # §5.5
        self.seen: dict[str, int] = {}
        self.existing = dict(
            AiCustomer.objects.filter(task=task).values_list("phone_number", "state")
        )

    def check(self, row: int, name: str, phone: str) -> tuple[str | None, str]:
        name = name.strip()
        number = clean_phone(phone)
        if number is None:
            return None, "no phone number" if not phone.strip() else f"not a phone number: {phone}"
        if len(number) > self.max_phone:
            return None, f"the phone number is longer than {self.max_phone} characters"
        if not name:
            return None, "no name (ITNIO requires a name for every customer)"
        if len(name) > 100:
            return None, "the name is longer than 100 characters"
        if number in self.seen:
            return None, f"duplicate of row {self.seen[number]}"
        self.seen[number] = row
        state = self.existing.get(number)
        if state is not None and state not in RE_IMPORTABLE:
            return None, "already pushed to ITNIO for this task"
        return number, ""


class _PropertiesWidget(widgets.Widget):
    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dict[str, Any]:
        return dict(value) if isinstance(value, dict) else {}

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return ", ".join(f"{k}={v}" for k, v in (value or {}).items())


class AiCustomerResource(resources.ModelResource):
    """django-import-export's row loop over read_customer_file's dataset: new numbers are added,
    numbers not pushed yet are updated, the rest is skipped with a reason."""

    row_number = fields.Field(
        attribute="row_number", column_name="row", widget=widgets.IntegerWidget()
    )
    name = fields.Field(attribute="name", column_name="name")
    phone_number = fields.Field(attribute="phone_number", column_name="phone_number")
    gender = fields.Field(attribute="gender", column_name="gender")
    properties = fields.Field(
        attribute="properties", column_name="properties", widget=_PropertiesWidget()
    )

    class Meta:
        model = AiCustomer
        fields = ("row_number", "name", "phone_number", "gender", "properties")
        import_id_fields = ("phone_number",)
        skip_diff = True
        store_instance = True
        report_skipped = True

    def __init__(self, task: AiTask | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.validator: CustomerRowValidator | None = None
        self.skipped: list[tuple[int, str, str, str]] = []  # row, name, phone, reason
        self._reason = ""

    @classmethod
    def get_display_name(cls) -> str:
        return "AI customers"

    def get_queryset(self) -> Any:
        return AiCustomer.objects.filter(task=self.task)

    def before_import(self, dataset: tablib.Dataset, **kwargs: Any) -> None:
        if self.task is None:
            raise CustomerFileError("Choose the AI task to import into.")
        self.validator = CustomerRowValidator(self.task)

    def before_import_row(self, row: Any, **kwargs: Any) -> None:
        assert self.validator is not None
        number, reason = self.validator.check(
            int(row["row"]), str(row["name"] or ""), str(row["phone_number"] or "")
        )
        self._reason = reason
        if number is not None:
            row["phone_number"] = number
            row["name"] = str(row["name"]).strip()
            row["gender"] = clean_gender(str(row["gender"] or ""))

    def skip_row(self, instance: Any, original: Any, row: Any, import_validation_errors=None):
        if self._reason:
            self.skipped.append(
                (
                    int(row["row"]),
                    str(row["name"] or ""),
                    str(row["phone_number"] or ""),
                    self._reason,
                )
            )
            return True
        return False

    def init_instance(self, row: Any = None) -> AiCustomer:
        return AiCustomer(task=self.task)

    def before_save_instance(self, instance: AiCustomer, row: Any, **kwargs: Any) -> None:
        instance.task = self.task
        instance.state = AiCustomer.State.LOCAL
        instance.reason = ""

    def after_import(self, dataset: tablib.Dataset, result: Any, **kwargs: Any) -> None:
        result.ai_task = self.task
        result.ai_rows = len(dataset)
        result.ai_skipped = self.skipped
        result.ai_valid = [
            (
                r.instance.row_number,
                r.instance.name,
                r.instance.phone_number,
                r.instance.gender,
                r.instance.properties,
                r.import_type,
            )
            for r in result.rows
            if r.import_type in (r.IMPORT_TYPE_NEW, r.IMPORT_TYPE_UPDATE) and r.instance
        ]


@dataclass
class ImportSummary:
    rows: int
    new: int
    updated: int
    skipped: list[tuple[int, str, str, str]]

    def __str__(self) -> str:
        return (
            f"{self.rows} row(s): {self.new} new, {self.updated} updated, "
            f"{len(self.skipped)} skipped."
        )


def ai_customers_import(
    *, task: AiTask, data: bytes, file_name: str, dry_run: bool = False
) -> ImportSummary:
    """Import a customer file into the task (locally: push them with ai_customers_push)."""
    dataset = read_customer_file(data, file_name)
    resource = AiCustomerResource(task=task)
    result = resource.import_data(dataset, dry_run=dry_run, raise_errors=True)
    new = result.totals.get("new", 0)
    updated = result.totals.get("update", 0)
    return ImportSummary(len(dataset), new, updated, list(result.ai_skipped))
