"""Money: each app's rate table by destination prefix (learned from its records, or imported as
a rate card, which wins)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioApp


class AppRate(models.Model):
    """One destination's rate of an app: currency per 60 s of billed time (or per billed second,
    ItnioApp.rate_unit), billed by `bill_period` ("20+20": the first 20 s, then 20 s steps)."""

    class Source(models.TextChoices):
        LEARNED = "learned", _("learned from records")
        CARD = "card", _("rate card")

    app = models.ForeignKey(
        ItnioApp, on_delete=models.CASCADE, related_name="rates", verbose_name=_("app")
    )
    prefix = models.CharField(_("prefix"), max_length=15)
    rate = models.DecimalField(_("rate"), max_digits=18, decimal_places=6)
    currency = models.CharField(_("currency"), max_length=8)
    bill_period = models.CharField(_("bill period"), max_length=16)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    # When the rate was seen (a learned rate: its record's hang-up time; a card: its import).
    seen_at = models.DateTimeField(_("seen"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("rate")
        verbose_name_plural = _("rates")
        ordering = ["app", "prefix", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "prefix", "source"], name="apprate_unique_prefix_source"
            )
        ]

    def __str__(self) -> str:
        return f"+{self.prefix} {self.rate} {self.currency} ({self.bill_period})"


class BillMismatch(models.Model):
    """A final call whose charge does not follow its record: the billed time is not the talk
    time rounded by the billPeriod, the cost is not rate × billed time (±0.5 % or 0.0001), or
    the billPeriod has a form the check does not know."""

    class Kind(models.TextChoices):
        DURATION = "duration", _("Billed time does not follow the call's duration")
        COST = "cost", _("Cost is not rate × billed time")
        PERIOD = "period", _("Bill period of an unknown form")

    call = models.OneToOneField(
        "campaigns.Call",
        on_delete=models.CASCADE,
        related_name="bill_mismatch",
        verbose_name=_("call"),
    )
    app = models.ForeignKey(ItnioApp, on_delete=models.CASCADE, verbose_name=_("app"))
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("campaign"),
    )
    day = models.DateField(_("day (UTC)"))
    kind = models.CharField(_("mismatch"), max_length=10, choices=Kind.choices)
    expected_seconds = models.PositiveIntegerField(_("expected billed time (s)"), null=True)
    charged_seconds = models.PositiveIntegerField(_("billed time (s)"), null=True)
    expected_cost = models.DecimalField(
        _("expected cost"), max_digits=18, decimal_places=6, null=True
    )
    cost = models.DecimalField(_("cost billed"), max_digits=18, decimal_places=6, null=True)
    currency = models.CharField(_("currency"), max_length=8, blank=True)
    found_at = models.DateTimeField(_("found"), auto_now_add=True)

    class Meta:
        verbose_name = _("bill mismatch")
        verbose_name_plural = _("bill mismatches")
        ordering = ["-day", "-id"]
        indexes = [models.Index(fields=["app", "day"], name="billmismatch_app_day")]

    def __str__(self) -> str:
        return f"{self.call_id} ({self.get_kind_display()})"
