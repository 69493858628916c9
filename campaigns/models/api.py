"""The REST API's own rows: personal API tokens (stored as digests) and the Idempotency-Key
reservations of the requests that spend money."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiToken(models.Model):
    """A user's key to the REST API (`Authorization: Token <key>`). Only a SHA-256 digest of the
    key is stored; the key is shown once, when it is created. It may do what its user may."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=100)
    # The key's first characters, to tell tokens apart (not enough to use one).
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["user__username", "name"]
        permissions = [("manage_api_tokens", "Can create and revoke every user's API tokens")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(revoked_at__isnull=True),
                name="apitoken_unique_live_name_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def live(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )


class ApiIdempotencyKey(models.Model):
    """An `Idempotency-Key` of one token, reserved (committed) before the request goes to ITNIO;
    the first answer is kept and given again for the same key and body for 24 hours."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", _("In flight")
        DONE = "done", _("Answered")

    token = models.ForeignKey(
        ApiToken, on_delete=models.CASCADE, related_name="idempotency_keys", db_index=False
    )
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=100)
    body_digest = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    # The call the first request placed, linked once its SENDING row is committed: a repeat
    # after the first request's process died is answered with that call as it is now.
    call = models.ForeignKey(
        "campaigns.Call", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("API idempotency key")
        verbose_name_plural = _("API idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="apiidempotency_unique_key")
        ]

    def __str__(self) -> str:
        return self.key
