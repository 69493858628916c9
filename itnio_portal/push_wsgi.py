"""The WSGI fast path for ITNIO's pushes: POST /itnio/push/<token>/voice|ai[/] goes straight to
`campaigns.webhooks.receive`, every other request to Django.

A push needs none of what Django's request handling does for a page (middleware for sessions,
users, messages, CSRF, clickjacking and login throttling; URL resolving; request and response
objects): a hundred pushes a second per campaign made that most of the receiver's CPU. The fast
path keeps what matters: Django's request signals (so database connections are reused, checked
and closed exactly as for any request, less the health check before the one INSERT, which is
made again on a fresh connection when the kept one is dead), the same receiver code and the same
answers.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.core import signals
from django.core.handlers.wsgi import LimitedStream
from django.db import connection

logger = logging.getLogger("campaigns.webhooks")

PUSH_PATH = re.compile(r"^/itnio/push/(?P<token>[^/]+)/(?P<kind>voice|ai)/?$")
STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    411: "Length Required",
    413: "Content Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _trust_kept_connection() -> None:
    """Skip the health check Django makes before a kept connection's first query of a request:
    a `SELECT 1` round trip per push. The receiver makes its one INSERT again on a fresh
    connection when the kept one is dead (campaigns/services/pushes.py `_insert`)."""
    if connection.connection is not None:
        connection.health_check_done = True


class PushFastPath:
    """Wraps the Django WSGI application."""

    def __init__(self, django_app: Callable[..., Iterable[bytes]]) -> None:
        self.django_app = django_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        match = PUSH_PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        from campaigns.webhooks import receive

        signals.request_started.send(sender=self.__class__, environ=environ)
        _trust_kept_connection()
        try:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            stream = LimitedStream(environ["wsgi.input"], length)
            status, payload = receive(match["token"], match["kind"], environ, stream)
        except Exception:
            logger.exception("Push receiver failed")
            status, payload = 500, {"status": "error", "reason": "internal error"}
        finally:
            signals.request_finished.send(sender=self.__class__)
        body = json.dumps(payload).encode()
        start_response(
            f"{status} {STATUS_TEXT.get(status, '')}".strip(),
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
