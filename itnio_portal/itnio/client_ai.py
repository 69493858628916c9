"""The /aivoice endpoints of ItnioClient (itnio-api.md §5): AI outbound tasks, customers, AI
call records and lines, each with its documented limits checked before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from .client_base import ClientBase
from .client_base import optional_str as _optional_str
from .errors import (
    ItnioLimitError,
)
from .send_args import request_body as _body
from .types import (
    AiChannel,
    AiCustomerRow,
    AiNoCall,
    AiPage,
    AiRecord,
    AiTaskInfo,
    format_ai_time,
)

# taskNoCall's taskStatus filter (itnio-api.md §5.7).
AI_NO_CALL_STATUSES = ("CAN_NOT_START", "CAN_START", "IN_PROCESS")


class AiVoiceEndpoints(ClientBase):
    """POST /aivoice/…: sends (taskAdd, taskEdit, taskStart, importCustomer…) are never retried;
    reads (taskList, taskNoCall, recordQuery, channelList) are."""

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
            raise self._bad_data(endpoint, True, _("a jobId"))
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
            raise ItnioLimitError("redial", _("must be true or false"), got=repr(redial))
        if job_id is not None:
            lim.check_int("jobId", job_id, 1)
        start_text = end_text = None
        if mode == "AUTO":
            # §5.1: startDateTime is required exactly when mode is AUTO.
            if start_at is None:
                raise ItnioLimitError("startDateTime", _("is required when mode is AUTO"))
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
            raise ItnioLimitError("callRecordDup", _("must be true or false"))
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
            raise self._bad_data(endpoint, True, _("the list of failed rows"))
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
            raise ItnioLimitError("jobPhoneNumberList", _("must hold at least one number"))
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
            raise self._bad_data(endpoint, True, _("a count"))
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
                "taskStatus",
                _("must be one of %(values)s") % {"values": ", ".join(AI_NO_CALL_STATUSES)},
                got=task_status,
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
            raise ItnioLimitError("endTime", _("must be after startTime"))
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
            raise self._bad_data(endpoint, False, _("a list of lines"))
        return [AiChannel.from_api(row) for row in rows if isinstance(row, dict)]
