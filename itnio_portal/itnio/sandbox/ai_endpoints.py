"""The /aivoice endpoints (itnio-api.md §5): AI tasks, their customers, their call records and
lines, each handler with its parameter schema."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from .ai import CAN_START, NOT_CALLED, AiJob, AiPerson
from .calls import VENDOR_TZ, vendor_now
from .entities import App
from .handler import BusinessError, Ctx, Reply, is_rejected, ok, require_balance
from .state import SandboxState
from .validation import (
    ARRAY,
    BOOLEAN,
    INT,
    OBJECT,
    STRING,
    Field,
    ParamError,
    Schema,
    digits,
    int_range,
    length,
    one_of,
)

# Codes (seed 000, §5): -37 app unknown or not an AI app, -32 job unknown, -33 name taken,
# -48 daily window outside 09:00-20:00, -52 robots above the account maximum, -45 no customers,
# -39 not startable (e.g. RUNNING), -55 script unbound, -51 script variables missing, -27 any
# other parameter problem.

STARTABLE_JOB_STATUSES = ("CAN_START", "PAUSED")


TASK_START = Schema(  # §5.3, seed 000
    (
        Field("appId", STRING),
        Field("jobId", INT, check=int_range(1, 2**63 - 1)),
    )
)


_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_AI_DATETIME = "%Y-%m-%d %H:%M:%S"
DAILY_FLOOR, DAILY_CEILING = "09:00", "20:00"  # §5.1 (-48)
AI_DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
NO_CALL_STATUSES = ("CAN_NOT_START", "CAN_START", "IN_PROCESS")  # §5.7


def _hhmm(value: str) -> str | None:
    return None if _HHMM.fullmatch(value) else f"must be HH:mm, got {value!r}"


def _ai_datetime(value: str) -> str | None:
    try:
        datetime.strptime(value, _AI_DATETIME)
    except ValueError:
        return f"must be yyyy-MM-dd HH:mm:ss (not ISO-8601), got {value!r}"
    return None


def _ai_epoch(value: str) -> float:
    """A yyyy-MM-dd HH:mm:ss string, read in the vendor's UTC+8 zone."""
    return datetime.strptime(value, _AI_DATETIME).replace(tzinfo=VENDOR_TZ).timestamp()


def _max_three(value: list[Any]) -> str | None:
    return None if len(value) <= 3 else f"must hold at most 3 entries, got {len(value)}"


def _windows(values: dict[str, Any], state: SandboxState) -> str | None:
    """§5.1: inactive windows {startTime,endTime} HH:mm and dates {startDate,endDate}."""
    for row in values.get("inactiveTimeList", []):
        if not isinstance(row, dict):
            return "inactiveTimeList entries must be objects"
        start, end = row.get("startTime"), row.get("endTime")
        if not isinstance(start, str) or not isinstance(end, str) or _hhmm(start) or _hhmm(end):
            return "inactiveTimeList entries need startTime and endTime as HH:mm"
    for row in values.get("inactiveDateList", []):
        if not isinstance(row, dict):
            return "inactiveDateList entries must be objects"
        for key in ("startDate", "endDate"):
            try:
                datetime.strptime(str(row.get(key)), "%Y-%m-%d")
            except ValueError:
                return f"inactiveDateList entries need {key} as yyyy-MM-dd"
    for day in values.get("daysOfWeek", []):
        if day not in AI_DAYS:
            return f"daysOfWeek entries must be one of {', '.join(AI_DAYS)}, got {day!r}"
    if values.get("mode") == "AUTO" and "startDateTime" not in values:
        return "startDateTime is required when mode is AUTO"
    if values.get("redial") and not values.get("redialCondition"):
        return "redialCondition is required when redial is true"
    if values["dailyStartDateTime"] >= values["dailyEndDateTime"]:
        return "dailyStartDateTime must be before dailyEndDateTime"
    return None


_TASK_FIELDS = (
    Field("appId", STRING),
    Field("name", STRING, check=length(1, 64)),
    Field("dialogFlowId", INT, check=int_range(1, 2**63 - 1)),
    Field("mode", STRING, check=one_of(("MANUAL", "AUTO"))),
    Field("startDateTime", STRING, required=False, check=_ai_datetime),
    Field("dailyStartDateTime", STRING, check=_hhmm),
    Field("dailyEndDateTime", STRING, check=_hhmm),
    Field("robotCount", INT, check=int_range(1, 2**31 - 1)),
    Field("jobPhoneNumberId", INT, check=int_range(1, 2**63 - 1)),
    Field("endDateTime", STRING, required=False, check=_ai_datetime),
    Field("inactiveTimeList", ARRAY, required=False, check=_max_three),
    Field("inactiveDateList", ARRAY, required=False, check=_max_three),
    Field("daysOfWeek", ARRAY, required=False, check=length(0, 7)),
    Field("redial", BOOLEAN),
    Field("redialCondition", ARRAY, required=False),
)

TASK_ADD = Schema(_TASK_FIELDS, checks=(_windows,))  # §5.1
TASK_EDIT = Schema(  # §5.2: taskAdd's fields plus jobId
    (Field("jobId", INT, check=int_range(1, 2**63 - 1)), *_TASK_FIELDS), checks=(_windows,)
)

_PAGING = (
    Field("current", INT, required=False, check=int_range(1, 2**31 - 1)),
    Field("size", INT, required=False, check=int_range(1, 100)),
)

TASK_LIST = Schema(  # §5.4
    (
        *_PAGING,
        Field(
            "params",
            OBJECT,
            schema=Schema((Field("appId", STRING), Field("name", STRING, required=False))),
        ),
    )
)

IMPORT_CUSTOMER = Schema(  # §5.5 (rows are checked one by one by the handler)
    (
        Field("appId", STRING),
        Field("jobId", INT, check=int_range(1, 2**63 - 1)),
        Field("callRecordDup", BOOLEAN, required=False),
        Field("customerPersons", ARRAY),
    )
)

IMPORT_CUSTOMER_DEL = Schema(  # §5.6: jobId is a String here
    (
        Field("appId", STRING),
        Field("jobId", STRING, check=digits(1, 19)),
        Field("name", STRING, required=False),
        Field("jobPhoneNumberList", ARRAY),
    )
)

TASK_NO_CALL = Schema(  # §5.7
    (
        *_PAGING,
        Field(
            "params",
            OBJECT,
            schema=Schema(
                (
                    Field("appId", STRING),
                    Field("taskStatus", STRING, required=False, check=one_of(NO_CALL_STATUSES)),
                    Field("jobId", INT, required=False, check=int_range(1, 2**63 - 1)),
                )
            ),
        ),
    )
)

RECORD_QUERY = Schema(  # §5.8: times as yyyy-MM-dd HH:mm:ss, all three params required
    (
        *_PAGING,
        Field(
            "params",
            OBJECT,
            schema=Schema(
                (
                    Field("appId", STRING),
                    Field("startTime", STRING, check=_ai_datetime),
                    Field("endTime", STRING, check=_ai_datetime),
                )
            ),
        ),
    )
)

CHANNEL_LIST = Schema((Field("appId", STRING),))  # §5.9


def _ai_app(ctx: Ctx, app_id: str) -> App:
    app = ctx.account.apps.get(app_id)
    if app is None or app.kind != "ai":
        raise BusinessError("-37", f"application does not exist: {app_id!r}")
    return app


def _ai_job(ctx: Ctx, app: App, job_id: int) -> AiJob:
    job = ctx.state.ai_jobs.get((app.app_id, job_id))
    if job is None:
        raise BusinessError("-32", f"outbound task does not exist: {job_id}")
    return job


def _page(values: dict[str, Any], rows: list[Any]) -> dict[str, Any]:
    current, size = values.get("current", 1), values.get("size", 25)
    return {
        "total": len(rows),
        "size": size,
        "current": current,
        "pages": math.ceil(len(rows) / size),
        "searchCount": True,
        "records": rows[(current - 1) * size : current * size],
    }


def _apply_task(ctx: Ctx, app: App, job: AiJob, v: dict[str, Any]) -> None:
    """The business rules shared by taskAdd and taskEdit, then the values onto the job."""
    state = ctx.state
    clash = next(
        (
            j
            for j in state.ai_jobs.values()
            if j.app_id == app.app_id and j.name == v["name"] and j is not job
        ),
        None,
    )
    if clash is not None:
        raise BusinessError("-33", f"outbound task name already exists: {v['name']!r}")
    if v["dialogFlowId"] in state.unbound_dialog_flows:
        raise BusinessError("-55", "the script is unbound, this operation is not allowed")
    if v["dailyStartDateTime"] < DAILY_FLOOR or v["dailyEndDateTime"] > DAILY_CEILING:
        raise BusinessError(
            "-48", "the daily dialling period of a task must be between 9:00 and 20:00"
        )
    if v["robotCount"] > state.ai_max_robots:
        raise BusinessError(
            "-52",
            f"concurrency {v['robotCount']} exceeds the account maximum {state.ai_max_robots}",
        )
    lines = {line_id for line_id, _ in state.channels_for(app.app_id)}
    if str(v["jobPhoneNumberId"]) not in lines:
        raise ParamError(
            f"jobPhoneNumberId {v['jobPhoneNumberId']} is not a line of app {app.app_id} "
            "(see channelList)"
        )
    job.name = v["name"]
    job.dialog_flow_id = v["dialogFlowId"]
    job.mode = v["mode"]
    job.start_at = _ai_epoch(v["startDateTime"]) if "startDateTime" in v else None
    job.end_at = _ai_epoch(v["endDateTime"]) if "endDateTime" in v else None
    job.daily_start, job.daily_end = v["dailyStartDateTime"], v["dailyEndDateTime"]
    job.robot_count = v["robotCount"]
    job.line_id = str(v["jobPhoneNumberId"])
    job.settings = {k: v[k] for k in v if k not in ("appId", "jobId")}


def task_add(ctx: Ctx) -> Reply:
    """POST /aivoice/taskAdd (§5.1): data = the new jobId (a number; the vendor's shape was
    never captured)."""
    v, state = ctx.values, ctx.state
    app = _ai_app(ctx, v["appId"])
    job = AiJob(app.app_id, 0, CAN_START, created_at=state.now())
    _apply_task(ctx, app, job, v)
    job.job_id = state.new_job_id()
    state.ai_jobs[(app.app_id, job.job_id)] = job
    return ok(job.job_id)


def task_edit(ctx: Ctx) -> Reply:
    """POST /aivoice/taskEdit (§5.2): the same rules as taskAdd on an existing job."""
    v = ctx.values
    app = _ai_app(ctx, v["appId"])
    job = _ai_job(ctx, app, v["jobId"])
    _apply_task(ctx, app, job, v)
    job.robot_free_at = []
    return ok(None)


def task_list(ctx: Ctx) -> Reply:
    """POST /aivoice/taskList (§5.4): the app's jobs, newest first; params.name is a
    substring filter."""
    v, state = ctx.values, ctx.state
    app = _ai_app(ctx, v["params"]["appId"])
    name = v["params"].get("name")
    lines = dict(state.channels_for(app.app_id))
    jobs = sorted(
        (
            j
            for j in state.ai_jobs.values()
            if j.app_id == app.app_id and (name is None or name in j.name)
        ),
        key=lambda j: (-j.created_at, -j.job_id),
    )
    rows = [
        {
            "jobId": j.job_id,
            "name": j.name,
            "dialogFlowName": f"Script {j.dialog_flow_id}",
            "jobPhoneNumberName": lines.get(j.line_id, j.line_id),
            "robotCount": j.robot_count,
            "mode": j.mode,
            "hangupSms": False,
            "taskTotal": j.customers,
            "taskCompleted": j.completed,
            "status": j.status,
            "isDialogFlowUnbind": j.dialog_flow_id in state.unbound_dialog_flows,
            "createTime": vendor_now(j.created_at).strftime(_AI_DATETIME),
        }
        for j in jobs
    ]
    return ok(_page(v, rows))


def task_start(ctx: Ctx) -> Reply:
    """POST /aivoice/taskStart (§5.3, seed 000): -37 app, -32 job, -45 no customers, -55 script
    unbound, -39 state (a RUNNING or COMPLETED job), -3 balance."""
    v, state = ctx.values, ctx.state
    app = _ai_app(ctx, v["appId"])
    job = _ai_job(ctx, app, v["jobId"])
    if job.customers <= 0:
        raise BusinessError("-45", "no customers imported, the task cannot start")
    if job.dialog_flow_id in state.unbound_dialog_flows:
        raise BusinessError("-55", "the script is unbound, this operation is not allowed")
    if job.status not in STARTABLE_JOB_STATUSES:
        raise BusinessError("-39", f"the task cannot be started in its current state {job.status}")
    require_balance(ctx)
    job.status = "RUNNING"
    state.advance()  # dial at once (and finish at once when life_scale is 0)
    return ok(None)


def import_customer(ctx: Ctx) -> Reply:
    """POST /aivoice/importCustomer (§5.5): ≤100 rows (-27 above); data = the rows that failed.

    A row fails (and comes back in data as sent) without a phoneNumber, with one longer than
    32 characters, with the sandbox's rejected-number suffix 0000, or, with callRecordDup, when
    the number was already called in this job. A gender other than MALE/FEMALE/null, or an
    empty string anywhere, is a -27 for the whole request (§5.5: null, never ""). Missing
    script variables (state.script_variables) are a -51.
    """
    v, state = ctx.values, ctx.state
    app = _ai_app(ctx, v["appId"])
    job = _ai_job(ctx, app, v["jobId"])
    rows = v["customerPersons"]
    if not 1 <= len(rows) <= state.import_customer_max:
        raise ParamError(
            f"customerPersons must hold 1-{state.import_customer_max} customers, got {len(rows)}"
        )
    needed = state.script_variables.get(job.dialog_flow_id, ())
    for index, row in enumerate(rows):
        where = f"customerPersons[{index}]"
        if not isinstance(row, dict):
            raise ParamError(f"{where} must be an object")
        if not isinstance(row.get("name"), str) or not row["name"]:
            raise ParamError(f"{where}.name is required")
        gender = row.get("gender")
        if gender is not None and gender not in ("MALE", "FEMALE"):
            raise ParamError(f"{where}.gender must be MALE, FEMALE or null, got {gender!r}")
        props = row.get("properties")
        if props is not None and not isinstance(props, dict):
            raise ParamError(f"{where}.properties must be a map")
        missing = [name for name in needed if not (props or {}).get(name)]
        if missing:
            raise BusinessError(
                "-51", f"the customer's custom attributes are incomplete: {', '.join(missing)}"
            )
    called = {p.phone_number for p in job.persons if p.status != NOT_CALLED}
    failed: list[dict[str, Any]] = []
    for row in rows:
        phone = row.get("phoneNumber")
        if (
            not isinstance(phone, str)
            or not phone
            or len(phone) > 32
            or is_rejected(phone)
            or (v.get("callRecordDup") and phone in called)
        ):
            failed.append(row)
            continue
        job.persons.append(
            AiPerson(
                state.new_person_id(),
                row["name"],
                phone,
                row.get("gender"),
                dict(row.get("properties") or {}),
            )
        )
    state.advance()  # a RUNNING job dials the new customers at once
    return ok(failed)


def import_customer_del(ctx: Ctx) -> Reply:
    """POST /aivoice/importCustomer/del (§5.6): remove uncalled numbers; data = the count."""
    v = ctx.values
    app = _ai_app(ctx, v["appId"])
    job = _ai_job(ctx, app, int(v["jobId"]))
    wanted: list[tuple[str, str | None]] = []
    for index, row in enumerate(v["jobPhoneNumberList"]):
        if not isinstance(row, dict) or not isinstance(row.get("phoneNumber"), str):
            raise ParamError(f"jobPhoneNumberList[{index}].phoneNumber is required")
        wanted.append((row["phoneNumber"], row.get("name")))
    removed = 0
    for phone, name in wanted:
        for person in list(job.persons):
            if (
                person.status == NOT_CALLED
                and person.phone_number == phone
                and name in (None, person.name)
            ):
                job.persons.remove(person)
                removed += 1
    return ok(removed)


def task_no_call(ctx: Ctx) -> Reply:
    """POST /aivoice/taskNoCall (§5.7): uncalled customers of the app's jobs, paged; status is
    the job's state as taskStatus names it (a sandbox reading of an undocumented field)."""
    v, state = ctx.values, ctx.state
    params = v["params"]
    app = _ai_app(ctx, params["appId"])
    job_id, status = params.get("jobId"), params.get("taskStatus")
    rows = [
        {
            "jobId": job.job_id,
            "customerPersonId": person.person_id,
            "customerPersonName": person.name,
            "calledPhoneNumber": person.phone_number,
            "status": job.no_call_status,
            "properties": dict(person.properties),
        }
        for job in sorted(state.ai_jobs.values(), key=lambda j: j.job_id)
        if job.app_id == app.app_id
        and job_id in (None, job.job_id)
        and status in (None, job.no_call_status)
        for person in job.persons
        if person.status == NOT_CALLED
    ]
    return ok(_page(v, rows))


def record_query(ctx: Ctx) -> Reply:
    """POST /aivoice/recordQuery (§5.8): final AI calls dialled in [startTime, endTime]."""
    v, state = ctx.values, ctx.state
    params = v["params"]
    app = _ai_app(ctx, params["appId"])
    start, end = _ai_epoch(params["startTime"]), _ai_epoch(params["endTime"])
    if end <= start:
        raise ParamError("params.endTime must be after params.startTime")
    calls = sorted(
        (
            c
            for c in state.ai_calls.values()
            if c.app_id == app.app_id and c.final and start <= int(c.dial_at) <= end
        ),
        key=lambda c: (c.dial_at, c.key_id),
    )
    return ok(_page(v, [c.record(state.public_url) for c in calls]))


def channel_list(ctx: Ctx) -> Reply:
    """POST /aivoice/channelList (§5.9): the app's lines; tenantPhoneNumberId is a String."""
    app = _ai_app(ctx, ctx.values["appId"])
    return ok(
        [
            {"tenantPhoneNumberId": line_id, "phoneNumber": name}
            for line_id, name in ctx.state.channels_for(app.app_id)
        ]
    )
