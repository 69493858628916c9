"""§6.1 status-report pushes: body, headers, retries (§6.4), array and duplicate modes."""

from __future__ import annotations

import time

from itnio_portal.itnio.sandbox import ManualClock, SandboxServer

from .conftest import APP, KEY, START, Api, Receiver, make_state

PUSH_FIELDS = {
    "voiceId", "type", "callee", "displayNum", "submitTime", "callTime", "ringingTime",
    "answerTime", "hangupTime", "callDuration", "chargedDuration", "billPeriod", "code",
    "voiceFileId", "rate", "baseCost", "cost", "terminationCode", "terminationReason",
    "feedbackValue", "calledInfo", "currency", "settleRate", "quoteExchange", "settlePay",
}  # fmt: skip


def test_push_body_headers_and_ms_times(api: Api, receiver: Receiver) -> None:
    api.state.add_app(KEY, APP, push_url=receiver.url)
    items = api.send_group(["919876543210", "6281234567890"], displayNum="1008122211")
    code_id = api.ok(
        "POST",
        "/voice/sendCode",
        {"callee": "932111111111", "language": "EN", "text": "hi", "appId": APP},
    )
    attempts = api.state.flush_pushes()
    assert [a.ok for a in attempts] == [True, True, True]
    assert len(receiver.hits) == 3
    for headers, body in receiver.hits:
        assert headers["Content-Type"] == "application/json;charset=UTF-8"
        assert not {"Sign", "Api-Key", "Timestamp", "Authorization"} & set(headers)
        assert isinstance(body, dict)  # one object per POST
        assert set(body) == PUSH_FIELDS
        assert body["submitTime"] == int(START * 1000)  # milliseconds epoch
        assert isinstance(body["hangupTime"], int)
        assert body["hangupTime"] > body["submitTime"]
        assert isinstance(body["callDuration"], int)
    by_id = {body["voiceId"]: body for body in receiver.bodies()}
    assert by_id[items[0]["voiceId"]]["type"] == 1
    assert by_id[items[0]["voiceId"]]["displayNum"] == "1008122211"
    assert by_id[code_id]["type"] == 2
    record = api.ok("GET", f"/voice/recordGroup/{code_id}")
    pushed = by_id[code_id]
    for name in ("cost", "rate", "baseCost", "terminationCode", "feedbackValue", "code"):
        assert pushed[name] == record[name]
    assert api.state.flush_pushes() == []  # each final call is pushed once


def test_push_only_when_final(api: Api, receiver: Receiver, clock: ManualClock) -> None:
    api.state.add_app(KEY, APP, push_url=receiver.url)
    api.state.life_scale = 1.0
    (item,) = api.send_group(["919876543210"])
    assert api.state.flush_pushes() == []
    clock.set(api.state.calls[item["voiceId"]].final_at)
    assert len(api.state.flush_pushes()) == 1
    assert receiver.bodies()[0]["voiceId"] == item["voiceId"]


def test_no_push_without_url(api: Api) -> None:
    api.send_group(["919876543210"])
    assert api.state.flush_pushes() == []
    assert api.state.pending_pushes() == []


def test_retry_after_500(api: Api, receiver: Receiver, clock: ManualClock) -> None:
    api.state.add_app(KEY, APP, push_url=receiver.url)
    receiver.statuses = [500]
    (item,) = api.send_group(["919876543210"])
    (first,) = api.state.flush_pushes()
    assert (first.status, first.ok, first.attempt) == (500, False, 1)
    assert api.state.flush_pushes() == []  # not due yet: §6.4 retries every 30 minutes
    clock.advance(1800)
    (second,) = api.state.flush_pushes()
    assert (second.status, second.ok, second.attempt) == (200, True, 2)
    assert [body["voiceId"] for body in receiver.bodies()] == [item["voiceId"]] * 2
    assert api.state.pending_pushes() == []


def test_gives_up_after_three_retries(api: Api, receiver: Receiver, clock: ManualClock) -> None:
    api.state.add_app(KEY, APP, push_url=receiver.url)
    receiver.statuses = [503] * 10
    api.send_group(["919876543210"])
    for _ in range(6):
        api.state.flush_pushes()
        clock.advance(1800)
    assert len(receiver.hits) == 4  # first try + 3 retries
    assert len(api.state.push_gave_up) == 1


def test_connection_error_is_recorded_and_retried(api: Api, clock: ManualClock) -> None:
    api.state.add_app(KEY, APP, push_url="http://127.0.0.1:9/nothing-listens")
    api.state.push_retry_interval = 0
    api.send_group(["919876543210"])
    (attempt,) = api.state.flush_pushes()
    assert attempt.status is None
    assert attempt.error
    assert len(api.state.pending_pushes()) == 1


def test_array_mode(api: Api, receiver: Receiver) -> None:
    api.state.add_app(KEY, APP, push_url=receiver.url)
    api.state.push_as_array = True
    items = api.send_group(["919876543210", "919876543211", "919876543212"])
    (attempt,) = api.state.flush_pushes()
    ((_, body),) = receiver.hits
    assert isinstance(body, list)
    assert [b["voiceId"] for b in body] == [i["voiceId"] for i in items]
    assert attempt.voice_ids == [i["voiceId"] for i in items]


def test_duplicate_mode(api: Api, receiver: Receiver) -> None:
    api.state.add_app(KEY, APP, push_url=receiver.url)
    api.state.push_duplicates = True
    (item,) = api.send_group(["919876543210"])
    attempts = api.state.flush_pushes()
    assert [a.duplicate for a in attempts] == [False, True]
    assert receiver.bodies() == [receiver.bodies()[0]] * 2
    assert receiver.bodies()[0]["voiceId"] == item["voiceId"]


def test_background_pusher_delivers(clock: ManualClock, receiver: Receiver) -> None:
    state = make_state(clock)
    state.add_app(KEY, APP, push_url=receiver.url)
    with SandboxServer(state, push_interval=0.05) as server:
        Api(server).send_group(["919876543210"])
        assert receiver.arrived.wait(5)
        deadline = time.monotonic() + 5
        while not state.push_attempts and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(receiver.hits) == 1
    assert state.push_attempts[0].ok
