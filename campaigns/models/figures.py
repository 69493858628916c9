"""Pre-aggregated daily call figures, and the marks of the days whose figures are to recompute.

Rebuilt from Call rows, never edited by hand: database triggers (campaigns/triggers.py) mark the
UTC day of every inserted, updated or deleted call, `refresh_call_stats` (every minute)
recomputes the marked days, and readers add the marked days straight from Call so a figure is
never stale (campaigns/services/reports.py).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioApp
from campaigns.models.campaigns import Campaign


class CallDayStat(models.Model):
    """Calls of one UTC day grouped by every list filter: the cube behind counts and totals."""

    day = models.DateField(_("day (UTC)"))
    app = models.ForeignKey(ItnioApp, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8)
    state = models.CharField(max_length=10)
    answered = models.BooleanField()
    final = models.BooleanField()
    currency = models.CharField(max_length=8, blank=True)
    calls = models.PositiveIntegerField()
    priced = models.PositiveIntegerField(default=0)  # calls with a cost (0 included)
    duration_sum = models.BigIntegerField(default=0)
    charged_sum = models.BigIntegerField(default=0)
    cost_sum = models.DecimalField(max_digits=24, decimal_places=6, default=0)

    class Meta:
        verbose_name = _("daily call figure")
        indexes = [
            models.Index(fields=["day"], name="calldaystat_day"),
            models.Index(fields=["campaign", "day"], name="calldaystat_campaign_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.calls} {self.kind} calls {self.state}"


class CallDayValue(models.Model):
    """How often one value of a breakdown (region, termination reason, DTMF key) came up a day."""

    class Dimension(models.TextChoices):
        REGION = "region", _("Region and operator")
        TERMINATION = "termination", _("Termination reason")
        DTMF = "dtmf", _("DTMF key")

    day = models.DateField(_("day (UTC)"))
    app = models.ForeignKey(ItnioApp, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    value = models.CharField(max_length=255, blank=True)
    calls = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("daily call breakdown")
        indexes = [
            models.Index(fields=["day", "dimension"], name="calldayvalue_day_dim"),
            models.Index(fields=["campaign", "dimension"], name="calldayvalue_campaign_dim"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.dimension} {self.value!r} × {self.calls}"


class CallStatMark(models.Model):
    """A mark that calls of one UTC day changed after its figures were computed (written by
    triggers; a day may have many marks, and is to recompute while it has any)."""

    # Appended for every write statement: a big counter, and never reused.
    id = models.BigAutoField(primary_key=True)
    day = models.DateField(_("day (UTC)"))

    class Meta:
        verbose_name = _("changed day")
        indexes = [models.Index(fields=["day"], name="callstatmark_day")]

    def __str__(self) -> str:
        return str(self.day)
