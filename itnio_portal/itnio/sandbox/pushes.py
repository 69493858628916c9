"""Outgoing status-report pushes (itnio-api.md §6.1, §6.4): queue items, attempts, the POST."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# itnio-api.md §6: JSON POST with this Content-Type and no signature/auth header at all.
PUSH_HEADERS = {"Content-Type": "application/json;charset=UTF-8"}


@dataclass
class PushJob:
    """One call's report waiting to be (re)sent."""

    voice_id: str
    url: str
    payload: dict[str, Any]
    next_due: float
    attempts: int = 0


@dataclass
class PushAttempt:
    """One POST the sandbox made (or tried to make) to a receiver."""

    seq: int
    time: float
    url: str
    body: Any
    voice_ids: list[str]
    attempt: int
    status: int | None
    error: str | None
    duplicate: bool = False
    ok: bool = field(init=False)

    def __post_init__(self) -> None:
        self.ok = self.error is None and self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "url": self.url,
            "body": self.body,
            "voiceIds": self.voice_ids,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "duplicate": self.duplicate,
            "ok": self.ok,
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is not a 2xx: the platform counts it as a failed push, it does not follow it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies from the environment: receivers are usually on 127.0.0.1 in tests and demos.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def post_json(url: str, body: Any, timeout: float) -> tuple[int | None, str | None]:
    """POST ``body`` as JSON; return (http status, error text). Never raises."""
    if urlsplit(url).scheme not in {"http", "https"}:
        return None, f"unsupported push URL scheme: {url!r}"
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, headers=PUSH_HEADERS, method="POST")  # noqa: S310
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, None
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
        return None, f"{type(exc).__name__}: {exc}"
