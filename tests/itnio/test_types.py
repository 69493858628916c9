"""Time parsing/formatting and the typed records built from ITNIO answers."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from itnio_portal.itnio import (
    ITNIO_TZ,
    Balance,
    RecordPage,
    SendResult,
    VoiceRecord,
    format_ai_time,
    format_iso,
    parse_time,
)

CST = timezone(timedelta(hours=8))

# Seed 003's response data, verbatim.
SEED_003_DATA = {
    "voiceId": "2203031113381000002",
    "callee": "91856321412",
    "displayNum": "1008122211",
    "code": "Afghanistan(Kandahar)",
    "submitTime": "2022-01-18T14:42:40+08:00",
    "callTime": "2022-01-18T14:42:45+08:00",
    "ringingTime": "2022-01-18T14:42:47+08:00",
    "answerTime": "2022-01-18T14:42:50+08:00",
    "hangupTime": "2022-01-18T14:42:55+08:00",
    "callDuration": 5,
    "chargedDuration": 5,
    "terminationCode": "1000",
    "terminationReason": "success",
    "cost": "2",
    "billPeriod": "20+20",
    "rate": "1.2",
    "baseCost": "1",
    "voiceFileId": "12022022570cc2484c59d4f8b9745d34226285b1e.mp3",
    "feedbackValue": "1",
    "calledInfo": "calledInfo",
    "settleRate": "1.2793",
    "quoteExchange": "0.938",
    "currency": "EUR",
    "settlePay": "1.2793",
}


# ---- parse_time -----------------------------------------------------------------------------


def test_iso_with_offset_keeps_the_instant_and_offset():
    value = parse_time("2022-01-18T14:42:40+08:00")
    assert value == datetime(2022, 1, 18, 6, 42, 40, tzinfo=UTC)
    assert value.utcoffset() == timedelta(hours=8)


def test_iso_with_z_is_utc():
    assert parse_time("2022-01-18T06:42:40Z") == datetime(2022, 1, 18, 6, 42, 40, tzinfo=UTC)
    assert parse_time("2022-01-18T06:42:40.250Z").microsecond == 250_000


def test_naive_ai_format_is_read_in_itnio_zone_by_default():
    value = parse_time("2024-01-01 00:00:00")
    assert value == datetime(2024, 1, 1, tzinfo=CST)
    assert value == datetime(2023, 12, 31, 16, 0, tzinfo=UTC)
    assert parse_time("2024-01-01 00:00:00", default_tz=UTC) == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("value", [1642488160, "1642488160", 1642488160.0])
def test_epoch_seconds(value):
    assert parse_time(value) == datetime(2022, 1, 18, 6, 42, 40, tzinfo=UTC)


@pytest.mark.parametrize("value", [1642488160123, "1642488160123", 1642488160123.0])
def test_epoch_milliseconds(value):
    assert parse_time(value) == datetime(2022, 1, 18, 6, 42, 40, 123000, tzinfo=UTC)


def test_compact_agent_push_format():
    # itnio-api.md §6.3: "yyyyMMddHHmmSS (millisecond timestamp)", read as a calendar time.
    assert parse_time("20240101120000") == datetime(2024, 1, 1, 12, tzinfo=CST)


@pytest.mark.parametrize("value", [None, "", "   ", 0, "0", 0.0])
def test_blanks_are_none(value):
    assert parse_time(value) is None


@pytest.mark.parametrize("value", ["yesterday", "2022-13-45 10:00:00", "12:00", True, [1], "1e9"])
def test_unparsable_values_raise_value_error_naming_the_value(value):
    with pytest.raises(ValueError, match="unparsable ITNIO time value") as info:
        parse_time(value)
    assert repr(value) in str(info.value)


def test_results_are_always_aware():
    for value in ("2022-01-18T14:42:40", "2022-01-18 14:42:40", 1642488160, "1642488160123"):
        assert parse_time(value).tzinfo is not None


# ---- formatting -----------------------------------------------------------------------------


def test_format_iso_has_explicit_offset_and_seconds_precision():
    assert format_iso(datetime(2022, 1, 1, 0, 0, 0, 999, tzinfo=CST)) == "2022-01-01T00:00:00+08:00"
    assert format_iso(datetime(2022, 1, 1, tzinfo=UTC)) == "2022-01-01T00:00:00+00:00"


def test_format_ai_time_converts_to_itnio_zone():
    assert format_ai_time(datetime(2023, 12, 31, 16, 0, 5, tzinfo=UTC)) == "2024-01-01 00:00:05"
    assert format_ai_time(datetime(2024, 1, 1, tzinfo=UTC), tz=UTC) == "2024-01-01 00:00:00"


@pytest.mark.parametrize("fmt", [format_iso, format_ai_time])
def test_formatting_refuses_naive_datetimes(fmt):
    with pytest.raises(ValueError, match="timezone-aware"):
        fmt(datetime(2024, 1, 1))


def test_itnio_zone_is_utc_plus_8():
    assert ITNIO_TZ.utcoffset(None) == timedelta(hours=8)


# ---- records --------------------------------------------------------------------------------


def test_voice_record_from_seed_003():
    record = VoiceRecord.from_api(SEED_003_DATA)
    assert record.voice_id == "2203031113381000002"
    assert record.callee == "91856321412"
    assert record.display_num == "1008122211"
    assert record.code == "Afghanistan(Kandahar)"
    assert record.submit_time == datetime(2022, 1, 18, 14, 42, 40, tzinfo=CST)
    assert record.answer_time == datetime(2022, 1, 18, 14, 42, 50, tzinfo=CST)
    assert record.hangup_time == datetime(2022, 1, 18, 14, 42, 55, tzinfo=CST)
    assert record.call_duration == 5
    assert record.charged_duration == 5
    assert record.termination_code == "1000"
    assert record.termination_reason == "success"
    assert record.cost == Decimal("2")
    assert isinstance(record.cost, Decimal)
    assert record.rate == Decimal("1.2")
    assert record.base_cost == Decimal("1")
    assert record.settle_rate == Decimal("1.2793")
    assert record.quote_exchange == Decimal("0.938")
    assert record.settle_pay == Decimal("1.2793")
    assert record.bill_period == "20+20"
    assert record.voice_file_id == "12022022570cc2484c59d4f8b9745d34226285b1e.mp3"
    assert record.feedback_value == "1"
    assert record.called_info == "calledInfo"
    assert record.currency == "EUR"
    assert record.currency_raw == "EUR"
    assert (record.sip_group_name, record.phone_name, record.recording_file_id) == ("", "", "")
    assert record.raw == SEED_003_DATA
    assert record.is_final
    assert record.answered


def test_blank_currency_means_usd_and_blank_money_is_none():
    data = {
        **SEED_003_DATA,
        "currency": "",
        "settleRate": "",
        "settlePay": None,
        "quoteExchange": " ",
    }
    record = VoiceRecord.from_api(data)
    assert record.currency == "USD"
    assert record.currency_raw == ""
    assert record.settle_rate is None
    assert record.settle_pay is None
    assert record.quote_exchange is None
    assert VoiceRecord.from_api({"voiceId": "x"}).currency == "USD"


def test_money_is_never_rounded_through_float():
    record = VoiceRecord.from_api({"voiceId": "x", "cost": "0.1000000000000000055511", "rate": 0.1})
    assert record.cost == Decimal("0.1000000000000000055511")
    assert record.rate == Decimal("0.1")


def test_voice_record_tolerates_missing_keys_and_epoch_ms_push_times():
    record = VoiceRecord.from_api(
        {
            "voiceId": "v9",
            "submitTime": 1642488160000,
            "answerTime": 0,
            "hangupTime": "1642488175000",
            "callDuration": "15",
            "recordingFileId": "rec.wav",
            "sipGroupName": "grp",
            "phoneName": "sip_001",
        }
    )
    assert record.submit_time == datetime(2022, 1, 18, 6, 42, 40, tzinfo=UTC)
    assert record.answer_time is None
    assert record.hangup_time == datetime(2022, 1, 18, 6, 42, 55, tzinfo=UTC)
    assert record.call_duration == 15
    assert record.charged_duration is None
    assert record.cost is None
    assert record.termination_code == ""
    assert (record.sip_group_name, record.phone_name, record.recording_file_id) == (
        "grp",
        "sip_001",
        "rec.wav",
    )
    assert record.is_final
    assert not record.answered


def test_record_not_final_without_hangup_time():
    record = VoiceRecord.from_api({"voiceId": "v", "hangupTime": "", "answerTime": None})
    assert not record.is_final
    assert not record.answered


def test_unreadable_values_become_none_and_raw_keeps_them():
    record = VoiceRecord.from_api({"voiceId": "v", "cost": "n/a", "hangupTime": "soon"})
    assert record.cost is None
    assert record.hangup_time is None
    assert record.raw["cost"] == "n/a"


def test_records_are_frozen():
    record = VoiceRecord.from_api(SEED_003_DATA)
    with pytest.raises(FrozenInstanceError):
        record.cost = Decimal(0)  # type: ignore[misc]


def test_record_page():
    page = RecordPage.from_api(
        {
            "total": 3,
            "size": 2,
            "current": 1,
            "pages": 2,
            "searchCount": True,
            "records": [SEED_003_DATA, {**SEED_003_DATA, "voiceId": "2"}],
        }
    )
    assert (page.total, page.size, page.current, page.pages) == (3, 2, 1, 2)
    assert isinstance(page.records, tuple)
    assert [r.voice_id for r in page.records] == ["2203031113381000002", "2"]
    assert RecordPage.from_api({}).records == ()


def test_send_result_acceptance_is_termination_code_zero():
    ok = SendResult.from_api(
        {"voiceId": "1", "callee": "91856321412", "terminationCode": "0", "terminationReason": "ok"}
    )
    assert ok.accepted
    assert ok.voice_id == "1"
    refused = SendResult.from_api({"voiceId": "", "callee": "9", "terminationCode": "-22"})
    assert not refused.accepted
    assert refused.termination_reason == ""


def test_balance_decimals_and_blanks():
    balance = Balance.from_api({"status": "0", "balance": "12.345", "gift": "", "credit": "0"})
    assert balance == Balance(balance=Decimal("12.345"), gift=None, credit=Decimal("0"))
