"""The WSGI fast path for ITNIO's pushes: POST /itnio/push/<token>/voice|ai[/] goes straight to
`campaigns.webhooks.receive`, every other request to Django.

A push needs none of what Django's request handling does for a page (middleware for sessions,
users, messages, CSRF, clickjacking and login throttling; URL resolving; request and response
objects): a hundred pushes a second per campaign made that most of the receiver's CPU. The fast
path keeps what matters: the same receiver code and the same answers, and the database
connection kept, checked and closed at the end of each push as Django does at the end of a
request (`close_old_connections`: its age, and whether an error left it unusable). It skips the
health check before the one INSERT, which is made again on a fresh connection when the kept one
is dead, and the request signals' other receivers (the query log of DEBUG, cache connections,
a per-request URLconf), which a push does not touch.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.db import close_old_connections, connection, reset_queries

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
    if settings.DEBUG:
        reset_queries()


class PushFastPath:
    """Wraps the Django WSGI application."""

    def __init__(self, django_app: Callable[..., Iterable[bytes]]) -> None:
        self.django_app = django_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        match = PUSH_PATH.match(environ.get("PATH_INFO", ""))
        if match is None or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        from campaigns.webhooks import receive

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
            close_old_connections()
        body = json.dumps(payload).encode()
        start_response(
            f"{status} {STATUS_TEXT.get(status, '')}".strip(),
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]
