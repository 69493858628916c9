"""Push receivers: POST /itnio/push/<app push token>/voice/ and /ai/ (itnio-api.md §6.1, §6.2).

CSRF-exempt and unauthenticated by necessity (ITNIO signs nothing, itnio-api.md §6): the
unguessable token in the path is the key. `receive` only stores the body through one service call
and answers: 200 means the body is stored; the apply worker applies it (services/pushes.py).
Under gunicorn the WSGI fast path (itnio_portal/push_wsgi.py) calls `receive` without the rest
of Django's request handling; the views below serve the same URLs everywhere else.
Both URL forms, with and without the trailing slash, are accepted (a redirect would lose the POST).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from campaigns.models import ItnioApp, PushEvent
from campaigns.services.pushes import push_store

Reply = tuple[int, dict[str, Any]]


def _error(reason: str, status: int) -> Reply:
    return status, {"status": "error", "reason": reason}


def _too_large() -> Reply:
    limit = settings.PUSH_MAX_BYTES
    return _error(
        _("the body is larger than %(mb)s MB (%(bytes)s bytes), the portal's limit")
        % {"mb": f"{limit / 1024 / 1024:g}", "bytes": f"{limit:,}"},
        413,
    )


def _chunked(meta: Mapping[str, Any]) -> bool:
    return "chunked" in str(meta.get("HTTP_TRANSFER_ENCODING", "")).lower()


def read_body(meta: Mapping[str, Any], stream: Any) -> bytes | None:
    """The request body, read up to PUSH_MAX_BYTES (None when it is larger).

    Read from the stream (bounded by Content-Length), not `request.body`, so Django's form-data
    limit (DATA_UPLOAD_MAX_MEMORY_SIZE) does not refuse a large array of reports. A chunked body
    has no Content-Length: the WSGI server that decodes it (gunicorn) says so with
    `wsgi.input_terminated`, and the raw input is read to its end."""
    limit = settings.PUSH_MAX_BYTES
    if _chunked(meta):
        if not meta.get("wsgi.input_terminated"):
            return b""  # this server cannot decode it; the caller answers 411
        data = meta["wsgi.input"].read(limit + 1)
    else:
        try:
            length = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            return None
        data = stream.read(limit + 1)
    return None if len(data) > limit else data


def receive(token: str, kind: str, meta: Mapping[str, Any], stream: Any) -> Reply:
    """Everything a push receiver does, for the Django view and the WSGI fast path
    (itnio_portal/push_wsgi.py) alike: find the app, read the body, store it; (status, JSON)."""
    try:
        app = _app(token, kind)
    except Http404:
        return _error(_("unknown push URL"), 404)
    raw = read_body(meta, stream)
    if raw is None:
        return _too_large()
    if not raw and _chunked(meta):
        return _error(_("a chunked body needs a server that decodes it; send Content-Length"), 411)
    try:
        stored = push_store(app=app, kind=kind, raw=raw, remote_addr=meta.get("REMOTE_ADDR"))
    except DatabaseError:
        # Not stored: a non-2xx, so ITNIO sends it again (itnio-api.md §6.4).
        return _error(_("the portal could not store the push; please send it again"), 503)
    if stored.malformed:
        return _error(stored.malformed, 400)
    return 200, {"status": "0", "reason": "success", "event": stored.event_id}


def _respond(request: HttpRequest, token: str, kind: str) -> HttpResponse:
    status, payload = receive(token, kind, request.META, request)
    return JsonResponse(payload, status=status)


# token -> (app, works until (None: the app's current token), read at): saves a query per push.
# A regenerated or revoked token stops within APP_CACHE_SECONDS on every worker; a previous
# token's grace period ends on time, cached or not.
APP_CACHE_SECONDS = 10.0
_apps: dict[str, tuple[ItnioApp, datetime | None, float]] = {}


def _lookup(token: str) -> tuple[int, str, datetime | None] | None:
    row = (
        ItnioApp.objects.filter(Q(push_token=token) | Q(previous_push_token=token))
        .values_list("id", "kind", "push_token", "previous_push_token_expires_at")
        .first()
    )
    if row is None:
        return None
    app_id, kind, current, previous_until = row
    if current == token:
        return app_id, kind, None
    if previous_until is None:
        return None  # revoked
    return app_id, kind, previous_until


def _app(token: str, kind: str) -> ItnioApp:
    now = time.monotonic()
    cached = _apps.get(token)
    if cached is None or now - cached[2] > APP_CACHE_SECONDS:
        found = _lookup(token)
        if found is None:
            _apps.pop(token, None)
            raise Http404("unknown push URL")
        if len(_apps) > 1000:
            _apps.clear()
        app_id, app_kind, until = found
        cached = _apps[token] = (ItnioApp(id=app_id, kind=app_kind), until, now)
    app, until, _read_at = cached
    if app.kind != kind or (until is not None and timezone.now() >= until):
        raise Http404("unknown push URL")
    return app


@csrf_exempt
@require_POST
def voice_push(request: HttpRequest, token: str) -> HttpResponse:
    """Voice status reports (§6.1): only a voice app's token is accepted here."""
    return _respond(request, token, PushEvent.Kind.VOICE)


@csrf_exempt
@require_POST
def ai_push(request: HttpRequest, token: str) -> HttpResponse:
    """AI call records (§6.2): only an AI app's token is accepted here."""
    return _respond(request, token, PushEvent.Kind.AI)
