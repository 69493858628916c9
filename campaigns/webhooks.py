"""Push receivers: POST /itnio/push/<app push token>/voice/ (and /ai/ later).

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
    app = get_object_or_404(ItnioApp, push_token=token)
    if len(request.body) > MAX_PUSH_BYTES:
        return JsonResponse({"status": "error", "reason": "body too large"}, status=413)
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        body = request.body.decode("latin-1")
        PushEvent.objects.create(
            app=app,
            kind=PushEvent.Kind.VOICE,
            body=body,
            remote_addr=request.META.get("REMOTE_ADDR"),
            state=PushEvent.State.FAILED,
            error="Malformed: the body is not UTF-8.",
        )
        return JsonResponse({"status": "error", "reason": "the body is not UTF-8"}, status=400)
    try:
        event = push_receive(
            app=app,
            kind=PushEvent.Kind.VOICE,
            body=body,
            remote_addr=request.META.get("REMOTE_ADDR"),
        )
    except MalformedPush as exc:
        return JsonResponse({"status": "error", "reason": str(exc)}, status=400)
    return JsonResponse({"status": "0", "reason": "success", "event": event.pk})
