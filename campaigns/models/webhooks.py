"""Outbound webhooks: subscriptions (URL, events, signing secret encrypted at rest), the outbox of
events waiting for delivery (one row per subscription and event) and the log of every attempt."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.fields import SecretField

#: The events a subscription may ask for (campaigns/services/outbound_hooks.py emits them).
EVENT_CHOICES = [
    ("call.final", _("A call's record is final")),
    ("campaign.state_changed", _("A campaign changed state")),
    ("campaign.completed", _("A campaign completed")),
    ("campaign.budget_reached", _("A campaign reached its budget")),
    ("import.finished", _("An import finished")),
    ("balance.low", _("An account's balance is low")),
    ("ai_record.final", _("An AI call record is final")),
]
EVENT_TYPES = tuple(name for name, _label in EVENT_CHOICES)


class WebhookSubscription(models.Model):
    """A URL that receives the chosen events, signed in the Standard Webhooks format with its
    secret (`whsec_…`, shown once when the subscription is created)."""

    url = models.URLField(_("URL"), max_length=1000)
    events = models.JSONField(_("events"), default=list)
    secret = SecretField(_("signing secret"), max_length=100, editable=False)
    description = models.CharField(_("description"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True, editable=False)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class WebhookMessage(models.Model):
    """One event for one subscription, written in the transaction of the change that caused it
    (the outbox) and delivered by the webhook worker with retries; `msg_id` is the
    `webhook-id` header of every attempt and replay."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        DEAD = "dead", _("Dead (gave up)")

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("subscription"),
    )
    msg_id = models.CharField(_("webhook-id"), max_length=40)
    event_type = models.CharField(_("event"), max_length=40)
    payload = models.TextField(_("payload"))  # the exact JSON body that is signed
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="webhookmsg_due",
            ),
            models.Index(fields=["msg_id"], name="webhookmsg_msg_id"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class WebhookDelivery(models.Model):
    """One delivery attempt of a message: its HTTP status, how long it took, the error and the
    beginning of the answer."""

    message = models.ForeignKey(
        WebhookMessage,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("message"),
    )
    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    ok = models.BooleanField(_("delivered"), default=False)
    error = models.CharField(_("error"), max_length=500, blank=True)
    response_excerpt = models.TextField(_("response (beginning)"), blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["subscription", "-id"], name="webhookdelivery_sub")]

    def __str__(self) -> str:
        return f"{self.message_id} #{self.attempt}"
