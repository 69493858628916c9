"""Fixtures: a controllable clock, a running sandbox and a tiny signing client of our own."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from itnio_portal.itnio.sandbox import ManualClock, SandboxServer, SandboxState

# The vendor's worked example (itnio-api.md §1) doubles as the test account.
KEY, SECRET = "bDqJFiq9", "7bz1lzh9"
OTHER_KEY, OTHER_SECRET = "otherKey", "otherSecret"
APP = "4luaKsL2"  # the seeds' voice app id
EUR_APP = "eurApp01"
AI_APP = "LILIN888"  # seed 000
AI_JOB = 10886  # seed 000
OTHER_APP = "otherApp"
# 2022-01-18T14:42:40+08:00, the submitTime of seed 003
START = datetime(2022, 1, 18, 14, 42, 40, tzinfo=timezone(timedelta(hours=8))).timestamp()
AUDIO = base64.b64encode(b"ID3\x03\x00fake mp3 bytes").decode()
JSON_CT = "application/json;charset=UTF-8"


def sign(key: str, secret: str, timestamp: str) -> str:
    """Our own §1 signer (deliberately not the project client)."""
    return hashlib.md5(f"{key}{secret}{timestamp}".encode()).hexdigest()


class Api:
    """Raw `requests` calls with freshly signed headers, timed on the sandbox clock."""

    def __init__(self, server: SandboxServer, key: str = KEY, secret: str = SECRET) -> None:
        self.server = server
        self.state = server.state
        self.base_url = server.base_url
        self.key, self.secret = key, secret
        self.session = requests.Session()
        self.session.trust_env = False  # never route 127.0.0.1 through an env proxy

    def headers(
        self,
        *,
        key: str | None = None,
        secret: str | None = None,
        timestamp: str | None = None,
        content_type: str | None = JSON_CT,
        upper: bool = False,
        omit: tuple[str, ...] = (),
    ) -> dict[str, str]:
        key = self.key if key is None else key
        secret = self.secret if secret is None else secret
        ts = str(int(self.state.now())) if timestamp is None else timestamp
        signature = sign(key, secret, ts)
        headers = {
            "Api-Key": key,
            "Timestamp": ts,
            "Sign": signature.upper() if upper else signature,
        }
        if content_type is not None:
            headers["Content-Type"] = content_type
        return {name: value for name, value in headers.items() if name not in omit}

    def post(self, path: str, body: Any, **header_options: Any) -> requests.Response:
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        return self.session.post(
            self.base_url + path, data=data, headers=self.headers(**header_options), timeout=10
        )

    def get(self, path: str, **header_options: Any) -> requests.Response:
        return self.session.get(
            self.base_url + path, headers=self.headers(**header_options), timeout=10
        )

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
        response = (
            self.post(path, body, **options) if method == "POST" else self.get(path, **options)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def ok(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        answer = self.call(method, path, body, **options)
        assert answer["status"] == "0", answer
        return answer.get("data")

    def upload(self, name: str = "hello.mp3") -> str:
        return self.ok("POST", "/voice/fileUpload", {"fileName": name, "file": AUDIO})

    def send_group(self, callees: list[str], app: str = APP, **extra: Any) -> list[dict[str, str]]:
        file_id = extra.pop("fileId", None) or self.upload(f"f{len(self.state.files)}.mp3")
        body = {"callee": ",".join(callees), "fileId": file_id, "appId": app, **extra}
        return self.ok("POST", "/voice/sendGroup", body)

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(
            method, self.base_url + "/_sandbox/" + path, json=body, timeout=10
        )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_state(clock: ManualClock, **options: Any) -> SandboxState:
    options.setdefault("life_scale", 0.0)
    state = SandboxState(clock=clock, seed=7, **options)
    state.add_account(KEY, SECRET, balance="100.00")
    state.add_app(KEY, APP)
    state.add_app(KEY, EUR_APP, currency="EUR")
    state.add_app(KEY, AI_APP, kind="ai")
    state.add_ai_job(AI_APP, AI_JOB, customers=3)
    state.add_account(OTHER_KEY, OTHER_SECRET)
    state.add_app(OTHER_KEY, OTHER_APP)
    return state


@pytest.fixture
def state(clock: ManualClock) -> SandboxState:
    return make_state(clock)


@pytest.fixture
def server(state: SandboxState) -> Iterator[SandboxServer]:
    with SandboxServer(state, push_interval=None) as running:
        yield running


@pytest.fixture
def api(server: SandboxServer) -> Api:
    return Api(server)


class Receiver:
    """A local push receiver answering with queued HTTP statuses (200 once the queue is empty)."""

    def __init__(self) -> None:
        self.hits: list[tuple[dict[str, str], Any]] = []
        self.statuses: list[int] = []
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.hits.append((dict(self.headers.items()), json.loads(raw)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                receiver.arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/itnio/push"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def bodies(self) -> list[Any]:
        return [body for _, body in self.hits]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()
