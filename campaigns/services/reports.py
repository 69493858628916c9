"""Call figures: daily pre-aggregates, kept exact by marked days, and what the dashboard shows.

The day of a call is the UTC day of `placed_at`: its submit time, or its creation while ITNIO
has not told us a submit time (`CALL_DAY`). Database triggers (campaigns/triggers.py) add a
`CallStatMark` for the day of every call that is inserted, updated or deleted;
`refresh_call_stats` recomputes the marked days from `Call`. Readers take the stored figures of
the days without a mark and aggregate the marked days straight from `Call`, so what they
return always equals a direct aggregate.

Why no writer ever waits for a refresh, and no change is lost: marks are append-only. On
PostgreSQL every write statement adds its own mark per day it touches, inside the writer's
transaction, whatever marks the day has already; several marks per day are normal, and a day
is marked while it has any. A refresh recomputes a day in one REPEATABLE READ transaction: it
reads the calls and deletes the day's marks in the same snapshot. A writer whose change is
not in that snapshot had not committed, so its mark is not in the snapshot either and survives
the delete: the day stays marked (read from Call) and the next run recomputes it. A writer
that committed before the snapshot is in the figures, and its mark goes. The refresh only
reads `Call`; it takes no lock on it. (SQLite has one writer at a time and the refresh holds
it for one day's transaction, so there a day keeps a single mark.)

A run ends whatever the write rate: it recomputes each day marked when it started at most once,
longest-marked first, and starts no day after CALL_STATS_REFRESH_MAX_SECONDS.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from time import monotonic
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils.translation import gettext, gettext_noop, ngettext

from campaigns.models import Call, CallDayStat, CallDayValue, CallStatMark

CALL_DAY = TruncDate("placed_at", tzinfo=UTC)
MONEY = DecimalField(max_digits=24, decimal_places=6)
STAT_KEYS = ("day", "app_id", "campaign_id", "kind", "state", "answered", "final", "currency")
# priced: calls that carry a cost (0 included), so "0 EUR" and "no cost yet" stay apart.
STAT_MEASURES = ("calls", "priced", "duration_sum", "charged_sum", "cost_sum")
VALUE_FIELDS = {
    CallDayValue.Dimension.REGION: "code",
    CallDayValue.Dimension.TERMINATION: "termination_reason",
    CallDayValue.Dimension.DTMF: "feedback_value",
}
# The distinct marked days in [since, until], one index probe per day however many marks a day
# has (PostgreSQL has no skip scan; a DISTINCT would read every mark on every page).
PG_MARKED_DAYS = f"""
WITH RECURSIVE marked(day) AS (
    (SELECT day FROM {CallStatMark._meta.db_table} WHERE day >= %s ORDER BY day LIMIT 1)
    UNION ALL
    SELECT (
        SELECT m.day FROM {CallStatMark._meta.db_table} m
        WHERE m.day > marked.day ORDER BY m.day LIMIT 1
    ) FROM marked WHERE marked.day IS NOT NULL AND marked.day < %s
)
SELECT day FROM marked WHERE day IS NOT NULL AND day <= %s"""
# Serialises refreshes on PostgreSQL (any constant; "ITNIO" in ASCII).
REFRESH_LOCK = 0x49544E494F


# --- selecting calls by day ----------------------------------------------------------------------
def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days merged into [start, end) ranges."""
    ranges: list[list[date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] == day:
            ranges[-1][1] = day + timedelta(days=1)
        else:
            ranges.append([day, day + timedelta(days=1)])
    return [(a, b) for a, b in ranges]


def _between(start: datetime | None, end: datetime | None) -> Q:
    """Calls placed in [start, end) (placed_at has an index of its own and with app, kind and
    campaign)."""
    condition = Q()
    if start is not None:
        condition &= Q(placed_at__gte=start)
    if end is not None:
        condition &= Q(placed_at__lt=end)
    return condition


def calls_on_days(queryset: QuerySet[Call], days: Iterable[date]) -> QuerySet[Call]:
    condition = Q(pk__in=[])
    for start, end in _day_ranges(days):
        condition |= _between(_midnight(start), _midnight(end))
    return queryset.filter(condition)


# --- aggregating calls ---------------------------------------------------------------------------
def stat_rows(calls: QuerySet[Call]) -> list[dict[str, Any]]:
    """The cube rows (STAT_KEYS + STAT_MEASURES) of a set of calls, computed from Call."""
    rows = (
        calls.order_by()
        .annotate(
            day_=CALL_DAY,
            answered_=ExpressionWrapper(Q(answer_time__isnull=False), BooleanField()),
            final_=ExpressionWrapper(Q(hangup_time__isnull=False), BooleanField()),
        )
        .values("day_", "app_id", "campaign_id", "kind", "state", "answered_", "final_", "currency")
        .annotate(
            calls=Count("id"),
            priced=Count("cost"),
            duration_sum=Coalesce(Sum("call_duration"), 0),
            charged_sum=Coalesce(Sum("charged_duration"), 0),
            cost_sum=Coalesce(Sum("cost"), Value(Decimal(0)), output_field=MONEY),
        )
    )
    return [
        {
            "day": r["day_"],
            "app_id": r["app_id"],
            "campaign_id": r["campaign_id"],
            "kind": r["kind"],
            "state": r["state"],
            "answered": bool(r["answered_"]),
            "final": bool(r["final_"]),
            "currency": r["currency"],
            "calls": r["calls"],
            "priced": r["priced"],
            "duration_sum": r["duration_sum"],
            "charged_sum": r["charged_sum"],
            "cost_sum": Decimal(r["cost_sum"]),
        }
        for r in rows
    ]


def value_rows(
    calls: QuerySet[Call], dimensions: Iterable[str] = tuple(VALUE_FIELDS)
) -> list[dict[str, Any]]:
    """The breakdown rows (day, app, campaign, dimension, value → calls, answered)."""
    out = []
    for dimension in dimensions:
        field = VALUE_FIELDS[dimension]
        rows = (
            calls.order_by()
            .annotate(day_=CALL_DAY, value_=F(field))
            .values("day_", "app_id", "campaign_id", "value_")
            .annotate(calls=Count("id"), answered=Count("id", filter=Q(answer_time__isnull=False)))
        )
        out.extend(
            {
                "day": r["day_"],
                "app_id": r["app_id"],
                "campaign_id": r["campaign_id"],
                "dimension": str(dimension),
                "value": r["value_"] or "",
                "calls": r["calls"],
                "answered": r["answered"],
            }
            for r in rows
        )
    return out


# --- keeping the stored figures up to date -------------------------------------------------------
def _mark_every_day() -> None:
    """Mark every day that has calls or stored figures (what --rebuild recomputes)."""
    days = set(
        Call.objects.annotate(d=CALL_DAY).order_by().values_list("d", flat=True).distinct()
    ) | set(CallDayStat.objects.order_by().values_list("day", flat=True).distinct())
    CallStatMark.objects.bulk_create([CallStatMark(day=d) for d in sorted(days)], batch_size=2000)


def _marked_days() -> list[date]:
    """The marked days, the one marked longest ago first (so none waits behind busier ones)."""
    rows = CallStatMark.objects.values("day").annotate(first=Min("id")).order_by("first")
    return [r["day"] for r in rows]


def _refresh_day(day: date) -> bool:
    """Recompute one day from the marks and calls of a single snapshot; False if no mark was
    left for it. Only the marks in that snapshot are deleted: the triggers write a writer's mark
    in its own transaction, so a write the snapshot missed leaves its mark, for the next run."""
    # One snapshot for every statement below. SQLite's IMMEDIATE transaction holds its single
    # write lock instead: nobody writes while it runs. Inside a caller's transaction (tests),
    # the caller's isolation applies.
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        marks = CallStatMark.objects.filter(day=day)
        if not marks.exists():
            return False
        CallDayStat.objects.filter(day=day).delete()
        CallDayValue.objects.filter(day=day).delete()
        calls = calls_on_days(Call.objects.all(), [day])
        CallDayStat.objects.bulk_create(
            [CallDayStat(**row) for row in stat_rows(calls)], batch_size=2000
        )
        CallDayValue.objects.bulk_create(
            [CallDayValue(**row) for row in value_rows(calls)], batch_size=2000
        )
        marks.delete()  # in the same snapshot: the marks of what was just read, no others
    return True


@contextmanager
def _one_refresh_at_a_time() -> Iterator[None]:
    """Refreshes wait for each other (on PostgreSQL; SQLite's writer lock does it per day).
    A session lock, taken before the day's transaction so its snapshot follows the other's."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [REFRESH_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [REFRESH_LOCK])


def refresh_call_stats(*, rebuild: bool = False, max_seconds: float | None = None) -> int:
    """Recompute the marked days (every day with `rebuild`); return how many were recomputed.

    Each day marked when the run starts is recomputed at most once, one day per transaction,
    and no day is started after `max_seconds` (CALL_STATS_REFRESH_MAX_SECONDS by default; the
    first day always is), so a run ends whatever the write rate; days marked meanwhile, or
    left by the time box, wait for the next run and are read from Call until then."""
    if max_seconds is None:
        max_seconds = settings.CALL_STATS_REFRESH_MAX_SECONDS
    started = monotonic()
    done = 0
    with _one_refresh_at_a_time():
        if rebuild:
            _mark_every_day()
        for i, day in enumerate(_marked_days()):
            if i and monotonic() - started >= max_seconds:
                break
            done += _refresh_day(day)
    return done


# --- reading -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallSlice:
    """A set of calls the cube can answer for: every field is a filter, None means any."""

    app_id: int | None = None
    campaign_id: int | None = None
    kind: str | None = None
    state: str | None = None
    answered: bool | None = None
    final: bool | None = None
    since: date | None = None  # inclusive
    until: date | None = None  # inclusive

    def _equal_filters(self, fields: Iterable[str]) -> dict[str, Any]:
        return {f: getattr(self, f) for f in fields if getattr(self, f) is not None}

    def _day_filters(self) -> dict[str, Any]:
        days = {}
        if self.since is not None:
            days["day__gte"] = self.since
        if self.until is not None:
            days["day__lte"] = self.until
        return days

    def stored_stats(self) -> QuerySet[CallDayStat]:
        fields = ("app_id", "campaign_id", "kind", "state", "answered", "final")
        return CallDayStat.objects.filter(**self._equal_filters(fields), **self._day_filters())

    def stored_values(self, dimension: str) -> QuerySet[CallDayValue]:
        if any(getattr(self, f) is not None for f in ("kind", "state", "answered", "final")):
            raise ValueError("breakdowns are kept by app, campaign and day only")
        return CallDayValue.objects.filter(
            dimension=dimension,
            **self._equal_filters(("app_id", "campaign_id")),
            **self._day_filters(),
        )

    def calls(self, queryset: QuerySet[Call] | None = None) -> QuerySet[Call]:
        """The same slice, straight from Call."""
        queryset = Call.objects.all() if queryset is None else queryset
        fields = ("app_id", "campaign_id", "kind", "state")
        queryset = queryset.filter(**self._equal_filters(fields))
        if self.answered is not None:
            queryset = queryset.filter(answer_time__isnull=not self.answered)
        if self.final is not None:
            queryset = queryset.filter(hangup_time__isnull=not self.final)
        start = _midnight(self.since) if self.since else None
        end = _midnight(self.until + timedelta(days=1)) if self.until else None
        return queryset.filter(_between(start, end))

    def dirty_days(self) -> list[date]:
        """The days with a mark: their stored figures may lag, so they are read from Call."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                until = self.until or date.max
                cursor.execute(PG_MARKED_DAYS, [self.since or date.min, until, until])
                return [row[0] for row in cursor.fetchall()]
        marked = CallStatMark.objects.filter(**self._day_filters()).order_by()
        return list(marked.values_list("day", flat=True).distinct())


def _merge(rows: Iterable[dict[str, Any]], by: tuple[str, ...], measures: tuple[str, ...]):
    merged: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in by)
        into = merged.setdefault(key, {**{k: row[k] for k in by}, **dict.fromkeys(measures, 0)})
        for m in measures:
            into[m] += row[m] or 0
    return [merged[k] for k in sorted(merged, key=lambda k: tuple(str(x) for x in k))]


def stat_totals(
    slc: CallSlice,
    by: tuple[str, ...] = (),
    *,
    direct: bool = False,
    dirty: list[date] | None = None,
) -> list[dict[str, Any]]:
    """The slice's measures grouped by `by` (any of STAT_KEYS).

    From the stored days plus the dirty days computed from Call (`dirty`, when the caller has
    read them already); `direct=True` computes everything from Call (what tests compare to)."""
    if direct:
        return _merge(stat_rows(slc.calls()), by, STAT_MEASURES)
    dirty = slc.dirty_days() if dirty is None else dirty
    sums = {m: Sum(m) for m in STAT_MEASURES}
    stored_days = slc.stored_stats().exclude(day__in=dirty)
    if by:
        stored = list(stored_days.values(*by).annotate(**sums))
    else:  # one total: aggregate(), since values() of no field would group by id
        total = stored_days.aggregate(**sums)
        stored = [total] if total["calls"] is not None else []
    fresh = stat_rows(calls_on_days(slc.calls(), dirty)) if dirty else []
    return _merge([*stored, *fresh], by, STAT_MEASURES)


def value_totals(
    slc: CallSlice,
    dimension: str,
    by: tuple[str, ...] = ("value",),
    *,
    direct: bool = False,
    dirty: list[date] | None = None,
) -> list[dict[str, Any]]:
    """A breakdown's counts grouped by `by`, like stat_totals."""
    measures = ("calls", "answered")
    if direct:
        rows = value_rows(slc.calls(), [dimension])
        return _merge(rows, by, measures)
    dirty = slc.dirty_days() if dirty is None else dirty
    stored = (
        slc.stored_values(dimension)
        .exclude(day__in=dirty)
        .values(*by)
        .annotate(**{m: Sum(m) for m in measures})
    )
    fresh = value_rows(calls_on_days(slc.calls(), dirty), [dimension]) if dirty else []
    return _merge([*stored, *fresh], by, measures)


# --- the dashboard's figures ---------------------------------------------------------------------
TOP = 10
NO_VALUE = gettext_noop("(none)")  # a breakdown value ITNIO left blank


def _currency(code: str) -> str:
    return code or "USD"  # blank in the record means USD (itnio-api.md §3.5)


def _ratio(part: float, whole: float, digits: int = 1) -> float | None:
    return round(100 * part / whole, digits) if whole else None


def _days(slc: CallSlice, seen: Iterable[date]) -> list[date]:
    """The charts' day axis: the slice's range; for one campaign only the days it has calls in
    (a one-day campaign is not one bar at the edge of a month of empty days)."""
    seen = sorted(set(seen))
    first = slc.since or (seen[0] if seen else None)
    last = slc.until or (seen[-1] if seen else None)
    if slc.campaign_id and seen:
        first, last = max(first, seen[0]), min(last, seen[-1])
    if first is None or last is None or first > last:
        return []
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _top(
    rows: list[dict[str, Any]], measure: str, label=lambda v: v or gettext(NO_VALUE), top: int = TOP
) -> dict:
    rows = sorted((r for r in rows if r[measure]), key=lambda r: (-r[measure], r["value"]))
    shown, rest = rows[:top], rows[top:]
    labels = [label(r["value"]) for r in shown]
    values = [r[measure] for r in shown]
    if rest:
        labels.append(ngettext("%(n)s other", "%(n)s others", len(rest)) % {"n": len(rest)})
        values.append(sum(r[measure] for r in rest))
    return {"labels": labels, "values": values}


def call_figures(slc: CallSlice, *, direct: bool = False) -> dict[str, Any]:
    """Everything the dashboard draws, as plain numbers: the charts' data and the CSV's rows."""
    # Read once: every total below covers the same days.
    dirty = None if direct else slc.dirty_days()
    daily = stat_totals(slc, ("day", "answered", "final", "currency"), direct=direct, dirty=dirty)
    days = _days(slc, (r["day"] for r in daily))
    per_day: dict[date, dict[str, Any]] = defaultdict(
        lambda: {"answered": 0, "unanswered": 0, "pending": 0, "duration": 0, "cost": {}}
    )
    currencies: set[str] = set()
    for r in daily:
        d = per_day[r["day"]]
        status = "answered" if r["answered"] else ("unanswered" if r["final"] else "pending")
        d[status] += r["calls"]
        if r["answered"]:
            d["duration"] += r["duration_sum"]
        if r["priced"]:
            cur = _currency(r["currency"])
            currencies.add(cur)
            d["cost"][cur] = d["cost"].get(cur, Decimal(0)) + Decimal(r["cost_sum"])
    currencies_sorted = sorted(currencies)

    def series(fn) -> list:
        return [fn(per_day[d]) if d in per_day else fn(None) for d in days]

    answered = sum(per_day[d]["answered"] for d in per_day)
    unanswered = sum(per_day[d]["unanswered"] for d in per_day)
    pending = sum(per_day[d]["pending"] for d in per_day)
    duration = sum(per_day[d]["duration"] for d in per_day)
    cost_total = {
        c: sum((per_day[d]["cost"].get(c, Decimal(0)) for d in per_day), Decimal(0))
        for c in currencies_sorted
    }

    # The summary's names are keys other code reads (home.py, the CSV): they stay English here,
    # marked for translation, and are translated where they are shown.
    summary = {
        gettext_noop("Calls"): answered + unanswered + pending,
        gettext_noop("Answered"): answered,
        gettext_noop("Not answered"): unanswered,
        gettext_noop("No final record yet"): pending,
        gettext_noop("ASR %"): _ratio(answered, answered + unanswered),
        gettext_noop("Average duration (s)"): round(duration / answered, 1) if answered else None,
        **{f"Cost {c}": float(cost_total[c]) for c in currencies_sorted},
    }
    labels = [d.isoformat() for d in days]
    charts = {
        "calls_per_day": {
            "title": gettext("Calls per day"),
            "type": "bar",
            "stacked": True,
            "labels": labels,
            "series": {
                gettext("Answered"): series(lambda d: d["answered"] if d else 0),
                gettext("Not answered"): series(lambda d: d["unanswered"] if d else 0),
                gettext("No final record yet"): series(lambda d: d["pending"] if d else 0),
            },
        },
        "asr_per_day": {
            "title": gettext("Answer-seizure ratio per day (%)"),
            "type": "line",
            "labels": labels,
            "series": {
                gettext("ASR %"): series(
                    lambda d: _ratio(d["answered"], d["answered"] + d["unanswered"]) if d else None
                )
            },
        },
        "duration_per_day": {
            "title": gettext("Average duration of answered calls per day (s)"),
            "type": "line",
            "labels": labels,
            "series": {
                gettext("Average duration (s)"): series(
                    lambda d: (
                        round(d["duration"] / d["answered"], 1) if d and d["answered"] else None
                    )
                )
            },
        },
        "cost_per_day": {
            "title": (
                gettext("Cost per day (%(currencies)s)")
                % {"currencies": ", ".join(currencies_sorted)}
                if currencies_sorted
                else gettext("Cost per day")
            ),
            "type": "bar",
            "labels": labels,
            "series": {
                c: series(lambda d, c=c: float(d["cost"].get(c, 0)) if d else 0.0)
                for c in currencies_sorted
            },
        },
    }
    # Breakdowns are kept by app, campaign and day only.
    whole = CallSlice(slc.app_id, slc.campaign_id, since=slc.since, until=slc.until)
    regions = _top(
        value_totals(whole, CallDayValue.Dimension.REGION, direct=direct, dirty=dirty), "calls"
    )
    charts["regions"] = {
        "title": gettext("Top %(n)s regions (calls)") % {"n": TOP},
        "type": "hbar",
        "labels": regions["labels"],
        "series": {gettext("Calls"): regions["values"]},
    }
    terminations = [
        r
        for r in value_totals(whole, CallDayValue.Dimension.TERMINATION, direct=direct, dirty=dirty)
        if r["value"]
    ]
    top_terminations = _top(terminations, "calls")
    charts["termination"] = {
        "title": gettext("Termination reasons (final calls)"),
        "type": "hbar",
        "labels": top_terminations["labels"],
        "series": {gettext("Calls"): top_terminations["values"]},
    }
    if slc.campaign_id is not None:
        # "-1" is ITNIO's "no key"; an answered call without the field pressed none either.
        pressed = _merge(
            (
                {**r, "value": "" if r["value"] in ("-1", "") else r["value"]}
                for r in value_totals(
                    whole, CallDayValue.Dimension.DTMF, direct=direct, dirty=dirty
                )
            ),
            ("value",),
            ("calls", "answered"),
        )
        # Every key (0–9, *, #), "No key" first, then in key order.
        pressed = sorted(
            (r for r in pressed if r["answered"]), key=lambda r: (r["value"] != "", r["value"])
        )
        keys = {
            "labels": [
                gettext("Key %(key)s") % {"key": r["value"]} if r["value"] else gettext("No key")
                for r in pressed
            ],
            "values": [r["answered"] for r in pressed],
        }
        charts["dtmf"] = {
            "title": gettext("DTMF keys pressed (answered calls)"),
            "type": "bar",
            "labels": keys["labels"],
            "series": {gettext("Answered calls"): keys["values"]},
        }
    return {"summary": summary, "charts": charts}


def figures_csv_rows(figures: dict[str, Any]) -> Iterator[list[Any]]:
    """The figures as tidy rows: chart, series, label, value (the summary first). Labels come
    from ITNIO's records, so text that a spreadsheet would run as a formula is neutralised."""
    from campaigns.exports import neutralise

    yield ["chart", "series", "label", "value"]
    for name, value in figures["summary"].items():
        yield ["summary", name, "", "" if value is None else value]
    for chart, data in figures["charts"].items():
        for series, values in data["series"].items():
            for label, value in zip(data["labels"], values, strict=True):
                yield [chart, neutralise(series), neutralise(label), "" if value is None else value]


def figures_csv(figures: dict[str, Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(figures_csv_rows(figures))
    return out.getvalue()
