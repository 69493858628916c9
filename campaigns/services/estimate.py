"""The launch plan's cost estimate: per currency, the worst case (every callee answers and talks
maxDuration, billed by its billPeriod) and the expected cost (the app's recent answer ratio and
billed time per destination, or the worst case where it has no history), and how many callees
have no known rate.

Set-based: the audience and the app's recent calls are each counted in one GROUP BY over
their numbers cut to the rate table's longest prefix, so a million callees cost two queries
and a loop over at most a few thousand groups.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import Call, Callee, Campaign
from campaigns.services.numbers import calling_code
from campaigns.services.rates import RateTable, cost_of, worst_case

#: The app's calls that make its recent history.
HISTORY_DAYS = 30
CENT = Decimal("0.01")


def plain(amount: Decimal) -> str:
    """An amount for scripts: two decimals, a '.', no thousands separator, never translated."""
    return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):f}"


def grouped(queryset: QuerySet[Any], column: str, size: int) -> dict[str, int]:
    """How many distinct `column` values of `queryset` (a number in two contact lists is
    called once) per value cut to `size` characters (one GROUP BY)."""
    rows = (
        queryset.order_by()
        .annotate(head=Substr(column, 1, max(size, 1)))
        .values("head")
        .annotate(n=Count(column, distinct=True))
        .values_list("head", "n")
    )
    return dict(rows)


def audience_numbers(campaign: Campaign) -> list[QuerySet[Any]]:
    """The numbers the campaign would call (the preflight's "will be called"): its pending
    callees and, before launch, its lists' new numbers (audience.py); do-not-call numbers and
    numbers over the frequency cap left out, as the claim does."""
    from campaigns.services.audience import _new_numbers
    from campaigns.services.frequency_caps import under_cap
    from campaigns.services.suppression import suppressed

    pending = Callee.objects.filter(campaign=campaign, state=Callee.State.PENDING).filter(
        ~suppressed(campaign.app_id)
    )
    parts: list[QuerySet[Any]] = [under_cap(pending, campaign)]
    if campaign.pk and campaign.contact_lists.exists():
        new = _new_numbers(campaign).filter(~suppressed(campaign.app_id))
        parts.append(under_cap(new, campaign))
    return parts


@dataclass
class Estimate:
    worst: dict[str, Decimal] = field(default_factory=dict)
    expected: dict[str, Decimal] = field(default_factory=dict)
    unknown: int = 0
    #: The calling codes (or number heads) of the callees without a known rate.
    unknown_prefixes: list[str] = field(default_factory=list)
    #: Callees priced in each currency.
    callees: dict[str, int] = field(default_factory=dict)

    def key_lines(self) -> list[str]:
        """`worst_case=12.00 EUR expected=5.60 EUR` per currency and `unknown_rate=N`."""
        lines = [
            f"worst_case={plain(self.worst[c])} {c} expected={plain(self.expected[c])} {c}"
            for c in sorted(self.worst)
        ]
        return [*lines, f"unknown_rate={self.unknown}"]

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            (
                gettext("Cost (%(currency)s):") % {"currency": c},
                gettext("worst case %(worst)s, expected %(expected)s")
                % {"worst": plain(self.worst[c]), "expected": plain(self.expected[c])},
            )
            for c in sorted(self.worst)
        ]
        if self.unknown:
            rows.append(
                (
                    gettext("No known rate:"),
                    gettext("%(n)s callees (%(prefixes)s)")
                    % {"n": f"{self.unknown:,}", "prefixes": self.prefixes_text()},
                )
            )
        return rows

    def prefixes_text(self) -> str:
        shown = ", ".join(f"+{p}" for p in self.unknown_prefixes[:10])
        return shown + (" …" if len(self.unknown_prefixes) > 10 else "")

    def add_unknown(self, head: str, n: int) -> None:
        self.unknown += n
        if head not in self.unknown_prefixes:
            self.unknown_prefixes.append(head)


def _history(campaign: Campaign, table: RateTable, size: int) -> dict[str, tuple[int, int]]:
    """Per rate prefix: (final calls, billed seconds) of the app's last HISTORY_DAYS."""
    since = timezone.now() - timedelta(days=HISTORY_DAYS)
    rows = (
        Call.objects.filter(app_id=campaign.app_id, placed_at__gte=since, hangup_time__isnull=False)
        .order_by()
        .annotate(head=Substr("callee", 1, max(size, 1)))
        .values("head")
        .annotate(n=Count("pk"), billed=Sum("charged_duration"))
        .values_list("head", "n", "billed")
    )
    history: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for head, n, billed in rows:
        rate = table.lookup(head or "")
        if rate is None:
            continue
        calls, seconds = history[rate.prefix]
        history[rate.prefix] = (calls + n, seconds + (billed or 0))
    return history


def campaign_estimate(campaign: Campaign) -> Estimate:
    """What the campaign's audience would cost, per currency."""
    table = RateTable.of(campaign.app_id)
    size = table.longest
    unit = campaign.app.rate_unit
    estimate = Estimate()
    heads: dict[str, int] = defaultdict(int)
    for part in audience_numbers(campaign):
        for head, n in grouped(part, "number", size).items():
            heads[head or ""] += n
    history = _history(campaign, table, size) if heads and size else {}
    for head, n in sorted(heads.items()):
        rate = table.lookup(head)
        if rate is None:
            estimate.add_unknown(calling_code(head) or head[:3], n)
            continue
        worst = worst_case(rate, campaign.max_duration, unit)
        calls, seconds = history.get(rate.prefix, (0, 0))
        expected = worst
        if calls:
            # The average billed time of a call to this destination (unanswered ones bill 0);
            # never more than the worst case.
            expected = min(cost_of(rate.rate, Decimal(seconds) / calls, unit), worst)
        c = rate.currency
        estimate.worst[c] = estimate.worst.get(c, Decimal(0)) + worst * n
        estimate.expected[c] = estimate.expected.get(c, Decimal(0)) + expected * n
        estimate.callees[c] = estimate.callees.get(c, 0) + n
    return estimate
