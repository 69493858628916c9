"""Idempotency keys of the API's spending requests: a key is reserved (its row committed)
before the request goes to ITNIO, and its first answer is kept for API_IDEMPOTENCY_HOURS.

Same key, same body: the first answer again. Same key, another body: refused (422). Same key
while the first request is still in flight: refused (409). Never a second request to ITNIO.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import ApiIdempotencyKey, ApiToken, Call

MAX_KEY_CHARS = 255


class IdempotencyError(Exception):
    """The key cannot be used for this request; `status` says how the API answers."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


#: A reservation still in flight this long lost its request's process.
STALE = timedelta(minutes=1)


@dataclass
class Reservation:
    row: ApiIdempotencyKey
    #: (status, body) of the first answer when this is a repeat, else None (go ahead).
    replay: tuple[int, Any] | None = None
    #: The first request's call when its process stopped before answering: answer with it.
    settled: Call | None = None


def body_digest(body: Any) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_CHARS or not all(32 < ord(ch) < 127 for ch in key):
        raise IdempotencyError(
            gettext("An Idempotency-Key is 1–%(max)s visible ASCII characters.")
            % {"max": MAX_KEY_CHARS},
            status=400,
        )
    return key


def idempotency_reserve(*, token: ApiToken, key: str, endpoint: str, body: Any) -> Reservation:
    """Reserve `key` for this request (committed at once), or say what the first one got."""
    check_key(key)
    digest = body_digest({"endpoint": endpoint, "body": body})
    horizon = timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_HOURS)
    try:
        with transaction.atomic():
            ApiIdempotencyKey.objects.filter(token=token, key=key, created_at__lt=horizon).delete()
            row = ApiIdempotencyKey.objects.create(
                token=token, key=key, endpoint=endpoint, body_digest=digest
            )
        return Reservation(row=row)
    except IntegrityError:
        pass
    row = ApiIdempotencyKey.objects.get(token=token, key=key)
    if row.body_digest != digest:
        raise IdempotencyError(
            gettext(
                "This Idempotency-Key was used for a different request: use a new key for a "
                "new request."
            ),
            status=422,
        )
    if row.state == ApiIdempotencyKey.State.IN_FLIGHT:
        call = Call.objects.filter(pk=row.call_id).exclude(state=Call.State.SENDING).first()
        if call is not None and row.created_at < timezone.now() - STALE:
            # The first request's process stopped after its call was placed (or refused):
            # the call as it is now is the answer (the stale-send sweep made it unknown).
            return Reservation(row=row, replay=None, settled=call)
        raise IdempotencyError(
            gettext(
                "The first request with this Idempotency-Key is still in flight: ask again "
                "in a moment."
            ),
            status=409,
        )
    return Reservation(row=row, replay=(row.status_code or 200, row.response))


def idempotency_link(row: ApiIdempotencyKey, call: Call) -> None:
    """The call the reserved request placed, committed with its SENDING row (before ITNIO)."""
    ApiIdempotencyKey.objects.filter(pk=row.pk).update(call=call)


def idempotency_finish(row: ApiIdempotencyKey, *, status: int, body: Any) -> None:
    """Keep the first answer; later requests with the key get it again."""
    with transaction.atomic():
        ApiIdempotencyKey.objects.filter(pk=row.pk).update(
            state=ApiIdempotencyKey.State.DONE, status_code=status, response=body
        )
