"""Every documented limit is enforced before anything is sent, naming the field."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta, timezone

import pytest
import responses

from itnio_portal.itnio import LANGUAGES, ItnioClient, ItnioLimitError, Limits

BASE = "https://itnio.test"
T0 = datetime(2024, 5, 1, tzinfo=timezone(timedelta(hours=8)))

SEND_CODE = {"app_id": "4luaKsL2", "callee": "932111111111", "language": "EN", "text": "hi"}
SEND_GROUP = {"app_id": "4luaKsL2", "file_id": "f.mp3", "callees": ["91856321412", "918563213"]}
UPLOAD = {"file_name": "hello.mp3", "content": b"RIFF"}
SIP = {
    "app_id": "4luaKsL2",
    "group_name": "sipGroup",
    "phone_name": "sip1",
    "quantity": 30,
    "display_num": "861000000",
}
QUERY = {"start": T0, "end": T0 + timedelta(days=1)}
TASK = {"app_id": "LILIN888", "job_id": 10886}


def numbers(count: int) -> list[str]:
    return [f"9185632{i:05d}" for i in range(count)]


CASES = [
    # (method, base kwargs, overrides, field)
    ("send_code", SEND_CODE, {"app_id": ""}, "appId"),
    ("send_code", SEND_CODE, {"callee": "123456"}, "callee"),
    ("send_code", SEND_CODE, {"callee": "1234567890123456"}, "callee"),
    ("send_code", SEND_CODE, {"callee": "+932111111111"}, "callee"),
    ("send_code", SEND_CODE, {"callee": "932 111 1111"}, "callee"),
    ("send_code", SEND_CODE, {"callee": "９３２１１１１１１"}, "callee"),
    ("send_code", SEND_CODE, {"callee": 932111111111}, "callee"),
    ("send_code", SEND_CODE, {"callee": "93211,93212"}, "callee"),
    ("send_code", SEND_CODE, {"display_num": "123456"}, "displayNum"),
    ("send_code", SEND_CODE, {"display_num": "1234567890123456"}, "displayNum"),
    ("send_code", SEND_CODE, {"language": "en"}, "language"),
    ("send_code", SEND_CODE, {"language": "ZH"}, "language"),
    ("send_code", SEND_CODE, {"text": ""}, "text"),
    ("send_code", SEND_CODE, {"text": "x" * 801}, "text"),
    ("send_code", SEND_CODE, {"language": "VN", "text": "x" * 300}, "text"),
    ("send_code", SEND_CODE, {"language": "IDN", "text": "x" * 300}, "text"),
    ("send_code", SEND_CODE, {"language": "TH", "text": "x" * 300}, "text"),
    ("send_code", SEND_CODE, {"loop_count": 0}, "loopCount"),
    ("send_code", SEND_CODE, {"loop_count": 10}, "loopCount"),
    ("send_code", SEND_CODE, {"loop_count": "2"}, "loopCount"),
    ("send_code", SEND_CODE, {"loop_count": True}, "loopCount"),
    ("send_code", SEND_CODE, {"called_info": "x" * 1001}, "calledInfo"),
    ("send_code", SEND_CODE, {"recall_count": -1}, "recallCount"),
    ("send_code", SEND_CODE, {"recall_count": 10}, "recallCount"),
    ("send_code", SEND_CODE, {"recall_count": 1, "recall_interval": 0}, "recallInterval"),
    ("send_code", SEND_CODE, {"recall_count": 0, "recall_interval": -1}, "recallInterval"),
    ("send_code", SEND_CODE, {"recall_interval": 1000}, "recallInterval"),
    ("send_code", SEND_CODE, {"max_duration": 0}, "maxDuration"),
    ("send_code", SEND_CODE, {"max_duration": 121}, "maxDuration"),
    ("send_code", SEND_CODE, {"max_ringing_time": 19}, "maxRingingTime"),
    ("send_code", SEND_CODE, {"max_ringing_time": 121}, "maxRingingTime"),
    ("send_group", SEND_GROUP, {"app_id": " "}, "appId"),
    ("send_group", SEND_GROUP, {"file_id": ""}, "fileId"),
    ("send_group", SEND_GROUP, {"callees": "91856321412,91856321300"}, "callee"),
    ("send_group", SEND_GROUP, {"callees": []}, "callee"),
    ("send_group", SEND_GROUP, {"callees": numbers(201)}, "callee"),
    ("send_group", SEND_GROUP, {"callees": ["91856321412", "91856321412"]}, "callee"),
    ("send_group", SEND_GROUP, {"callees": ["91856321412", "123"]}, "callee"),
    ("send_group", SEND_GROUP, {"display_num": "12"}, "displayNum"),
    ("send_group", SEND_GROUP, {"max_duration": 121}, "maxDuration"),
    ("send_group", SEND_GROUP, {"max_ringing_time": 19}, "maxRingingTime"),
    ("send_group", SEND_GROUP, {"loop_count": 10}, "loopCount"),
    ("send_group", SEND_GROUP, {"called_info": "x" * 1001}, "calledInfo"),
    ("file_upload", UPLOAD, {"file_name": "a.mp"}, "fileName"),
    ("file_upload", UPLOAD, {"file_name": "x" * 29 + ".mp3"}, "fileName"),
    ("file_upload", UPLOAD, {"file_name": "hello.ogg"}, "fileName"),
    ("file_upload", UPLOAD, {"content": b""}, "file"),
    ("file_upload", UPLOAD, {"content": "RIFF"}, "file"),
    ("sip_add", SIP, {"app_id": ""}, "appId"),
    ("sip_add", SIP, {"group_name": "abc"}, "groupName"),
    ("sip_add", SIP, {"group_name": "g" * 33}, "groupName"),
    ("sip_add", SIP, {"phone_name": "abc"}, "phoneName"),
    ("sip_add", SIP, {"quantity": 0}, "quantity"),
    ("sip_add", SIP, {"quantity": 51}, "quantity"),
    ("sip_add", SIP, {"display_num": "12345678901234"}, "displayNum"),
    ("sip_add", SIP, {"display_num": "123456"}, "displayNum"),
    ("record_group_query", QUERY, {"start": T0.replace(tzinfo=None)}, "strTime"),
    (
        "record_group_query",
        QUERY,
        {"end": (T0 + timedelta(days=1)).replace(tzinfo=None)},
        "endTime",
    ),
    ("record_group_query", QUERY, {"end": T0}, "endTime"),
    ("record_group_query", QUERY, {"end": T0 - timedelta(hours=1)}, "endTime"),
    ("record_group_query", QUERY, {"end": T0 + timedelta(days=31, seconds=1)}, "endTime"),
    ("record_group_query", QUERY, {"current": 0}, "current"),
    ("record_group_query", QUERY, {"size": 0}, "size"),
    ("record_group_query", QUERY, {"size": 101}, "size"),
    ("ai_task_start", TASK, {"app_id": ""}, "appId"),
    ("ai_task_start", TASK, {"job_id": "10886"}, "jobId"),
    ("ai_task_start", TASK, {"job_id": 0}, "jobId"),
    ("ai_task_start", TASK, {"job_id": True}, "jobId"),
]


@pytest.mark.parametrize(("method", "base", "overrides", "field"), CASES)
def test_limit_is_enforced_before_sending(method, base, overrides, field):
    client = ItnioClient(BASE, "key12345", "secret99")
    # No URL is registered: any request that got out would be recorded (and fail).
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        with pytest.raises(ItnioLimitError) as info:
            getattr(client, method)(**{**base, **overrides})
        assert len(rsps.calls) == 0
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


@pytest.mark.parametrize("voice_id", ["", "   ", None])
def test_record_group_needs_a_voice_id(voice_id):
    client = ItnioClient(BASE, "key12345", "secret99")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        with pytest.raises(ItnioLimitError) as info:
            client.record_group(voice_id)
        assert len(rsps.calls) == 0
    assert info.value.field == "voiceId"


def test_limit_message_reads_well():
    client = ItnioClient(BASE, "key12345", "secret99")
    with pytest.raises(ItnioLimitError) as info:
        client.send_group(app_id="a", file_id="f", callees=["91856321412", "12345"])
    assert str(info.value) == 'callee: each number must be 7\N{EN DASH}15 digits (got "12345")'
    assert info.value.rule == "each number must be 7\N{EN DASH}15 digits"


BOUNDARY_OK = [
    ("send_code", SEND_CODE, {"callee": "1234567", "display_num": "123456789012345"}),
    ("send_code", SEND_CODE, {"loop_count": 1, "max_duration": 1, "max_ringing_time": 20}),
    ("send_code", SEND_CODE, {"loop_count": 9, "max_duration": 120, "max_ringing_time": 120}),
    ("send_code", SEND_CODE, {"recall_count": 0, "recall_interval": 1}),
    # seed 001's own sample: no re-call, so the interval ITNIO will not use may be 0
    ("send_code", SEND_CODE, {"recall_count": 0, "recall_interval": 0}),
    ("send_code", SEND_CODE, {"recall_interval": 0}),  # recallCount not sent: its default, 0
    ("send_code", SEND_CODE, {"recall_count": 9, "recall_interval": 999}),
    ("send_code", SEND_CODE, {"language": "VN", "text": "x" * 299}),
    ("send_code", SEND_CODE, {"language": "EN", "text": "x" * 800}),
    ("send_code", SEND_CODE, {"called_info": "x" * 1000}),
    ("send_group", SEND_GROUP, {"callees": numbers(200)}),
    ("file_upload", UPLOAD, {"file_name": "a.mp3"}),
    ("file_upload", UPLOAD, {"file_name": "x" * 28 + ".WAV"}),
    ("sip_add", SIP, {"group_name": "g" * 32, "quantity": 50, "display_num": "1234567890123"}),
    ("sip_add", SIP, {"phone_name": "abcd", "quantity": 1, "display_num": "1234567"}),
    ("record_group_query", QUERY, {"end": T0 + timedelta(days=31), "size": 1}),
]


@pytest.mark.parametrize(("method", "base", "overrides"), BOUNDARY_OK)
@responses.activate
def test_values_on_the_boundary_are_sent(method, base, overrides):
    answers = {
        "send_code": ("/voice/sendCode", "v1"),
        "send_group": ("/voice/sendGroup", []),
        "file_upload": ("/voice/fileUpload", "id.mp3"),
        "sip_add": ("/voice/sipAdd", None),
        "record_group_query": ("/voice/recordGroupQuery", {"records": []}),
    }
    path, data = answers[method]
    responses.add(responses.POST, f"{BASE}{path}", json={"status": "0", "data": data})
    client = ItnioClient(BASE, "key12345", "secret99")
    getattr(client, method)(**{**base, **overrides})
    assert len(responses.calls) == 1


@responses.activate
def test_limits_are_configurable_where_docs_disagree():
    responses.add(responses.POST, f"{BASE}/voice/sendGroup", json={"status": "0", "data": []})
    wide = ItnioClient(BASE, "key12345", "secret99", limits=Limits(send_group_max=1000))
    wide.send_group(app_id="a", file_id="f.mp3", callees=numbers(1000))
    assert len(responses.calls) == 1

    strict = ItnioClient(BASE, "key12345", "secret99", limits=Limits(loop_count_max=3))
    with pytest.raises(ItnioLimitError, match="loopCount"):
        strict.send_group(app_id="a", file_id="f.mp3", callees=numbers(1), loop_count=4)
    assert len(responses.calls) == 1


def test_limits_defaults_and_immutability():
    limits = Limits()
    assert limits.send_group_max == 200
    assert (limits.text_max, limits.text_max_short_languages) == (800, 299)
    assert limits.short_languages == ("IDN", "VN", "TH")
    assert limits.text_limit("TH") == 299
    assert limits.text_limit("EN") == 800
    assert limits.languages == tuple(LANGUAGES)
    with pytest.raises(FrozenInstanceError):
        limits.send_group_max = 1000  # type: ignore[misc]


def test_languages_are_the_fourteen_documented_codes_in_order():
    assert list(LANGUAGES.items()) == [
        ("VN", "Vietnamese"),
        ("EN", "English"),
        ("JP", "Japanese"),
        ("ARB", "Arabic"),
        ("DE", "German"),
        ("IN", "Hindi"),
        ("IT", "Italian"),
        ("KR", "Korean"),
        ("RU", "Russian"),
        ("ES", "Spanish"),
        ("PT", "Portuguese"),
        ("IDN", "Indonesian"),
        ("BD", "Bangla"),
        ("TH", "Thai"),
    ]


def test_file_size_limit_is_optional():
    assert Limits().check_file_content(b"x" * 10_000) == b"x" * 10_000
    with pytest.raises(ItnioLimitError, match="file: must be at most 10 bytes"):
        Limits(file_max_bytes=10).check_file_content(b"x" * 11)


def test_retention_helper():
    limits = Limits()
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert limits.retention_start(now) == now - timedelta(days=60)
    limits.check_record_retention(now - timedelta(days=59), now)
    with pytest.raises(ItnioLimitError, match="strTime: must be within the last 60 days"):
        limits.check_record_retention(now - timedelta(days=61), now)


def test_import_batch_helper():
    limits = Limits()
    assert len(limits.check_import_batch([{}] * 100)) == 100
    with pytest.raises(ItnioLimitError, match="customerPersons"):
        limits.check_import_batch([{}] * 101)
    with pytest.raises(ItnioLimitError, match="customerPersons"):
        limits.check_import_batch([])
