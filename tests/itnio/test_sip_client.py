"""sendSip, recordSip and recordSipQuery (§3.4, §3.7, §3.8): bodies, limits, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import responses

from itnio_portal.itnio import (
    ItnioClient,
    ItnioLimitError,
    ItnioOutcomeUnknownError,
    ParameterError,
    RecordPage,
    VoiceRecord,
)

BASE = "https://api.itniotech.test"
KEY, SECRET = "bDqJFiq9", "7bz1lzh9"
CST = timezone(timedelta(hours=8))
SIP_RECORD = {
    "voiceId": "2203031113381000002",
    "sipGroupName": "sipGroup",
    "phoneName": "desk",
    "callee": "919876543210",
    "displayNum": "861000000",
    "code": "India(Jio)",
    "submitTime": "2022-01-18T14:42:40+08:00",
    "callTime": "2022-01-18T14:42:42+08:00",
    "ringingTime": "2022-01-18T14:42:44+08:00",
    "answerTime": "2022-01-18T14:42:48+08:00",
    "hangupTime": "2022-01-18T14:43:20+08:00",
    "callDuration": 32,
    "chargedDuration": 60,
    "terminationCode": "200",
    "terminationReason": "success",
    "cost": "0.0138",
    "billPeriod": "60+60",
    "rate": "0.0138",
    "recordingFileId": "rec2203031113381000002.mp3",
    "settleRate": "0.0138",
    "quoteExchange": "0.92",
    "settlePay": "0.0138",
    "currency": "EUR",
}


@pytest.fixture
def client():
    c = ItnioClient(BASE, KEY, SECRET, clock=lambda: 1630468800.0, sleep=lambda s: None)
    yield c
    c.close()


def sent(index: int = 0):
    request = responses.calls[index].request
    return request, (None if request.body is None else json.loads(request.body))


def assert_signed(request):
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert request.headers["Api-Key"] == KEY
    assert request.headers["Timestamp"] == "1630468800"
    assert request.headers["Sign"] == "05d7a50893e22a5c4bb3216ae3396c7c"


# ---- sendSip -----------------------------------------------------------------------------------


@responses.activate
def test_send_sip_body_and_voice_id(client):
    responses.add(
        responses.POST,
        f"{BASE}/voice/sendSip",
        json={"status": "0", "reason": "success", "data": "2203031113381000002"},
    )
    voice_id = client.send_sip(
        app_id="4luaKsL2", account="test_001", callee="919876543210", display_num="1008122211"
    )
    assert voice_id == "2203031113381000002"
    request, body = sent()
    assert request.method == "POST"
    assert_signed(request)
    assert body == {
        "callee": "919876543210",
        "displayNum": "1008122211",
        "account": "test_001",
        "appId": "4luaKsL2",
    }
    assert list(body) == ["callee", "displayNum", "account", "appId"]


@pytest.mark.parametrize("display_num", [None, ""])
@responses.activate
def test_send_sip_omits_an_empty_display_number(client, display_num):
    responses.add(responses.POST, f"{BASE}/voice/sendSip", json={"status": "0", "data": "v1"})
    client.send_sip(
        app_id="4luaKsL2", account="test_001", callee="919876543210", display_num=display_num
    )
    assert sent()[1] == {"callee": "919876543210", "account": "test_001", "appId": "4luaKsL2"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"callee": "123456"}, "callee"),
        ({"callee": "9198765432101234"}, "callee"),
        ({"callee": "+919876543210"}, "callee"),
        ({"display_num": "123456"}, "displayNum"),
        ({"display_num": "1234567890123456"}, "displayNum"),
        ({"account": ""}, "account"),
        ({"app_id": " "}, "appId"),
    ],
)
@responses.activate
def test_send_sip_limits_are_checked_before_sending(client, overrides, field):
    arguments = {"app_id": "4luaKsL2", "account": "test_001", "callee": "919876543210"}
    with pytest.raises(ItnioLimitError) as exc:
        client.send_sip(**{**arguments, **overrides})
    assert exc.value.field == field
    assert len(responses.calls) == 0


@responses.activate
def test_send_sip_display_number_takes_15_digits_unlike_sip_add(client):
    # §3.4: 7-15 digits, not sipAdd's 7-13 (§3.9).
    responses.add(responses.POST, f"{BASE}/voice/sendSip", json={"status": "0", "data": "v1"})
    client.send_sip(
        app_id="a", account="test_001", callee="919876543210", display_num="123456789012345"
    )
    assert sent()[1]["displayNum"] == "123456789012345"


@responses.activate
def test_send_sip_is_never_retried(client):
    responses.add(responses.POST, f"{BASE}/voice/sendSip", status=502)
    with pytest.raises(ItnioOutcomeUnknownError):
        client.send_sip(app_id="a", account="test_001", callee="919876543210")
    assert len(responses.calls) == 1


@responses.activate
def test_send_sip_success_without_a_voice_id_is_outcome_unknown(client):
    responses.add(responses.POST, f"{BASE}/voice/sendSip", json={"status": "0", "data": None})
    with pytest.raises(ItnioOutcomeUnknownError):
        client.send_sip(app_id="a", account="test_001", callee="919876543210")


@responses.activate
def test_send_sip_business_code_is_typed(client):
    responses.add(
        responses.POST,
        f"{BASE}/voice/sendSip",
        json={"status": "-22", "reason": "parameter error", "data": None},
    )
    with pytest.raises(ParameterError) as exc:
        client.send_sip(app_id="a", account="nope_001", callee="919876543210")
    assert exc.value.code == "-22" and exc.value.endpoint == "/voice/sendSip"


def test_send_sip_body_checks_without_sending(client):
    assert client.send_sip_body(app_id="a", account="x_001", callee="919876543210") == {
        "callee": "919876543210",
        "account": "x_001",
        "appId": "a",
    }


# ---- recordSip ---------------------------------------------------------------------------------


@responses.activate
def test_record_sip_is_a_get_and_reads_the_sip_fields(client):
    responses.add(
        responses.GET,
        f"{BASE}/voice/recordSip/2203031113381000002",
        json={"status": "0", "reason": "success", "data": SIP_RECORD},
    )
    record = client.record_sip("2203031113381000002")
    request, body = sent()
    assert request.method == "GET" and body is None
    assert_signed(request)
    assert isinstance(record, VoiceRecord)
    assert (record.sip_group_name, record.phone_name, record.recording_file_id) == (
        "sipGroup",
        "desk",
        "rec2203031113381000002.mp3",
    )
    assert record.cost == Decimal("0.0138") and record.bill_period == "60+60"
    assert record.settle_rate == Decimal("0.0138") and record.quote_exchange == Decimal("0.92")
    assert record.currency == "EUR" and record.charged_duration == 60 and record.is_final


@responses.activate
def test_record_sip_quotes_the_voice_id(client):
    responses.add(
        responses.GET,
        f"{BASE}/voice/recordSip/a%2F..%2Fb",
        json={"status": "0", "data": {"voiceId": "a/../b"}},
    )
    client.record_sip("a/../b")
    assert responses.calls[0].request.path_url == "/voice/recordSip/a%2F..%2Fb"


@responses.activate
def test_record_sip_is_a_read_and_retried(client):
    url = f"{BASE}/voice/recordSip/v1"
    responses.add(responses.GET, url, status=502)
    responses.add(responses.GET, url, json={"status": "0", "data": {"voiceId": "v1"}})
    assert client.record_sip("v1").voice_id == "v1"
    assert len(responses.calls) == 2


def test_record_sip_needs_a_voice_id(client):
    with pytest.raises(ItnioLimitError):
        client.record_sip("")


# ---- recordSipQuery ----------------------------------------------------------------------------


@responses.activate
def test_record_sip_query_body_with_filters(client):
    responses.add(
        responses.POST,
        f"{BASE}/voice/recordSipQuery",
        json={
            "status": "0",
            "reason": "success",
            "data": {
                "total": 1,
                "size": 25,
                "current": 2,
                "pages": 1,
                "searchCount": True,
                "records": [SIP_RECORD],
            },
        },
    )
    page = client.record_sip_query(
        start=datetime(2022, 1, 1, tzinfo=CST),
        end=datetime(2022, 1, 31, 12, 30, 15, 500, tzinfo=UTC),
        current=2,
        size=25,
        sip_group_name="sipGroup",
        phone_name="desk",
    )
    request, body = sent()
    assert_signed(request)
    assert body == {
        "current": 2,
        "size": 25,
        "params": {
            "strTime": "2022-01-01T00:00:00+08:00",
            "endTime": "2022-01-31T12:30:15+00:00",
            "sipGroupName": "sipGroup",
            "phoneName": "desk",
        },
    }
    assert isinstance(page, RecordPage) and page.current == 2
    assert page.records[0].phone_name == "desk"


@pytest.mark.parametrize("empty", [None, ""])
@responses.activate
def test_record_sip_query_omits_absent_filters_and_defaults(client, empty):
    responses.add(responses.POST, f"{BASE}/voice/recordSipQuery", json={"status": "0", "data": {}})
    start = datetime(2022, 1, 1, tzinfo=UTC)
    client.record_sip_query(
        start=start, end=start + timedelta(days=1), sip_group_name=empty, phone_name=empty
    )
    body = sent()[1]
    assert (body["current"], body["size"]) == (1, 100)
    assert set(body["params"]) == {"strTime", "endTime"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"end": datetime(2022, 2, 2, tzinfo=UTC)}, "endTime"),  # 32 days
        ({"end": datetime(2021, 12, 31, tzinfo=UTC)}, "endTime"),  # before the start
        ({"start": datetime(2022, 1, 1)}, "strTime"),  # naive
        ({"size": 101}, "size"),
        ({"size": 0}, "size"),
        ({"current": 0}, "current"),
    ],
)
@responses.activate
def test_record_sip_query_limits(client, kwargs, field):
    arguments = {
        "start": datetime(2022, 1, 1, tzinfo=UTC),
        "end": datetime(2022, 2, 1, tzinfo=UTC),  # exactly 31 days: allowed
        **kwargs,
    }
    with pytest.raises(ItnioLimitError) as exc:
        client.record_sip_query(**arguments)
    assert exc.value.field == field
    assert len(responses.calls) == 0


@responses.activate
def test_record_sip_query_is_a_read_and_retried(client):
    url = f"{BASE}/voice/recordSipQuery"
    responses.add(responses.POST, url, status=503)
    responses.add(responses.POST, url, json={"status": "0", "data": {"records": []}})
    start = datetime(2022, 1, 1, tzinfo=UTC)
    page = client.record_sip_query(start=start, end=start + timedelta(days=31))
    assert page.records == () and len(responses.calls) == 2
