"""ItnioClient: one method per ITNIO endpoint, limits enforced before anything is sent."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from .envelope import Envelope
from .errors import (
    Family,
    ItnioLimitError,
    ItnioOutcomeUnknownError,
    ItnioProtocolError,
    ItnioTransportError,
    api_error_for,
)
from .limits import DEFAULT_LIMITS, Limits
from .send_args import SendCode, SendSip
from .signing import signed_headers
from .transport import RequestEvent, Transport
from .types import (
    AiChannel,
    AiCustomerRow,
    AiNoCall,
    AiPage,
    AiRecord,
    AiTaskInfo,
    Balance,
    RecordPage,
    SendResult,
    VoiceRecord,
    format_ai_time,
    format_iso,
)

DEFAULT_BASE_URL = "https://api.itniotech.com"
# taskNoCall's taskStatus filter (itnio-api.md §5.7).
AI_NO_CALL_STATUSES = ("CAN_NOT_START", "CAN_START", "IN_PROCESS")


def _optional_str(value: str | None) -> str | None:
    # Optional fields are omitted rather than sent empty or null: "" is treated as "not given".
    return None if value is None or value == "" else value


def _body(*pairs: tuple[str, Any]) -> dict[str, Any]:
    """A request body in the seeds' key order, leaving out fields that are None."""
    return {key: value for key, value in pairs if value is not None}


class ItnioClient:
    """Typed access to the ITNIO voice, SMS-account and AI-voice APIs.

    Reads (record_group, record_group_query, record_sip, record_sip_query, get_balance,
    task_list, task_no_call, record_query, channel_list) are retried by the transport; every
    other call is a send and is never retried: a send that fails ambiguously raises
    ItnioOutcomeUnknownError and must be reconciled, not resent.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        limits: Limits = DEFAULT_LIMITS,
        max_read_retries: int = 3,
        on_request: Callable[[RequestEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError("ItnioClient needs a non-empty api_key and api_secret")
        self.base_url = base_url.rstrip("/")
        self.limits = limits
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock
        self._transport = Transport(
            self.base_url,
            self._headers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_read_retries=max_read_retries,
            sleep=sleep,
            clock=clock,
            on_request=on_request,
            session=session,
            secrets=(api_secret, api_key),
        )

    def __repr__(self) -> str:
        # Neither the secret nor the key: reprs end up in logs and error pages.
        return f"ItnioClient(base_url={self.base_url!r})"

    def close(self) -> None:
        self._transport.close()

    def _headers(self) -> dict[str, str]:
        # Called by the transport once per attempt, so retries carry a fresh Timestamp/Sign.
        return signed_headers(self._api_key, self._api_secret, self._clock())

    # ---- shared plumbing ---------------------------------------------------------------------

    def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        send: bool,
        family: Family = "voice",
        top_level_data: bool = False,
    ) -> Envelope:
        """Send one request and return its success envelope; raise typed errors otherwise."""
        response = self._transport.request(
            method,
            path,
            body=body,
            send=send,
            endpoint=endpoint,
            top_level_data=top_level_data,
        )
        envelope = response.envelope
        if not envelope.ok:
            raise api_error_for(family, envelope.code, envelope.reason, endpoint)
        return envelope

    @staticmethod
    def _bad_data(endpoint: str, send: bool, expected: str) -> ItnioTransportError:
        """A success envelope whose data has the wrong shape.

        For a send this means ITNIO accepted something we cannot identify (e.g. no voiceId),
        so the outcome is unknown; for a read it is a protocol error.
        """
        message = f"ITNIO answered success but 'data' is not {expected}."
        if send:
            return ItnioOutcomeUnknownError(message + " The outcome is unknown.", endpoint=endpoint)
        return ItnioProtocolError(message, endpoint=endpoint)

    def _data_str(self, envelope: Envelope, endpoint: str, send: bool) -> str:
        data = envelope.data
        # An ID could in principle come back as a JSON number; keep it as text.
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        if not isinstance(data, str) or not data:
            raise self._bad_data(endpoint, send, "a non-empty string")
        return data

    def _data_dict(self, envelope: Envelope, endpoint: str, send: bool) -> dict[str, Any]:
        if not isinstance(envelope.data, dict):
            raise self._bad_data(endpoint, send, "an object")
        return envelope.data

    # ---- /voice ------------------------------------------------------------------------------

    def file_upload(self, *, file_name: str, content: bytes) -> str:
        """POST /voice/fileUpload (itnio-api.md §3.1); returns the audio file ID."""
        endpoint = "/voice/fileUpload"
        lim = self.limits
        lim.check_file_name(file_name)
        raw = lim.check_file_content(content)
        body = _body(("fileName", file_name), ("file", base64.b64encode(raw).decode("ascii")))
        envelope = self._call(endpoint, "POST", endpoint, body, send=True)
        return self._data_str(envelope, endpoint, send=True)

    def send_code(self, code: SendCode | None = None, /, **kwargs: Any) -> str:
        """POST /voice/sendCode, a TTS call to one number (§3.3, seed 001); returns voiceId.

        Takes a SendCode (or its fields as keyword arguments).
        """
        endpoint = "/voice/sendCode"
        body = self.send_code_body(code, **kwargs)
        envelope = self._call(endpoint, "POST", endpoint, body, send=True)
        return self._data_str(envelope, endpoint, send=True)

    def send_code_body(self, code: SendCode | None = None, /, **kwargs: Any) -> dict[str, Any]:
        """Check every limit of sendCode and build its body, without sending anything."""
        return self.limits.check_send_code(code or SendCode(**kwargs)).body()

    def send_group(
        self,
        *,
        app_id: str,
        file_id: str,
        callees: Sequence[str],
        display_num: str | None = None,
        max_duration: int | None = None,
        max_ringing_time: int | None = None,
        loop_count: int | None = None,
        called_info: str | None = None,
    ) -> list[SendResult]:
        """POST /voice/sendGroup, a voice-file call to up to send_group_max numbers (§3.2)."""
        endpoint = "/voice/sendGroup"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_required("fileId", file_id)
        numbers = lim.check_callees(callees)
        display_num = _optional_str(display_num)
        called_info = _optional_str(called_info)
        if display_num is not None:
            lim.check_display_num(display_num)
        if max_duration is not None:
            lim.check_max_duration(max_duration)
        if max_ringing_time is not None:
            lim.check_max_ringing_time(max_ringing_time)
        if loop_count is not None:
            lim.check_loop_count(loop_count)
        if called_info is not None:
            lim.check_called_info(called_info)
        body = _body(
            # One comma-separated string, not a JSON array (seed 002).
            ("callee", ",".join(numbers)),
            ("displayNum", display_num),
            ("fileId", file_id),
            ("appId", app_id),
            ("maxDuration", max_duration),
            ("maxRingingTime", max_ringing_time),
            ("loopCount", loop_count),
            ("calledInfo", called_info),
        )
        envelope = self._call(endpoint, "POST", endpoint, body, send=True)
        rows = envelope.data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise self._bad_data(endpoint, True, "a list of results")
        return [SendResult.from_api(row) for row in rows]

    def record_group(self, voice_id: str) -> VoiceRecord:
        """GET /voice/recordGroup/{voiceId}: one call record, last two months only (§3.5)."""
        endpoint = "/voice/recordGroup"
        self.limits.check_required("voiceId", voice_id)
        # safe="" so an ID can never change the path (e.g. "../" or "/").
        path = f"{endpoint}/{quote(voice_id, safe='')}"
        envelope = self._call(endpoint, "GET", path, None, send=False)
        return VoiceRecord.from_api(self._data_dict(envelope, endpoint, send=False))

    def record_group_query(
        self, *, start: datetime, end: datetime, current: int = 1, size: int = 100
    ) -> RecordPage:
        """POST /voice/recordGroupQuery: records in a ≤31-day window, paged (§3.6).

        A POST, but a read: it changes nothing, so it is retried. The 60-day retention is not
        enforced here (see Limits.check_record_retention); the caller splits windows.
        """
        endpoint = "/voice/recordGroupQuery"
        lim = self.limits
        lim.check_record_window(start, end)
        lim.check_page(current, size)
        body = _body(
            ("current", current),
            ("size", size),
            ("params", {"strTime": format_iso(start), "endTime": format_iso(end)}),
        )
        envelope = self._call(endpoint, "POST", endpoint, body, send=False)
        return RecordPage.from_api(self._data_dict(envelope, endpoint, send=False))

    def sip_add(
        self, *, app_id: str, group_name: str, phone_name: str, quantity: int, display_num: str
    ) -> None:
        """POST /voice/sipAdd: create a group of SIP phones (§3.9, seed 004)."""
        endpoint = "/voice/sipAdd"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_sip_name("groupName", group_name)
        lim.check_sip_name("phoneName", phone_name)
        lim.check_sip_quantity(quantity)
        lim.check_display_num(display_num, sip=True)
        body = _body(
            ("groupName", group_name),
            ("phoneName", phone_name),
            ("quantity", quantity),
            ("displayNum", display_num),
            ("appId", app_id),
        )
        self._call(endpoint, "POST", endpoint, body, send=True)

    def send_sip(self, sip: SendSip | None = None, /, **kwargs: Any) -> str:
        """POST /voice/sendSip, a call from one SIP phone account (§3.4); returns voiceId.

        A send: never retried. Takes a SendSip (or its fields as keyword arguments).
        """
        endpoint = "/voice/sendSip"
        body = self.send_sip_body(sip, **kwargs)
        envelope = self._call(endpoint, "POST", endpoint, body, send=True)
        return self._data_str(envelope, endpoint, send=True)

    def send_sip_body(self, sip: SendSip | None = None, /, **kwargs: Any) -> dict[str, Any]:
        """Check every limit of sendSip and build its body, without sending anything."""
        return self.limits.check_send_sip(sip or SendSip(**kwargs)).body()

    def record_sip(self, voice_id: str) -> VoiceRecord:
        """GET /voice/recordSip/{voiceId}: one SIP-phone call record, last two months (§3.7)."""
        endpoint = "/voice/recordSip"
        self.limits.check_required("voiceId", voice_id)
        path = f"{endpoint}/{quote(voice_id, safe='')}"
        envelope = self._call(endpoint, "GET", path, None, send=False)
        return VoiceRecord.from_api(self._data_dict(envelope, endpoint, send=False))

    def record_sip_query(
        self,
        *,
        start: datetime,
        end: datetime,
        current: int = 1,
        size: int = 100,
        sip_group_name: str | None = None,
        phone_name: str | None = None,
    ) -> RecordPage:
        """POST /voice/recordSipQuery: SIP-phone records in a ≤31-day window, paged (§3.8).

        sipGroupName and phoneName are optional exact-match filters. The window rules are
        those of recordGroupQuery (§3.6; the SIP page does not restate them). A read: retried.
        """
        endpoint = "/voice/recordSipQuery"
        lim = self.limits
        lim.check_record_window(start, end)
        lim.check_page(current, size)
        sip_group_name = _optional_str(sip_group_name)
        phone_name = _optional_str(phone_name)
        params = _body(
            ("strTime", format_iso(start)),
            ("endTime", format_iso(end)),
            ("sipGroupName", sip_group_name),
            ("phoneName", phone_name),
        )
        body = _body(("current", current), ("size", size), ("params", params))
        envelope = self._call(endpoint, "POST", endpoint, body, send=False)
        return RecordPage.from_api(self._data_dict(envelope, endpoint, send=False))

    # ---- /sms (account) ----------------------------------------------------------------------

    def get_balance(self) -> Balance:
        """GET /sms/getBalance: account-wide balance; fields sit at the top level (§2)."""
        endpoint = "/sms/getBalance"
        envelope = self._call(endpoint, "GET", endpoint, None, send=False, top_level_data=True)
        return Balance.from_api(self._data_dict(envelope, endpoint, send=False))

    # ---- /aivoice ----------------------------------------------------------------------------

    def ai_task_start(self, *, app_id: str, job_id: int) -> None:
        """POST /aivoice/taskStart: start an AI outbound task (§5.3, seed 000)."""
        endpoint = "/aivoice/taskStart"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_int("jobId", job_id, 1)
        body = _body(("appId", app_id), ("jobId", job_id))
        self._call(endpoint, "POST", endpoint, body, send=True, family="aivoice")

    def task_add(self, **kwargs: Any) -> int:
        """POST /aivoice/taskAdd: create an AI outbound task (§5.1); returns its jobId.

        A send: never retried. The response was never captured (§5.1 "probably returns
        jobId"), so data is read as a number, a numeric string or {"jobId": …}; anything else
        after a success status is an unknown outcome. Takes the keyword arguments of
        `task_body`.
        """
        endpoint = "/aivoice/taskAdd"
        body = self.task_body(**kwargs)
        envelope = self._call(endpoint, "POST", endpoint, body, send=True, family="aivoice")
        data = envelope.data
        if isinstance(data, dict):
            data = data.get("jobId")
        job_id = data if isinstance(data, int) and not isinstance(data, bool) else None
        if isinstance(data, str) and data.strip().isascii() and data.strip().isdigit():
            job_id = int(data.strip())
        if job_id is None or job_id <= 0:
            raise self._bad_data(endpoint, True, "a jobId")
        return job_id

    def task_edit(self, *, job_id: int, **kwargs: Any) -> None:
        """POST /aivoice/taskEdit: the fields of taskAdd plus jobId (§5.2). A send."""
        endpoint = "/aivoice/taskEdit"
        body = self.task_body(job_id=job_id, **kwargs)
        self._call(endpoint, "POST", endpoint, body, send=True, family="aivoice")

    def task_body(
        self,
        *,
        app_id: str,
        name: str,
        dialog_flow_id: int,
        mode: str,
        daily_start: str,
        daily_end: str,
        robot_count: int,
        job_phone_number_id: int,
        redial: bool,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
        inactive_times: Sequence[dict[str, str]] | None = None,
        inactive_dates: Sequence[dict[str, str]] | None = None,
        days_of_week: Sequence[str] | None = None,
        redial_conditions: Sequence[str] | None = None,
        job_id: int | None = None,
    ) -> dict[str, Any]:
        """Check the documented limits of taskAdd/taskEdit and build the body (§5.1, §5.2).

        Not checked here, on purpose: the 09:00–20:00 window (-48) and the robot maximum
        (-52) are account settings at ITNIO ("default" bounds, §5.1), so ITNIO decides.
        Date-times go out as yyyy-MM-dd HH:mm:ss in ITNIO's zone (format_ai_time).
        """
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_required("name", name)
        lim.check_int("dialogFlowId", dialog_flow_id, 1)
        lim.check_ai_mode(mode)
        lim.check_hhmm("dailyStartDateTime", daily_start)
        lim.check_hhmm("dailyEndDateTime", daily_end)
        lim.check_int("robotCount", robot_count, 1)
        lim.check_int("jobPhoneNumberId", job_phone_number_id, 1)
        if not isinstance(redial, bool):
            raise ItnioLimitError("redial", "must be true or false", got=repr(redial))
        if job_id is not None:
            lim.check_int("jobId", job_id, 1)
        start_text = end_text = None
        if mode == "AUTO":
            # §5.1: startDateTime is required exactly when mode is AUTO.
            if start_at is None:
                raise ItnioLimitError("startDateTime", "is required when mode is AUTO")
            start_text = format_ai_time(lim.check_aware("startDateTime", start_at))
        if end_at is not None:
            end_text = format_ai_time(lim.check_aware("endDateTime", end_at))
        times = lim.check_inactive_times(inactive_times) if inactive_times else None
        dates = lim.check_inactive_dates(inactive_dates) if inactive_dates else None
        days = lim.check_days_of_week(days_of_week) if days_of_week else None
        conditions = lim.check_redial_conditions(redial_conditions) if redial else None
        return _body(
            ("jobId", job_id),
            ("appId", app_id),
            ("name", name),
            ("dialogFlowId", dialog_flow_id),
            ("mode", mode),
            ("startDateTime", start_text),
            ("dailyStartDateTime", daily_start),
            ("dailyEndDateTime", daily_end),
            ("robotCount", robot_count),
            ("jobPhoneNumberId", job_phone_number_id),
            ("endDateTime", end_text),
            ("inactiveTimeList", times),
            ("inactiveDateList", dates),
            ("daysOfWeek", days),
            ("redial", redial),
            ("redialCondition", conditions),
        )

    def task_list(
        self, *, app_id: str, name: str | None = None, current: int = 1, size: int = 100
    ) -> AiPage:
        """POST /aivoice/taskList: the app's tasks, paged (§5.4). A read: retried."""
        endpoint = "/aivoice/taskList"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_page(current, size)
        params = _body(("appId", app_id), ("name", _optional_str(name)))
        body = _body(("current", current), ("size", size), ("params", params))
        envelope = self._call(endpoint, "POST", endpoint, body, send=False, family="aivoice")
        return AiPage.from_api(self._data_dict(envelope, endpoint, send=False), AiTaskInfo.from_api)

    def import_customer(
        self,
        *,
        app_id: str,
        job_id: int,
        customers: Sequence[AiCustomerRow],
        call_record_dup: bool | None = None,
    ) -> list[dict[str, Any]]:
        """POST /aivoice/importCustomer: add ≤100 customers to a task (§5.5).

        Returns the rows ITNIO reports as failed (as it sent them back; [] when none). A send:
        never retried, so the caller chunks and records each chunk's outcome.
        """
        endpoint = "/aivoice/importCustomer"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_int("jobId", job_id, 1)
        rows = lim.check_import_batch(customers)
        for row in rows:
            lim.check_ai_customer(row)
        if call_record_dup is not None and not isinstance(call_record_dup, bool):
            raise ItnioLimitError("callRecordDup", "must be true or false")
        body = _body(
            ("appId", app_id),
            ("jobId", job_id),
            ("callRecordDup", call_record_dup),
            ("customerPersons", [row.to_api() for row in rows]),  # type: ignore[attr-defined]
        )
        envelope = self._call(endpoint, "POST", endpoint, body, send=True, family="aivoice")
        failed = envelope.data
        if failed is None:
            return []
        if not isinstance(failed, list):
            raise self._bad_data(endpoint, True, "the list of failed rows")
        return [row if isinstance(row, dict) else {"value": row} for row in failed]

    def import_customer_del(
        self,
        *,
        app_id: str,
        job_id: int,
        numbers: Sequence[tuple[str, str | None]],
        name: str | None = None,
    ) -> int:
        """POST /aivoice/importCustomer/del: remove uncalled numbers (§5.6); returns the count.

        `numbers` holds (phoneNumber, name or None) pairs. jobId is a String on this endpoint
        (§5.6), unlike everywhere else. A send: never retried.
        """
        endpoint = "/aivoice/importCustomer/del"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_int("jobId", job_id, 1)
        if not numbers:
            raise ItnioLimitError("jobPhoneNumberList", "must hold at least one number")
        entries = []
        for phone, person in numbers:
            lim.check_length("jobPhoneNumberList.phoneNumber", phone, 1, lim.ai_phone_number_max)
            entries.append(_body(("phoneNumber", phone), ("name", _optional_str(person))))
        body = _body(
            ("appId", app_id),
            ("jobId", str(job_id)),
            ("name", _optional_str(name)),
            ("jobPhoneNumberList", entries),
        )
        envelope = self._call(endpoint, "POST", endpoint, body, send=True, family="aivoice")
        count = envelope.data
        if isinstance(count, str) and count.strip().isdigit():
            count = int(count.strip())
        if count is None:
            return 0
        if not isinstance(count, int) or isinstance(count, bool):
            raise self._bad_data(endpoint, True, "a count")
        return count

    def task_no_call(
        self,
        *,
        app_id: str,
        job_id: int | None = None,
        task_status: str | None = None,
        current: int = 1,
        size: int = 100,
    ) -> AiPage:
        """POST /aivoice/taskNoCall: numbers not called yet, paged (§5.7). A read: retried."""
        endpoint = "/aivoice/taskNoCall"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_page(current, size)
        if job_id is not None:
            lim.check_int("jobId", job_id, 1)
        if task_status is not None and task_status not in AI_NO_CALL_STATUSES:
            raise ItnioLimitError(
                "taskStatus", f"must be one of {', '.join(AI_NO_CALL_STATUSES)}", got=task_status
            )
        params = _body(("appId", app_id), ("taskStatus", task_status), ("jobId", job_id))
        body = _body(("current", current), ("size", size), ("params", params))
        envelope = self._call(endpoint, "POST", endpoint, body, send=False, family="aivoice")
        return AiPage.from_api(self._data_dict(envelope, endpoint, send=False), AiNoCall.from_api)

    def record_query(
        self, *, app_id: str, start: datetime, end: datetime, current: int = 1, size: int = 100
    ) -> AiPage:
        """POST /aivoice/recordQuery: AI call records in a time range, paged (§5.8).

        Times go out as yyyy-MM-dd HH:mm:ss (not ISO-8601) in ITNIO's zone; no window limit
        is documented. A read: retried.
        """
        endpoint = "/aivoice/recordQuery"
        lim = self.limits
        lim.check_required("appId", app_id)
        lim.check_aware("startTime", start)
        lim.check_aware("endTime", end)
        if end <= start:
            raise ItnioLimitError("endTime", "must be after startTime")
        lim.check_page(current, size)
        params = {
            "appId": app_id,
            "startTime": format_ai_time(start),
            "endTime": format_ai_time(end),
        }
        body = _body(("current", current), ("size", size), ("params", params))
        envelope = self._call(endpoint, "POST", endpoint, body, send=False, family="aivoice")
        return AiPage.from_api(self._data_dict(envelope, endpoint, send=False), AiRecord.from_api)

    def channel_list(self, *, app_id: str) -> list[AiChannel]:
        """POST /aivoice/channelList: the app's outbound lines (§5.9). A read: retried."""
        endpoint = "/aivoice/channelList"
        self.limits.check_required("appId", app_id)
        body = {"appId": app_id}
        envelope = self._call(endpoint, "POST", endpoint, body, send=False, family="aivoice")
        rows = envelope.data
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise self._bad_data(endpoint, False, "a list of lines")
        return [AiChannel.from_api(row) for row in rows if isinstance(row, dict)]
