"""Delivering the webhook outbox: claim due messages in a short transaction, POST each one
signed (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature) with no transaction
open, WEBHOOKS_CONCURRENCY at a time, then write the batch's outcomes and log rows together.

A claim pushes the message's next attempt one lease ahead and counts the attempt before the
request goes out, so a worker that dies mid-request leaves it due again later (at least once,
never lost). A failure (no 2xx, a timeout, a refused address, a redirect) is retried with
exponential backoff (WEBHOOKS_RETRY_BASE_SECONDS doubling up to WEBHOOKS_RETRY_CAP_SECONDS);
after WEBHOOKS_MAX_ATTEMPTS the message is dead. A replay makes a message due again with the
same webhook-id and a full set of attempts.
"""

from __future__ import annotations

import logging
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from campaigns.models import WebhookDelivery, WebhookMessage
from campaigns.services.outbound_hooks_http import RefusedAddress, guarded_session, post

logger = logging.getLogger(__name__)

#: How much of an answer is kept in the log.
EXCERPT_CHARS = 1000
#: A claimed message is due again after this long if its worker never wrote the outcome.
LEASE = timedelta(minutes=5)


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt` (1, 2, …): base × 2^(attempt-1), capped."""
    base = settings.WEBHOOKS_RETRY_BASE_SECONDS
    return timedelta(
        seconds=min(base * 2 ** max(attempt - 1, 0), settings.WEBHOOKS_RETRY_CAP_SECONDS)
    )


def signed_headers(message: WebhookMessage, secret: str, now: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(message.msg_id, now, message.payload)
    return {
        "Content-Type": "application/json",
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def _claim(limit: int, now: datetime) -> list[WebhookMessage]:
    with transaction.atomic():
        due = list(
            WebhookMessage.objects.filter(
                state=WebhookMessage.State.PENDING,
                next_attempt_at__lte=now,
                subscription__active=True,
            )
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .order_by("next_attempt_at", "id")[:limit]
        )
        if due:
            WebhookMessage.objects.filter(pk__in=[m.pk for m in due]).update(
                attempts=F("attempts") + 1, next_attempt_at=now + LEASE
            )
            for message in due:
                message.attempts += 1
                message.next_attempt_at = now + LEASE
    return due


@dataclass
class Attempt:
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


def _read_excerpt(response: requests.Response) -> str:
    try:
        raw = response.raw.read(EXCERPT_CHARS * 4, decode_content=True) or b""
    except Exception:  # an answer we cannot read is no reason to fail the attempt
        raw = b""
    finally:
        response.close()
    return raw.decode("utf-8", "replace")[:EXCERPT_CHARS]


def _send(session: requests.Session, message: WebhookMessage) -> Attempt:
    attempt = Attempt()
    started = time.monotonic()
    subscription = message.subscription
    try:
        headers = signed_headers(message, subscription.secret, timezone.now())
    except Exception:  # an undecryptable secret (campaigns/fields.py) loads as ""
        attempt.error = _(
            "The signing secret cannot be read with this portal's keys (ITNIO_FIELD_KEYS)."
        )
        return attempt
    try:
        response = post(
            session, subscription.url, body=message.payload.encode("utf-8"), headers=headers
        )
        attempt.status_code = response.status_code
        attempt.excerpt = _read_excerpt(response)
        if 300 <= response.status_code < 400:
            attempt.error = _("Redirect to %(location)s not followed.") % {
                "location": response.headers.get("Location", "?")[:200]
            }
        elif not 200 <= response.status_code < 300:
            attempt.error = _("HTTP %(status)s") % {"status": response.status_code}
    except RefusedAddress as exc:
        attempt.error = _("Refused: %(reason)s") % {"reason": exc}
    except requests.Timeout:
        attempt.error = _("Timed out (connect %(c)s s, read %(r)s s).") % {
            "c": f"{settings.WEBHOOKS_CONNECT_TIMEOUT:g}",
            "r": f"{settings.WEBHOOKS_READ_TIMEOUT:g}",
        }
    except requests.RequestException as exc:
        attempt.error = _("Could not connect (%(error)s).") % {"error": type(exc).__name__}
    attempt.duration_ms = int((time.monotonic() - started) * 1000)
    return attempt


def _record(sent: list[tuple[WebhookMessage, Attempt, datetime]]) -> None:
    """Write the outcomes of a batch's attempts and their log rows: one transaction, one
    UPDATE per outcome field set (bulk_update) and one INSERT of the log rows."""
    now = timezone.now()
    fields = ["state", "last_status", "last_error", "delivered_at", "next_attempt_at"]
    for message, attempt, _started in sent:
        message.last_status, message.last_error = attempt.status_code, attempt.error[:500]
        if attempt.ok:
            message.state, message.delivered_at = WebhookMessage.State.DELIVERED, now
        elif message.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
            message.state = WebhookMessage.State.DEAD
        else:
            message.next_attempt_at = now + backoff(message.attempts)
    with transaction.atomic():
        WebhookMessage.objects.bulk_update([m for m, _a, _s in sent], fields, batch_size=500)
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    message_id=message.pk,
                    subscription_id=message.subscription_id,
                    attempt=message.attempts,
                    started_at=started_at,
                    duration_ms=attempt.duration_ms,
                    status_code=attempt.status_code,
                    ok=attempt.ok,
                    error=attempt.error[:500],
                    response_excerpt=attempt.excerpt,
                )
                for message, attempt, started_at in sent
            ],
            batch_size=500,
        )
    for message, attempt, _started in sent:
        if not attempt.ok:
            # The URL's host only: a path or query may carry a receiver's own token.
            logger.info(
                "Webhook %s (%s) attempt %s failed: %s",
                message.msg_id,
                message.event_type,
                message.attempts,
                attempt.error,
            )


class _Senders:
    """WEBHOOKS_CONCURRENCY requests at a time, each thread with its own guarded session; the
    threads touch no database (the claim loaded each message's subscription)."""

    def __init__(self, concurrency: int) -> None:
        self.sessions: queue.SimpleQueue[requests.Session] = queue.SimpleQueue()
        self.all = [guarded_session() for _ in range(concurrency)]
        for session in self.all:
            self.sessions.put(session)
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="webhook")

    def _one(self, message: WebhookMessage) -> tuple[WebhookMessage, Attempt, datetime]:
        session = self.sessions.get()
        try:
            started_at = timezone.now()
            return message, _send(session, message), started_at
        finally:
            self.sessions.put(session)

    def send(self, batch: list[WebhookMessage]) -> list[tuple[WebhookMessage, Attempt, datetime]]:
        return list(self.pool.map(self._one, batch))

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for session in self.all:
            session.close()


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return f"delivered={self.delivered} failed={self.failed} dead={self.dead}"


def webhooks_deliver_due(
    *, max_seconds: float | None = None, now: datetime | None = None
) -> DeliveryReport:
    """Deliver due messages batch by batch until none is due or the time is up."""
    limit = max_seconds if max_seconds is not None else settings.WEBHOOKS_DELIVER_MAX_SECONDS
    deadline = time.monotonic() + limit
    report = DeliveryReport()
    senders = _Senders(max(1, settings.WEBHOOKS_CONCURRENCY))
    try:
        while time.monotonic() < deadline:
            batch = _claim(settings.WEBHOOKS_BATCH, now or timezone.now())
            if not batch:
                break
            sent = senders.send(batch)
            _record(sent)
            for message, attempt, _started in sent:
                if attempt.ok:
                    report.delivered += 1
                elif message.attempts >= settings.WEBHOOKS_MAX_ATTEMPTS:
                    report.dead += 1
                else:
                    report.failed += 1
            if now is not None:
                break  # a fixed clock (tests): one batch
    finally:
        senders.close()
    return report


def webhooks_replay(messages: QuerySet[WebhookMessage]) -> int:
    """Send messages again (same webhook-id, a full set of attempts); how many."""
    return messages.update(
        state=WebhookMessage.State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )


def webhooks_prune(*, now: datetime | None = None) -> int:
    """Delete delivered messages (with their log) older than WEBHOOKS_RETENTION_DAYS."""
    days = settings.WEBHOOKS_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _rows = WebhookMessage.objects.filter(
        state=WebhookMessage.State.DELIVERED, delivered_at__lt=cutoff
    ).delete()
    return deleted
