"""Transport: retries for reads only, failure classification, events, logs and secrecy."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import responses
import urllib3.exceptions

from itnio_portal.itnio import (
    AuthenticationError,
    ItnioApiError,
    ItnioClient,
    ItnioError,
    ItnioHttpError,
    ItnioNotSentError,
    ItnioOutcomeUnknownError,
    ItnioProtocolError,
    ItnioUnavailableError,
    RequestEvent,
    Transport,
    sign,
)
from itnio_portal.itnio.transport import backoff_delay, summarize_body

BASE = "https://itnio.test"
KEY, SECRET = "key12345", "s3cr3t-value-42"
NOW = 1_700_000_000.0
SIGN = sign(KEY, SECRET, str(int(NOW)))
RECORD_OK = {"status": "0", "reason": "success", "data": {"voiceId": "v1"}}
GROUP_OK = {"status": "0", "reason": "success", "data": []}
GROUP_ARGS = {"app_id": "4luaKsL2", "file_id": "f.mp3", "callees": ["91856321412"]}


class Recorder:
    """Collects observer events and sleep calls."""

    def __init__(self) -> None:
        self.events: list[RequestEvent] = []
        self.sleeps: list[float] = []

    def event(self, event: RequestEvent) -> None:
        self.events.append(event)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def make_client(rec: Recorder, base: str = BASE, **kwargs) -> ItnioClient:
    options = {"clock": lambda: NOW, "sleep": rec.sleep, "on_request": rec.event}
    options.update(kwargs)
    return ItnioClient(base, KEY, SECRET, **options)


def connection_refused() -> requests.ConnectionError:
    # What requests raises when the TCP connection cannot be opened.
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def connection_dropped() -> requests.ConnectionError:
    # What requests raises when the server closes the socket after reading the request.
    cause = http.client.RemoteDisconnected("Remote end closed connection without response")
    return requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted.", cause))


# ---- reads: retried ---------------------------------------------------------------------------


@responses.activate
def test_get_retried_after_502_then_succeeds(rec):
    url = f"{BASE}/voice/recordGroup/v1"
    responses.add(responses.GET, url, status=502)
    responses.add(responses.GET, url, json=RECORD_OK)
    record = make_client(rec).record_group("v1")
    assert record.voice_id == "v1"
    assert len(responses.calls) == 2
    assert len(rec.sleeps) == 1 and 0.25 <= rec.sleeps[0] <= 0.5
    (event,) = rec.events
    assert (event.outcome, event.attempts, event.http_status, event.code) == ("ok", 2, 200, "0")


@pytest.mark.parametrize(
    "error",
    [connection_refused(), connection_dropped(), requests.ReadTimeout("read timed out")],
)
@responses.activate
def test_get_retried_after_connection_error_or_timeout(rec, error):
    url = f"{BASE}/voice/recordGroup/v1"
    responses.add(responses.GET, url, body=error)
    responses.add(responses.GET, url, json=RECORD_OK)
    assert make_client(rec).record_group("v1").voice_id == "v1"
    assert len(responses.calls) == 2


@responses.activate
def test_get_gives_unavailable_after_max_retries(rec):
    url = f"{BASE}/sms/getBalance"
    for _ in range(10):
        responses.add(responses.GET, url, status=503)
    with pytest.raises(ItnioUnavailableError) as info:
        make_client(rec).get_balance()
    # 1 attempt + max_read_retries (3).
    assert len(responses.calls) == 4
    assert info.value.attempts == 4
    assert info.value.http_status == 503
    assert info.value.safe_to_retry
    # Capped exponential backoff with jitter: retry n waits in [d/2, d], d = 0.5 * 2**(n-1).
    assert len(rec.sleeps) == 3
    for n, delay in enumerate(rec.sleeps, start=1):
        full = 0.5 * 2 ** (n - 1)
        assert full / 2 <= delay <= full
    assert rec.events[-1].outcome == "unavailable"


@responses.activate
def test_max_read_retries_is_configurable(rec):
    responses.add(responses.GET, f"{BASE}/sms/getBalance", body=connection_dropped())
    with pytest.raises(ItnioUnavailableError):
        make_client(rec, max_read_retries=0).get_balance()
    assert len(responses.calls) == 1
    assert rec.sleeps == []


@pytest.mark.parametrize("status", [400, 401, 404, 302])
@responses.activate
def test_non_5xx_error_status_is_http_error_and_not_retried(rec, status):
    responses.add(
        responses.GET,
        f"{BASE}/sms/getBalance",
        status=status,
        headers={"Location": "https://elsewhere.test/"},
    )
    with pytest.raises(ItnioHttpError) as info:
        make_client(rec).get_balance()
    assert len(responses.calls) == 1  # a redirect is not followed either
    assert info.value.http_status == status
    assert rec.events[-1].outcome == "http_error"


@pytest.mark.parametrize("body", ["<html>oops</html>", "[]", "{}", ""])
@responses.activate
def test_read_with_unparsable_body_is_protocol_error(rec, body):
    responses.add(responses.GET, f"{BASE}/voice/recordGroup/v1", body=body)
    with pytest.raises(ItnioProtocolError):
        make_client(rec).record_group("v1")
    assert len(responses.calls) == 1
    assert rec.events[-1].outcome == "protocol_error"


@responses.activate
def test_record_group_query_is_a_read_and_retried(rec):
    url = f"{BASE}/voice/recordGroupQuery"
    responses.add(responses.POST, url, status=500)
    responses.add(responses.POST, url, json={"status": "0", "data": {"records": []}})
    start = datetime(2024, 1, 1, tzinfo=UTC)
    make_client(rec).record_group_query(start=start, end=start.replace(day=2))
    assert len(responses.calls) == 2
    # The very same bytes are sent again.
    assert responses.calls[0].request.body == responses.calls[1].request.body


@responses.activate
def test_every_request_carries_a_timeout(rec):
    responses.add(responses.GET, f"{BASE}/sms/getBalance", json={"status": "0"})
    make_client(rec, connect_timeout=2.5, read_timeout=7.0).get_balance()
    assert responses.calls[0].request.req_kwargs["timeout"] == (2.5, 7.0)


# ---- sends: never retried ------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_send_not_retried_after_5xx(rec, status):
    responses.add(responses.POST, f"{BASE}/voice/sendGroup", status=status)
    responses.add(responses.POST, f"{BASE}/voice/sendGroup", json=GROUP_OK)
    with pytest.raises(ItnioOutcomeUnknownError) as info:
        make_client(rec).send_group(**GROUP_ARGS)
    assert len(responses.calls) == 1
    assert info.value.http_status == status
    assert not info.value.safe_to_retry
    assert rec.sleeps == []
    assert rec.events[-1].outcome == "unknown"


@pytest.mark.parametrize(
    "error",
    [
        requests.ReadTimeout("read timed out"),
        connection_dropped(),
        requests.exceptions.ChunkedEncodingError("incomplete read"),
        requests.ConnectionError("something else broke"),
    ],
)
@responses.activate
def test_send_that_may_have_arrived_is_outcome_unknown_and_not_retried(rec, error):
    responses.add(responses.POST, f"{BASE}/voice/sendCode", body=error)
    responses.add(responses.POST, f"{BASE}/voice/sendCode", json={"status": "0", "data": "v"})
    with pytest.raises(ItnioOutcomeUnknownError):
        make_client(rec).send_code(app_id="a", callee="932111111111", language="EN", text="hi")
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "error", [connection_refused(), requests.ConnectTimeout("connect timed out")]
)
@responses.activate
def test_send_whose_connection_failed_is_not_sent(rec, error):
    responses.add(responses.POST, f"{BASE}/aivoice/taskStart", body=error)
    with pytest.raises(ItnioNotSentError) as info:
        make_client(rec).ai_task_start(app_id="LILIN888", job_id=1)
    assert len(responses.calls) == 1
    assert info.value.safe_to_retry
    assert rec.events[-1].outcome == "not_sent"


@pytest.mark.parametrize("body", ["<html>Bad gateway</html>", "[]", '{"data": []}', ""])
@responses.activate
def test_send_with_unparsable_200_body_is_outcome_unknown(rec, body):
    responses.add(responses.POST, f"{BASE}/voice/sendGroup", body=body, status=200)
    with pytest.raises(ItnioOutcomeUnknownError):
        make_client(rec).send_group(**GROUP_ARGS)
    assert len(responses.calls) == 1
    assert rec.events[-1].outcome == "unknown"


def test_send_to_a_closed_port_is_not_sent(rec):
    # A real connection attempt: reserve a free port, release it, then connect to it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = make_client(rec, base=f"http://127.0.0.1:{port}")
    with pytest.raises(ItnioNotSentError) as info:
        client.send_group(**GROUP_ARGS)
    assert info.value.attempts == 1
    assert "not sent" in str(info.value)


# ---- a real local HTTP server -----------------------------------------------------------------


class FakeItnio(ThreadingHTTPServer):
    """A tiny ITNIO stand-in: per (method, path) a queue of behaviours, then 'ok'."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: dict[tuple[str, str], list[str]] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()

    def handle_error(self, request, client_address) -> None:
        # The client gave up on purpose in some tests (timeouts); broken pipes are expected.
        pass

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_action(self, method: str, path: str) -> str:
        with self.lock:
            queue = self.script.get((method, path), [])
            return queue.pop(0) if queue else "ok"


class _Handler(BaseHTTPRequestHandler):
    server: FakeItnio

    def log_message(self, format, *args) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with self.server.lock:
            self.server.seen.append((self.command, self.path, dict(self.headers)))
        action = self.server.next_action(self.command, self.path)
        if action == "close":
            # Read the request, then hang up without answering.
            self.close_connection = True
            return
        if action == "sleep":
            time.sleep(1.0)
        if action == "502":
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = GROUP_OK if self.command == "POST" else RECORD_OK
        body = json.dumps(payload).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass

    do_GET = _serve
    do_POST = _serve


@pytest.fixture
def server() -> Iterator[FakeItnio]:
    srv = FakeItnio()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.mark.parametrize("action", ["502", "close", "sleep"])
def test_real_server_send_group_is_sent_exactly_once(server, rec, action):
    server.script[("POST", "/voice/sendGroup")] = [action]
    client = make_client(rec, base=server.url, read_timeout=0.3)
    with pytest.raises(ItnioOutcomeUnknownError):
        client.send_group(**GROUP_ARGS)
    assert [(m, p) for m, p, _ in server.seen] == [("POST", "/voice/sendGroup")]
    assert rec.events[-1].outcome == "unknown"
    assert rec.events[-1].attempts == 1


def test_real_server_get_retried_after_502_succeeds(server, rec):
    server.script[("GET", "/voice/recordGroup/v1")] = ["502"]
    ticks = iter([NOW + i for i in range(10)])
    client = make_client(rec, base=server.url, clock=lambda: next(ticks))
    assert client.record_group("v1").voice_id == "v1"
    assert [(m, p) for m, p, _ in server.seen] == [("GET", "/voice/recordGroup/v1")] * 2
    first, second = (headers for _, _, headers in server.seen)
    assert first["Content-Type"] == "application/json;charset=UTF-8"
    assert first["Timestamp"] != second["Timestamp"]
    assert second["Sign"] == sign(KEY, SECRET, second["Timestamp"])


def test_real_server_get_times_out_then_retries(server, rec):
    server.script[("GET", "/voice/recordGroup/v1")] = ["sleep"]
    client = make_client(rec, base=server.url, read_timeout=0.3)
    assert client.record_group("v1").voice_id == "v1"
    assert len(server.seen) == 2


def test_real_tls_handshake_failure_is_not_sent(server, rec):
    # TLS to a plain-HTTP port: the handshake fails before the request is written.
    client = make_client(rec, base=server.url.replace("http://", "https://"))
    with pytest.raises(ItnioNotSentError):
        client.send_group(**GROUP_ARGS)
    assert server.seen == []


# ---- backoff, events, summaries, observer --------------------------------------------------


def test_backoff_is_capped_exponential_with_jitter():
    assert backoff_delay(1, 0.5, 8.0, lambda: 0.0) == 0.25
    assert backoff_delay(1, 0.5, 8.0, lambda: 1.0) == 0.5
    assert backoff_delay(3, 0.5, 8.0, lambda: 1.0) == 2.0
    assert backoff_delay(10, 0.5, 8.0, lambda: 1.0) == 8.0
    assert backoff_delay(10, 0.5, 8.0, lambda: 0.0) == 4.0


def test_summary_shortens_callee_lists_like_the_admin_expects():
    callees = ["91856321412", "91856321300"] + [f"9185632{i:04d}" for i in range(198)]
    summary = summarize_body({"callee": ",".join(callees), "appId": "a"})
    assert summary == {"callee": "91856321412,91856321300,918563… (+197 more)", "appId": "a"}
    assert summarize_body({"callee": "1,2,3"}) == {"callee": "1,2,3"}


def test_summary_replaces_file_and_truncates_long_text():
    summary = summarize_body({"fileName": "a.mp3", "file": "AAAA" * 25, "text": "x" * 450})
    assert summary["fileName"] == "a.mp3"
    assert summary["file"] == "<75 bytes base64>"
    assert summary["text"] == "x" * 200 + "… (+250 chars)"


def test_summary_masks_secret_keys_values_and_long_lists():
    body = {
        "sign": "abc",
        "nested": {"password": "p"},
        "note": f"key {SECRET}",
        "ids": [1, 2, 3, 4],
    }
    summary = summarize_body(body, secrets=[SECRET])
    assert summary == {
        "sign": "***",
        "nested": {"password": "***"},
        "note": "key ***",
        "ids": [1, 2, 3, "… (+1 more)"],
    }
    assert summarize_body(None) is None


@responses.activate
def test_event_describes_the_logical_request(rec):
    responses.add(
        responses.POST,
        f"{BASE}/voice/sendGroup",
        json={"status": "-10", "reason": "balance low"},
    )
    callees = [f"9185632{i:04d}" for i in range(5)]
    with pytest.raises(ItnioApiError):
        make_client(rec).send_group(app_id="a1", file_id="f.mp3", callees=callees)
    (event,) = rec.events
    assert event.endpoint == "/voice/sendGroup"
    assert (event.method, event.path) == ("POST", "/voice/sendGroup")
    assert event.outcome == "api_error"
    assert (event.http_status, event.code, event.reason) == (200, "-10", "balance low")
    assert event.attempts == 1
    assert event.started_at == datetime.fromtimestamp(NOW, UTC)
    assert event.started_at.tzinfo is not None
    assert isinstance(event.duration_ms, int) and event.duration_ms >= 0
    assert event.summary == {
        "callee": "91856320000,91856320001,918563… (+2 more)",
        "fileId": "f.mp3",
        "appId": "a1",
    }


@responses.activate
def test_observer_errors_do_not_break_the_request(caplog):
    responses.add(responses.GET, f"{BASE}/sms/getBalance", json={"status": "0", "balance": "1"})

    def broken(event):
        raise RuntimeError("database is down")

    client = ItnioClient(BASE, KEY, SECRET, on_request=broken)
    with caplog.at_level(logging.WARNING, logger="itnio_portal.itnio"):
        balance = client.get_balance()
    assert str(balance.balance) == "1"
    assert any("observer failed" in r.getMessage() for r in caplog.records)


def test_transport_refuses_to_run_without_timeouts():
    with pytest.raises(ValueError):
        Transport(BASE, dict, read_timeout=0)


# ---- secrecy ------------------------------------------------------------------------------------


@responses.activate
def test_secret_sign_and_key_never_leak(caplog, rec, server):
    caplog.set_level(logging.DEBUG)
    # The vendor echoing the Sign in its reason must not leak it either.
    responses.add(
        responses.POST,
        f"{BASE}/voice/sendGroup",
        json={"status": "-1", "reason": f"bad sign {SIGN} for {KEY}"},
    )
    responses.add(responses.POST, f"{BASE}/voice/sendGroup", json=GROUP_OK)
    responses.add(responses.POST, f"{BASE}/voice/sendCode", status=502)
    responses.add(responses.GET, f"{BASE}/sms/getBalance", body=connection_refused())
    responses.add(responses.GET, f"{BASE}/voice/recordGroup/v1", body="not json")
    responses.add_passthru(server.url)
    client = make_client(rec)
    errors: list[ItnioError] = []

    with pytest.raises(AuthenticationError) as info:
        client.send_group(**GROUP_ARGS)
    errors.append(info.value)
    client.send_group(**GROUP_ARGS)  # success path
    for call in (
        lambda: client.send_code(app_id="a", callee="932111111111", language="EN", text="hi"),
        client.get_balance,
        lambda: client.record_group("v1"),
        lambda: client.send_group(app_id="a", file_id="f", callees=["1"]),  # limit error
    ):
        with pytest.raises(ItnioError) as info:
            call()
        errors.append(info.value)
    # Real sockets too: a hang-up and a timeout against the local server.
    server.script[("POST", "/voice/sendGroup")] = ["close", "sleep"]
    real = make_client(rec, base=server.url, read_timeout=0.3)
    for _ in range(2):
        with pytest.raises(ItnioOutcomeUnknownError) as info:
            real.send_group(**GROUP_ARGS)
        errors.append(info.value)

    texts = [str(e) for e in errors] + [repr(e) for e in errors]
    texts += [repr(event) for event in rec.events]
    texts += [repr(client), repr(real), repr(client._transport)]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.args) for record in caplog.records]
    assert len(errors) == 7
    assert len(rec.events) == 7  # the limit error never reached the transport
    assert caplog.records
    for text in texts:
        assert SECRET not in text
        assert SIGN not in text
        assert KEY not in text
    assert "bad sign ***" in str(errors[0])
