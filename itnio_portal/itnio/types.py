"""Typed ITNIO results (frozen dataclasses) and time parsing/formatting."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

# ITNIO is a UTC+8 (China) platform. Naive "yyyy-MM-dd HH:mm:ss" strings carry no zone; reading
# them as UTC+8 is an ASSUMPTION (itnio-api.md §8, time formats), not something the docs state.
ITNIO_TZ = timezone(timedelta(hours=8))

# Epoch values above this are milliseconds: 10**11 s is the year 5138, 10**11 ms is 1973.
_MS_THRESHOLD = 10**11


def _from_epoch(number: float, original: object) -> datetime:
    if math.isnan(number) or math.isinf(number):
        raise ValueError(f"unparsable ITNIO time value: {original!r}")
    seconds = number / 1000 if abs(number) > _MS_THRESHOLD else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"unparsable ITNIO time value: {original!r}") from exc


def parse_time(value: object, default_tz: tzinfo = ITNIO_TZ) -> datetime | None:
    """Parse any ITNIO time into an aware datetime; blanks (None, "", 0, "0") give None.

    Accepts epoch seconds or milliseconds (int, float or digit string; pushes use ms,
    itnio-api.md §6.1), ISO-8601 with an offset or Z (seed 003), "yyyy-MM-dd HH:mm:ss"
    naive strings (read in `default_tz`, UTC+8 by assumption) and the agent push's compact
    "yyyyMMddHHmmss" (§6.3). Anything else raises ValueError naming the value.
    """
    if isinstance(value, bool):
        raise ValueError(f"unparsable ITNIO time value: {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text in ("", "0"):
            return None
        if text.isascii() and text.isdigit():
            # §6.3 documents "yyyyMMddHHmmSS (millisecond timestamp)": 14 digits that read as a
            # calendar date are that, since a 14-digit ms epoch would be after the year 2286.
            if len(text) == 14:
                try:
                    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=default_tz)
                except ValueError:
                    pass
            return _from_epoch(int(text), value)
        try:
            # Python 3.11 reads "T" or " " separators, offsets and a trailing Z.
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"unparsable ITNIO time value: {value!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=default_tz)
        return parsed
    if value is None or (isinstance(value, int | float) and value == 0):
        return None
    if isinstance(value, int | float):
        if isinstance(value, int) and len(str(abs(value))) == 14:
            return parse_time(str(value), default_tz)
        return _from_epoch(value, value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=default_tz)
    raise ValueError(f"unparsable ITNIO time value: {value!r}")


def _require_aware(dt: datetime) -> None:
    if not isinstance(dt, datetime) or dt.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {dt!r}")


def format_iso(dt: datetime) -> str:
    """ISO-8601 with an explicit offset, seconds precision, for /voice queries (§3.6)."""
    _require_aware(dt)
    return dt.replace(microsecond=0).isoformat()


def format_ai_time(dt: datetime, tz: tzinfo = ITNIO_TZ) -> str:
    """Format as yyyy-MM-dd HH:mm:ss for /aivoice queries (itnio-api.md §5.8).

    Converted to ITNIO's zone first because the string carries no offset (UTC+8 is an
    assumption, §8).
    """
    _require_aware(dt)
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


# ---- tolerant field readers: records are kept even when one value is odd; `raw` has it ----


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            return None
    return None


def _decimal(value: object) -> Decimal | None:
    """Money as Decimal, never float: the documented type is a string, parsed as written."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        # A JSON number already went through float; repr() gives its shortest exact text.
        value = repr(value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _time(value: object) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class SendResult:
    """One row of sendGroup's answer (seed 002)."""

    voice_id: str
    callee: str
    termination_code: str
    termination_reason: str

    @property
    def accepted(self) -> bool:
        # "0" here means the submission was accepted, not that the call connected (§3.2).
        return self.termination_code == "0"

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> SendResult:
        return cls(
            voice_id=_str(row.get("voiceId")),
            callee=_str(row.get("callee")),
            termination_code=_str(row.get("terminationCode")).strip(),
            termination_reason=_str(row.get("terminationReason")),
        )


@dataclass(frozen=True)
class VoiceRecord:
    """A call record from recordGroup/recordGroupQuery (seed 003, §3.5) or a status push.

    Values that cannot be read become None (or ""); `raw` keeps the dict as received.
    """

    voice_id: str
    callee: str = ""
    display_num: str = ""
    code: str = ""
    submit_time: datetime | None = None
    call_time: datetime | None = None
    ringing_time: datetime | None = None
    answer_time: datetime | None = None
    hangup_time: datetime | None = None
    call_duration: int | None = None
    charged_duration: int | None = None
    # SIP-style code in records (200 = established, §3.5): kept as received, never interpreted.
    termination_code: str = ""
    termination_reason: str = ""
    cost: Decimal | None = None
    rate: Decimal | None = None
    base_cost: Decimal | None = None
    settle_rate: Decimal | None = None
    quote_exchange: Decimal | None = None
    settle_pay: Decimal | None = None
    bill_period: str = ""
    voice_file_id: str = ""
    feedback_value: str = ""  # DTMF key; "-1" = none
    called_info: str = ""
    currency: str = "USD"
    currency_raw: str = ""
    sip_group_name: str = ""
    phone_name: str = ""
    recording_file_id: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_final(self) -> bool:
        return self.hangup_time is not None

    @property
    def answered(self) -> bool:
        return self.answer_time is not None

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> VoiceRecord:
        currency_raw = _str(row.get("currency")).strip()
        return cls(
            voice_id=_str(row.get("voiceId")),
            callee=_str(row.get("callee")),
            display_num=_str(row.get("displayNum")),
            code=_str(row.get("code")),
            submit_time=_time(row.get("submitTime")),
            call_time=_time(row.get("callTime")),
            ringing_time=_time(row.get("ringingTime")),
            answer_time=_time(row.get("answerTime")),
            hangup_time=_time(row.get("hangupTime")),
            call_duration=_int(row.get("callDuration")),
            charged_duration=_int(row.get("chargedDuration")),
            termination_code=_str(row.get("terminationCode")),
            termination_reason=_str(row.get("terminationReason")),
            cost=_decimal(row.get("cost")),
            rate=_decimal(row.get("rate")),
            base_cost=_decimal(row.get("baseCost")),
            settle_rate=_decimal(row.get("settleRate")),
            quote_exchange=_decimal(row.get("quoteExchange")),
            settle_pay=_decimal(row.get("settlePay")),
            bill_period=_str(row.get("billPeriod")),
            voice_file_id=_str(row.get("voiceFileId")),
            feedback_value=_str(row.get("feedbackValue")),
            called_info=_str(row.get("calledInfo")),
            # The settle fields are "only filled when the quote currency is not USD" (§3.5):
            # a blank currency therefore means USD.
            currency=currency_raw or "USD",
            currency_raw=currency_raw,
            sip_group_name=_str(row.get("sipGroupName")),
            phone_name=_str(row.get("phoneName")),
            recording_file_id=_str(row.get("recordingFileId")),
            raw=dict(row),
        )


@dataclass(frozen=True)
class RecordPage:
    """One page of recordGroupQuery (§3.6) or recordSipQuery (§3.8)."""

    total: int
    size: int
    current: int
    pages: int
    records: tuple[VoiceRecord, ...]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> RecordPage:
        rows = data.get("records") or []
        return cls(
            total=_int(data.get("total")) or 0,
            size=_int(data.get("size")) or 0,
            current=_int(data.get("current")) or 0,
            pages=_int(data.get("pages")) or 0,
            records=tuple(VoiceRecord.from_api(row) for row in rows if isinstance(row, dict)),
        )


@dataclass(frozen=True)
class Balance:
    """Account balance from /sms/getBalance (§2); blank values are None."""

    balance: Decimal | None
    gift: Decimal | None
    credit: Decimal | None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Balance:
        return cls(
            balance=_decimal(data.get("balance")),
            gift=_decimal(data.get("gift")),
            credit=_decimal(data.get("credit")),
        )


# ---- /aivoice (itnio-api.md §5, §6.2) --------------------------------------------------------


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int):
        return bool(value)
    return None


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _map(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _first(row: dict[str, Any], *keys: str) -> Any:
    """The value of the first key present (the push and recordQuery name some fields apart)."""
    for key in keys:
        if key in row:
            return row[key]
    return None


@dataclass(frozen=True)
class AiCustomerRow:
    """One customer for /aivoice/importCustomer (§5.5): gender MALE, FEMALE or None."""

    name: str
    phone_number: str
    gender: str | None = None
    properties: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        row: dict[str, Any] = {"name": self.name, "phoneNumber": self.phone_number}
        # §5.5: JSON null or nothing, never an empty string; omitted when unknown.
        if self.gender:
            row["gender"] = self.gender
        if self.properties:
            row["properties"] = dict(self.properties)
        return row


@dataclass(frozen=True)
class AiChannel:
    """An outbound line from /aivoice/channelList (§5.9); the ID comes back as a String."""

    line_id: int | None
    phone_number: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> AiChannel:
        return cls(
            line_id=_int(row.get("tenantPhoneNumberId")),
            phone_number=_str(row.get("phoneNumber")),
            raw=dict(row),
        )


@dataclass(frozen=True)
class AiTaskInfo:
    """One record of /aivoice/taskList (§5.4); status values are not documented."""

    job_id: int | None
    name: str
    dialog_flow_name: str = ""
    job_phone_number_name: str = ""
    robot_count: int | None = None
    mode: str = ""
    hangup_sms: bool | None = None
    task_total: int | None = None
    task_completed: int | None = None
    status: str = ""
    is_dialog_flow_unbind: bool | None = None
    create_time: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> AiTaskInfo:
        return cls(
            job_id=_int(row.get("jobId")),
            name=_str(row.get("name")),
            dialog_flow_name=_str(row.get("dialogFlowName")),
            job_phone_number_name=_str(row.get("jobPhoneNumberName")),
            robot_count=_int(row.get("robotCount")),
            mode=_str(row.get("mode")),
            hangup_sms=_bool(row.get("hangupSms")),
            task_total=_int(row.get("taskTotal")),
            task_completed=_int(row.get("taskCompleted")),
            status=_str(row.get("status")),
            is_dialog_flow_unbind=_bool(row.get("isDialogFlowUnbind")),
            create_time=_time(row.get("createTime")),
            raw=dict(row),
        )


@dataclass(frozen=True)
class AiNoCall:
    """One not-yet-called customer from /aivoice/taskNoCall (§5.7)."""

    job_id: int | None
    customer_person_id: str
    customer_person_name: str
    called_phone_number: str
    status: str
    properties: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> AiNoCall:
        return cls(
            job_id=_int(row.get("jobId")),
            customer_person_id=_str(row.get("customerPersonId")),
            customer_person_name=_str(row.get("customerPersonName")),
            called_phone_number=_str(row.get("calledPhoneNumber")),
            status=_str(row.get("status")),
            properties=_map(row.get("properties")),
            raw=dict(row),
        )


@dataclass(frozen=True)
class AiTurn:
    """One turn of the transcript (§6.2 callDetailList); offsets in ms into the recording."""

    detail_id: str
    type: str  # ROBOT or PERSON
    text: str
    start_offset: int | None
    end_offset: int | None

    @property
    def is_robot(self) -> bool:
        return self.type.upper() == "ROBOT"

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> AiTurn:
        return cls(
            detail_id=_str(row.get("callDetailId")),
            type=_str(row.get("type")).upper(),
            text=_str(row.get("text")),
            start_offset=_int(row.get("startOffset")),
            end_offset=_int(row.get("endOffset")),
        )


# Record attribute -> the keys that carry it: recordQuery (§5.8) and the push (§6.2) name a few
# fields differently (callJobId / robotCallJobId, chargedDuration / billingTime).
AI_RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "app_id": ("appId",),
    "key_id": ("keyId",),
    "call_record_id": ("callRecordId",),
    "job_id": ("robotCallJobId", "callJobId"),
    "dialog_flow_id": ("dialogFlowId",),
    "tenant_phone_number_id": ("tenantPhoneNumberId",),
    "called_phone_number": ("calledPhoneNumber",),
    "customer_name": ("customerPersonName",),
    "result_status": ("resultStatus",),
    "intent_level": ("intentLevelDetailName",),
    "hangup_by": ("hangupBy",),
    "analysis_basis": ("analysisBasis",),
    "start_time": ("startTime",),
    "end_time": ("endTime",),
    "chat_duration": ("chatDuration",),
    "chat_round": ("chatRound",),
    "charged_duration": ("billingTime", "chargedDuration"),
    "cost": ("pay",),
    "robot_count": ("robotCount",),
    "call_count": ("callCount",),
    "redial_times": ("redialTimes",),
    "customer_concern": ("customerConcern",),
    "attributes": ("attributes",),
    "properties": ("properties",),
    "dynamic_properties": ("dynamicProperties",),
    "call_record_tags": ("callRecordTagNames",),
    "customer_tags": ("customerTagNames",),
    "full_audio_url": ("fullAudioUrl",),
    "customer_audio_url": ("customerAudioUrl",),
    "call_detail_list": ("callDetailList",),
}


@dataclass(frozen=True)
class AiRecord:
    """An AI call record from /aivoice/recordQuery (§5.8) or the AI push (§6.2).

    Both lists are truncated in the docs, so every value is optional; `present` names the
    attributes the source actually carried, so a record from one source never blanks what the
    other one gave. Times: the push sends epoch seconds, recordQuery strings (parse_time).
    """

    call_id: str
    app_id: str = ""
    key_id: str = ""
    call_record_id: str = ""
    job_id: int | None = None
    dialog_flow_id: int | None = None
    tenant_phone_number_id: str = ""
    called_phone_number: str = ""
    customer_name: str = ""
    result_status: str = ""
    intent_level: str = ""
    hangup_by: str = ""
    analysis_basis: str = ""
    start_time: datetime | None = None
    end_time: datetime | None = None
    chat_duration: int | None = None
    chat_round: int | None = None
    charged_duration: int | None = None
    cost: Decimal | None = None  # `pay`, USD (§6.2)
    robot_count: int | None = None
    call_count: int | None = None
    redial_times: int | None = None
    customer_concern: list[Any] = field(default_factory=list)
    attributes: list[Any] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    dynamic_properties: Any = None
    call_record_tags: list[Any] = field(default_factory=list)
    customer_tags: list[Any] = field(default_factory=list)
    full_audio_url: str = ""
    customer_audio_url: str = ""
    call_detail_list: list[dict[str, Any]] = field(default_factory=list)
    present: frozenset[str] = field(default_factory=frozenset, compare=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def turns(self) -> list[AiTurn]:
        return [AiTurn.from_api(row) for row in self.call_detail_list]

    @classmethod
    def from_api(cls, row: dict[str, Any]) -> AiRecord:
        def get(name: str) -> Any:
            return _first(row, *AI_RECORD_KEYS[name])

        concern = get("customer_concern")
        if isinstance(concern, str):
            concern = [concern] if concern else []
        return cls(
            call_id=_str(row.get("callId")).strip(),
            app_id=_str(get("app_id")),
            key_id=_str(get("key_id")),
            call_record_id=_str(get("call_record_id")),
            job_id=_int(get("job_id")),
            dialog_flow_id=_int(get("dialog_flow_id")),
            tenant_phone_number_id=_str(get("tenant_phone_number_id")),
            called_phone_number=_str(get("called_phone_number")),
            customer_name=_str(get("customer_name")),
            result_status=_str(get("result_status")),
            intent_level=_str(get("intent_level")),
            hangup_by=_str(get("hangup_by")),
            analysis_basis=_str(get("analysis_basis")),
            start_time=_time(get("start_time")),
            end_time=_time(get("end_time")),
            chat_duration=_int(get("chat_duration")),
            chat_round=_int(get("chat_round")),
            charged_duration=_int(get("charged_duration")),
            cost=_decimal(get("cost")),
            robot_count=_int(get("robot_count")),
            call_count=_int(get("call_count")),
            redial_times=_int(get("redial_times")),
            customer_concern=_list(concern),
            attributes=_list(get("attributes")),
            properties=_map(get("properties")),
            dynamic_properties=get("dynamic_properties"),
            call_record_tags=_list(get("call_record_tags")),
            customer_tags=_list(get("customer_tags")),
            full_audio_url=_str(get("full_audio_url")),
            customer_audio_url=_str(get("customer_audio_url")),
            call_detail_list=[d for d in _list(get("call_detail_list")) if isinstance(d, dict)],
            present=frozenset(
                name for name, keys in AI_RECORD_KEYS.items() if any(k in row for k in keys)
            ),
            raw=dict(row),
        )


@dataclass(frozen=True)
class AiPage:
    """One page of an /aivoice paged query (taskList, taskNoCall, recordQuery)."""

    total: int
    size: int
    current: int
    pages: int
    records: tuple[Any, ...]

    @classmethod
    def from_api(cls, data: dict[str, Any], parse: Any) -> AiPage:
        rows = data.get("records") or []
        return cls(
            total=_int(data.get("total")) or 0,
            size=_int(data.get("size")) or 0,
            current=_int(data.get("current")) or 0,
            pages=_int(data.get("pages")) or 0,
            records=tuple(parse(row) for row in rows if isinstance(row, dict)),
        )
