"""The bill check: every final, priced call is checked once against its own record. Its billed
time (chargedDuration) must be its talk time (callDuration) rounded by its billPeriod ("20+20":
the first 20 s, then 20 s steps), and its cost must be rate × billed time under the app's rate
unit, within ±0.5 % or 0.0001. A billPeriod of another form is reported as such. A later
record (push or sync) that changes a checked call's charge clears its mark
(calls.record_onto_call), and the next run replaces or removes its mismatch.

Incremental: the periodic job takes the calls not checked yet through a partial index, a chunk
at a time (one read, one bulk insert of the mismatches, one UPDATE marking the chunk), so a run
costs what arrived since the last one, never a pass over every call."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaigns.models import BillMismatch, Call, ItnioApp
from campaigns.services.rates import RateError, billed_seconds, cost_of

CHUNK = 5000
TOLERANCE = Decimal("0.005")  # ±0.5 %
SMALLEST = Decimal("0.0001")  # or one smallest unit of the cost ITNIO writes
FIELDS = (
    "pk",
    "app_id",
    "campaign_id",
    "placed_at",
    "call_duration",
    "charged_duration",
    "bill_period",
    "rate",
    "cost",
    "currency",
)


@dataclass
class CheckReport:
    checked: int = 0
    mismatches: int = 0


def expected_charge(row: dict[str, Any], unit: str) -> BillMismatch | None:
    """The mismatch one call's record shows, or None when it is billed as it should be."""
    found = BillMismatch(
        call_id=row["pk"],
        app_id=row["app_id"],
        campaign_id=row["campaign_id"],
        day=(row["placed_at"] or timezone.now()).astimezone(UTC).date(),
        charged_seconds=row["charged_duration"],
        cost=row["cost"],
        currency=row["currency"] or "USD",
    )
    try:
        seconds = billed_seconds(row["call_duration"] or 0, row["bill_period"])
    except RateError:
        found.kind = BillMismatch.Kind.PERIOD
        return found
    found.expected_seconds = seconds
    if (row["charged_duration"] or 0) != seconds:
        found.kind = BillMismatch.Kind.DURATION
        if row["rate"] is not None:
            found.expected_cost = cost_of(row["rate"], seconds, unit)
        return found
    if row["rate"] is None:
        return None  # nothing to compare the cost with
    expected = cost_of(row["rate"], seconds, unit)
    found.expected_cost = expected
    if abs(row["cost"] - expected) > max(expected * TOLERANCE, SMALLEST):
        found.kind = BillMismatch.Kind.COST
        return found
    return None


def bill_check_due(*, max_chunks: int = 20) -> CheckReport:
    """Check the calls that became final and priced since the last run."""
    units = dict(ItnioApp.objects.values_list("pk", "rate_unit"))
    report = CheckReport()
    for _ in range(max_chunks):
        rows = list(
            Call.objects.filter(
                bill_checked_at__isnull=True, hangup_time__isnull=False, cost__isnull=False
            )
            .order_by("id")
            .values(*FIELDS)[:CHUNK]
        )
        if not rows:
            break
        found = [
            m
            for m in (expected_charge(r, units.get(r["app_id"], "minute")) for r in rows)
            if m is not None
        ]
        with transaction.atomic():
            # A call checked again (a later record changed its charge) loses its old verdict:
            # replaced by the new one, or gone when it now matches.
            BillMismatch.objects.filter(call_id__in=[r["pk"] for r in rows]).delete()
            BillMismatch.objects.bulk_create(found, ignore_conflicts=True)
            Call.objects.filter(pk__in=[r["pk"] for r in rows]).update(
                bill_checked_at=timezone.now()
            )
        report.checked += len(rows)
        report.mismatches += len(found)
        if len(rows) < CHUNK:
            break
    return report


@dataclass
class Totals:
    """Billed against recomputed, per currency, over a set of mismatches."""

    billed: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    expected: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))


def mismatch_totals(mismatches: Any) -> Totals:
    totals = Totals()
    for currency, cost, expected in mismatches.values_list("currency", "cost", "expected_cost"):
        totals.billed[currency] += cost or 0
        totals.expected[currency] += expected or 0
    return totals


def checked_calls(*, app: ItnioApp | None = None, since: date | None = None) -> int:
    calls = Call.objects.filter(bill_checked_at__isnull=False)
    if app is not None:
        calls = calls.filter(app=app)
    if since is not None:
        calls = calls.filter(placed_at__date__gte=since)
    return calls.count()
