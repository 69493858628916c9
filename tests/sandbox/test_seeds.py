"""The vendor's own sample bodies (seeds 000-004) are accepted and answered in the seeds' shapes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from itnio_portal.itnio import ItnioClient
from itnio_portal.itnio.sandbox.state import UploadedFile

from .conftest import AI_APP, AI_JOB, APP, KEY, SECRET, Api, sign
from .seeds import Seed, encode, seed

# The vendor's sample bodies, parsed from tests/data/seeds (copies of ../shared/seeds).
SEED_001_SEND_CODE = seed("001").java_body()
SEED_002_SEND_GROUP = seed("002").java_body()
SEED_003_RECORD = seed("003").response["data"]
SEED_004_SIP_ADD = seed("004").java_body()
SEED_000_TASK_START = seed("000").java_body()
VOICE_ID = re.compile(r"[0-9]{19}")


def test_seed_001_send_code(api: Api) -> None:
    answer = api.call("POST", "/voice/sendCode", SEED_001_SEND_CODE | {"appId": APP})
    assert set(answer) == {"status", "reason", "data"}
    assert answer["status"] == "0"
    assert answer["reason"] == "success"
    assert VOICE_ID.fullmatch(answer["data"])


def test_seed_002_send_group(api: Api) -> None:
    body = SEED_002_SEND_GROUP | {"appId": APP, "fileId": api.upload("seed.mp3")}
    answer = api.call("POST", "/voice/sendGroup", body)
    assert answer["status"] == "0"
    assert [item["callee"] for item in answer["data"]] == ["91856321412", "91856321300"]
    for item in answer["data"]:
        assert set(item) == {"voiceId", "callee", "terminationCode", "terminationReason"}
        assert VOICE_ID.fullmatch(item["voiceId"])
        assert (item["terminationCode"], item["terminationReason"]) == ("0", "success")


def test_seed_003_record_has_the_same_fields_and_json_types(api: Api) -> None:
    voice_id = api.ok("POST", "/voice/sendCode", SEED_001_SEND_CODE | {"appId": "eurApp01"})
    record = api.ok("GET", f"/voice/recordGroup/{voice_id}")
    assert set(record) == set(SEED_003_RECORD)
    for name, sample in SEED_003_RECORD.items():
        assert type(record[name]) is type(sample), name
    assert record["submitTime"] == "2022-01-18T14:42:40+08:00"  # the sandbox clock, +08:00
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", record["hangupTime"])


def test_seed_004_sip_add(api: Api) -> None:
    answer = api.call("POST", "/voice/sipAdd", SEED_004_SIP_ADD | {"appId": APP})
    assert answer == {"status": "0", "reason": "success", "data": None}


def test_seed_000_task_start(api: Api) -> None:
    answer = api.call("POST", "/aivoice/taskStart", SEED_000_TASK_START | {"appId": AI_APP})
    assert answer == {"status": "0", "reason": "success", "data": None}


def test_file_id_looks_like_the_sample(api: Api) -> None:
    file_id = api.upload("Greeting.MP3")
    # §3.1 / seed 002: "1" + yyyyMMdd + 32 hex + the extension
    assert re.fullmatch(r"120220118[0-9a-f]{32}\.mp3", file_id)
    assert len(file_id) == len("12022022570cc2484c59d4f8b9745d34226285b1e.mp3")


# ---- each sample request as the vendor's Java and PHP code send it ------------------------------
STYLES = ("java", "php")


def send_as(api: Api, sample: Seed, style: str, path: str | None = None) -> dict[str, Any]:
    """The sample's request with its headers, signed now as its code signs (md5 of key, secret,
    timestamp), its body encoded as that language's JSON writer does."""
    timestamp = str(int(api.state.now()))
    headers = {
        "Content-Type": sample.headers["Content-Type"],
        "Sign": sign(KEY, SECRET, timestamp),
        "Timestamp": timestamp,
        "Api-Key": KEY,
    }
    url = api.base_url + (path or sample.path)
    if sample.method == "GET":
        response = api.session.get(url, headers=headers, timeout=10)
    else:
        body = sample.java_body() if style == "java" else sample.php_body()
        data = encode(body, style).encode()
        response = api.session.post(url, data=data, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def same_shape(answer: Any, sample: Any) -> bool:
    """The same keys and JSON types all the way down (lists compared item by item)."""
    if isinstance(sample, dict):
        return (
            isinstance(answer, dict)
            and set(answer) == set(sample)
            and all(same_shape(answer[k], sample[k]) for k in sample)
        )
    if isinstance(sample, list):
        return isinstance(answer, list) and all(same_shape(a, sample[0]) for a in answer)
    return type(answer) is type(sample)


def test_the_samples_are_read_as_their_code_sends_them() -> None:
    integers = {number: seed(number).java_integers for number in ("000", "001", "002", "004")}
    assert integers == {
        "000": {"jobId"},
        "001": {"loopCount", "recallCount", "recallInterval", "maxDuration", "maxRingingTime"},
        "002": {"maxDuration", "maxRingingTime", "loopCount"},
        "004": {"quantity"},
    }
    for number in ("000", "001", "002", "004"):
        sample = seed(number)
        assert sample.php_strings == set(sample.body or {})  # PHP: every value a string
        assert all(isinstance(v, str) for v in sample.php_body().values())
    for number in ("000", "001", "002", "003", "004"):
        headers = seed(number).headers
        # Every page shows the §1 worked example's Sign (seed 000 misprints the key as bD8JFiq9).
        assert headers["Sign"] == sign(KEY, SECRET, headers["Timestamp"])
    assert encode({"a": "x/y", "b": 1}, "php") == '{"a":"x\\/y","b":1}'


@pytest.mark.parametrize("style", STYLES)
def test_seed_000_task_start_as_the_samples_send_it(api: Api, style: str) -> None:
    sample = seed("000")
    answer = send_as(api, sample, style)
    assert answer == sample.response
    assert api.state.ai_jobs[(AI_APP, AI_JOB)].status == "RUNNING"


@pytest.mark.parametrize("style", STYLES)
def test_seed_001_send_code_as_the_samples_send_it(api: Api, style: str) -> None:
    sample = seed("001")
    answer = send_as(api, sample, style)
    assert answer["status"] == "0" and same_shape(answer, sample.response), answer
    call = api.state.calls[answer["data"]]
    assert (call.callee, call.display_num, call.called_info) == (
        "932111111111",
        "1008122211",
        "calledInfo",
    )
    assert call.life.call_duration <= 120  # maxDuration 120, however it was written


@pytest.mark.parametrize("style", STYLES)
def test_seed_002_send_group_as_the_samples_send_it(api: Api, style: str) -> None:
    sample = seed("002")
    file_id = sample.body["fileId"]  # as if this account had uploaded the sample's file
    api.state.files[file_id] = UploadedFile(file_id, KEY, "sample.mp3", 3, api.state.now())
    answer = send_as(api, sample, style)
    assert answer["status"] == "0" and same_shape(answer, sample.response), answer
    assert [item["callee"] for item in answer["data"]] == ["91856321412", "91856321300"]
    expected = {k: sample.response["data"][0][k] for k in ("terminationCode", "terminationReason")}
    for item in answer["data"]:
        assert {k: item[k] for k in expected} == expected  # "0" / "success": accepted
        assert api.state.calls[item["voiceId"]].voice_file_id == file_id


@pytest.mark.parametrize("style", STYLES)
def test_seed_003_record_as_the_samples_read_it(api: Api, style: str) -> None:
    sample, record_sample = seed("003"), seed("003").response["data"]
    voice_ids = [send_as(api, seed("001"), style)["data"] for _ in range(8)]
    records = []
    for voice_id in voice_ids:
        answer = send_as(api, sample, style, path=f"/voice/recordGroup/{voice_id}")
        assert answer["status"] == "0" and same_shape(answer, sample.response), answer
        records.append(answer["data"])
    answered = [r for r in records if r["answerTime"]]
    assert 0 < len(answered) < len(records)  # both kinds of final record are looked at
    for record in answered:  # the sample is an answered call: "1000" / "success"
        assert (record["terminationCode"], record["terminationReason"]) == (
            record_sample["terminationCode"],
            record_sample["terminationReason"],
        )
    assert all(r["terminationCode"] != "1000" for r in records if not r["answerTime"])


@pytest.mark.parametrize("style", STYLES)
def test_seed_004_sip_add_as_the_samples_send_it(api: Api, style: str) -> None:
    sample = seed("004")
    answer = send_as(api, sample, style)
    assert answer == sample.response
    (group,) = api.state.sip_groups
    assert (group.group_name, group.quantity, group.phones[-1]) == ("sipGroup", 30, "sip_030")


def test_the_client_sends_seed_001s_own_sample_with_integers(api: Api) -> None:
    """recallCount 0 with recallInterval 0 passes the client's own checks, and what it sends is
    the sample body itself, numbers as JSON integers."""
    client = ItnioClient(api.base_url, KEY, SECRET, clock=api.state.now)
    body = seed("001").java_body()
    voice_id = client.send_code(
        app_id=body["appId"],
        callee=body["callee"],
        language=body["language"],
        text=body["text"],
        display_num=body["displayNum"],
        loop_count=body["loopCount"],
        called_info=body["calledInfo"],
        recall_count=body["recallCount"],
        recall_interval=body["recallInterval"],
        max_duration=body["maxDuration"],
        max_ringing_time=body["maxRingingTime"],
    )
    (request,) = api.state.requests_for("/voice/sendCode")
    assert request.body == body
    assert all(type(request.body[name]) is int for name in seed("001").java_integers)
    assert request.response["data"] == voice_id
