"""The route table and one handler per ITNIO endpoint, with each endpoint's parameter schema."""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .ai import CAN_START, NOT_CALLED, AiJob, AiPerson
from .auth import Family, family_for
from .calls import TYPE_CODE, TYPE_GROUP, TYPE_SIP, VENDOR_TZ, Call, vendor_now
from .state import Account, App, RequestRecord, SandboxState, SipGroup, UploadedFile
from .validation import (
    ARRAY,
    BOOLEAN,
    DOUBLE,
    INT,
    OBJECT,
    STRING,
    Field,
    ParamError,
    Schema,
    digits,
    int_range,
    length,
    number_range,
    one_of,
)

# itnio-api.md §3.3 (old list; the newer "language table" was never captured)
LANGUAGES = ("VN", "EN", "JP", "ARB", "DE", "IN", "IT", "KR", "RU", "ES", "PT", "IDN", "BD", "TH")
SHORT_TEXT_LANGUAGES = ("IDN", "VN", "TH")  # §3.3: max 299 chars for these, 800 for the others
AUDIO_EXTENSIONS = (".mp3", ".m4a", ".wav")  # §3.1
RECORD_DAYS = 60  # §3.5/§3.6: only the last two months
QUERY_WINDOW_DAYS = 31  # §3.6
STARTABLE_JOB_STATUSES = ("CAN_START", "PAUSED")
# Sandbox rule (documented): a callee whose last four digits are 0000 is rejected.
REJECTED_SUFFIX = "0000"


class BusinessError(Exception):
    """A non-zero business status answered inside the usual envelope (data null)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


@dataclass
class Reply:
    """A business answer; ``top_level`` replaces ``data`` (getBalance puts fields at the top)."""

    status: str
    reason: str
    data: Any = None
    top_level: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        if self.top_level is not None:
            return {"status": self.status, "reason": self.reason, **self.top_level}
        return {"status": self.status, "reason": self.reason, "data": self.data}


def ok(data: Any = None) -> Reply:
    return Reply("0", "success", data)


@dataclass
class Ctx:
    """Everything a handler needs; handlers run with ``state.lock`` held."""

    state: SandboxState
    account: Account
    family: Family
    values: dict[str, Any]
    path_params: dict[str, str]
    record: RequestRecord
    accepted: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    schema: Schema | None = None
    send: bool = False  # spends money: hold/answered hooks and drop_after_accept_rate apply

    @property
    def family(self) -> Family:
        return family_for(self.template)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template)))


# ---- shared checks -------------------------------------------------------------------------------


def _voice_app(ctx: Ctx, app_id: str) -> App:
    app = ctx.account.apps.get(app_id)
    if app is None or app.kind != "voice":
        raise ParamError(f"appId {app_id!r} is not a voice application of this account")
    return app


def _require_balance(ctx: Ctx) -> None:
    if ctx.account.balance <= 0:
        raise BusinessError(ctx.family.balance_error, "The customer's balance is insufficient")


def _rejected(callee: str) -> bool:
    return callee.endswith(REJECTED_SUFFIX)


def _file_name(value: str) -> str | None:
    if not 5 <= len(value) <= 32:
        return f"must be 5-32 characters including the extension, got {len(value)}"
    if not value.lower().endswith(AUDIO_EXTENSIONS):
        return f"must end with {', '.join(AUDIO_EXTENSIONS)}, got {value!r}"
    return None


def _parse_callees(value: str) -> list[str]:
    return value.split(",")


def _callee_list(values: dict[str, Any], state: SandboxState) -> str | None:
    """§3.2: one comma-separated String, each 7-15 digits, at most send_group_max, no repeats."""
    numbers = _parse_callees(values["callee"])
    check = digits(7, 15)
    seen: set[str] = set()
    for number in numbers:
        problem = check(number)
        if problem:
            return f"callee entries {problem} (comma-separated, no spaces)"
        if number in seen:
            return f"callee contains {number} twice"
        seen.add(number)
    if len(numbers) > state.send_group_max:
        return f"callee has {len(numbers)} numbers, at most {state.send_group_max} per request"
    return None


def _text_for_language(values: dict[str, Any], state: SandboxState) -> str | None:
    limit = 299 if values["language"] in SHORT_TEXT_LANGUAGES else 800
    if len(values["text"]) > limit:
        return f"text must be at most {limit} characters for {values['language']}"
    return None


def _recall_interval(values: dict[str, Any], state: SandboxState) -> str | None:
    # §3.3: 1-999 minutes; seed 001 sends 0 together with recallCount 0 (no re-call at all)
    if values.get("recallInterval") == 0 and values.get("recallCount", 0) > 0:
        return "recallInterval must be 1-999 when recallCount > 0"
    return None


def _iso_with_offset(value: str) -> str | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        return f"must be ISO-8601 with an offset like 2022-01-01T00:00:00+08:00, got {value!r}"
    return None


def _query_window(values: dict[str, Any], state: SandboxState) -> str | None:
    start = datetime.fromisoformat(values["params"]["strTime"])
    end = datetime.fromisoformat(values["params"]["endTime"])
    if end <= start:
        return "params.endTime must be after params.strTime"
    if end - start > timedelta(days=QUERY_WINDOW_DAYS):
        return f"params.strTime and params.endTime must be at most {QUERY_WINDOW_DAYS} days apart"
    if start.timestamp() < state.now() - RECORD_DAYS * 86400:
        return f"params.strTime must be within the last {RECORD_DAYS} days"
    return None


# ---- schemas (types from the vendor tables; an Int may come as a number or a string of digits) --
# may_be_empty: the docs let the field be empty (seed 002's "允许为空", "0-1000 characters",
# "7-15 digits or null"); the PHP samples then send "" and ITNIO reads it as absent.

_CALLED_INFO = Field("calledInfo", STRING, required=False, check=length(0, 1000), may_be_empty=True)
_DISPLAY_NUM = Field("displayNum", STRING, required=False, check=digits(7, 15), may_be_empty=True)

FILE_UPLOAD = Schema(  # §3.1
    (
        Field("fileName", STRING, check=_file_name),
        Field("file", STRING),
    )
)

SEND_CODE = Schema(  # §3.3, seed 001
    (
        Field("callee", STRING, check=digits(7, 15)),
        _DISPLAY_NUM,
        Field("language", STRING, check=one_of(LANGUAGES)),
        Field("text", STRING, check=length(1, 800)),
        Field("appId", STRING),
        Field("loopCount", INT, required=False, check=int_range(1, 9)),
        _CALLED_INFO,
        Field("recallCount", INT, required=False, check=int_range(0, 9)),
        Field("recallInterval", INT, required=False, check=int_range(0, 999)),
        Field("maxDuration", INT, required=False, check=int_range(1, 120)),
        Field("maxRingingTime", INT, required=False, check=int_range(20, 120)),
        Field("speakingRate", DOUBLE, required=False, check=number_range(0.25, 4)),
        Field("ssmlGender", INT, required=False, check=one_of((1, 2))),
        Field("accent", STRING, required=False, check=length(1, 32)),
    ),
    checks=(_text_for_language, _recall_interval),
)

SEND_GROUP = Schema(  # §3.2, seed 002
    (
        Field("callee", STRING),
        _DISPLAY_NUM,
        Field("fileId", STRING),
        Field("appId", STRING),
        # seed 002: maxDuration and loopCount "允许为空" (may be empty), maxRingingTime not
        Field("maxDuration", INT, required=False, check=int_range(1, 120), may_be_empty=True),
        Field("maxRingingTime", INT, required=False, check=int_range(20, 120)),
        Field("loopCount", INT, required=False, check=int_range(1, 9), may_be_empty=True),
        _CALLED_INFO,
    ),
    checks=(_callee_list,),
)

_QUERY_WINDOW = (
    Field("strTime", STRING, check=_iso_with_offset),
    Field("endTime", STRING, check=_iso_with_offset),
)

RECORD_GROUP_QUERY = Schema(  # §3.6
    (
        Field("current", INT, required=False, check=int_range(1, 2**31 - 1)),
        Field("size", INT, required=False, check=int_range(1, 100)),
        Field(
            "params",
            OBJECT,
            schema=Schema(_QUERY_WINDOW),
        ),
    ),
    checks=(_query_window,),
)

RECORD_SIP_QUERY = Schema(  # §3.8: recordGroupQuery's paging and window, two exact filters
    (
        Field("current", INT, required=False, check=int_range(1, 2**31 - 1)),
        Field("size", INT, required=False, check=int_range(1, 100)),
        Field(
            "params",
            OBJECT,
            schema=Schema(
                (
                    *_QUERY_WINDOW,
                    Field("sipGroupName", STRING, required=False),
                    Field("phoneName", STRING, required=False),
                )
            ),
        ),
    ),
    checks=(_query_window,),
)

SEND_SIP = Schema(  # §3.4
    (
        Field("callee", STRING, check=digits(7, 15)),
        _DISPLAY_NUM,
        # A phone account sipAdd created, e.g. test_001: phoneName (3-32) + "_" + 3 digits.
        Field("account", STRING, check=length(1, 64)),
        Field("appId", STRING),
    )
)

SIP_ADD = Schema(  # §3.9, seed 004
    (
        Field("groupName", STRING, check=length(4, 32)),
        # The table says 4-32, but seed 004's own sample body sends "sip" (3): accept 3-32.
        Field("phoneName", STRING, check=length(3, 32)),
        Field("quantity", INT, check=int_range(1, 50)),
        Field("displayNum", STRING, check=digits(7, 13)),
        Field("appId", STRING),
    )
)

TASK_START = Schema(  # §5.3, seed 000
    (
        Field("appId", STRING),
        Field("jobId", INT, check=int_range(1, 2**63 - 1)),
    )
)


# ---- handlers -----------------------------------------------------------------------------------


def file_upload(ctx: Ctx) -> Reply:
    """POST /voice/fileUpload (§3.1): data = file ID ("1" + yyyyMMdd + 32 hex + extension)."""
    name, encoded = ctx.values["fileName"], ctx.values["file"]
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise BusinessError("-21", "data validation error: file is not valid Base64") from None
    if not raw:
        raise BusinessError("-21", "data validation error: file decodes to no bytes")
    state, key = ctx.state, ctx.account.api_key
    if any(f.api_key == key and f.file_name == name for f in state.files.values()):
        raise BusinessError("-20", f"data already exists: fileName {name!r} was uploaded before")
    file_id = state.new_file_id(key, name)
    state.files[file_id] = UploadedFile(file_id, key, name, len(raw), state.now())
    return ok(file_id)


def send_code(ctx: Ctx) -> Reply:
    """POST /voice/sendCode (§3.3, seed 001): data = voiceId."""
    v = ctx.values
    app = _voice_app(ctx, v["appId"])
    _require_balance(ctx)
    if _rejected(v["callee"]):
        raise ParamError(f"invalid number: callee {v['callee']}")
    call = ctx.state.create_call(
        app=app,
        call_type=TYPE_CODE,
        callee=v["callee"],
        display_num=v.get("displayNum", ""),
        voice_file_id="",
        called_info=v.get("calledInfo", ""),
        max_duration=v.get("maxDuration"),
        max_ringing_time=v.get("maxRingingTime"),
        request_seq=ctx.record.seq,
    )
    ctx.accepted.append((call.voice_id, call.callee))
    return ok(call.voice_id)


def send_group(ctx: Ctx) -> Reply:
    """POST /voice/sendGroup (§3.2, seed 002): data = one submission result per callee."""
    v, state = ctx.values, ctx.state
    app = _voice_app(ctx, v["appId"])
    uploaded = state.files.get(v["fileId"])
    if uploaded is None or uploaded.api_key != ctx.account.api_key:
        raise ParamError(f"fileId {v['fileId']!r} was not uploaded by this account")
    _require_balance(ctx)
    results: list[dict[str, str]] = []
    for callee in _parse_callees(v["callee"]):
        if _rejected(callee):
            results.append(
                {
                    "voiceId": "",
                    "callee": callee,
                    "terminationCode": "-22",
                    "terminationReason": "invalid number",
                }
            )
            continue
        call = state.create_call(
            app=app,
            call_type=TYPE_GROUP,
            callee=callee,
            display_num=v.get("displayNum", ""),
            voice_file_id=v["fileId"],
            called_info=v.get("calledInfo", ""),
            max_duration=v.get("maxDuration"),
            max_ringing_time=v.get("maxRingingTime"),
            request_seq=ctx.record.seq,
        )
        ctx.accepted.append((call.voice_id, callee))
        # "0" here means the submission was accepted, not the call outcome (§3.2)
        results.append(
            {
                "voiceId": call.voice_id,
                "callee": callee,
                "terminationCode": "0",
                "terminationReason": "success",
            }
        )
    return ok(results)


def _one_record(ctx: Ctx, *, sip: bool) -> Reply:
    """One record by voiceId, last 60 days only. Sandbox assumption: SIP-phone calls live only
    in recordSip and voice messages only in recordGroup (separate record families, §3.5/§3.7);
    asking the other endpoint answers "does not exist"."""
    voice_id = ctx.path_params["voiceId"]
    call = ctx.state.calls.get(voice_id)
    now = ctx.state.now()
    if call is None or call.api_key != ctx.account.api_key or call.is_sip != sip:
        raise ParamError(f"voiceId {voice_id} does not exist")
    if call.submit_at < now - RECORD_DAYS * 86400:
        raise ParamError(f"voiceId {voice_id} is older than {RECORD_DAYS} days")
    return ok(call.record(now))


def record_group(ctx: Ctx) -> Reply:
    """GET /voice/recordGroup/{voiceId} (§3.5, seed 003): one record, last 60 days only."""
    return _one_record(ctx, sip=False)


def record_sip(ctx: Ctx) -> Reply:
    """GET /voice/recordSip/{voiceId} (§3.7): one SIP-phone record, last 60 days only."""
    return _one_record(ctx, sip=True)


def _record_page(ctx: Ctx, keep: Callable[[Call], bool]) -> Reply:
    """Records submitted in [strTime, endTime] that ``keep`` accepts, paged (§3.6, §3.8)."""
    v, state = ctx.values, ctx.state
    current, size = v.get("current", 1), v.get("size", 25)  # §3.6 new defaults
    start = datetime.fromisoformat(v["params"]["strTime"]).timestamp()
    end = datetime.fromisoformat(v["params"]["endTime"]).timestamp()
    matching = sorted(
        (
            c
            for c in state.calls.values()
            if c.api_key == ctx.account.api_key and start <= c.submit_at <= end and keep(c)
        ),
        key=lambda c: (c.submit_at, c.voice_id),
    )
    now = state.now()
    page = matching[(current - 1) * size : current * size]
    return ok(
        {
            "total": len(matching),
            "size": size,
            "current": current,
            "pages": math.ceil(len(matching) / size),
            "searchCount": True,
            "records": [c.record(now) for c in page],
        }
    )


def record_group_query(ctx: Ctx) -> Reply:
    """POST /voice/recordGroupQuery (§3.6): voice-message records in the window, paged."""
    return _record_page(ctx, lambda call: not call.is_sip)


def record_sip_query(ctx: Ctx) -> Reply:
    """POST /voice/recordSipQuery (§3.8): SIP-phone records in the window, paged; the optional
    params.sipGroupName and params.phoneName filter by exact match."""
    params = ctx.values["params"]
    group, phone = params.get("sipGroupName"), params.get("phoneName")

    def keep(call: Call) -> bool:
        return (
            call.is_sip
            and (group is None or call.sip_group_name == group)
            and (phone is None or call.phone_name == phone)
        )

    return _record_page(ctx, keep)


def send_sip(ctx: Ctx) -> Reply:
    """POST /voice/sendSip (§3.4): a call from a phone account sipAdd created; data = voiceId.

    The account must be one of the app's phones (``{phoneName}_{NNN}``), otherwise -22. The
    record's phoneName is the group's phoneName (the name sipAdd was given), an assumption:
    §3.7 does not say whether it is that or the account.
    """
    v, state = ctx.values, ctx.state
    app = _voice_app(ctx, v["appId"])
    group = state.sip_group_of(app.app_id, v["account"])
    if group is None:
        raise ParamError(f"account {v['account']!r} is not a phone of app {app.app_id}")
    _require_balance(ctx)
    if _rejected(v["callee"]):
        raise ParamError(f"invalid number: callee {v['callee']}")
    call = state.create_call(
        app=app,
        call_type=TYPE_SIP,
        callee=v["callee"],
        display_num=v.get("displayNum", group.display_num),
        voice_file_id="",
        called_info="",
        max_duration=None,
        max_ringing_time=None,
        request_seq=ctx.record.seq,
        sip_group=group,
        account=v["account"],
    )
    ctx.accepted.append((call.voice_id, call.callee))
    return ok(call.voice_id)


def sip_add(ctx: Ctx) -> Reply:
    """POST /voice/sipAdd (§3.9, seed 004): names unique per app (-20), phone quota (-23)."""
    v, state = ctx.values, ctx.state
    app = _voice_app(ctx, v["appId"])
    groups = [g for g in state.sip_groups if g.app_id == app.app_id]
    if any(g.group_name == v["groupName"] for g in groups):
        raise BusinessError("-20", f"data already exists: groupName {v['groupName']!r}")
    if any(g.phone_name == v["phoneName"] for g in groups):
        raise BusinessError("-20", f"data already exists: phoneName {v['phoneName']!r}")
    used = sum(g.quantity for g in groups)
    if used + v["quantity"] > state.phone_quota:
        raise BusinessError(
            "-23",
            f"data limit reached: app {app.app_id} has {used} of {state.phone_quota} phones",
        )
    phones = [f"{v['phoneName']}_{i:03d}" for i in range(1, v["quantity"] + 1)]
    state.sip_groups.append(
        SipGroup(
            app.app_id,
            v["groupName"],
            v["phoneName"],
            v["quantity"],
            v["displayNum"],
            phones,
            state.now(),
        )
    )
    return ok(None)


def get_balance(ctx: Ctx) -> Reply:
    """GET /sms/getBalance (§2): balance, gift, credit as strings at the top level."""
    account = ctx.account
    return Reply(
        "0",
        "success",
        top_level={
            # Decimal keeps its scale ("100.00"); "f" never writes an exponent
            "balance": format(account.balance, "f"),
            "gift": format(account.gift, "f"),
            "credit": format(account.credit, "f"),
        },
    )


# ---- /aivoice (itnio-api.md §5) ----------------------------------------------------------------
# Codes (seed 000, §5): -37 app unknown or not an AI app, -32 job unknown, -33 name taken,
# -48 daily window outside 09:00-20:00, -52 robots above the account maximum, -45 no customers,
# -39 not startable (e.g. RUNNING), -55 script unbound, -51 script variables missing, -27 any
# other parameter problem.

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
    _require_balance(ctx)
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
            or _rejected(phone)
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


# ---- the route table ----------------------------------------------------------------------------
# To add an endpoint: write a Schema (types as the vendor table says) and a handler(ctx) -> Reply
# that raises ParamError / BusinessError for refusals, then add one Route here. The family
# (voice or aivoice codes) follows from the path; send=True marks a money-spending POST.

ROUTES: tuple[Route, ...] = (
    Route("POST", "/voice/fileUpload", file_upload, FILE_UPLOAD, send=True),
    Route("POST", "/voice/sendCode", send_code, SEND_CODE, send=True),
    Route("POST", "/voice/sendGroup", send_group, SEND_GROUP, send=True),
    Route("GET", "/voice/recordGroup/{voiceId}", record_group),
    Route("POST", "/voice/recordGroupQuery", record_group_query, RECORD_GROUP_QUERY),
    Route("POST", "/voice/sipAdd", sip_add, SIP_ADD, send=True),
    Route("POST", "/voice/sendSip", send_sip, SEND_SIP, send=True),
    Route("GET", "/voice/recordSip/{voiceId}", record_sip),
    Route("POST", "/voice/recordSipQuery", record_sip_query, RECORD_SIP_QUERY),
    Route("GET", "/sms/getBalance", get_balance),
    Route("POST", "/aivoice/taskAdd", task_add, TASK_ADD, send=True),
    Route("POST", "/aivoice/taskEdit", task_edit, TASK_EDIT, send=True),
    Route("POST", "/aivoice/taskStart", task_start, TASK_START, send=True),
    Route("POST", "/aivoice/taskList", task_list, TASK_LIST),
    Route("POST", "/aivoice/importCustomer", import_customer, IMPORT_CUSTOMER, send=True),
    Route(
        "POST", "/aivoice/importCustomer/del", import_customer_del, IMPORT_CUSTOMER_DEL, send=True
    ),
    Route("POST", "/aivoice/taskNoCall", task_no_call, TASK_NO_CALL),
    Route("POST", "/aivoice/recordQuery", record_query, RECORD_QUERY),
    Route("POST", "/aivoice/channelList", channel_list, CHANNEL_LIST),
)

# The money-spending POSTs; a new route joins by passing send=True.
SEND_PATHS = frozenset(route.template for route in ROUTES if route.send)

_COMPILED = [(route, route.pattern) for route in ROUTES]


def match(method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
    """(route, path params, allowed methods for the path when the method does not match)."""
    allowed: list[str] = []
    for route, pattern in _COMPILED:
        found = pattern.fullmatch(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict(), []
        allowed.append(route.method)
    return None, {}, allowed
