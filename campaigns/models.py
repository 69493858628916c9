"""Models of the campaigns app: ITNIO accounts and apps, and the background-work heartbeat."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from campaigns.fields import SecretField


def new_push_token() -> str:
    """An unguessable path segment: ITNIO signs no push (itnio-api.md §6), so the URL is the key."""
    return secrets.token_urlsafe(24)


class ItnioAccount(models.Model):
    """One ITNIO account: the API key and secret every request is signed with."""

    name = models.CharField("name", max_length=100, unique=True)
    api_key = models.CharField(
        "API key",
        max_length=128,
        help_text="ITNIO's “API authentication name” (Home → Developers).",
    )
    api_secret = SecretField(
        "API secret",
        max_length=128,
        help_text="Stored encrypted. Leave blank when editing to keep the current secret.",
    )
    base_url = models.URLField(
        "base URL override",
        blank=True,
        help_text="Empty: the portal's ITNIO_BASE_URL. Only superusers may change it.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "ITNIO account"
        verbose_name_plural = "ITNIO accounts"
        ordering = ["name"]
        permissions = [
            ("place_calls", "Can place calls and spend money through ITNIO"),
            ("manage_credentials", "Can see and change ITNIO credentials"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or settings.ITNIO_BASE_URL).rstrip("/")


class ItnioApp(models.Model):
    """An ITNIO application (voice or AI voice) of an account, with its push token."""

    class Kind(models.TextChoices):
        VOICE = "voice", "Voice"
        AI = "ai", "AI voice"

    account = models.ForeignKey(
        ItnioAccount, on_delete=models.PROTECT, related_name="apps", verbose_name="account"
    )
    app_id = models.CharField(
        "ITNIO app ID",
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", "Letters, digits, _ and - only.")],
    )
    kind = models.CharField("kind", max_length=8, choices=Kind.choices, default=Kind.VOICE)
    label = models.CharField("label", max_length=100, blank=True)
    active = models.BooleanField("active", default=True)
    push_token = models.CharField(
        "push token", max_length=64, unique=True, default=new_push_token, editable=False
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "ITNIO app"
        verbose_name_plural = "ITNIO apps"
        ordering = ["account__name", "app_id"]

    def __str__(self) -> str:
        return f"{self.label or self.app_id} ({self.get_kind_display()})"

    @property
    def push_path(self) -> str:
        segment = "ai" if self.kind == self.Kind.AI else "voice"
        return f"/itnio/push/{self.push_token}/{segment}/"

    @property
    def push_url(self) -> str:
        return settings.PORTAL_PUBLIC_URL.rstrip("/") + self.push_path


class Heartbeat(models.Model):
    """Last sign of life of a background component (scheduler tick, worker task run)."""

    name = models.CharField("component", max_length=64, unique=True)
    last_seen_at = models.DateTimeField("last seen", default=timezone.now)
    detail = models.CharField("detail", max_length=255, blank=True)

    class Meta:
        verbose_name = "background heartbeat"
        verbose_name_plural = "background heartbeats"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScheduledJobRun(models.Model):
    """When the scheduler last enqueued a periodic job, so restarts and twin schedulers agree."""

    name = models.CharField("job", max_length=100, unique=True)
    last_enqueued_at = models.DateTimeField("last enqueued", null=True, blank=True)
    last_result_id = models.CharField("last task result ID", max_length=64, blank=True)

    class Meta:
        verbose_name = "scheduled job"
        verbose_name_plural = "scheduled jobs"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
