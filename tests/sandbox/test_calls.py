"""Calls: acceptance, the rejection rule, lives played on the clock, records, paging, money."""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from itnio_portal.itnio.sandbox import ManualClock, SandboxServer
from itnio_portal.itnio.sandbox.calls import (
    ANSWERED,
    BUSY,
    FAILED,
    NO_ANSWER,
    charged_seconds,
    make_life,
)

from .conftest import APP, EUR_APP, KEY, OTHER_KEY, OTHER_SECRET, START, Api, make_state

TZ8 = timezone(timedelta(hours=8))
FINAL_ONLY = ("hangupTime", "terminationCode", "terminationReason", "cost", "baseCost")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=TZ8).isoformat()


def test_send_group_accepts_and_rejects_numbers_ending_0000(api: Api) -> None:
    items = api.send_group(["919876543210", "6281234567890", "84900000000"])
    accepted, rejected = items[:2], items[2]
    assert rejected == {
        "voiceId": "",
        "callee": "84900000000",
        "terminationCode": "-22",
        "terminationReason": "invalid number (the sandbox rejects every number ending in 0000)",
    }
    ids = [item["voiceId"] for item in accepted]
    assert all(re.fullmatch(r"[0-9]{19}", voice_id) for voice_id in ids)
    assert len(set(ids)) == 2
    assert ids[0].startswith("220118144240")  # yyMMddHHmmss of the sandbox clock
    assert api.state.accepted_callees() == Counter({"919876543210": 1, "6281234567890": 1})
    (record,) = api.state.requests_for("/voice/sendGroup")
    assert record.accepted == [(ids[0], "919876543210"), (ids[1], "6281234567890")]
    assert "84900000000" not in {call.callee for call in api.state.calls.values()}


def test_record_before_and_after_final(api: Api, clock: ManualClock) -> None:
    api.state.life_scale = 1.0
    (item,) = api.send_group(["919876543210"], calledInfo="order 42")
    voice_id = item["voiceId"]
    call = api.state.calls[voice_id]
    life = call.life

    fresh = api.ok("GET", f"/voice/recordGroup/{voice_id}")
    assert fresh["submitTime"] == "2022-01-18T14:42:40+08:00"
    assert fresh["callTime"] == fresh["ringingTime"] == fresh["answerTime"] == ""
    assert all(fresh[name] == "" for name in FINAL_ONLY)
    assert fresh["callDuration"] == fresh["chargedDuration"] == 0
    assert fresh["feedbackValue"] == ""
    # known from submission: operator, tariff, echoes
    assert fresh["code"] and fresh["rate"] and fresh["billPeriod"]
    assert fresh["calledInfo"] == "order 42"
    assert fresh["voiceFileId"] == call.voice_file_id

    clock.set(START + life.call_at)
    dialled = api.ok("GET", f"/voice/recordGroup/{voice_id}")
    assert dialled["callTime"] == iso(START + life.call_at)
    assert dialled["hangupTime"] == ""

    clock.set(START + life.hangup_at - 1)
    assert api.ok("GET", f"/voice/recordGroup/{voice_id}")["hangupTime"] == ""
    assert not call.final

    clock.set(START + life.hangup_at)
    final = api.ok("GET", f"/voice/recordGroup/{voice_id}")
    assert call.final
    assert final["hangupTime"] == iso(START + life.hangup_at)
    assert final["terminationCode"] == life.termination_code
    assert final["callDuration"] == life.call_duration
    assert final["chargedDuration"] == life.charged_duration
    assert final["cost"] != ""
    assert final["feedbackValue"] in {"-1", *"0123456789"}


def test_life_scale_zero_makes_calls_final_at_once(api: Api) -> None:
    (item,) = api.send_group(["919876543210"])
    record = api.ok("GET", f"/voice/recordGroup/{item['voiceId']}")
    assert record["hangupTime"] != ""
    assert record["terminationCode"] in {"1000", "480", "486", "487"}


def test_life_scale_compresses_time(api: Api, clock: ManualClock) -> None:
    api.state.life_scale = 0.1
    (item,) = api.send_group(["919876543210"])
    call = api.state.calls[item["voiceId"]]
    clock.set(START + call.life.hangup_at * 0.1)
    record = api.ok("GET", f"/voice/recordGroup/{item['voiceId']}")
    # shown times stay unscaled so durations are coherent
    assert record["hangupTime"] == iso(START + call.life.hangup_at)


def test_send_code_record_and_type(api: Api) -> None:
    body = {"callee": "932111111111", "language": "EN", "text": "your code is 1234", "appId": APP}
    voice_id = api.ok("POST", "/voice/sendCode", body)
    record = api.ok("GET", f"/voice/recordGroup/{voice_id}")
    assert record["callee"] == "932111111111"
    assert record["voiceFileId"] == ""
    assert record["code"].startswith("Afghanistan(")
    assert api.state.calls[voice_id].push_body()["type"] == 2
    assert api.state.accepted_callees()["932111111111"] == 1


def test_record_group_unknown_foreign_and_old(api: Api, server: SandboxServer, clock) -> None:
    answer = api.call("GET", "/voice/recordGroup/2203031113381000002")
    assert answer["status"] == "-22"
    assert answer["data"] is None
    (item,) = api.send_group(["919876543210"])
    other = Api(server, OTHER_KEY, OTHER_SECRET)
    assert other.call("GET", f"/voice/recordGroup/{item['voiceId']}")["status"] == "-22"
    clock.advance(60 * 86400)
    assert api.call("GET", f"/voice/recordGroup/{item['voiceId']}")["status"] == "0"
    clock.advance(3600)
    old = api.call("GET", f"/voice/recordGroup/{item['voiceId']}")
    assert old["status"] == "-22"
    assert old["data"] is None


def test_record_group_query_paging(api: Api) -> None:
    numbers = [f"9198765432{i:02d}" for i in range(1, 6)]
    sent = [item["voiceId"] for item in api.send_group(numbers)]
    window = {"strTime": "2022-01-18T00:00:00+08:00", "endTime": "2022-01-19T00:00:00+08:00"}
    seen: list[str] = []
    for current in (1, 2, 3):
        page = api.ok(
            "POST", "/voice/recordGroupQuery", {"current": current, "size": 2, "params": window}
        )
        assert (page["total"], page["size"], page["current"], page["pages"]) == (5, 2, current, 3)
        assert page["searchCount"] is True
        seen += [record["voiceId"] for record in page["records"]]
    assert seen == sent
    beyond = api.ok("POST", "/voice/recordGroupQuery", {"current": 4, "size": 2, "params": window})
    assert beyond["records"] == []
    default = api.ok("POST", "/voice/recordGroupQuery", {"params": window})
    assert (default["current"], default["size"], len(default["records"])) == (1, 25, 5)


def test_record_group_query_window_and_account(api: Api, clock, server) -> None:
    first = api.send_group(["919876543201"])[0]["voiceId"]
    clock.advance(2 * 86400)
    second = api.send_group(["919876543202"])[0]["voiceId"]
    Api(server, OTHER_KEY, OTHER_SECRET).upload("other.mp3")

    def ids(start: str, end: str) -> list[str]:
        body = {"params": {"strTime": start, "endTime": end}}
        return [r["voiceId"] for r in api.ok("POST", "/voice/recordGroupQuery", body)["records"]]

    assert ids("2022-01-18T00:00:00+08:00", "2022-01-19T00:00:00+08:00") == [first]
    assert ids("2022-01-20T00:00:00+08:00", "2022-01-21T00:00:00+08:00") == [second]
    # the same instant written in UTC
    assert ids("2022-01-18T06:42:40Z", "2022-01-18T06:42:41Z") == [first]
    assert ids("2022-01-18T14:42:41+08:00", "2022-01-20T14:42:39+08:00") == []


def test_usd_and_eur_money_fields(api: Api) -> None:
    usd = api.send_group(["919876543210"])[0]["voiceId"]
    eur = api.send_group(["919876543210"], app=EUR_APP)[0]["voiceId"]
    u = api.ok("GET", f"/voice/recordGroup/{usd}")
    e = api.ok("GET", f"/voice/recordGroup/{eur}")
    assert u["currency"] == "" and u["settleRate"] == u["quoteExchange"] == u["settlePay"] == ""
    assert e["currency"] == "EUR"
    assert e["quoteExchange"] == "0.92"
    assert e["settleRate"] and e["settlePay"]
    for record in (u, e):
        rate, charged = Decimal(record["rate"]), record["chargedDuration"]
        assert Decimal(record["cost"]) == rate * charged / 60  # exact, no rounding
    assert Decimal(e["rate"]) == Decimal(u["rate"]) * Decimal("0.92")
    # baseCost is USD in both
    usd_rate = Decimal(u["rate"])
    assert Decimal(e["baseCost"]) == usd_rate * e["chargedDuration"] / 60


def test_balance_decreases_by_the_usd_cost_of_final_calls(api: Api, clock) -> None:
    api.state.life_scale = 1.0
    numbers = [f"6281234567{i:03d}" for i in range(1, 21)]
    items = api.send_group(numbers)
    assert api.call("GET", "/sms/getBalance")["balance"] == "100.00"  # nothing final yet
    clock.advance(600)
    answer = api.call("GET", "/sms/getBalance")
    spent = sum(
        Decimal(api.state.calls[i["voiceId"]].record(api.state.now())["baseCost"]) for i in items
    )
    assert spent > 0
    assert Decimal(answer["balance"]) == Decimal("100.00") - spent
    assert isinstance(answer["balance"], str)


def test_no_balance_answers_minus_10_and_places_nothing(api: Api) -> None:
    api.state.add_account(KEY, api.secret, balance="0")
    file_id = api.upload()
    answer = api.call(
        "POST", "/voice/sendGroup", {"callee": "919876543210", "fileId": file_id, "appId": APP}
    )
    assert answer["status"] == "-10"
    code = {"callee": "919876543210", "language": "EN", "text": "hi", "appId": APP}
    assert api.call("POST", "/voice/sendCode", code)["status"] == "-10"
    assert api.state.calls == {}


def test_max_duration_caps_talk_time(api: Api) -> None:
    numbers = [f"9198765{i:05d}" for i in range(1, 41)]
    for item in api.send_group(numbers, maxDuration=5):
        call = api.state.calls[item["voiceId"]]
        assert call.life.call_duration <= 5


def test_lives_are_deterministic_across_runs(clock: ManualClock) -> None:
    records = []
    for _ in range(2):
        clock.set(START)
        with SandboxServer(make_state(clock), push_interval=None) as server:
            api = Api(server)
            items = api.send_group([f"9198765{i:05d}" for i in range(1, 11)])
            records.append([api.ok("GET", f"/voice/recordGroup/{i['voiceId']}") for i in items])
    assert records[0] == records[1]


def test_voice_ids_unique_under_concurrency(api: Api, server: SandboxServer) -> None:
    results: list[str] = []

    def send(n: int) -> None:
        client = Api(server)
        body = {"callee": f"9198765{n:05d}", "language": "EN", "text": "hi", "appId": APP}
        results.append(client.ok("POST", "/voice/sendCode", body))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(1, 21)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 20
    assert sum(api.state.accepted_callees().values()) == 20


@pytest.mark.parametrize(
    ("duration", "period", "charged"),
    [
        (0, "20+20", 0),
        (5, "20+20", 20),
        (20, "20+20", 20),
        (21, "20+20", 40),
        (59, "60+60", 60),
        (61, "60+60", 120),
        (7, "1+1", 7),
        (1, "6+1", 6),
        (8, "6+1", 8),
    ],
)
def test_charged_seconds(duration: int, period: str, charged: int) -> None:
    assert charged_seconds(duration, period) == charged


def test_life_distribution() -> None:
    outcomes = Counter(
        make_life(f"2201181442401{n:06d}", f"9198{n:08d}").outcome for n in range(4000)
    )
    assert math.isclose(outcomes[ANSWERED] / 4000, 0.65, abs_tol=0.03)
    assert math.isclose(outcomes[NO_ANSWER] / 4000, 0.25, abs_tol=0.03)
    assert math.isclose((outcomes[BUSY] + outcomes[FAILED]) / 4000, 0.10, abs_tol=0.02)


def test_life_shapes() -> None:
    for n in range(500):
        life = make_life(f"2201181442401{n:06d}", f"62{n:09d}", max_ringing_time=30)
        assert life.code.startswith("Indonesia(")
        assert 0 < life.call_at < life.hangup_at
        if life.outcome == ANSWERED:
            assert life.termination_code == "1000"  # seed 003's success code
            assert life.ringing_at < life.answer_at < life.hangup_at
            assert life.answer_at - life.ringing_at <= 30
            assert life.hangup_at - life.answer_at == life.call_duration
            assert life.charged_duration >= life.call_duration
        else:
            assert life.answer_at is None
            assert life.call_duration == life.charged_duration == 0
            assert life.feedback_value == "-1"
            assert life.termination_code in {"480", "486", "487"}
        if life.outcome == NO_ANSWER:
            assert life.hangup_at - life.ringing_at == 30
