"""The /_sandbox/ control API, unrouted paths, and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from itnio_portal.itnio.sandbox import SandboxServer, SandboxState
from itnio_portal.itnio.sandbox.__main__ import build_parser, build_state

from .conftest import APP, Api, Receiver, sign

REPO = Path(__file__).resolve().parents[2]


def test_health(api: Api) -> None:
    health = api.control("GET", "health").json()
    assert health["ok"] is True
    assert health["baseUrl"] == api.base_url


def test_accounts_round_trip_then_signed_call(api: Api) -> None:
    response = api.control(
        "POST",
        "accounts",
        {
            "accounts": [{"api_key": "ctlKey", "api_secret": "ctlSecret", "balance": "5.50"}],
            "apps": [
                {"api_key": "ctlKey", "app_id": "ctlVoice", "currency": "EUR"},
                {"api_key": "ctlKey", "app_id": "ctlAi", "kind": "ai"},
            ],
            "ai_jobs": [{"app_id": "ctlAi", "job_id": 5, "customers": 2}],
        },
    )
    assert response.status_code == 200
    view = response.json()
    ctl = next(a for a in view["accounts"] if a["apiKey"] == "ctlKey")
    assert ctl["balance"] == "5.50"
    assert "ctlSecret" not in response.text
    client = Api(api.server, "ctlKey", "ctlSecret")
    assert client.call("GET", "/sms/getBalance")["balance"] == "5.50"
    assert (
        client.call("POST", "/aivoice/taskStart", {"appId": "ctlAi", "jobId": 5})["status"] == "0"
    )


def test_bad_account_document_is_400(api: Api) -> None:
    response = api.control("POST", "accounts", {"apps": [{"api_key": "nobody", "app_id": "x"}]})
    assert response.status_code == 400
    assert "error" in response.json()


def test_requests_and_calls(api: Api) -> None:
    api.call("GET", "/sms/getBalance")
    (item,) = api.send_group(["919876543210"])
    records = api.control("GET", "requests?path=/voice/sendGroup").json()["requests"]
    assert len(records) == 1
    assert records[0]["accepted"] == [{"voiceId": item["voiceId"], "callee": "919876543210"}]
    assert records[0]["headers"]["Sign"] == "<sign ok>"
    assert records[0]["response"]["status"] == "0"
    everything = api.control("GET", "requests").json()["requests"]
    assert [r["path"] for r in everything] == [
        "/sms/getBalance",
        "/voice/fileUpload",
        "/voice/sendGroup",
    ]
    since = api.control("GET", f"requests?since={everything[1]['seq']}").json()["requests"]
    assert [r["path"] for r in since] == ["/voice/sendGroup"]
    calls = api.control("GET", "calls").json()["calls"]
    assert [c["voiceId"] for c in calls] == [item["voiceId"]]
    assert calls[0]["final"] is True
    assert api.control("GET", "accepted-callees").json() == {"accepted": {"919876543210": 1}}


def test_faults_via_control(api: Api) -> None:
    response = api.control(
        "POST",
        "faults",
        {
            "fail_next": {"path": "/sms/getBalance", "count": 1, "status": 503},
            "business_code_next": [{"path": "/voice/sendCode", "code": "-26", "reason": "fee"}],
            "latency_ms": 10,
        },
    )
    assert response.status_code == 200
    assert response.json()["fail_next"] == [{"path": "/sms/getBalance", "count": 1, "status": 503}]
    assert api.get("/sms/getBalance").status_code == 503
    body = {"callee": "919876543210", "language": "EN", "text": "hi", "appId": APP}
    assert api.call("POST", "/voice/sendCode", body)["status"] == "-26"
    assert api.state.faults.latency == pytest.approx(0.01)
    api.control("POST", "faults", {"drop_next": {"path": "/voice/sendCode"}})
    with pytest.raises(requests.ConnectionError):
        api.post("/voice/sendCode", body)
    reset = api.control("POST", "reset-faults").json()
    assert reset["latency"] == 0 and reset["drop_next"] == [] and reset["fail_next"] == []
    assert api.control("POST", "faults", {"latency": "slow"}).status_code == 400


def test_settings_and_clock(api: Api) -> None:
    assert api.control("POST", "settings", {"life_scale": 1, "push_as_array": True}).ok
    assert api.state.life_scale == 1.0 and api.state.push_as_array is True
    assert api.control("POST", "settings", {"nope": 1}).status_code == 400
    (item,) = api.send_group(["919876543210"])
    assert api.state.calls[item["voiceId"]].final is False
    before = api.state.now()
    moved = api.control("POST", "clock", {"advance": 3600}).json()
    assert moved["now"] == pytest.approx(before + 3600)
    assert api.state.calls[item["voiceId"]].final is True


def test_flush_pushes_via_control(api: Api, receiver: Receiver) -> None:
    api.state.add_app(api.key, APP, push_url=receiver.url)
    (item,) = api.send_group(["919876543210"])
    flushed = api.control("POST", "flush-pushes").json()["attempts"]
    assert [a["voiceIds"] for a in flushed] == [[item["voiceId"]]]
    assert flushed[0]["status"] == 200
    pushes = api.control("GET", "pushes").json()
    assert len(pushes["attempts"]) == 1 and pushes["pending"] == []


def test_unknown_control_endpoint_and_bad_json(api: Api) -> None:
    missing = api.control("GET", "nope")
    assert missing.status_code == 404
    assert "GET /_sandbox/health" in missing.json()["endpoints"]
    bad = api.session.post(api.base_url + "/_sandbox/faults", data="{oops")
    assert bad.status_code == 400


def test_unknown_api_path_and_method(api: Api) -> None:
    missing = api.get("/voice/doesNotExist")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404
    wrong_method = api.get("/voice/sendGroup")
    assert wrong_method.status_code == 405
    assert api.state.requests_for("/voice/doesNotExist")[0].response == "http 404"


def test_cli_parsing() -> None:
    args = build_parser().parse_args(
        [
            "--account", "K1:S1",
            "--account", "K2:S2",
            "--app", "K1:A1",
            "--app", "K1:A2:ai",
            "--app", "K2:A3:voice:http://127.0.0.1:9000/push",
            "--app", "K2:A4:http://127.0.0.1:9001/p",
            "--currency", "A1:eur",
            "--ai-job", "A2:10886:4",
            "--life-scale", "0.1", "--latency-ms", "50", "--fail-rate", "0.05",
            "--drop-rate", "0.05", "--seed", "1",
        ]
    )  # fmt: skip
    state = build_state(args)
    assert isinstance(state, SandboxState)
    assert state.apps["A1"].currency == "EUR"
    assert state.apps["A2"].kind == "ai"
    assert state.apps["A3"].push_url == "http://127.0.0.1:9000/push"
    assert (state.apps["A4"].kind, state.apps["A4"].push_url) == (
        "voice",
        "http://127.0.0.1:9001/p",
    )
    assert state.ai_jobs[("A2", 10886)].customers == 4
    assert state.life_scale == 0.1
    assert state.faults.latency == pytest.approx(0.05)
    assert state.faults.http_502_rate == 0.05
    assert state.faults.drop_after_accept_rate == 0.05
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--account", "no-secret"])


def test_cli_defaults_to_a_demo_account() -> None:
    state = build_state(build_parser().parse_args([]))
    assert list(state.accounts) == ["sandboxKey"]
    assert list(state.apps) == ["sandboxApp"]


def test_python_dash_m_serves(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "itnio_portal.itnio.sandbox", "--port", "0", "--account", "k:s"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        base_url = first.split(" on ")[1].split(" ")[0]
        session = requests.Session()
        session.trust_env = False
        assert session.get(base_url + "/_sandbox/health", timeout=5).json()["ok"] is True
        ts = str(int(time.time()))
        headers = {"Api-Key": "k", "Timestamp": ts, "Sign": sign("k", "s", ts)}
        headers["Content-Type"] = "application/json"
        answer = session.get(base_url + "/sms/getBalance", headers=headers, timeout=5).json()
        assert answer["status"] == "0"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0


def test_server_lifecycle_and_keep_alive() -> None:
    state = SandboxState()
    state.add_account("k", "s")
    server = SandboxServer(state, push_interval=None).start()
    try:
        api = Api(server, "k", "s")
        for _ in range(3):
            assert api.call("GET", "/sms/getBalance")["status"] == "0"
        health = api.session.get(server.base_url + "/_sandbox/health", timeout=5)
        assert json.loads(health.text)["ok"]
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        api.session.get(server.base_url + "/_sandbox/health", timeout=2)
