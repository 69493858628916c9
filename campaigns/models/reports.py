"""Scheduled e-mail reports: a user's daily or weekly report of calls, for all apps, one app or
one campaign (campaigns/services/email_reports.py). A campaign report's subscribers also get the
campaign's pause and completion e-mails."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportSubscription(models.Model):
    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily (yesterday's calls)")
        WEEKLY = "weekly", _("Weekly (last Monday to Sunday, sent on Mondays)")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
        verbose_name=_("user"),
    )
    frequency = models.CharField(
        _("frequency"), max_length=10, choices=Frequency.choices, default=Frequency.DAILY
    )
    app = models.ForeignKey(
        "campaigns.ItnioApp",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        verbose_name=_("app"),
        help_text=_("Empty: every app."),
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
        verbose_name=_("campaign"),
        help_text=_("Only this campaign's calls; you also get an e-mail when it pauses or ends."),
    )
    hour = models.PositiveSmallIntegerField(
        _("hour (UTC)"),
        default=7,
        validators=[MaxValueValidator(23)],
        help_text=_("Sent at this hour, UTC (the report's days are UTC days, like the dashboard)."),
    )
    active = models.BooleanField(_("active"), default=True)
    # The first day of the last period sent (claimed before sending: one e-mail per period).
    last_period = models.DateField(_("last report for"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("e-mail report")
        verbose_name_plural = _("e-mail reports")
        ordering = ["user__username", "frequency", "id"]
        permissions = [
            ("manage_report_subscriptions", "Can manage every user's e-mail reports"),
        ]

    def __str__(self) -> str:
        scope = self.campaign or self.app or _("every app")
        return f"{self.get_frequency_display()}: {scope}"
