"""Alert rules: a condition with a threshold, checked every minute; while it holds it is shown
as a banner in the admin, and its recipients get one e-mail per crossing (then not again within
the quiet period). campaigns/services/alerts.py checks them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        ASR_LOW = (
            "asr_low",
            _("Answer-seizure ratio of a running campaign below X % (last N calls)"),
        )
        SPEND_HIGH = "spend_high", _("Spend of an app today above X (any currency)")
        BALANCE_LOW = "balance_low", _("Balance low (each account's own threshold)")
        PUSHES_FAILED = "pushes_failed", _("More than X failed pushes in the last hour")
        UNKNOWN_WAITING = "unknown_waiting", _("Calls unknown for more than N hours")
        WORKER_SILENT = "worker_silent", _("Scheduler or worker not seen for N minutes")

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("condition"), max_length=20, choices=Kind.choices)
    threshold = models.DecimalField(
        _("threshold (X)"),
        max_digits=18,
        decimal_places=2,
        default=0,
        help_text=_("X: the percentage, amount or count the condition compares with."),
    )
    window = models.PositiveIntegerField(
        _("window (N)"),
        default=50,
        help_text=_("N: the last N final calls, hours or minutes, as the condition says."),
    )
    app = models.ForeignKey(
        "campaigns.ItnioApp",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        verbose_name=_("app"),
        help_text=_("Only this app (spend and answer-seizure ratio); empty: every app."),
    )
    quiet_minutes = models.PositiveIntegerField(
        _("quiet period (minutes)"),
        default=60,
        help_text=_("After an e-mail, no other e-mail for this rule within this time."),
    )
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("e-mail to")
    )
    active = models.BooleanField(_("active"), default=True)
    firing_since = models.DateTimeField(_("firing since"), null=True, blank=True, editable=False)
    notified_at = models.DateTimeField(_("last e-mail"), null=True, blank=True, editable=False)
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True, editable=False)
    # What the last check found (numbers and names; the words are written when shown, in the
    # reader's language: campaigns/services/alerts.py alert_text).
    finding = models.JSONField(_("what was found"), default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
