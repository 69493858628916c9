"""The HTTP side: a ThreadingHTTPServer that runs the auth/fault/validation/handler pipeline."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from . import control
from .ai import recording_wav
from .auth import AuthError, Family, authenticate, sign_label
from .endpoints import match
from .entities import RequestRecord
from .faults import Hook
from .handler import BusinessError, Ctx, Reply, Route
from .persist import StateFile
from .state import SandboxState
from .validation import ParamError, validate

log = logging.getLogger("itnio_portal.itnio.sandbox")

CONTROL_PREFIX = "/_sandbox"
RECORDINGS_PREFIX = CONTROL_PREFIX + "/recordings/"
_GATEWAY_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def _parse_for_record(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    timeout = 120  # idle keep-alive connections do not pin a thread forever
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK adds ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence http.server's stderr lines; the pipeline logs one line per request."""

    # ---- low-level I/O ---------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, obj: Any) -> None:
        payload = json.dumps(obj, ensure_ascii=False).encode()
        self._send(status, payload, "application/json;charset=UTF-8")

    def _drop(self) -> None:
        """Close the connection without writing a single byte (the send was processed)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---- pipeline --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        sandbox: SandboxServer = self.server.sandbox
        state = sandbox.state
        split = urlsplit(self.path)
        path, query = split.path, split.query
        raw = self._read_body()
        if path.startswith(RECORDINGS_PREFIX):
            self._recording(state, path.removeprefix(RECORDINGS_PREFIX))
            return
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            status, obj = control.handle(sandbox, self.command, path, query, raw)
            if self.command != "GET":
                sandbox.changed()
            self._send_json(status, obj)
            return
        if state.advance():  # calls became final: balances, records and pushes changed
            sandbox.changed()
        headers = dict(self.headers.items())
        for name in list(headers):
            if name.lower() == "sign":
                headers[name] = sign_label(state, self.headers)
        record = state.record_request(self.command, path, query, headers, _parse_for_record(raw))
        route, params, allowed = match(self.command, path)
        if route is None:
            self._not_routed(record, path, allowed)
        else:
            self._serve(state, record, route, params, raw)
            if route.send:
                sandbox.changed()
        outcome = record.response if isinstance(record.response, str) else None
        if outcome is None:
            outcome = f"status {record.business_status}"
        log.debug(
            "#%d %s %s key=%s -> %s",
            record.seq,
            self.command,
            path,
            self.headers.get("Api-Key", "-"),
            outcome,
        )

    def _recording(self, state: SandboxState, name: str) -> None:
        """GET /_sandbox/recordings/<callId>.wav (or <callId>-customer.wav): the recording of an
        answered AI call, a small real WAV the browser can play (fullAudioUrl, §6.2)."""
        stem = name.removesuffix(".wav")
        call_id, customer = stem.removesuffix("-customer"), stem.endswith("-customer")
        with state.lock:
            call = state.ai_calls.get(call_id)
            ready = call is not None and call.final and call.life.answered
        if self.command != "GET" or not name.endswith(".wav") or not ready:
            self._send_json(404, {"error": f"no recording {name!r}"})
            return
        assert call is not None
        self._send(200, recording_wav(call, customer_only=customer), "audio/wav")

    def _not_routed(self, record: RequestRecord, path: str, allowed: list[str]) -> None:
        status = HTTPStatus.METHOD_NOT_ALLOWED if allowed else HTTPStatus.NOT_FOUND
        body = {  # a Spring Boot style error page, as an unknown path on a Java API gives
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "status": int(status),
            "error": status.phrase,
            "path": path,
        }
        record.response_status, record.response = int(status), f"http {int(status)}"
        self._send_json(int(status), body)

    def _serve(
        self,
        state: SandboxState,
        record: RequestRecord,
        route: Route,
        params: dict[str, str],
        raw: bytes,
    ) -> None:
        faults, family, path = state.faults, route.family, record.path
        delay = faults.latency_for(path)
        if delay > 0:
            time.sleep(delay)
        failure = faults.take_http_failure(path)
        if failure is not None:
            try:
                phrase = HTTPStatus(failure).phrase
            except ValueError:
                phrase = ""
            page = _GATEWAY_PAGE.format(code=failure, phrase=phrase).encode()
            record.response_status, record.response = failure, f"http {failure}"
            self._send(failure, page, "text/html")
            self._answered(route, record)
            return
        reply, ctx = self._business(state, record, route, family, params, raw)
        if ctx is not None:
            record.accepted = list(ctx.accepted)
        if ctx is not None and faults.take_drop(path, route.send):
            record.response_status, record.response = None, "dropped"
            self._drop()
        else:
            record.response_status, record.response = 200, reply.body()
            self._send_json(200, record.response)
        self._answered(route, record)

    def _business(
        self,
        state: SandboxState,
        record: RequestRecord,
        route: Route,
        family: Family,
        params: dict[str, str],
        raw: bytes,
    ) -> tuple[Reply, Ctx | None]:
        """Auth, forced codes, validation, the held hook, then the handler under the lock."""
        try:
            account = authenticate(state, self.headers, family)
        except AuthError as exc:
            return Reply(exc.code, exc.reason), None
        forced = state.faults.take_business_code(path=record.path)
        if forced is not None:
            return Reply(*forced), None
        values: dict[str, Any] = {}
        try:
            if route.schema is not None:
                try:
                    body = json.loads(raw.decode("utf-8")) if raw.strip() else None
                except ValueError as exc:
                    raise ParamError(f"request body is not valid JSON ({exc})") from None
                values = validate(body, route.schema, state)
        except ParamError as exc:
            return Reply(family.param_error, f"{family.param_reason}: {exc.message}"), None
        if route.send:
            self._hook(state.faults.on_send_held, record)
        ctx = Ctx(state, account, family, values, params, record)
        try:
            with state.lock:
                state.advance()  # time may have passed (latency, the held hook)
                reply = route.handler(ctx)
        except ParamError as exc:
            reply = Reply(family.param_error, f"{family.param_reason}: {exc.message}")
        except BusinessError as exc:
            reply = Reply(exc.code, exc.reason)
        except Exception:
            log.exception("sandbox handler for %s failed", record.path)
            reply = Reply(family.system_error, "Port program unusual")
        return reply, ctx

    def _answered(self, route: Route, record: RequestRecord) -> None:
        if route.send:
            self._hook(self.server.sandbox.state.faults.on_send_answered, record)

    @staticmethod
    def _hook(hook: Hook | None, record: RequestRecord) -> None:
        if hook is None:
            return
        try:
            hook(record)
        except Exception:
            log.exception("sandbox hook failed for request #%d", record.seq)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when a burst of clients (a
    # campaign's parallel senders, a test's 20 threads) connects faster than it accepts.
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Keep-alive connections outlive serve_forever(); stopping must end them too."""
        with self._open_lock:
            sockets, self._open = list(self._open), set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SandboxServer:
    """A real HTTP server that behaves like api.itniotech.com (see README-style docstrings)."""

    def __init__(
        self,
        state: SandboxState | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        push_interval: float | None = 1.0,
        state_file: StateFile | None = None,
    ) -> None:
        self.state = state if state is not None else SandboxState()
        self.push_interval = push_interval
        # --state FILE (already loaded by the caller): saved after changes and on stop().
        self.state_file = state_file
        self._httpd = _HTTPServer((host, port), self)
        if not self.state.public_url:
            # Recording URLs in AI records and pushes point back at this server.
            self.state.public_url = self.base_url
        self._thread: threading.Thread | None = None
        self._pusher: threading.Thread | None = None
        self._stopping = threading.Event()
        self._serving = False

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _start_pusher(self) -> None:
        if self.push_interval is None or self._pusher is not None:
            return
        interval = self.push_interval

        def run() -> None:
            while not self._stopping.wait(interval):
                try:
                    if self.state.flush_pushes():
                        self.changed()
                except Exception:
                    log.exception("sandbox pusher failed")

        self._pusher = threading.Thread(target=run, name="itnio-sandbox-pusher", daemon=True)
        self._pusher.start()

    def changed(self) -> None:
        """Something the state file keeps changed (a no-op without --state)."""
        if self.state_file is not None:
            self.state_file.changed()

    def start(self) -> SandboxServer:
        """Serve in a background thread; returns self."""
        if self.state_file is not None:
            self.state_file.start()
        if self._thread is None:
            self._serving = True
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="itnio-sandbox-http",
                daemon=True,
            )
            self._thread.start()
            self._start_pusher()
            log.info("ITNIO sandbox listening on %s", self.base_url)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() or KeyboardInterrupt."""
        if self.state_file is not None:
            self.state_file.start()
        self._start_pusher()
        self._serving = True
        log.info("ITNIO sandbox listening on %s", self.base_url)
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False

    def stop(self) -> None:
        self._stopping.set()
        if self._serving:
            self._httpd.shutdown()
            self._serving = False
        self._httpd.server_close()
        self._httpd.close_open_connections()
        for thread in (self._thread, self._pusher):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)
        if self.state_file is not None:
            self.state_file.stop()  # the last save, once nothing can change the state

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
