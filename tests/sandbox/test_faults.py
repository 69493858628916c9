"""Injected faults: 502s, drop-after-accept, forced business codes, latency, hold hooks."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from itnio_portal.itnio.sandbox import ManualClock, RequestRecord, SandboxServer

from .conftest import APP, Api, make_state

SG = "/voice/sendGroup"
SC = "/voice/sendCode"
CODE_BODY = {"callee": "919876543210", "language": "EN", "text": "hi", "appId": APP}


def group_body(api: Api, *callees: str) -> dict[str, str]:
    return {"callee": ",".join(callees), "fileId": api.upload(), "appId": APP}


def test_fail_next_gives_502_without_processing(api: Api) -> None:
    body = group_body(api, "919876543210")
    api.state.fail_next(SG, 1)
    response = api.post(SG, body)
    assert response.status_code == 502
    assert "502 Bad Gateway" in response.text
    assert api.state.calls == {}
    assert api.state.requests_for(SG)[0].response == "http 502"
    assert api.call("POST", SG, body)["status"] == "0"  # only the next one


def test_fail_next_custom_status_and_sub_path(api: Api) -> None:
    api.state.fail_next("/voice/recordGroup", 2, status=504)
    assert api.get("/voice/recordGroup/123").status_code == 504
    assert api.get("/voice/recordGroup/456").status_code == 504
    assert api.get("/voice/recordGroup/789").status_code == 200


def test_502_rate_is_seeded(clock: ManualClock) -> None:
    patterns = []
    for _ in range(2):
        state = make_state(clock)
        state.faults.http_502_rate = 0.5
        with SandboxServer(state, push_interval=None) as server:
            api = Api(server)
            patterns.append([api.get("/sms/getBalance").status_code for _ in range(30)])
    assert patterns[0] == patterns[1]
    assert set(patterns[0]) == {200, 502}


def test_drop_next_processes_then_closes(api: Api) -> None:
    body = group_body(api, "919876543210", "919876543211")
    api.state.drop_next(SG)
    with pytest.raises(requests.ConnectionError):
        api.post(SG, body)
    # the sandbox placed the calls although the client saw no answer
    assert sorted(api.state.accepted_callees()) == ["919876543210", "919876543211"]
    (record,) = api.state.requests_for(SG)
    assert record.response == "dropped"
    assert [callee for _, callee in record.accepted] == ["919876543210", "919876543211"]
    for voice_id, callee in record.accepted:
        found = api.ok("GET", f"/voice/recordGroup/{voice_id}")
        assert found["callee"] == callee


def test_dropped_connection_writes_no_bytes(api: Api) -> None:
    body = b'{"callee":"919876543210","language":"EN","text":"hi","appId":"4luaKsL2"}'
    headers = api.headers()
    api.state.drop_next(SC)
    head = f"POST {SC} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((api.server.host, api.server.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    assert received == b""
    assert len(api.state.calls) == 1


def test_drop_rate_applies_to_sends_only(api: Api) -> None:
    api.state.faults.drop_after_accept_rate = 1.0
    assert api.get("/sms/getBalance").status_code == 200
    with pytest.raises(requests.ConnectionError):
        api.post(SC, CODE_BODY)
    assert api.state.accepted_callees()["919876543210"] == 1


def test_drop_does_not_apply_to_refused_requests(api: Api) -> None:
    api.state.drop_next(SC)
    assert api.call("POST", SC, CODE_BODY, secret="wrong")["status"] == "-1"
    with pytest.raises(requests.ConnectionError):
        api.post(SC, CODE_BODY)  # the drop was still pending


def test_business_code_next(api: Api) -> None:
    api.state.business_code_next(SC, "-26", "Getting fee faily")
    assert api.call("POST", SC, CODE_BODY) == {
        "status": "-26",
        "reason": "Getting fee faily",
        "data": None,
    }
    assert api.state.calls == {}
    assert api.call("POST", SC, CODE_BODY)["status"] == "0"


def test_business_code_comes_after_auth(api: Api) -> None:
    api.state.business_code_next(SC, "-18", "Port program unusual")
    assert api.call("POST", SC, CODE_BODY, secret="wrong")["status"] == "-1"
    assert api.call("POST", SC, CODE_BODY)["status"] == "-18"


def test_latency_global_and_per_path(api: Api) -> None:
    api.state.faults.latency_by_path = {SC: 0.3}
    started = time.monotonic()
    api.get("/sms/getBalance")
    assert time.monotonic() - started < 0.25
    started = time.monotonic()
    api.post(SC, CODE_BODY)
    assert time.monotonic() - started >= 0.3
    api.state.faults.latency = 0.2
    started = time.monotonic()
    api.get("/sms/getBalance")
    assert time.monotonic() - started >= 0.2


def test_hold_hook_runs_while_the_client_waits(api: Api) -> None:
    held, release = threading.Event(), threading.Event()
    seen: list[RequestRecord] = []

    def hold(record: RequestRecord) -> None:
        seen.append(record)
        held.set()
        release.wait(5)

    api.state.faults.on_send_held = hold
    result: dict[str, object] = {}
    client = threading.Thread(target=lambda: result.update(api.call("POST", SC, CODE_BODY)))
    client.start()
    assert held.wait(5)
    time.sleep(0.1)
    assert client.is_alive()  # the client is still waiting for its answer
    assert api.state.calls == {}  # validated, but not processed yet
    assert seen[0].body["callee"] == "919876543210"
    release.set()
    client.join(5)
    assert result["status"] == "0"
    assert len(api.state.calls) == 1


def test_hold_hook_not_called_for_invalid_or_read_requests(api: Api) -> None:
    seen: list[RequestRecord] = []
    api.state.on_send_held = seen.append
    api.call("POST", SC, CODE_BODY | {"loopCount": "two"})
    api.call("GET", "/sms/getBalance")
    assert seen == []


def test_answered_hook_after_drop(api: Api) -> None:
    seen: list[RequestRecord] = []
    api.state.on_send_answered = seen.append
    api.state.drop_next(SC)
    with pytest.raises(requests.ConnectionError):
        api.post(SC, CODE_BODY)
    api.post(SC, CODE_BODY | {"callee": "919876543211"})
    deadline = time.monotonic() + 5  # the hook runs after the answer was written: wait for it
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    # The hooks run on the server's threads: the second request's may finish first.
    seen.sort(key=lambda r: r.seq)
    assert [r.response if isinstance(r.response, str) else r.business_status for r in seen] == [
        "dropped",
        "0",
    ]
    assert seen[0].accepted


def test_reset_faults(api: Api) -> None:
    api.state.fail_next(SC, 5)
    api.state.faults.latency = 1.0
    api.state.faults.http_502_rate = 1.0
    api.state.on_send_held = lambda record: None
    api.state.reset_faults()
    started = time.monotonic()
    assert api.call("POST", SC, CODE_BODY)["status"] == "0"
    assert time.monotonic() - started < 0.5
    assert api.state.faults.on_send_held is None
