"""The /voice endpoints for audio files, TTS code and group calls, the call records of every
voice family (recordGroup, recordSip and their window queries), and /sms/getBalance: each
handler with its parameter schema."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .calls import TYPE_CODE, TYPE_GROUP, Call
from .entities import UploadedFile
from .handler import (
    REJECTED_REASON,
    BusinessError,
    Ctx,
    Reply,
    is_rejected,
    ok,
    require_balance,
    voice_app,
)
from .state import SandboxState
from .validation import (
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
DISPLAY_NUM = Field("displayNum", STRING, required=False, check=digits(7, 15), may_be_empty=True)

FILE_UPLOAD = Schema(  # §3.1
    (
        Field("fileName", STRING, check=_file_name),
        Field("file", STRING),
    )
)

SEND_CODE = Schema(  # §3.3, seed 001
    (
        Field("callee", STRING, check=digits(7, 15)),
        DISPLAY_NUM,
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
        DISPLAY_NUM,
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
    app = voice_app(ctx, v["appId"])
    require_balance(ctx)
    if is_rejected(v["callee"]):
        raise ParamError(f"{REJECTED_REASON}: callee {v['callee']}")
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
    app = voice_app(ctx, v["appId"])
    uploaded = state.files.get(v["fileId"])
    if uploaded is None or uploaded.api_key != ctx.account.api_key:
        raise ParamError(f"fileId {v['fileId']!r} was not uploaded by this account")
    require_balance(ctx)
    results: list[dict[str, str]] = []
    for callee in _parse_callees(v["callee"]):
        if is_rejected(callee):
            results.append(
                {
                    "voiceId": "",
                    "callee": callee,
                    "terminationCode": "-22",
                    "terminationReason": REJECTED_REASON,
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
