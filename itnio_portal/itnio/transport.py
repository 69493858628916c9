"""The only module that does HTTP: one requests.Session, timeouts, read retries, request events."""

from __future__ import annotations

import http.client
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import requests
import urllib3.exceptions
from django.utils.translation import gettext as _

from .envelope import Envelope, parse_envelope
from .errors import (
    ItnioError,
    ItnioHttpError,
    ItnioNotSentError,
    ItnioOutcomeUnknownError,
    ItnioProtocolError,
    ItnioTransportError,
    ItnioUnavailableError,
)

logger = logging.getLogger("itnio_portal.itnio")

OUTCOMES = (
    "ok",
    "api_error",
    "not_sent",
    "unknown",
    "unavailable",
    "http_error",
    "protocol_error",
)

# Summary shortening: enough to recognise a request in the admin, never a full phone list.
_SUMMARY_NUMBERS = 3
_SUMMARY_NUMBERS_CHARS = 30
_SUMMARY_TEXT_CHARS = 200
_SUMMARY_LIST_ITEMS = 3
# Never echo these keys' values even if a later endpoint puts one in a body.
_SECRET_KEYS = frozenset({"sign", "apisecret", "api_secret", "secret", "password", "apikey"})
# Shorter strings could match innocent text; real keys and Signs are 8 and 32 characters.
_MIN_SCRUB_LEN = 4


@dataclass(frozen=True)
class RequestEvent:
    """One logical request (after retries), for an ApiRequestLog-style observer.

    `summary` is a redacted copy of the request body; headers are never included.
    """

    endpoint: str
    method: str
    path: str
    summary: Any
    started_at: datetime
    duration_ms: int
    http_status: int | None
    code: str | None
    reason: str | None
    outcome: str
    attempts: int
    detail: str = ""  # our English description of a failure, "" on success


@dataclass(frozen=True)
class TransportResponse:
    """A 2xx answer whose body is a valid envelope (the business code may still be non-zero)."""

    http_status: int
    payload: dict[str, Any]
    envelope: Envelope
    attempts: int


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace any secret value (api secret, Api-Key, Sign) that shows up in text."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SCRUB_LEN and secret in text:
            text = text.replace(secret, "***")
    return text


def _shorten(text: str, limit: int = _SUMMARY_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} chars)"


def _summarize_callee(value: str) -> str:
    numbers = value.split(",")
    if len(numbers) <= _SUMMARY_NUMBERS:
        return value
    head = ",".join(numbers[:_SUMMARY_NUMBERS])[:_SUMMARY_NUMBERS_CHARS]
    return f"{head}… (+{len(numbers) - _SUMMARY_NUMBERS} more)"


def _base64_size(value: str) -> int:
    # Report the decoded size: it is what the admin knows the audio file by.
    stripped = value.strip()
    return len(stripped) * 3 // 4 - stripped[-2:].count("=")


def summarize_body(body: Any, secrets: Iterable[str] = ()) -> Any:
    """A redacted, JSON-able copy of a request body for logs and request events.

    Comma-separated callee lists keep 3 numbers, the base64 `file` becomes its size, long text
    and long lists are cut, secret-looking keys and secret values are masked.
    """
    secrets = tuple(secrets)

    def walk(value: Any, key: str | None) -> Any:
        lowered = (key or "").lower()
        if lowered in _SECRET_KEYS:
            return "***"
        if isinstance(value, dict):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            items = [walk(v, None) for v in value[:_SUMMARY_LIST_ITEMS]]
            if len(value) > _SUMMARY_LIST_ITEMS:
                items.append(f"… (+{len(value) - _SUMMARY_LIST_ITEMS} more)")
            return items
        if isinstance(value, str):
            if lowered in ("file", "basefile"):
                return f"<{_base64_size(value)} bytes base64>"
            if lowered == "callee" and "," in value:
                return _summarize_callee(scrub(value, secrets))
            return _shorten(scrub(value, secrets))
        return value

    return None if body is None else walk(body, None)


def backoff_delay(retry: int, base: float, cap: float, rand: Callable[[], float]) -> float:
    """Capped exponential backoff with "equal jitter" for read retry number `retry` (1-based).

    Half the delay is fixed, half random, so retries from several workers spread out
    (design.md convention 10, after stripe-python's policy).
    """
    delay = min(cap, base * 2 ** (retry - 1))
    return delay / 2 + rand() * delay / 2


# ---- classifying failures --------------------------------------------------------------------

# These are raised before a connection is even attempted: nothing left the machine.
_INVALID_REQUEST = (
    requests.exceptions.URLRequired,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
)
# Any of these anywhere in the cause chain means the TCP connection was never established.
# (NameResolutionError is a NewConnectionError subclass; both subclass ConnectTimeoutError.)
_NOT_CONNECTED = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.NameResolutionError,
    urllib3.exceptions.ConnectTimeoutError,
    ConnectionRefusedError,
)
_CAUGHT = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)


def _cause_chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps: __cause__, __context__, .reason and args."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(a for a in current.args if isinstance(a, BaseException))
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return seen


def _raised_in_handshake(exc: BaseException) -> bool:
    # requests.SSLError covers both a failed handshake (nothing sent) and a TLS failure while
    # reading the answer (maybe sent). Certificate errors only happen during the handshake;
    # otherwise look for ssl's do_handshake frame. When unsure, say "not a handshake", which
    # makes a send UNKNOWN rather than wrongly "not sent".
    for item in _cause_chain(exc):
        if isinstance(item, ssl.SSLCertVerificationError | ssl.CertificateError):
            return True
        if isinstance(item, ssl.SSLError):
            tb = item.__traceback__
            while tb is not None:
                if tb.tb_frame.f_code.co_name == "do_handshake":
                    return True
                tb = tb.tb_next
    return False


def _never_connected(exc: BaseException) -> bool:
    """True when the request certainly did not reach ITNIO."""
    if isinstance(exc, (*_INVALID_REQUEST, requests.exceptions.ConnectTimeout)):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return _raised_in_handshake(exc)
    if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.ChunkedEncodingError):
        return False
    return any(isinstance(item, _NOT_CONNECTED) for item in _cause_chain(exc))


def _describe(exc: BaseException, secrets: Iterable[str]) -> str:
    """Short, safe text for the innermost cause (type and message; never headers)."""
    root = _cause_chain(exc)[-1]
    text = f"{type(exc).__name__}"
    if root is not exc:
        text += f" caused by {type(root).__name__}: {root}"
    elif str(exc):
        text += f": {exc}"
    return _shorten(scrub(text, secrets), 240)


@dataclass
class _Trace:
    """What the event and the log line need, filled in as the request goes."""

    attempts: int = 0
    http_status: int | None = None
    code: str | None = None
    reason: str | None = None
    outcome: str = "unknown"
    detail: str = ""


class Transport:
    """Sends signed JSON requests to ITNIO through one requests.Session.

    Reads (send=False) are retried on connection errors, timeouts and 5xx with capped
    exponential backoff; sends are never retried, because ITNIO has no idempotency key and a
    repeated send can ring a phone and spend money twice (design.md convention 10).
    """

    def __init__(
        self,
        base_url: str,
        headers_factory: Callable[[], Mapping[str, str]],
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        max_read_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_request: Callable[[RequestEvent], None] | None = None,
        session: requests.Session | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("timeouts must be positive: a request without one can hang forever")
        if max_read_retries < 0:
            raise ValueError("max_read_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_read_retries = max_read_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._headers_factory = headers_factory
        self._sleep = sleep
        self._clock = clock
        self._rand = rand
        self._on_request = on_request
        self._session = session if session is not None else requests.Session()
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        send: bool,
        endpoint: str | None = None,
        top_level_data: bool = False,
    ) -> TransportResponse:
        """Perform one logical request; raise an ItnioTransportError subclass on failure.

        Returns the parsed JSON object, its envelope and the HTTP status. A non-zero business
        code is NOT raised here: the client maps it through its family's code table.
        """
        method = method.upper()
        endpoint = endpoint or path
        secrets = set(self._secrets)
        trace = _Trace()
        started_at = datetime.fromtimestamp(self._clock(), UTC)
        started = time.perf_counter()
        try:
            response = self._attempts(
                method, path, body, send, endpoint, top_level_data, secrets, trace
            )
        except ItnioTransportError as exc:
            trace.outcome = _OUTCOME_BY_ERROR.get(type(exc), "unknown")
            trace.http_status = exc.http_status
            trace.detail = exc.message
            raise
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000)
            self._finish(endpoint, method, path, body, started_at, duration_ms, trace, secrets)
        return response

    # ---- internals ---------------------------------------------------------------------------

    def _attempts(
        self,
        method: str,
        path: str,
        body: Any,
        send: bool,
        endpoint: str,
        top_level_data: bool,
        secrets: set[str],
        trace: _Trace,
    ) -> TransportResponse:
        url = self.base_url + path
        # Serialised once, so every read retry sends the very same bytes.
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        max_attempts = 1 if send else 1 + self.max_read_retries

        def fail(
            cls: type[ItnioTransportError], message: str, status: int | None = None
        ) -> ItnioTransportError:
            return cls(
                message,
                endpoint=endpoint,
                method=method,
                path=path,
                http_status=status,
                attempts=trace.attempts,
            )

        last_problem = ""
        last_status: int | None = None
        for attempt in range(1, max_attempts + 1):
            trace.attempts = attempt
            if attempt > 1:
                delay = backoff_delay(attempt - 1, self.backoff_base, self.backoff_cap, self._rand)
                logger.info(
                    "ITNIO %s %s: retrying read (attempt %d/%d) in %.2f s after %s",
                    method,
                    path,
                    attempt,
                    max_attempts,
                    delay,
                    last_problem,
                )
                self._sleep(delay)
            # A fresh Timestamp and Sign per attempt (itnio-api.md §1): never reuse headers.
            headers = dict(self._headers_factory())
            secrets.update(v for k, v in headers.items() if k.lower() in ("sign", "api-key") and v)
            try:
                resp = self._session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    # Forced on every request (design.md convention 8).
                    timeout=(self.connect_timeout, self.read_timeout),
                    # A redirect would resend the signed headers somewhere else: refuse it.
                    allow_redirects=False,
                )
            except _CAUGHT as exc:
                description = _describe(exc, secrets)
                if _never_connected(exc):
                    if send or isinstance(exc, _INVALID_REQUEST):
                        raise fail(
                            ItnioNotSentError,
                            _("Could not connect to ITNIO; the request was not sent (%(error)s).")
                            % {"error": description},
                        ) from exc
                elif send:
                    raise fail(
                        ItnioOutcomeUnknownError,
                        _(
                            "The request may have reached ITNIO but no answer came back "
                            "(%(error)s); its outcome is unknown."
                        )
                        % {"error": description},
                    ) from exc
                last_problem, last_status = description, None
                continue

            status = resp.status_code
            trace.http_status = status
            if status >= 500:
                if send:
                    raise fail(
                        ItnioOutcomeUnknownError,
                        _(
                            "ITNIO answered HTTP %(status)s to a send; the request may still have "
                            "been processed, so its outcome is unknown."
                        )
                        % {"status": status},
                        status,
                    )
                last_problem, last_status = f"HTTP {status}", status
                continue
            if not 200 <= status < 300:
                raise fail(
                    ItnioHttpError,
                    _("ITNIO answered with HTTP %(status)s.") % {"status": status},
                    status,
                )
            return self._parse(resp, send, top_level_data, endpoint, secrets, trace, fail)

        raise fail(
            ItnioUnavailableError,
            _("ITNIO is unavailable: the read failed after %(attempts)s attempts (last: %(last)s).")
            % {"attempts": trace.attempts, "last": last_problem},
            last_status,
        )

    def _parse(
        self,
        resp: requests.Response,
        send: bool,
        top_level_data: bool,
        endpoint: str,
        secrets: set[str],
        trace: _Trace,
        fail: Callable[..., ItnioTransportError],
    ) -> TransportResponse:
        try:
            payload = json.loads(resp.content)
            envelope = parse_envelope(payload, top_level_data=top_level_data, endpoint=endpoint)
        except (ValueError, ItnioProtocolError) as exc:
            problem = exc.message if isinstance(exc, ItnioError) else _("the body is not JSON")
            if send:
                # The send was delivered and answered 2xx, but we cannot tell whether ITNIO
                # accepted it: treat it like a lost answer.
                raise fail(
                    ItnioOutcomeUnknownError,
                    _(
                        "ITNIO answered HTTP %(status)s with an unreadable body "
                        "(%(problem)s); the outcome of the send is unknown."
                    )
                    % {"status": resp.status_code, "problem": problem},
                    resp.status_code,
                ) from exc
            raise fail(
                ItnioProtocolError,
                _("ITNIO answered with an unreadable body (%(problem)s).") % {"problem": problem},
                resp.status_code,
            ) from exc
        reason = scrub(envelope.reason, secrets)
        if reason != envelope.reason:
            envelope = replace(envelope, reason=reason)
        trace.code, trace.reason = envelope.code, envelope.reason
        trace.outcome = "ok" if envelope.ok else "api_error"
        return TransportResponse(
            http_status=resp.status_code,
            payload=payload,
            envelope=envelope,
            attempts=trace.attempts,
        )

    def _finish(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: Any,
        started_at: datetime,
        duration_ms: int,
        trace: _Trace,
        secrets: set[str],
    ) -> None:
        if trace.outcome in ("ok", "api_error"):
            # Every request is also in the portal's request log: keep the console quiet.
            logger.debug(
                "ITNIO %s %s -> HTTP %s, code %s, %d ms, %d attempt(s)",
                method,
                path,
                trace.http_status,
                trace.code,
                duration_ms,
                trace.attempts,
            )
        else:
            logger.warning(
                "ITNIO %s %s failed (%s) -> HTTP %s, %d ms, %d attempt(s): %s",
                method,
                path,
                trace.outcome,
                trace.http_status,
                duration_ms,
                trace.attempts,
                trace.detail,
            )
        if self._on_request is None:
            return
        event = RequestEvent(
            endpoint=endpoint,
            method=method,
            path=path,
            summary=summarize_body(body, secrets),
            started_at=started_at,
            duration_ms=duration_ms,
            http_status=trace.http_status,
            code=trace.code,
            reason=trace.reason,
            outcome=trace.outcome,
            attempts=trace.attempts,
            detail=trace.detail,
        )
        try:
            self._on_request(event)
        except Exception:
            # Bookkeeping must never turn a placed call into an error (the call happened).
            logger.exception("ITNIO on_request observer failed for %s %s", method, path)


_OUTCOME_BY_ERROR: dict[type[ItnioTransportError], str] = {
    ItnioNotSentError: "not_sent",
    ItnioOutcomeUnknownError: "unknown",
    ItnioUnavailableError: "unavailable",
    ItnioHttpError: "http_error",
    ItnioProtocolError: "protocol_error",
}
