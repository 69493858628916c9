"""Documented ITNIO argument limits and the checks that enforce them before sending."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import ItnioLimitError, show_value
from .send_args import SendCode, SendSip

# sendCode's language codes in the order of the (old) vendor list, itnio-api.md §3.3. The new
# revision points to an uncaptured, possibly longer table: extend `Limits.languages` then.
LANGUAGES: Mapping[str, str] = MappingProxyType(
    {
        "VN": gettext_lazy("Vietnamese"),
        "EN": gettext_lazy("English"),
        "JP": gettext_lazy("Japanese"),
        "ARB": gettext_lazy("Arabic"),
        "DE": gettext_lazy("German"),
        "IN": gettext_lazy("Hindi"),
        "IT": gettext_lazy("Italian"),
        "KR": gettext_lazy("Korean"),
        "RU": gettext_lazy("Russian"),
        "ES": gettext_lazy("Spanish"),
        "PT": gettext_lazy("Portuguese"),
        "IDN": gettext_lazy("Indonesian"),
        "BD": gettext_lazy("Bangla"),
        "TH": gettext_lazy("Thai"),
    }
)


# /aivoice/taskAdd (itnio-api.md §5.1).
AI_MODES = ("MANUAL", "AUTO")
DAYS_OF_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _span(low: int, high: int) -> str:
    # An en dash ("7 to 15" printed typographically): these messages are read in the admin.
    return f"{low}\N{EN DASH}{high}"


def _is_int(value: object) -> bool:
    # bool is an int subclass but would go out as JSON true/false: refuse it.
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Limits:
    """Every documented limit. Defaults are the values the project chose from the docs; where
    doc revisions disagree (itnio-api.md §8) the value is a field so settings can override it.
    """

    # Numbers are country code + subscriber number, digits only (§3.2, §3.3).
    callee_min_digits: int = 7
    callee_max_digits: int = 15
    display_num_min_digits: int = 7
    display_num_max_digits: int = 15
    # sipAdd is stricter on the caller ID (seed 004, §3.9).
    sip_display_num_min_digits: int = 7
    sip_display_num_max_digits: int = 13
    # EN sendGroup and the old mirror say 1-3, current EN sendCode and new ZH 1-9 (§8).
    loop_count_min: int = 1
    loop_count_max: int = 9
    max_duration_min: int = 1  # seconds after answer (§3.2, §3.3)
    max_duration_max: int = 120
    max_ringing_time_min: int = 20  # seconds (§3.2 new ZH, §3.3)
    max_ringing_time_max: int = 120
    recall_count_min: int = 0  # §3.3
    recall_count_max: int = 9
    recall_interval_min: int = 1  # minutes (§3.3)
    recall_interval_max: int = 999
    called_info_max: int = 1000  # characters (§3.2, §3.3)
    languages: tuple[str, ...] = tuple(LANGUAGES)
    # Old docs: 299 chars for IDN/VN/TH, 800 otherwise; new docs 1000 flat (§3.3, §8).
    text_max: int = 800
    text_max_short_languages: int = 299
    short_languages: tuple[str, ...] = ("IDN", "VN", "TH")
    # §3.2: 200 (EN, old ZH) vs 1000 (new ZH); chunk at 200 to be safe.
    send_group_max: int = 200
    file_name_min: int = 5  # includes the extension (§3.1)
    file_name_max: int = 32
    file_extensions: tuple[str, ...] = (".mp3", ".m4a", ".wav")
    # §3.1 states no size limit; None means "not checked". Settings may set one.
    file_max_bytes: int | None = None
    sip_name_min: int = 4  # groupName / phoneName (§3.9)
    sip_name_max: int = 32
    sip_quantity_min: int = 1
    sip_quantity_max: int = 50
    page_size_min: int = 1  # every paged query (§8)
    page_size_max: int = 100
    record_window_max_days: int = 31  # strTime..endTime (§3.6)
    record_retention_days: int = 60  # "last two months" (§3.5, §3.6)
    import_customer_max: int = 100  # /aivoice/importCustomer (§5.5)
    ai_phone_number_max: int = 32  # importCustomer phoneNumber (§5.5)
    ai_inactive_max: int = 3  # inactiveTimeList / inactiveDateList entries (§5.1)
    ai_modes: tuple[str, ...] = AI_MODES
    days_of_week: tuple[str, ...] = DAYS_OF_WEEK
    genders: tuple[str, ...] = ("MALE", "FEMALE")

    # ---- generic checks ------------------------------------------------------------------

    @staticmethod
    def check_required(field: str, value: object) -> str:
        """A required string: a non-empty str."""
        if not isinstance(value, str) or not value.strip():
            raise ItnioLimitError(
                field, _("is required (a non-empty string)"), got=show_value(value)
            )
        return value

    @staticmethod
    def check_int(field: str, value: object, low: int, high: int | None = None) -> int:
        """An integer in low..high inclusive (high None = no upper bound)."""
        if high is None:
            rule = _("must be an integer ≥ %(low)s") % {"low": low}
        else:
            rule = _("must be an integer from %(low)s to %(high)s") % {"low": low, "high": high}
        if not _is_int(value):
            raise ItnioLimitError(field, rule, got=show_value(value))
        assert isinstance(value, int)  # narrowed for type checkers
        if value < low or (high is not None and value > high):
            raise ItnioLimitError(field, rule, got=show_value(value))
        return value

    @staticmethod
    def check_digits(field: str, value: object, low: int, high: int, *, each: bool = False) -> str:
        """A phone number: ASCII digits only (no +, spaces or dashes), low..high long.

        The client does not normalise numbers: the caller does, so what is validated is
        exactly what is sent.
        """
        if each:
            rule = _("each number must be %(span)s digits") % {"span": _span(low, high)}
        else:
            rule = _("must be %(span)s digits") % {"span": _span(low, high)}
        # isdigit() alone accepts non-ASCII digits (e.g. Arabic-Indic) that ITNIO would not.
        if (
            not isinstance(value, str)
            or not value.isascii()
            or not value.isdigit()
            or not low <= len(value) <= high
        ):
            raise ItnioLimitError(field, rule, got=show_value(value))
        return value

    @staticmethod
    def check_length(field: str, value: object, low: int, high: int) -> str:
        """A string of low..high characters."""
        rule = (
            _("must be %(span)s characters") % {"span": _span(low, high)}
            if low
            else _("must be at most %(count)s characters") % {"count": high}
        )
        if not isinstance(value, str) or not low <= len(value) <= high:
            got = (
                show_value(value)
                if not isinstance(value, str)
                else _("%(count)s characters") % {"count": len(value)}
            )
            raise ItnioLimitError(field, rule, got=got)
        return value

    # ---- field checks --------------------------------------------------------------------

    def check_callee(self, value: object, field: str = "callee") -> str:
        return self.check_digits(field, value, self.callee_min_digits, self.callee_max_digits)

    def check_callees(self, values: object, field: str = "callee") -> list[str]:
        """A sendGroup callee list: 1..send_group_max valid numbers, no duplicates (§3.2)."""
        # A str is a Sequence too: iterating it would send one "number" per character.
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise ItnioLimitError(
                field, _("must be a list of numbers, not one string"), got=show_value(values)
            )
        numbers = list(values)
        if not 1 <= len(numbers) <= self.send_group_max:
            raise ItnioLimitError(
                field,
                _("must hold %(span)s numbers per request")
                % {"span": _span(1, self.send_group_max)},
                got=_("%(count)s numbers") % {"count": len(numbers)},
            )
        seen: set[str] = set()
        for number in numbers:
            self.check_digits(
                field, number, self.callee_min_digits, self.callee_max_digits, each=True
            )
            if number in seen:
                raise ItnioLimitError(
                    field,
                    _("each number may appear only once per request"),
                    got=show_value(number),
                )
            seen.add(number)
        return numbers

    def check_display_num(self, value: object, *, sip: bool = False) -> str:
        if sip:
            low, high = self.sip_display_num_min_digits, self.sip_display_num_max_digits
        else:
            low, high = self.display_num_min_digits, self.display_num_max_digits
        return self.check_digits("displayNum", value, low, high)

    def check_loop_count(self, value: object) -> int:
        return self.check_int("loopCount", value, self.loop_count_min, self.loop_count_max)

    def check_max_duration(self, value: object) -> int:
        return self.check_int("maxDuration", value, self.max_duration_min, self.max_duration_max)

    def check_max_ringing_time(self, value: object) -> int:
        return self.check_int(
            "maxRingingTime", value, self.max_ringing_time_min, self.max_ringing_time_max
        )

    def check_recall_count(self, value: object) -> int:
        return self.check_int("recallCount", value, self.recall_count_min, self.recall_count_max)

    def check_recall_interval(self, value: object, recall_count: object = None) -> int:
        """Minutes between re-calls: 1-999 when re-calls are asked for (recallCount > 0).

        Without re-calls (recallCount 0 or not sent, its default) ITNIO does not use the value
        and seed 001's own sample sends ``"recallCount":0, "recallInterval":0``: 0 is accepted.
        """
        wanted = isinstance(recall_count, int) and _is_int(recall_count) and recall_count > 0
        low = self.recall_interval_min if wanted else 0
        return self.check_int("recallInterval", value, low, self.recall_interval_max)

    def check_called_info(self, value: object) -> str:
        return self.check_length("calledInfo", value, 0, self.called_info_max)

    def check_language(self, value: object) -> str:
        if not isinstance(value, str) or value not in self.languages:
            raise ItnioLimitError(
                "language",
                _("must be one of %(values)s") % {"values": ", ".join(self.languages)},
                got=show_value(value),
            )
        return value

    def text_limit(self, language: str) -> int:
        """Max TTS text length for a language (§3.3: shorter for IDN/VN/TH)."""
        if language in self.short_languages:
            return self.text_max_short_languages
        return self.text_max

    def check_text(self, value: object, language: str) -> str:
        limit = self.text_limit(language)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            got = (
                _("%(count)s characters") % {"count": len(value)}
                if isinstance(value, str)
                else show_value(value)
            )
            raise ItnioLimitError(
                "text",
                _("must be %(span)s characters for language %(language)s")
                % {"span": _span(1, limit), "language": language},
                got=got,
            )
        return value

    def check_send_code(self, code: SendCode) -> SendCode:
        """Every documented limit of sendCode (§3.3); raises ItnioLimitError naming the field."""
        self.check_required("appId", code.app_id)
        self.check_callee(code.callee)
        self.check_language(code.language)
        self.check_text(code.text, code.language)
        if code.display_num is not None:
            self.check_display_num(code.display_num)
        if code.loop_count is not None:
            self.check_loop_count(code.loop_count)
        if code.called_info is not None:
            self.check_called_info(code.called_info)
        if code.recall_count is not None:
            self.check_recall_count(code.recall_count)
        # Only used by ITNIO when recallCount > 0, but a given value is still checked.
        if code.recall_interval is not None:
            self.check_recall_interval(code.recall_interval, code.recall_count)
        if code.max_duration is not None:
            self.check_max_duration(code.max_duration)
        if code.max_ringing_time is not None:
            self.check_max_ringing_time(code.max_ringing_time)
        return code

    def check_send_sip(self, sip: SendSip) -> SendSip:
        """Every documented limit of sendSip (§3.4); raises ItnioLimitError naming the field."""
        self.check_required("appId", sip.app_id)
        self.check_required("account", sip.account)
        self.check_callee(sip.callee)
        if sip.display_num is not None:
            # sendSip's displayNum is 7-15 digits like the other sends (§3.4), not sipAdd's 7-13.
            self.check_display_num(sip.display_num)
        return sip

    def check_file_name(self, value: object) -> str:
        self.check_length("fileName", value, self.file_name_min, self.file_name_max)
        assert isinstance(value, str)
        if not value.lower().endswith(self.file_extensions):
            raise ItnioLimitError(
                "fileName",
                _("must end with %(values)s") % {"values": ", ".join(self.file_extensions)},
                got=show_value(value),
            )
        return value

    def check_file_content(self, value: object) -> bytes:
        if not isinstance(value, bytes | bytearray) or not value:
            raise ItnioLimitError("file", _("must be non-empty bytes"), got=show_value(type(value)))
        if self.file_max_bytes is not None and len(value) > self.file_max_bytes:
            raise ItnioLimitError(
                "file",
                _("must be at most %(count)s bytes") % {"count": self.file_max_bytes},
                got=_("%(count)s bytes") % {"count": len(value)},
            )
        return bytes(value)

    def check_sip_name(self, field: str, value: object) -> str:
        return self.check_length(field, value, self.sip_name_min, self.sip_name_max)

    def check_sip_quantity(self, value: object) -> int:
        return self.check_int("quantity", value, self.sip_quantity_min, self.sip_quantity_max)

    def check_page(self, current: object, size: object) -> tuple[int, int]:
        return (
            self.check_int("current", current, 1),
            self.check_int("size", size, self.page_size_min, self.page_size_max),
        )

    def check_record_window(self, start: object, end: object) -> tuple[datetime, datetime]:
        """strTime/endTime: aware datetimes, end after start, at most 31 days apart (§3.6)."""
        for field, value in (("strTime", start), ("endTime", end)):
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise ItnioLimitError(
                    field, _("must be a timezone-aware datetime"), got=show_value(value)
                )
        assert isinstance(start, datetime) and isinstance(end, datetime)
        if end <= start:
            raise ItnioLimitError("endTime", _("must be after strTime"))
        if end - start > timedelta(days=self.record_window_max_days):
            raise ItnioLimitError(
                "endTime",
                _("must be at most %(days)s days after strTime")
                % {"days": self.record_window_max_days},
                got=_("%(days)s days") % {"days": f"{(end - start).total_seconds() / 86400:.1f}"},
            )
        return start, end

    def retention_start(self, now: datetime) -> datetime:
        """Oldest instant ITNIO still holds records for (§3.5, §3.6: the last two months)."""
        return now - timedelta(days=self.record_retention_days)

    def check_record_retention(self, start: datetime, now: datetime) -> datetime:
        """Helper for callers that split windows; the client itself does not enforce it."""
        if start < self.retention_start(now):
            raise ItnioLimitError(
                "strTime",
                _("must be within the last %(days)s days") % {"days": self.record_retention_days},
            )
        return start

    def check_import_batch(self, customers: Iterable[object]) -> list[object]:
        rows = list(customers)
        if not 1 <= len(rows) <= self.import_customer_max:
            raise ItnioLimitError(
                "customerPersons",
                _("must hold %(span)s customers per request")
                % {"span": _span(1, self.import_customer_max)},
                got=_("%(count)s customers") % {"count": len(rows)},
            )
        return rows

    def check_hhmm(self, field: str, value: object) -> str:
        """A daily time "HH:mm" (§5.1: dailyStartDateTime, inactiveTimeList)."""
        if not isinstance(value, str) or not _HHMM.fullmatch(value):
            raise ItnioLimitError(
                field, _("must be a time HH:mm (00:00–23:59)"), got=show_value(value)
            )
        return value

    def check_ai_mode(self, value: object) -> str:
        if value not in self.ai_modes:
            raise ItnioLimitError(
                "mode",
                _("must be one of %(values)s") % {"values": ", ".join(self.ai_modes)},
                got=show_value(value),
            )
        assert isinstance(value, str)
        return value

    def check_aware(self, field: str, value: object) -> datetime:
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise ItnioLimitError(
                field, _("must be a timezone-aware datetime"), got=show_value(value)
            )
        return value

    def check_inactive_times(self, values: object) -> list[dict[str, str]]:
        """≤3 daily pause windows {startTime, endTime} in HH:mm, start before end (§5.1)."""
        rows = self._check_list("inactiveTimeList", values, self.ai_inactive_max)
        out = []
        for row in rows:
            start = self.check_hhmm("inactiveTimeList.startTime", _get(row, "startTime"))
            end = self.check_hhmm("inactiveTimeList.endTime", _get(row, "endTime"))
            if end <= start:
                raise ItnioLimitError(
                    "inactiveTimeList",
                    _("each endTime must be after its startTime"),
                    got=f"{start}–{end}",
                )
            out.append({"startTime": start, "endTime": end})
        return out

    def check_inactive_dates(self, values: object) -> list[dict[str, str]]:
        """≤3 date ranges {startDate, endDate} in yyyy-MM-dd, start not after end (§5.1)."""
        rows = self._check_list("inactiveDateList", values, self.ai_inactive_max)
        out = []
        for row in rows:
            start = _check_date("inactiveDateList.startDate", _get(row, "startDate"))
            end = _check_date("inactiveDateList.endDate", _get(row, "endDate"))
            if end < start:
                raise ItnioLimitError(
                    "inactiveDateList",
                    _("each endDate must not be before its startDate"),
                    got=f"{start}–{end}",
                )
            out.append({"startDate": start, "endDate": end})
        return out

    def check_days_of_week(self, values: object) -> list[str]:
        rows = self._check_list("daysOfWeek", values, len(self.days_of_week))
        for day in rows:
            if day not in self.days_of_week:
                raise ItnioLimitError(
                    "daysOfWeek",
                    _("each day must be one of %(values)s")
                    % {"values": ", ".join(self.days_of_week)},
                    got=show_value(day),
                )
        if len(set(rows)) != len(rows):
            raise ItnioLimitError("daysOfWeek", _("each day may appear only once"))
        return list(rows)

    def check_redial_conditions(self, values: object) -> list[str]:
        """Required (non-empty) when redial is on; the documented value list is truncated
        (§5.1), so only the shape is checked here."""
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise ItnioLimitError(
                "redialCondition",
                _("must list at least one condition when redial is on"),
                got=show_value(values),
            )
        for value in values:
            if not isinstance(value, str) or not value.strip():
                raise ItnioLimitError(
                    "redialCondition",
                    _("each condition must be a non-empty string"),
                    got=show_value(value),
                )
        return list(values)

    def check_ai_customer(self, row: object) -> object:
        """One importCustomer row (§5.5): name, phoneNumber ≤32, gender MALE/FEMALE or none."""
        name = getattr(row, "name", None)
        phone = getattr(row, "phone_number", None)
        gender = getattr(row, "gender", None)
        self.check_required("customerPersons.name", name)
        self.check_length("customerPersons.phoneNumber", phone, 1, self.ai_phone_number_max)
        if gender is not None and gender not in self.genders:
            # §5.5: JSON null, never "": an empty or unknown gender must be None.
            raise ItnioLimitError(
                "customerPersons.gender",
                _("must be %(values)s or None (never an empty string)")
                % {"values": " or ".join(self.genders)},
                got=show_value(gender),
            )
        properties = getattr(row, "properties", None)
        if properties is not None and not isinstance(properties, Mapping):
            raise ItnioLimitError(
                "customerPersons.properties", _("must be a map"), got=show_value(properties)
            )
        return row

    def _check_list(self, field: str, values: object, maximum: int) -> list[object]:
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise ItnioLimitError(field, _("must be a list"), got=show_value(values))
        if len(values) > maximum:
            raise ItnioLimitError(
                field,
                _("must hold at most %(count)s entries") % {"count": maximum},
                got=_("%(count)s entries") % {"count": len(values)},
            )
        return list(values)


DEFAULT_LIMITS = Limits()


def _check_date(field: str, value: object) -> str:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ItnioLimitError(field, _("must be a date yyyy-MM-dd"), got=show_value(value))
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ItnioLimitError(field, _("must be a real date"), got=show_value(value)) from None
    return value


def _get(row: object, key: str) -> object:
    return row.get(key) if isinstance(row, Mapping) else None
