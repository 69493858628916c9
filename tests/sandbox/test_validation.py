"""Strict parameter validation: a table of bad bodies per endpoint and the code each gets."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from .conftest import AI_APP, AI_JOB, APP, AUDIO, Api

DROP = object()  # remove the field instead of setting it
TZ8 = timezone(timedelta(hours=8))


def _iso(api: Api, days: float) -> str:
    return datetime.fromtimestamp(api.state.now() + days * 86400, tz=TZ8).isoformat()


def base_body(api: Api, path: str) -> dict[str, Any]:
    """A valid body per endpoint (seed shapes)."""
    if path == "/voice/sendCode":
        return {
            "callee": "932111111111",
            "displayNum": "1008122211",
            "language": "EN",
            "text": "hello world",
            "appId": APP,
            "loopCount": 2,
            "calledInfo": "calledInfo",
            "recallCount": 0,
            "recallInterval": 0,
            "maxDuration": 120,
            "maxRingingTime": 60,
        }
    if path == "/voice/sendGroup":
        return {
            "callee": "91856321412,91856321300",
            "displayNum": "1008122211",
            "fileId": api.upload("valid.mp3"),
            "appId": APP,
            "maxDuration": 50,
            "maxRingingTime": 60,
            "loopCount": 2,
            "calledInfo": "calledInfo",
        }
    if path == "/voice/fileUpload":
        return {"fileName": "greeting.mp3", "file": AUDIO}
    if path == "/voice/recordGroupQuery":
        return {
            "current": 1,
            "size": 10,
            "params": {"strTime": _iso(api, -1), "endTime": _iso(api, 0)},
        }
    if path == "/voice/sipAdd":
        return {
            "groupName": "sipGroup",
            "phoneName": "sip",
            "quantity": 30,
            "displayNum": "861000000",
            "appId": APP,
        }
    if path == "/aivoice/taskStart":
        return {"appId": AI_APP, "jobId": AI_JOB}
    raise AssertionError(path)


def apply(body: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply {"a.b": value} changes; DROP removes the field."""
    body = copy.deepcopy(body)
    for dotted, value in changes.items():
        target = body
        *parents, name = dotted.split(".")
        for parent in parents:
            target = target[parent]
        if value is DROP:
            target.pop(name, None)
        else:
            target[name] = value
    return body


SC, SG, FU = "/voice/sendCode", "/voice/sendGroup", "/voice/fileUpload"
RQ, SA, TS = "/voice/recordGroupQuery", "/voice/sipAdd", "/aivoice/taskStart"

BAD = [
    # sendCode (§3.3): an Int as a number or a string of digits (seed 001's Java and PHP), no more
    (SC, {"loopCount": "two"}, "-22", "loopCount"),
    (SC, {"loopCount": "2.0"}, "-22", "loopCount"),
    (SC, {"loopCount": " 2"}, "-22", "loopCount"),
    (SC, {"loopCount": "+2"}, "-22", "loopCount"),
    (SC, {"loopCount": "0x2"}, "-22", "loopCount"),
    (SC, {"loopCount": "２"}, "-22", "loopCount"),  # a full-width digit is not an ASCII digit
    (SC, {"loopCount": ""}, "-22", "loopCount"),
    (SC, {"loopCount": "10"}, "-22", "loopCount"),  # a string of digits still meets the range
    (SC, {"loopCount": 2.0}, "-22", "loopCount"),
    (SC, {"loopCount": True}, "-22", "loopCount"),
    (SC, {"loopCount": 0}, "-22", "loopCount"),
    (SC, {"loopCount": 10}, "-22", "loopCount"),
    (SC, {"maxDuration": 0}, "-22", "maxDuration"),
    (SC, {"maxDuration": 121}, "-22", "maxDuration"),
    (SC, {"maxDuration": "121"}, "-22", "maxDuration"),
    (SC, {"maxDuration": ""}, "-22", "maxDuration"),
    (SC, {"maxRingingTime": 19}, "-22", "maxRingingTime"),
    (SC, {"maxRingingTime": 121}, "-22", "maxRingingTime"),
    (SC, {"recallCount": 10}, "-22", "recallCount"),
    (SC, {"recallCount": -1}, "-22", "recallCount"),
    (SC, {"recallCount": 2, "recallInterval": 0}, "-22", "recallInterval"),
    (SC, {"recallCount": "2", "recallInterval": "0"}, "-22", "recallInterval"),
    (SC, {"recallCount": "-1"}, "-22", "recallCount"),
    (SC, {"recallInterval": 1000}, "-22", "recallInterval"),
    (SC, {"callee": "123456"}, "-22", "callee"),
    (SC, {"callee": "1234567890123456"}, "-22", "callee"),
    (SC, {"callee": "+932111111111"}, "-22", "callee"),
    (SC, {"callee": 932111111111}, "-22", "callee"),
    (SC, {"callee": "932111111111,932111111112"}, "-22", "callee"),
    (SC, {"callee": DROP}, "-22", "callee is required"),
    (SC, {"displayNum": " "}, "-22", "displayNum"),
    (SC, {"displayNum": 1008122211}, "-22", "displayNum"),
    (SC, {"displayNum": "100812"}, "-22", "displayNum"),
    (SC, {"calledInfo": 42}, "-22", "calledInfo"),
    (SC, {"calledInfo": "x" * 1001}, "-22", "calledInfo"),
    (SC, {"accent": ""}, "-22", "omit"),  # no "may be empty" in the docs for accent
    (SC, {"language": "FR"}, "-22", "language"),
    (SC, {"language": "en"}, "-22", "language"),
    (SC, {"language": DROP}, "-22", "language"),
    (SC, {"language": "VN", "text": "x" * 300}, "-22", "text"),
    (SC, {"language": "IDN", "text": "x" * 300}, "-22", "text"),
    (SC, {"text": "x" * 801}, "-22", "text"),
    (SC, {"text": ""}, "-22", "text is required"),
    (SC, {"text": DROP}, "-22", "text"),
    (SC, {"appId": DROP}, "-22", "appId"),
    (SC, {"appId": "unknownApp"}, "-22", "appId"),
    (SC, {"appId": AI_APP}, "-22", "appId"),
    (SC, {"appId": "otherApp"}, "-22", "appId"),  # another account's app
    (SC, {"speakingRate": 5}, "-22", "speakingRate"),
    (SC, {"ssmlGender": 3}, "-22", "ssmlGender"),
    (SC, {"ssmlGender": "3"}, "-22", "ssmlGender"),
    (SC, {"speakingRate": "fast"}, "-22", "speakingRate"),
    (SC, {"speakingRate": "1,5"}, "-22", "speakingRate"),
    (SC, {"callee": "932111110000"}, "-22", "invalid number"),
    # sendGroup (§3.2)
    (SG, {"callee": "91856321412, 91856321300"}, "-22", "callee"),
    (SG, {"callee": ["91856321412", "91856321300"]}, "-22", "callee"),
    (SG, {"callee": "91856321412,91856321412"}, "-22", "twice"),
    (SG, {"callee": "91856321412,"}, "-22", "callee"),
    (SG, {"callee": "91856321412;91856321300"}, "-22", "callee"),
    (SG, {"fileId": "12022022570cc2484c59d4f8b9745d34226285b1e.mp3"}, "-22", "fileId"),
    (SG, {"fileId": DROP}, "-22", "fileId"),
    (SG, {"loopCount": 10}, "-22", "loopCount"),
    (SG, {"maxRingingTime": "sixty"}, "-22", "maxRingingTime"),
    (SG, {"maxRingingTime": ""}, "-22", "maxRingingTime"),  # seed 002: not "may be empty"
    (SG, {"maxRingingTime": "19"}, "-22", "maxRingingTime"),
    (SG, {"maxDuration": 50.5}, "-22", "maxDuration"),
    (SG, {"maxDuration": "50.5"}, "-22", "maxDuration"),
    (SG, {"loopCount": "10"}, "-22", "loopCount"),
    (SG, {"displayNum": "100812"}, "-22", "displayNum"),
    (SG, {"calledInfo": "x" * 1001}, "-22", "calledInfo"),
    (SG, {"appId": "unknownApp"}, "-22", "appId"),
    # fileUpload (§3.1)
    (FU, {"fileName": "b.mp"}, "-22", "fileName"),
    (FU, {"fileName": "song.ogg"}, "-22", "fileName"),
    (FU, {"fileName": "x" * 29 + ".mp3"}, "-22", "fileName"),
    (FU, {"fileName": DROP}, "-22", "fileName"),
    (FU, {"file": "not base64!!"}, "-21", "Base64"),
    (FU, {"file": "aGVsbG8"}, "-21", "Base64"),  # bad padding
    (FU, {"file": "aGVs\nbG8="}, "-21", "Base64"),  # MIME line breaks are not plain Base64
    (FU, {"file": ""}, "-22", "file is required"),
    (FU, {"file": 123}, "-22", "file"),
    # recordGroupQuery (§3.6)
    (RQ, {"size": 0}, "-22", "size"),
    (RQ, {"size": 101}, "-22", "size"),
    (RQ, {"size": "ten"}, "-22", "size"),
    (RQ, {"size": "101"}, "-22", "size"),
    (RQ, {"current": 0}, "-22", "current"),
    (RQ, {"current": "0"}, "-22", "current"),
    (RQ, {"current": "1.0"}, "-22", "current"),
    (RQ, {"params": DROP}, "-22", "params"),
    (RQ, {"params": "x"}, "-22", "params"),
    (RQ, {"params.strTime": "2022-01-17T00:00:00"}, "-22", "params.strTime"),
    (RQ, {"params.endTime": "2022-01-18 14:00:00"}, "-22", "params.endTime"),
    (RQ, {"params.strTime": DROP}, "-22", "params.strTime"),
    (RQ, {"params.endTime": 1642488160000}, "-22", "params.endTime"),
]


def _window_cases() -> list[tuple[str, dict[str, Any], str, str]]:
    return [
        (RQ, {"params.strTime": "END", "params.endTime": "START"}, "-22", "after"),
        (RQ, {"params.strTime": "D-32", "params.endTime": "D0"}, "-22", "31 days"),
        (RQ, {"params.strTime": "D-62", "params.endTime": "D-55"}, "-22", "60 days"),
        (RQ, {"params.strTime": "D0", "params.endTime": "D0"}, "-22", "after"),
    ]


BAD += _window_cases()
BAD += [
    # sipAdd (§3.9, seed 004)
    (SA, {"groupName": "abc"}, "-22", "groupName"),
    (SA, {"groupName": "g" * 33}, "-22", "groupName"),
    (SA, {"phoneName": "ab"}, "-22", "phoneName"),
    (SA, {"phoneName": ""}, "-22", "phoneName"),
    (SA, {"quantity": 0}, "-22", "quantity"),
    (SA, {"quantity": 51}, "-22", "quantity"),
    (SA, {"quantity": "3O"}, "-22", "quantity"),  # a letter O
    (SA, {"quantity": "51"}, "-22", "quantity"),
    (SA, {"quantity": ""}, "-22", "quantity"),
    (SA, {"displayNum": "12345678901234"}, "-22", "displayNum"),
    (SA, {"displayNum": DROP}, "-22", "displayNum"),
    (SA, {"appId": AI_APP}, "-22", "appId"),
    # taskStart (§5.3, seed 000): the aivoice family answers -27
    (TS, {"jobId": "10886x"}, "-27", "jobId"),
    (TS, {"jobId": "0"}, "-27", "jobId"),
    (TS, {"jobId": ""}, "-27", "jobId"),
    (TS, {"jobId": 10886.0}, "-27", "jobId"),
    (TS, {"jobId": DROP}, "-27", "jobId"),
    (TS, {"appId": 123}, "-27", "appId"),
    (TS, {"appId": ""}, "-27", "appId"),
]


def _resolve(api: Api, changes: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in changes.items():
        if value == "START":
            value = _iso(api, -1)
        elif value == "END":
            value = _iso(api, 0)
        elif isinstance(value, str) and value.startswith("D") and value[1:].lstrip("-").isdigit():
            value = _iso(api, int(value[1:]))
        out[key] = value
    return out


@pytest.mark.parametrize(
    ("path", "changes", "code", "fragment"),
    BAD,
    ids=[f"{p.rsplit('/', 1)[1]}-{'-'.join(c)}-{i}" for i, (p, c, _, _) in enumerate(BAD)],
)
def test_bad_bodies(api: Api, path: str, changes: dict[str, Any], code: str, fragment: str) -> None:
    body = apply(base_body(api, path), _resolve(api, changes))
    calls_before = len(api.state.calls)
    answer = api.call("POST", path, body)
    assert answer["status"] == code, answer
    assert fragment in answer["reason"]
    assert answer["data"] is None
    assert len(api.state.calls) == calls_before  # nothing was placed


GOOD = [
    (SC, {}),
    (SC, {"callee": "1234567"}),
    (SC, {"callee": "123456789012345"}),
    (SC, {"language": "VN", "text": "x" * 299}),
    (SC, {"language": "EN", "text": "x" * 800}),
    (SC, {"recallCount": DROP, "recallInterval": 0}),
    (SC, {"recallCount": 3, "recallInterval": 999}),
    (SC, {"displayNum": None, "calledInfo": None}),  # JSON null counts as absent
    # seed 001's PHP sample: every number as a string of digits
    (
        SC,
        {
            "loopCount": "2",
            "recallCount": "0",
            "recallInterval": "0",
            "maxDuration": "120",
            "maxRingingTime": "60",
        },
    ),
    (SC, {"recallCount": "3", "recallInterval": "999", "ssmlGender": "2", "speakingRate": "1.5"}),
    (SC, {"displayNum": "", "calledInfo": ""}),  # "7-15 digits or null", "0-1000 characters"
    (SC, {"displayNum": DROP, "loopCount": DROP, "calledInfo": DROP, "maxDuration": DROP}),
    (SC, {"unknownExtra": "ignored", "speakingRate": 1.5, "ssmlGender": 2, "accent": "91"}),
    (SG, {}),
    (SG, {"displayNum": DROP, "maxDuration": DROP, "maxRingingTime": DROP}),
    (SG, {"maxRingingTime": 20, "maxDuration": 1, "loopCount": 9}),
    (SG, {"maxRingingTime": "20", "maxDuration": "1", "loopCount": "9"}),  # seed 002's PHP
    (SG, {"displayNum": "", "calledInfo": "", "maxDuration": "", "loopCount": ""}),  # 允许为空
    (FU, {"fileName": "a.mp3"}),
    (FU, {"fileName": "VOICE.WAV"}),
    (FU, {"fileName": "x" * 28 + ".m4a"}),
    (RQ, {}),
    (RQ, {"current": DROP, "size": DROP}),
    (RQ, {"current": "1", "size": "100"}),
    (RQ, {"params.strTime": "D-31", "params.endTime": "D0"}),
    (RQ, {"params.strTime": "2022-01-17T06:00:00Z", "params.endTime": "2022-01-18T06:00:00Z"}),
    (SA, {}),
    (SA, {"displayNum": "1234567890123", "quantity": 50}),
    (SA, {"quantity": "30"}),  # seed 004's PHP
    (TS, {}),
    (TS, {"jobId": "10886"}),  # seed 000's PHP
]


@pytest.mark.parametrize(("path", "changes"), GOOD)
def test_good_bodies(api: Api, path: str, changes: dict[str, Any]) -> None:
    body = apply(base_body(api, path), _resolve(api, changes))
    answer = api.call("POST", path, body)
    assert answer["status"] == "0", answer


@pytest.mark.parametrize(("path", "code"), [(SC, "-22"), (SA, "-22"), (TS, "-27")])
@pytest.mark.parametrize("raw", ["{not json", "[]", '"text"', ""])
def test_body_must_be_a_json_object(api: Api, path: str, code: str, raw: str) -> None:
    answer = api.call("POST", path, raw)
    assert answer["status"] == code
    assert "body" in answer["reason"]


def test_send_group_limit_is_configurable(api: Api) -> None:
    file_id = api.upload()
    numbers = [f"9185632{i:04d}" for i in range(1, 5)]
    api.state.send_group_max = 3
    body = {"callee": ",".join(numbers), "fileId": file_id, "appId": APP}
    answer = api.call("POST", SG, body)
    assert answer["status"] == "-22"
    assert "at most 3" in answer["reason"]
    api.state.send_group_max = 4
    assert api.call("POST", SG, body)["status"] == "0"


def test_send_group_default_limit_is_1000(api: Api) -> None:
    file_id = api.upload()
    numbers = [f"91856{i:06d}" for i in range(1, 1002)]
    body = {"callee": ",".join(numbers), "fileId": file_id, "appId": APP}
    assert "at most 1000" in api.call("POST", SG, body)["reason"]
    body["callee"] = ",".join(numbers[:1000])
    assert len(api.ok("POST", SG, body)) == 1000


def test_file_id_of_another_account_is_refused(api: Api, server: Any) -> None:
    from .conftest import OTHER_KEY, OTHER_SECRET

    other = Api(server, OTHER_KEY, OTHER_SECRET)
    foreign = other.upload("theirs.mp3")
    answer = api.call("POST", SG, {"callee": "91856321412", "fileId": foreign, "appId": APP})
    assert answer["status"] == "-22"
    assert "fileId" in answer["reason"]


def test_numbers_sent_as_strings_work_like_numbers(api: Api) -> None:
    """The PHP samples' strings are read as the numbers they spell, not merely let through."""
    sip = base_body(api, SA) | {"quantity": "3"}
    api.ok("POST", SA, sip)
    assert api.state.sip_groups[0].phones == ["sip_001", "sip_002", "sip_003"]

    callees = [f"9185632{i:04d}" for i in range(1, 21)]
    items = api.send_group(callees, maxDuration="5", maxRingingTime="20")
    lives = [api.state.calls[item["voiceId"]].life for item in items]
    assert all(life.call_duration <= 5 for life in lives)  # maxDuration "5" caps the talk
    assert any(life.answer_at is not None and life.call_duration == 5 for life in lives)
    unanswered = [life for life in lives if life.outcome == "no_answer"]
    assert unanswered and all(life.hangup_at - life.ringing_at == 20 for life in unanswered)

    api.ok("POST", TS, {"appId": AI_APP, "jobId": str(AI_JOB)})
    assert api.state.ai_jobs[(AI_APP, AI_JOB)].status == "RUNNING"


def test_empty_optional_strings_read_as_not_sent(api: Api) -> None:
    body = base_body(api, SG) | {"displayNum": "", "calledInfo": "", "loopCount": ""}
    items = api.ok("POST", SG, body)
    record = api.ok("GET", f"/voice/recordGroup/{items[0]['voiceId']}")
    assert (record["displayNum"], record["calledInfo"]) == ("", "")
