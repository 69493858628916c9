"""Push receivers: POST /itnio/push/<app push token>/voice/ and /ai/ (itnio-api.md §6.1, §6.2).

CSRF-exempt and unauthenticated by necessity (ITNIO signs nothing, itnio-api.md §6): the
unguessable token in the path is the key. Answers fast; every body is kept in the inbox.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from campaigns.models import ItnioApp, PushEvent
from campaigns.services.pushes import MalformedPush, push_receive

MAX_PUSH_BYTES = 5 * 1024 * 1024


@csrf_exempt
@require_POST
def voice_push(request: HttpRequest, token: str) -> HttpResponse:
    """Voice status reports (§6.1): only a voice app's token is accepted here."""
    app = get_object_or_404(ItnioApp, push_token=token, kind=ItnioApp.Kind.VOICE)
    return _receive(request, app, PushEvent.Kind.VOICE)


@csrf_exempt
@require_POST
def ai_push(request: HttpRequest, token: str) -> HttpResponse:
    """AI call records (§6.2): only an AI app's token is accepted here."""
    app = get_object_or_404(ItnioApp, push_token=token, kind=ItnioApp.Kind.AI)
    return _receive(request, app, PushEvent.Kind.AI)


def _receive(request: HttpRequest, app: ItnioApp, kind: str) -> HttpResponse:
    """Keep the body in the inbox, process it; 400 (kept too) when it is malformed."""
    if len(request.body) > MAX_PUSH_BYTES:
        return JsonResponse({"status": "error", "reason": "body too large"}, status=413)
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        body = request.body.decode("latin-1")
        PushEvent.objects.create(
            app=app,
            kind=kind,
            body=body,
            remote_addr=request.META.get("REMOTE_ADDR"),
            state=PushEvent.State.FAILED,
            error="Malformed: the body is not UTF-8.",
        )
        return JsonResponse({"status": "error", "reason": "the body is not UTF-8"}, status=400)
    try:
        event = push_receive(
            app=app,
            kind=kind,
            body=body,
            remote_addr=request.META.get("REMOTE_ADDR"),
        )
    except MalformedPush as exc:
        return JsonResponse({"status": "error", "reason": str(exc)}, status=400)
    return JsonResponse({"status": "0", "reason": "success", "event": event.pk})
