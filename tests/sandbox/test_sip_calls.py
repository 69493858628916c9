"""sendSip, recordSip and recordSipQuery (§3.4, §3.7, §3.8) on phones made by sipAdd (§3.9)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from itnio_portal.itnio.sandbox import SEND_PATHS, ManualClock, SandboxServer

from .conftest import AI_APP, APP, EUR_APP, OTHER_KEY, OTHER_SECRET, Api

SIP_ADD = "/voice/sipAdd"
SEND = "/voice/sendSip"
QUERY = "/voice/recordSipQuery"
DAY = {"strTime": "2022-01-18T00:00:00+08:00", "endTime": "2022-01-19T00:00:00+08:00"}
# §3.7's field list, in the page's order.
SIP_FIELDS = [
    "voiceId", "sipGroupName", "phoneName", "callee", "displayNum", "code", "submitTime",
    "callTime", "ringingTime", "answerTime", "hangupTime", "callDuration", "chargedDuration",
    "terminationCode", "terminationReason", "cost", "billPeriod", "rate", "recordingFileId",
    "settleRate", "quoteExchange", "settlePay", "currency",
]  # fmt: skip


def add_group(api: Api, group: str = "sales", phone: str = "desk", quantity: int = 3, **kw: Any):
    body = {
        "groupName": group,
        "phoneName": phone,
        "quantity": quantity,
        "displayNum": "861000000",
        "appId": kw.get("app", APP),
    }
    api.ok("POST", SIP_ADD, body)


def send(api: Api, account: str = "desk_001", callee: str = "919876543210", **extra: Any):
    return api.call("POST", SEND, {"callee": callee, "account": account, "appId": APP, **extra})


def test_send_sip_places_a_phone_call(api: Api) -> None:
    add_group(api)
    answer = send(api, "desk_002", displayNum="1008122211")
    assert answer["status"] == "0" and answer["reason"] == "success"
    voice_id = answer["data"]
    assert re.fullmatch(r"[0-9]{19}", voice_id)
    call = api.state.calls[voice_id]
    assert (call.type, call.account, call.sip_group_name, call.phone_name) == (
        3,
        "desk_002",
        "sales",
        "desk",
    )
    assert call.display_num == "1008122211"
    assert api.state.requests_for(SEND)[0].accepted == [(voice_id, "919876543210")]
    push = call.push_body()
    assert push["type"] == 3 and "recordingFileId" in push


def test_send_sip_without_display_number_shows_the_groups(api: Api) -> None:
    add_group(api)
    voice_id = send(api)["data"]
    assert api.ok("GET", f"/voice/recordSip/{voice_id}")["displayNum"] == "861000000"


def test_send_sip_is_a_send() -> None:
    assert SEND in SEND_PATHS


def test_seed_004s_three_character_phone_name_makes_usable_phones(api: Api) -> None:
    add_group(api, "sipGroup", "sip", 30)
    assert api.state.sip_groups[0].phones[-1] == "sip_030"
    assert send(api, "sip_030")["status"] == "0"


def test_an_empty_display_number_means_the_groups_own(api: Api) -> None:
    # §3.4 "7-15 digits or null": the PHP sample sends "" for a blank one, read as not sent
    add_group(api)
    answer = send(api, displayNum="")
    assert answer["status"] == "0", answer
    record = api.ok("GET", f"/voice/recordSip/{answer['data']}")
    assert record["displayNum"] == api.state.sip_groups[0].display_num != ""


def test_send_sip_refusals(api: Api, server: SandboxServer) -> None:
    add_group(api)
    add_group(api, "other", "booth", 1, app=EUR_APP)

    def refused(answer: dict[str, Any], code: str, words: str) -> None:
        assert answer["status"] == code and words in answer["reason"], answer
        assert answer["data"] is None

    refused(send(api, "nobody_001"), "-22", "'nobody_001' is not a phone of app")
    refused(send(api, "desk_004"), "-22", "not a phone")  # the group has 3 phones
    refused(send(api, "booth_001"), "-22", "not a phone")  # a phone of another app
    refused(api.call("POST", SEND, {"callee": "919876543210", "appId": APP}), "-22", "account")
    refused(send(api, appId=AI_APP), "-22", "not a voice application")
    refused(send(api, callee="123456"), "-22", "callee")
    refused(send(api, callee="919876540000"), "-22", "invalid number")
    refused(send(api, displayNum="1234567890123456"), "-22", "displayNum")
    refused(send(api, displayNum="10081 22211"), "-22", "displayNum")
    other = Api(server, OTHER_KEY, OTHER_SECRET)
    refused(send(other), "-22", "not a voice application of this account")
    api.state.accounts[api.key].balance = 0
    refused(send(api), "-10", "balance")
    assert api.state.calls == {}


def test_record_sip_has_the_sip_fields_and_a_recording_when_answered(api: Api) -> None:
    add_group(api, quantity=8)
    ids = [send(api, f"desk_00{i}", callee=f"9198765432{i:02d}")["data"] for i in range(1, 9)]
    answered = 0
    for voice_id in ids:
        record = api.ok("GET", f"/voice/recordSip/{voice_id}")
        call = api.state.calls[voice_id]
        assert list(record) == SIP_FIELDS
        assert (record["sipGroupName"], record["phoneName"]) == ("sales", "desk")
        assert record["hangupTime"] and record["cost"] != "" and record["billPeriod"]
        if call.life.answer_at is not None:
            answered += 1
            assert record["terminationCode"] == "1000"  # seed 003's success code
            assert record["recordingFileId"] == f"rec{voice_id}.mp3"
        else:
            assert record["recordingFileId"] == ""
        assert call.push_body()["recordingFileId"] == record["recordingFileId"]
    assert 0 < answered < len(ids)  # both shapes are exercised


def test_record_sip_before_final_has_no_recording(api: Api, clock: ManualClock) -> None:
    api.state.life_scale = 1.0
    add_group(api)
    voice_id = send(api)["data"]
    fresh = api.ok("GET", f"/voice/recordSip/{voice_id}")
    assert fresh["hangupTime"] == fresh["recordingFileId"] == fresh["cost"] == ""
    assert fresh["sipGroupName"] == "sales"


def test_sip_and_voice_message_records_live_apart(api: Api) -> None:
    add_group(api)
    sip_id = send(api)["data"]
    (item,) = api.send_group(["919876543299"])
    assert api.call("GET", f"/voice/recordGroup/{sip_id}")["status"] == "-22"
    assert api.call("GET", f"/voice/recordSip/{item['voiceId']}")["status"] == "-22"
    sip_page = api.ok("POST", QUERY, {"params": DAY})
    assert [r["voiceId"] for r in sip_page["records"]] == [sip_id]
    group_page = api.ok("POST", "/voice/recordGroupQuery", {"params": DAY})
    assert [r["voiceId"] for r in group_page["records"]] == [item["voiceId"]]


def test_record_sip_unknown_foreign_and_old(api: Api, server: SandboxServer, clock) -> None:
    add_group(api)
    voice_id = send(api)["data"]
    assert api.call("GET", "/voice/recordSip/2203031113381000002")["status"] == "-22"
    other = Api(server, OTHER_KEY, OTHER_SECRET)
    assert other.call("GET", f"/voice/recordSip/{voice_id}")["status"] == "-22"
    clock.advance(60 * 86400 + 3600)
    assert api.call("GET", f"/voice/recordSip/{voice_id}")["status"] == "-22"


def test_record_sip_query_filters_by_exact_group_and_phone(api: Api) -> None:
    add_group(api, "sales", "desk", 2)
    add_group(api, "support", "help", 2)
    desk = [send(api, "desk_001", callee="919876543201")["data"]]
    desk.append(send(api, "desk_002", callee="919876543202")["data"])
    help_ = send(api, "help_001", callee="919876543203")["data"]

    def ids(**params: str) -> list[str]:
        page = api.ok("POST", QUERY, {"params": {**DAY, **params}})
        return [r["voiceId"] for r in page["records"]]

    assert ids() == [*desk, help_]
    assert ids(sipGroupName="sales") == desk
    assert ids(phoneName="help") == [help_]
    assert ids(sipGroupName="sales", phoneName="help") == []
    assert ids(sipGroupName="Sales") == []  # exact, case included
    assert ids(phoneName="des") == []  # exact, no prefix match


def test_record_sip_query_paging_and_window(api: Api) -> None:
    add_group(api, quantity=5)
    sent = [send(api, f"desk_00{i}", callee=f"9198765432{i:02d}")["data"] for i in range(1, 6)]
    seen: list[str] = []
    for current in (1, 2, 3):
        page = api.ok("POST", QUERY, {"current": current, "size": 2, "params": DAY})
        assert (page["total"], page["pages"], page["current"]) == (5, 3, current)
        seen += [r["voiceId"] for r in page["records"]]
    assert seen == sent
    too_long = {"strTime": "2022-01-01T00:00:00+08:00", "endTime": "2022-02-02T00:00:00+08:00"}
    answer = api.call("POST", QUERY, {"params": too_long})
    assert answer["status"] == "-22" and "31 days" in answer["reason"]
    naive = {"strTime": "2022-01-18T00:00:00", "endTime": DAY["endTime"]}
    assert api.call("POST", QUERY, {"params": naive})["status"] == "-22"
    assert api.call("POST", QUERY, {"size": 101, "params": DAY})["status"] == "-22"
    assert api.call("POST", QUERY, {"params": {**DAY, "phoneName": ""}})["status"] == "-22"


def test_a_dropped_send_sip_was_still_placed(api: Api) -> None:
    add_group(api)
    api.state.drop_next(SEND)
    with pytest.raises(requests.ConnectionError):
        api.post(SEND, {"callee": "919876543210", "account": "desk_001", "appId": APP})
    (call,) = api.state.calls.values()
    assert call.account == "desk_001" and api.state.requests_for(SEND)[0].response == "dropped"
