"""Exact request bodies, paths and headers per endpoint, compared with the vendor seeds."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import responses

from itnio_portal.itnio import (
    Balance,
    ItnioClient,
    ItnioOutcomeUnknownError,
    ItnioProtocolError,
    RecordPage,
    SendResult,
    VoiceRecord,
    sign,
)

BASE = "https://api.itniotech.test"
KEY, SECRET = "bDqJFiq9", "7bz1lzh9"
OK = {"status": "0", "reason": "success", "data": None}


@pytest.fixture
def client():
    # The vendor example's key, secret and clock, so the seeds' Sign is what goes out.
    c = ItnioClient(BASE, KEY, SECRET, clock=lambda: 1630468800.0, sleep=lambda s: None)
    yield c
    c.close()


def sent(index: int = 0):
    request = responses.calls[index].request
    body = request.body
    return request, (None if body is None else json.loads(body))


def assert_seed_headers(request):
    assert request.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert request.headers["Api-Key"] == KEY
    assert request.headers["Timestamp"] == "1630468800"
    assert request.headers["Sign"] == "05d7a50893e22a5c4bb3216ae3396c7c"


@responses.activate
def test_send_code_body_matches_seed_001(client):
    responses.add(
        responses.POST,
        f"{BASE}/voice/sendCode",
        json={"status": "0", "reason": "success", "data": "2203031113381000002"},
    )
    voice_id = client.send_code(
        app_id="4luaKsL2",
        callee="932111111111",
        display_num="1008122211",
        language="EN",
        text="hello world",
        loop_count=2,
        called_info="calledInfo",
        recall_count=0,
        recall_interval=5,
        max_duration=120,
        max_ringing_time=60,
    )
    assert voice_id == "2203031113381000002"
    request, body = sent()
    assert request.method == "POST"
    assert_seed_headers(request)
    # Seed 001 sends recallInterval 0, outside the documented 1-999; we send a valid value.
    assert body == {
        "callee": "932111111111",
        "displayNum": "1008122211",
        "language": "EN",
        "text": "hello world",
        "appId": "4luaKsL2",
        "loopCount": 2,
        "calledInfo": "calledInfo",
        "recallCount": 0,
        "recallInterval": 5,
        "maxDuration": 120,
        "maxRingingTime": 60,
    }
    assert list(body) == [
        "callee", "displayNum", "language", "text", "appId", "loopCount", "calledInfo",
        "recallCount", "recallInterval", "maxDuration", "maxRingingTime",
    ]  # fmt: skip
    for key in ("loopCount", "recallCount", "recallInterval", "maxDuration", "maxRingingTime"):
        assert type(body[key]) is int


@responses.activate
def test_send_code_omits_optional_fields_when_none_or_empty(client):
    responses.add(responses.POST, f"{BASE}/voice/sendCode", json={"status": "0", "data": "v"})
    client.send_code(
        app_id="4luaKsL2", callee="932111111111", language="VN", text="xin chào",
        display_num="", called_info="",
    )  # fmt: skip
    request, body = sent()
    assert body == {
        "callee": "932111111111",
        "language": "VN",
        "text": "xin chào",
        "appId": "4luaKsL2",
    }
    # Compact JSON, UTF-8, non-ASCII kept as is (not \u escapes).
    raw = request.body
    assert b"xin ch\xc3\xa0o" in raw
    assert b": " not in raw and b", " not in raw


@responses.activate
def test_send_group_body_matches_seed_002(client):
    responses.add(
        responses.POST,
        f"{BASE}/voice/sendGroup",
        json={
            "status": "0",
            "reason": "success",
            "data": [
                {
                    "voiceId": "2203031134011000001",
                    "callee": "91856321412",
                    "terminationCode": "0",
                    "terminationReason": "success",
                },
                {
                    "voiceId": "",
                    "callee": "91856321300",
                    "terminationCode": "-26",
                    "terminationReason": "no rate",
                },
            ],
        },
    )
    results = client.send_group(
        app_id="4luaKsL2",
        file_id="12022022570cc2484c59d4f8b9745d34226285b1e.mp3",
        callees=["91856321412", "91856321300"],
        display_num="1008122211",
        max_duration=50,
        max_ringing_time=60,
        loop_count=2,
        called_info="calledInfo",
    )
    request, body = sent()
    assert_seed_headers(request)
    assert body == {
        "callee": "91856321412,91856321300",
        "displayNum": "1008122211",
        "fileId": "12022022570cc2484c59d4f8b9745d34226285b1e.mp3",
        "appId": "4luaKsL2",
        "maxDuration": 50,
        "maxRingingTime": 60,
        "loopCount": 2,
        "calledInfo": "calledInfo",
    }
    assert list(body) == [
        "callee", "displayNum", "fileId", "appId", "maxDuration", "maxRingingTime",
        "loopCount", "calledInfo",
    ]  # fmt: skip
    assert results == [
        SendResult("2203031134011000001", "91856321412", "0", "success"),
        SendResult("", "91856321300", "-26", "no rate"),
    ]
    assert [r.accepted for r in results] == [True, False]


@responses.activate
def test_send_group_minimal_body(client):
    responses.add(responses.POST, f"{BASE}/voice/sendGroup", json={"status": "0", "data": []})
    client.send_group(app_id="a1", file_id="f.mp3", callees=("91856321412",))
    assert sent()[1] == {"callee": "91856321412", "fileId": "f.mp3", "appId": "a1"}


@responses.activate
def test_file_upload_sends_base64_and_returns_file_id(client):
    content = b"ID3\x00\x01\xff audio bytes"
    responses.add(
        responses.POST,
        f"{BASE}/voice/fileUpload",
        json={"status": "0", "reason": "success", "data": "1202202254d4c464.mp3"},
    )
    file_id = client.file_upload(file_name="welcome.mp3", content=content)
    assert file_id == "1202202254d4c464.mp3"
    request, body = sent()
    assert_seed_headers(request)
    assert body == {"fileName": "welcome.mp3", "file": base64.b64encode(content).decode()}
    assert base64.b64decode(body["file"]) == content


@responses.activate
def test_record_group_is_a_get_with_content_type_and_no_body(client):
    data = {"voiceId": "2203031113381000002", "hangupTime": "2022-01-18T14:42:55+08:00"}
    responses.add(
        responses.GET,
        f"{BASE}/voice/recordGroup/2203031113381000002",
        json={"status": "0", "reason": "success", "data": data},
    )
    record = client.record_group("2203031113381000002")
    request, body = sent()
    assert request.method == "GET"
    assert body is None
    assert_seed_headers(request)
    assert isinstance(record, VoiceRecord)
    assert record.is_final


@responses.activate
def test_record_group_quotes_the_voice_id(client):
    responses.add(
        responses.GET,
        f"{BASE}/voice/recordGroup/a%2F..%2Fb%20c",
        json={"status": "0", "data": {"voiceId": "a/../b c"}},
    )
    client.record_group(voice_id="a/../b c")
    assert responses.calls[0].request.path_url == "/voice/recordGroup/a%2F..%2Fb%20c"


@responses.activate
def test_record_group_query_body_uses_iso_offsets(client):
    responses.add(
        responses.POST,
        f"{BASE}/voice/recordGroupQuery",
        json={
            "status": "0",
            "reason": "success",
            "data": {
                "total": 1,
                "size": 25,
                "current": 2,
                "pages": 1,
                "searchCount": True,
                "records": [{"voiceId": "v1", "cost": "0.5"}],
            },
        },
    )
    cst = timezone(timedelta(hours=8))
    page = client.record_group_query(
        start=datetime(2022, 1, 1, tzinfo=cst),
        end=datetime(2022, 1, 31, 12, 30, 15, 500, tzinfo=UTC),
        current=2,
        size=25,
    )
    request, body = sent()
    assert_seed_headers(request)
    assert body == {
        "current": 2,
        "size": 25,
        "params": {"strTime": "2022-01-01T00:00:00+08:00", "endTime": "2022-01-31T12:30:15+00:00"},
    }
    assert isinstance(page, RecordPage)
    assert page.current == 2
    assert page.records[0].cost == Decimal("0.5")


@responses.activate
def test_record_group_query_defaults(client):
    responses.add(
        responses.POST, f"{BASE}/voice/recordGroupQuery", json={"status": "0", "data": {}}
    )
    t = datetime(2022, 1, 1, tzinfo=UTC)
    client.record_group_query(start=t, end=t + timedelta(days=1))
    assert sent()[1]["current"] == 1
    assert sent()[1]["size"] == 100


@responses.activate
def test_sip_add_body_matches_seed_004(client):
    responses.add(responses.POST, f"{BASE}/voice/sipAdd", json=OK)
    result = client.sip_add(
        app_id="4luaKsL2",
        group_name="sipGroup",
        phone_name="sip_",
        quantity=30,
        display_num="861000000",
    )
    assert result is None
    request, body = sent()
    assert_seed_headers(request)
    # Seed 004's phoneName "sip" is 3 characters, below its own 4-32 rule: we use "sip_".
    assert body == {
        "groupName": "sipGroup",
        "phoneName": "sip_",
        "quantity": 30,
        "displayNum": "861000000",
        "appId": "4luaKsL2",
    }
    assert type(body["quantity"]) is int


@responses.activate
def test_get_balance_reads_top_level_fields(client):
    responses.add(
        responses.GET,
        f"{BASE}/sms/getBalance",
        json={"status": "0", "reason": "success", "balance": "100.25", "gift": "5", "credit": ""},
    )
    balance = client.get_balance()
    request, body = sent()
    assert request.method == "GET"
    assert body is None
    assert_seed_headers(request)
    assert balance == Balance(Decimal("100.25"), Decimal("5"), None)


@responses.activate
def test_ai_task_start_body_matches_seed_000(client):
    responses.add(responses.POST, f"{BASE}/aivoice/taskStart", json=OK)
    assert client.ai_task_start(app_id="LILIN888", job_id=10886) is None
    request, body = sent()
    assert_seed_headers(request)
    assert body == {"appId": "LILIN888", "jobId": 10886}
    assert type(body["jobId"]) is int


@responses.activate
def test_send_answering_success_without_a_voice_id_is_outcome_unknown(client):
    responses.add(responses.POST, f"{BASE}/voice/sendCode", json={"status": "0", "data": None})
    with pytest.raises(ItnioOutcomeUnknownError):
        client.send_code(app_id="a", callee="932111111111", language="EN", text="hi")


@responses.activate
def test_read_answering_success_with_bad_data_is_protocol_error(client):
    responses.add(responses.GET, f"{BASE}/voice/recordGroup/v1", json={"status": "0", "data": []})
    with pytest.raises(ItnioProtocolError):
        client.record_group("v1")
    assert len(responses.calls) == 1


def test_repr_hides_the_secret_and_key(client):
    text = repr(client)
    assert SECRET not in text
    assert KEY not in text
    assert BASE in text


def test_empty_credentials_are_refused():
    with pytest.raises(ValueError):
        ItnioClient(BASE, "", SECRET)
    with pytest.raises(ValueError):
        ItnioClient(BASE, KEY, "")


@responses.activate
def test_base_url_trailing_slash_is_ignored():
    responses.add(responses.GET, f"{BASE}/sms/getBalance", json={"status": "0"})
    ItnioClient(BASE + "/", KEY, SECRET).get_balance()
    assert responses.calls[0].request.url == f"{BASE}/sms/getBalance"


def test_sign_vector_sanity():
    # The fixture's clock makes the seeds' Sign; if this fails, every header test above would.
    assert sign(KEY, SECRET, "1630468800") == "05d7a50893e22a5c4bb3216ae3396c7c"
