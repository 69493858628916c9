"""Outbound webhooks: subscriptions and the outbox. `emit` writes one outbox row per subscriber
and event in the caller's transaction, with one bulk INSERT however many events (a push batch's
final calls); the webhook worker delivers them (outbound_hooks_delivery.py).

Payloads follow the Standard Webhooks shape {"type", "timestamp", "data"}; the body is serialised
once here and signed as stored, so every attempt and replay sends the same bytes and the same
`webhook-id`.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import ItnioApp, WebhookMessage, WebhookSubscription
from campaigns.models.webhooks import EVENT_TYPES
from campaigns.services.outbound_hooks_http import url_problem

CALL_FINAL = "call.final"
CAMPAIGN_STATE_CHANGED = "campaign.state_changed"
CAMPAIGN_COMPLETED = "campaign.completed"
#: Emitted by the budget work (another branch) through `emit(CAMPAIGN_BUDGET_REACHED, …)`.
CAMPAIGN_BUDGET_REACHED = "campaign.budget_reached"
IMPORT_FINISHED = "import.finished"
#: Named for subscriptions; emitted by the balance alerts when they exist.
BALANCE_LOW = "balance.low"
AI_RECORD_FINAL = "ai_record.final"

SECRET_PREFIX = "whsec_"


class WebhookError(ValueError):
    """A subscription the portal refuses; `str()` says why, `field` which input ("url",
    "events") it is about (the API's per-field errors)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def new_secret() -> str:
    """A Standard Webhooks signing secret: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def parse_events(values: Iterable[str]) -> list[str]:
    """The event names, checked and without repeats; raises WebhookError naming a wrong one."""
    events: list[str] = []
    for raw in values:
        name = raw.strip()
        if not name:
            continue
        if name not in EVENT_TYPES:
            raise WebhookError(
                _("Unknown event %(name)s; the events are: %(all)s")
                % {"name": repr(name), "all": ", ".join(EVENT_TYPES)},
                field="events",
            )
        if name not in events:
            events.append(name)
    if not events:
        raise WebhookError(
            _("Name at least one event (%(all)s).") % {"all": ", ".join(EVENT_TYPES)},
            field="events",
        )
    return events


def check_url(url: str) -> str:
    url = (url or "").strip()
    if len(url) > 1000:
        raise WebhookError(_("A webhook URL has at most 1,000 characters."), field="url")
    problem = url_problem(url)
    if problem:
        raise WebhookError(problem, field="url")
    return url


@dataclass(frozen=True)
class Created:
    subscription: WebhookSubscription
    secret: str  # shown once


def webhook_subscribe(
    *,
    url: str,
    events: Iterable[str],
    created_by: str,
    description: str = "",
    active: bool = True,
) -> Created:
    """A new subscription (active unless told) with a fresh secret (returned once, stored
    encrypted)."""
    url = check_url(url)
    chosen = parse_events(events)
    secret = new_secret()
    subscription = WebhookSubscription.objects.create(
        url=url,
        events=chosen,
        secret=secret,
        description=description[:200],
        created_by=created_by[:150],
        active=active,
    )
    return Created(subscription, secret)


def webhook_update(
    *,
    subscription: WebhookSubscription,
    events: Iterable[str] | None = None,
    active: bool | None = None,
    description: str | None = None,
) -> WebhookSubscription:
    """Change what a subscription receives (its URL and secret stay: a new receiver is a new
    subscription with a secret of its own)."""
    fields = []
    if events is not None:
        subscription.events = parse_events(events)
        fields.append("events")
    if active is not None:
        subscription.active = bool(active)
        fields.append("active")
    if description is not None:
        subscription.description = description[:200]
        fields.append("description")
    if fields:
        subscription.save(update_fields=fields)
    return subscription


def webhook_unsubscribe(*, subscription: WebhookSubscription) -> int:
    """Delete a subscription with its outbox and log; how many messages went with it."""
    pending = subscription.messages.filter(state=WebhookMessage.State.PENDING).count()
    subscription.delete()
    return pending


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def _body(event: str, data: dict[str, Any], now: datetime) -> str:
    envelope = {"type": event, "timestamp": now, "data": data}
    return json.dumps(envelope, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _subscribers(event: str) -> list[int]:
    rows = WebhookSubscription.objects.filter(active=True).values_list("id", "events")
    return [pk for pk, events in rows if isinstance(events, list) and event in events]


def emit(event: str, payloads: Iterable[dict[str, Any]]) -> int:
    """Put events in the outbox for every active subscriber (nothing is written when nobody
    subscribed): one bulk INSERT in the caller's transaction. How many messages were written."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    subscribers = _subscribers(event)
    if not subscribers:
        return 0
    now = timezone.now()
    rows = []
    for data in payloads:
        body = _body(event, data, now)
        for subscription_id in subscribers:
            rows.append(
                WebhookMessage(
                    subscription_id=subscription_id,
                    msg_id=f"msg_{uuid.uuid4().hex}",
                    event_type=event,
                    payload=body,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    if rows:
        with transaction.atomic():
            WebhookMessage.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


# --- payloads --------------------------------------------------------------------------------
CALL_FIELDS = (
    "voice_id",
    "kind",
    "state",
    "callee",
    "display_num",
    "called_info",
    "attempt",
    "submit_time",
    "call_time",
    "answer_time",
    "hangup_time",
    "call_duration",
    "charged_duration",
    "termination_code",
    "termination_reason",
    "cost",
    "currency",
)


def itnio_app_ids(pks: Iterable[int | None]) -> dict[int, str]:
    """The ITNIO app IDs of these apps (the API's `app`; `app_id` in a payload is the portal's
    own id of the app), in one query."""
    wanted = {pk for pk in pks if pk is not None}
    if not wanted:
        return {}
    return dict(ItnioApp.objects.filter(pk__in=wanted).values_list("pk", "app_id"))


def call_payload(call: Any, *, app: str | None = None) -> dict[str, Any]:
    data = {name: getattr(call, name, None) for name in CALL_FIELDS}
    data["id"] = call.pk
    data["app_id"] = call.app_id
    data["app"] = app
    data["campaign_id"] = call.campaign_id
    data["answered"] = call.answer_time is not None
    return data


def emit_calls_final(calls: Iterable[Any]) -> int:
    """call.final for calls whose record just became final (the caller knows which)."""
    calls = list(calls)
    if not calls:
        return 0

    def payloads() -> Iterable[dict[str, Any]]:  # read only when someone subscribed
        apps = itnio_app_ids(c.app_id for c in calls)
        for call in calls:
            yield call_payload(call, app=apps.get(call.app_id))

    return emit(CALL_FINAL, payloads())


def campaign_payload(campaign: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "app_id": campaign.app_id,
        "app": itnio_app_ids([campaign.app_id]).get(campaign.app_id),
        "state": campaign.state,
        "state_reason": campaign.state_reason,
        "launched_at": campaign.launched_at,
        "completed_at": campaign.completed_at,
        **extra,
    }


def emit_campaign_state(campaign: Any, previous: str, *, by: str = "") -> int:
    """campaign.state_changed (and campaign.completed when it completed) for a campaign whose
    new state is already written (on the instance as well)."""
    if previous == campaign.state:
        return 0
    # Generators: the payload (and its app's query) is made only when someone subscribed.
    written = emit(
        CAMPAIGN_STATE_CHANGED,
        (campaign_payload(campaign, previous_state=previous, by=by) for _once in (1,)),
    )
    if campaign.state == "completed":
        written += emit(CAMPAIGN_COMPLETED, (campaign_payload(campaign) for _once in (1,)))
    return written


def emit_import_finished(record: Any, *, kind: str) -> int:
    return emit(
        IMPORT_FINISHED,
        [
            {
                "id": record.pk,
                "kind": kind,
                "state": record.state,
                "file_name": getattr(record, "original_name", ""),
                "rows": getattr(record, "rows", None),
                "imported": getattr(record, "imported", None),
                "rejected": getattr(record, "rejected", None),
                "error": getattr(record, "error", ""),
                "finished_at": getattr(record, "finished_at", None),
            }
        ],
    )


AI_FIELDS = (
    "call_id",
    "remote_job_id",
    "called_phone_number",
    "customer_name",
    "result_status",
    "intent_level",
    "hangup_by",
    "start_time",
    "end_time",
    "chat_duration",
    "charged_duration",
    "cost",
)


def ai_record_is_final(record: Any) -> bool:
    return bool(record.result_status) or record.end_time is not None


def emit_ai_record_final(record: Any) -> int:
    data = {name: getattr(record, name, None) for name in AI_FIELDS}
    data.update(id=record.pk, app_id=record.app_id, task_id=record.task_id)
    return emit(AI_RECORD_FINAL, [data])
