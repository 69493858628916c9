"""The A/B comparison of a campaign's variants, side by side: callees, answered %, average call
duration, DTMF keys pressed, cost per currency and cost per answered callee. A few GROUP BY
statements over the campaign's callees and calls (every attempt's call counts its cost)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Avg, Count, Q, Sum

from campaigns.exports import neutralise
from campaigns.models import Call, Callee, Campaign

#: feedbackValue meaning "no key pressed" (itnio-api.md: -1 = none).
NO_KEY = ("", "-1")


@dataclass
class VariantFigures:
    label: str
    file_name: str
    percent: int
    callees: int = 0
    answered: int = 0
    attempts: int = 0
    avg_duration: float | None = None
    keys: dict[str, int] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)

    @property
    def answered_percent(self) -> float:
        return round(100.0 * self.answered / self.callees, 1) if self.callees else 0.0

    @property
    def cost_per_answered(self) -> dict[str, Decimal]:
        if not self.answered:
            return {}
        return {cur: (total / self.answered) for cur, total in self.cost.items()}

    @property
    def keys_text(self) -> str:
        return ", ".join(f"{key}: {n:,}" for key, n in sorted(self.keys.items())) or "—"


def variant_figures(campaign: Campaign) -> list[VariantFigures]:
    """One row per variant (empty for a campaign without variants)."""
    variants = list(campaign.variants.select_related("voice_file").order_by("position"))
    if not variants:
        return []
    rows = {v.pk: VariantFigures(v.label, v.voice_file.file_name, v.percent) for v in variants}
    callees = (
        Callee.objects.filter(campaign_id=campaign.pk, variant__isnull=False)
        .values("variant")
        .annotate(
            n=Count("id"),
            answered=Count("id", filter=Q(call__answer_time__isnull=False)),
            attempts=Sum("attempts"),
        )
        .order_by()
    )
    for row in callees:
        figures = rows.get(row["variant"])
        if figures:
            figures.callees, figures.answered = row["n"], row["answered"]
            figures.attempts = row["attempts"] or 0
    calls = Call.objects.filter(campaign_id=campaign.pk, campaign_callee__variant__isnull=False)
    durations = (
        calls.filter(answer_time__isnull=False)
        .values("campaign_callee__variant")
        .annotate(avg=Avg("call_duration"))
        .order_by()
    )
    for row in durations:
        if row["campaign_callee__variant"] in rows and row["avg"] is not None:
            rows[row["campaign_callee__variant"]].avg_duration = round(float(row["avg"]), 1)
    keys = (
        calls.exclude(feedback_value__in=NO_KEY)
        .values("campaign_callee__variant", "feedback_value")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in keys:
        if row["campaign_callee__variant"] in rows:
            rows[row["campaign_callee__variant"]].keys[row["feedback_value"]] = row["n"]
    costs: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for row in (
        calls.filter(cost__isnull=False)
        .values("campaign_callee__variant", "currency")
        .annotate(total=Sum("cost"))
        .order_by()
    ):
        costs[row["campaign_callee__variant"]][row["currency"] or "USD"] = row["total"]
    for variant_id, by_currency in costs.items():
        if variant_id in rows:
            rows[variant_id].cost = by_currency
    return [rows[v.pk] for v in variants]


def variant_csv(campaign_id: int | None) -> str:
    """The dashboard CSV's rows for an A/B campaign (chart, series, label, value: the rows of
    reports.figures_csv_rows), over the whole campaign; "" for other slices."""
    campaign = Campaign.objects.filter(pk=campaign_id).first() if campaign_id else None
    rows = variant_figures(campaign) if campaign is not None else []
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.writer(out)
    for r in rows:
        label = neutralise(f"{r.label} {r.file_name}")
        values = {
            "share_percent": r.percent,
            "callees": r.callees,
            "attempts": r.attempts,
            "answered": r.answered,
            "answered_percent": r.answered_percent,
            "avg_call_duration": "" if r.avg_duration is None else r.avg_duration,
            **{f"dtmf_{key}": n for key, n in sorted(r.keys.items())},
            **{f"cost_{cur}": format(v, "f") for cur, v in sorted(r.cost.items())},
            **{
                f"cost_per_answered_{cur}": format(round(v, 6), "f")
                for cur, v in sorted(r.cost_per_answered.items())
            },
        }
        for series, value in values.items():
            writer.writerow(["variants", neutralise(series), label, value])
    return out.getvalue()
