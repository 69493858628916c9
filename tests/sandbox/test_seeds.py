"""The vendor's own sample bodies (seeds 000-004) are accepted and answered in the seeds' shapes."""

from __future__ import annotations

import re

from .conftest import AI_APP, APP, Api

# Bodies copied from /work/shared/seeds; only app ids and the file id are substituted.
SEED_001_SEND_CODE = {
    "callee": "932111111111",
    "displayNum": "1008122211",
    "language": "EN",
    "text": "hello world",
    "appId": "4luaKsL2",
    "loopCount": 2,
    "calledInfo": "calledInfo",
    "recallCount": 0,
    "recallInterval": 0,
    "maxDuration": 120,
    "maxRingingTime": 60,
}
SEED_002_SEND_GROUP = {
    "callee": "91856321412,91856321300",
    "displayNum": "1008122211",
    "fileId": "12022022570cc2484c59d4f8b9745d34226285b1e.mp3",
    "appId": "4luaKsL2",
    "maxDuration": 50,
    "maxRingingTime": 60,
    "loopCount": 2,
    "calledInfo": "calledInfo",
}
SEED_003_RECORD = {
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
SEED_004_SIP_ADD = {
    "groupName": "sipGroup",
    "phoneName": "sip",
    "quantity": 30,
    "displayNum": "861000000",
    "appId": "4luaKsL2",
}
SEED_000_TASK_START = {"appId": "LILIN888", "jobId": 10886}
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
