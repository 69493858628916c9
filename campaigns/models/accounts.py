"""ITNIO accounts (key, secret, balance) and their apps (voice or AI voice), with the apps'
push tokens and push URLs."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.fields import SecretField
from campaigns.validators import validate_base_url


def new_push_token() -> str:
    """An unguessable path segment: ITNIO signs no push (itnio-api.md §6), so the URL is the key."""
    return secrets.token_urlsafe(24)


class ItnioAccount(models.Model):
    """One ITNIO account: the API key and secret every request is signed with."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    api_key = models.CharField(
        _("API key"),
        max_length=128,
        help_text=_("ITNIO's “API authentication name” (Home → Developers)."),
    )
    api_secret = SecretField(
        _("API secret"),
        max_length=128,
        help_text=_("Stored encrypted. Leave blank when editing to keep the current secret."),
    )
    base_url = models.URLField(
        _("base URL override"),
        blank=True,
        validators=[validate_base_url],
        help_text=_(
            "Empty: the portal's ITNIO_BASE_URL. Only superusers may change it; https:// only."
        ),
    )
    # Last "Verify credentials" (GET /sms/getBalance, itnio-api.md §2).
    balance = models.DecimalField(
        _("balance"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    gift = models.DecimalField(_("gift"), max_digits=18, decimal_places=6, null=True, blank=True)
    credit = models.DecimalField(
        _("credit"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    verified_at = models.DateTimeField(_("last verified"), null=True, blank=True)
    verify_error = models.TextField(_("last verification error"), blank=True)
    # The balance watch (campaigns/services/balance_watch.py): under this amount (balance + gift
    # + credit) a banner shows on every admin page and the Admins get one e-mail per crossing.
    low_balance_threshold = models.DecimalField(
        _("low-balance threshold"),
        max_digits=18,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_(
            "Warn (a banner on every page, one e-mail to the Admins) when balance + gift + credit "
            "falls under this amount. Empty: the portal's PORTAL_LOW_BALANCE."
        ),
    )
    low_balance_since = models.DateTimeField(_("low since"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("ITNIO account")
        verbose_name_plural = _("ITNIO accounts")
        ordering = ["name"]
        permissions = [
            ("place_calls", "Can place calls and spend money through ITNIO"),
            ("manage_credentials", "Can see and change ITNIO credentials"),
            ("query_itnio", "Can ask ITNIO for records, balances and lists (spends nothing)"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or settings.ITNIO_BASE_URL).rstrip("/")


class ItnioApp(models.Model):
    """An ITNIO application (voice or AI voice) of an account, with its push token."""

    class Kind(models.TextChoices):
        VOICE = "voice", _("Voice")
        AI = "ai", _("AI voice")

    account = models.ForeignKey(
        ItnioAccount, on_delete=models.PROTECT, related_name="apps", verbose_name=_("account")
    )
    app_id = models.CharField(
        _("ITNIO app ID"),
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", _("Letters, digits, _ and - only."))],
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.VOICE)
    label = models.CharField(_("label"), max_length=100, blank=True)
    active = models.BooleanField(_("active"), default=True)
    push_token = models.CharField(
        _("push token"), max_length=64, unique=True, default=new_push_token, editable=False
    )
    # After a regeneration the old token keeps working until this moment (ITNIO retries a
    # failed push for about 90 minutes, itnio-api.md §6.4), so no push is lost meanwhile.
    previous_push_token = models.CharField(
        _("previous push token"), max_length=64, null=True, blank=True, unique=True, editable=False
    )
    previous_push_token_expires_at = models.DateTimeField(
        _("previous push URL works until"), null=True, blank=True, editable=False
    )

    class RateUnit(models.TextChoices):
        PER_MINUTE = "minute", _("per 60 s of billed time")
        PER_SECOND = "second", _("per billed second")

    # How this app's rates read (money): the portal's reading of the docs is per 60 s of billed
    # time; an Admin switches an app whose records say otherwise.
    rate_unit = models.CharField(
        _("rate unit"), max_length=6, choices=RateUnit.choices, default=RateUnit.PER_MINUTE
    )
    # At most this much a day may be billed to this app's campaigns (admin): every campaign
    # whose costs are in the cap's currency, with a budget or not (budgets.py).
    daily_cap_amount = models.DecimalField(
        _("daily cap"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    daily_cap_currency = models.CharField(_("daily cap currency"), max_length=8, blank=True)
    # Billed today to the app's campaigns in the cap's currency (budgets.charge_calls).
    daily_billed = models.DecimalField(
        _("billed today"), max_digits=18, decimal_places=6, default=0, editable=False
    )
    daily_day = models.DateField(_("billed on"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("ITNIO app")
        verbose_name_plural = _("ITNIO apps")
        ordering = ["account__name", "app_id"]
        permissions = [("rotate_push_token", "Can regenerate an app's push URL")]

    def __str__(self) -> str:
        return f"{self.label or self.app_id} ({self.get_kind_display()})"

    @property
    def push_path(self) -> str:
        return push_path_for(self.push_token, self.kind)

    @property
    def push_url(self) -> str:
        return self.push_url_with(self.push_token)

    def push_url_with(self, token: str) -> str:
        """This app's push URL as it is (or will be) with this token."""
        return settings.PORTAL_PUBLIC_URL.rstrip("/") + push_path_for(token, self.kind)

    @property
    def previous_push_url_works(self) -> bool:
        expires = self.previous_push_token_expires_at
        return bool(self.previous_push_token) and expires is not None and expires > timezone.now()


def push_path_for(token: str, kind: str) -> str:
    """The path of an app's push receiver: the token in it is the only key (ITNIO signs none)."""
    segment = "ai" if kind == ItnioApp.Kind.AI else "voice"
    return f"/itnio/push/{token}/{segment}/"
