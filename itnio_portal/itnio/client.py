"""ItnioClient: one method per ITNIO endpoint, limits enforced before anything is sent. The
/voice and /sms endpoints are here; /aivoice's are in client_ai.py, the plumbing in
client_base.py."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.utils.translation import gettext as _

from .client_ai import AI_NO_CALL_STATUSES, AiVoiceEndpoints
from .client_base import optional_str as _optional_str
from .send_args import SendCode, SendSip
from .send_args import request_body as _body
from .types import (
    Balance,
    RecordPage,
    SendResult,
    VoiceRecord,
    format_iso,
)

__all__ = ["AI_NO_CALL_STATUSES", "DEFAULT_BASE_URL", "ItnioClient"]

DEFAULT_BASE_URL = "https://api.itniotech.com"


class ItnioClient(AiVoiceEndpoints):
    """Typed access to the ITNIO voice, SMS-account and AI-voice APIs.

    Reads (record_group, record_group_query, record_sip, record_sip_query, get_balance,
    task_list, task_no_call, record_query, channel_list) are retried by the transport; every
    other call is a send and is never retried: a send that fails ambiguously raises
    ItnioOutcomeUnknownError and must be reconciled, not resent.
    """

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
            raise self._bad_data(endpoint, True, _("a list of results"))
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
