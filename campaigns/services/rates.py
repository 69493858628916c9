"""Rates: each app's rate table by destination prefix, learned from its final records or
imported as a rate card (prefix,rate,currency,bill_period) through the one import pipeline;
billPeriod arithmetic and the worst case of one call.

A rate is currency per 60 s of billed time (the portal's reading of itnio-api.md §3.5), or per
billed second where an Admin set the app's rate unit so. A number's rate is the longest card
prefix it starts with, else the longest learned one: the imported card wins.

Learning is set-based: the final records applied in one batch (push apply, record sync,
reconciliation) give one upsert of the newest rate seen per calling code; the backfill task
reads the existing calls in chunks the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import AppRate, Call, ItnioApp
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.imports import DUPLICATE, REJECTED, VALID, ImportCounts, import_stream
from campaigns.services.numbers import calling_code
from campaigns.services.tabular import ImportFileError, open_table

logger = logging.getLogger(__name__)

#: Without a maxDuration, a call may last ITNIO's longest (itnio-api.md §3.2: 1–120 s).
LONGEST_CALL_S = 120
#: The rate card's columns, in any order (the header names them).
CARD_COLUMNS = ("prefix", "rate", "currency", "bill_period")
#: Calls read per chunk by the backfill.
BACKFILL_CHUNK = 5000
CARD_PERMISSION = "campaigns.add_apprate"
MICRO = Decimal("0.000001")
_PERIOD = re.compile(r"^\s*(\d{1,4})\s*\+\s*(\d{1,4})\s*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class RateError(Exception):
    """Bad rate input (a bill period, a rate card); shown as is."""


def parse_bill_period(text: str) -> tuple[int, int]:
    """ "20+20" → (20, 20): the first 20 s, then 20 s steps; RateError for other forms."""
    match = _PERIOD.match(text or "")
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise RateError(
            gettext("%(period)r is not a bill period such as 20+20, 60+60 or 1+1.")
            % {"period": text}
        )
    return int(match.group(1)), int(match.group(2))


def billed_seconds(duration: int, bill_period: str) -> int:
    """The billed time of a call that talked `duration` seconds: 0 when it did not talk, the
    first period at least, then whole steps."""
    first, step = parse_bill_period(bill_period)
    if duration <= 0:
        return 0
    if duration <= first:
        return first
    return first + -(-(duration - first) // step) * step


def cost_of(rate: Decimal, seconds: int | Decimal, unit: str) -> Decimal:
    """rate × billed time under the app's unit (per 60 s, or per second)."""
    per = Decimal(60) if unit == ItnioApp.RateUnit.PER_MINUTE else Decimal(1)
    return rate * Decimal(seconds) / per


def worst_case(rate: AppRate, max_duration: int | None, unit: str) -> Decimal:
    """One answered call talking maxDuration, billed by the rate's billPeriod, rounded up to
    the millionth (the unit money columns keep)."""
    seconds = billed_seconds(max_duration or LONGEST_CALL_S, rate.bill_period)
    return cost_of(rate.rate, seconds, unit).quantize(MICRO, rounding=ROUND_CEILING)


@dataclass
class RateTable:
    """An app's rates in memory (a few hundred rows at most), for prefix look-ups."""

    card: dict[str, AppRate]
    learned: dict[str, AppRate]

    @classmethod
    def of(cls, app: ItnioApp | int) -> RateTable:
        app_id = app if isinstance(app, int) else app.pk
        card: dict[str, AppRate] = {}
        learned: dict[str, AppRate] = {}
        for rate in AppRate.objects.filter(app_id=app_id):
            (card if rate.source == AppRate.Source.CARD else learned)[rate.prefix] = rate
        return cls(card, learned)

    @property
    def longest(self) -> int:
        """The longest prefix: numbers cut to it resolve to one rate each."""
        return max((len(p) for p in (*self.card, *self.learned)), default=0)

    def lookup(self, number: str) -> AppRate | None:
        for table in (self.card, self.learned):
            for size in range(min(len(number), 15), 0, -1):
                rate = table.get(number[:size])
                if rate is not None:
                    return rate
        return None


# ---------------------------------------------------------------------------
# Learned from records
# ---------------------------------------------------------------------------
def _upsert_learned(rows: dict[tuple[int, str], tuple[Decimal, str, str, datetime]]) -> int:
    """One INSERT … ON CONFLICT for the newest rate per (app, prefix); a row keeps a newer
    rate than the one offered (records arrive out of order)."""
    if not rows:
        return 0
    table = connection.ops.quote_name(AppRate._meta.db_table)
    now = timezone.now()
    values, params = [], []
    # In key order: concurrent appliers lock the rows they upsert in the same order.
    for (app_id, prefix), (rate, currency, period, seen) in sorted(rows.items()):
        values.append("(%s, %s, %s, %s, %s, %s, %s, %s)")
        params += [app_id, prefix, str(rate), currency, period, AppRate.Source.LEARNED, seen, now]
    sql = (
        f"INSERT INTO {table} (app_id, prefix, rate, currency, bill_period, source, seen_at, "
        f"updated_at) VALUES {', '.join(values)} "
        "ON CONFLICT (app_id, prefix, source) DO UPDATE SET rate = excluded.rate, "
        "currency = excluded.currency, bill_period = excluded.bill_period, "
        "seen_at = excluded.seen_at, updated_at = excluded.updated_at "
        f"WHERE {table}.seen_at IS NULL OR {table}.seen_at <= excluded.seen_at"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return len(rows)


def _newest(
    rows: Iterable[tuple[int, str, Any, str, str, datetime | None]],
) -> dict[tuple[int, str], tuple[Decimal, str, str, datetime]]:
    """(app, callee, rate, currency, billPeriod, hang-up) → the newest per (app, prefix)."""
    newest: dict[tuple[int, str], tuple[Decimal, str, str, datetime]] = {}
    for app_id, callee, rate, currency, period, seen in rows:
        prefix = calling_code(callee or "")
        if not prefix or rate is None or not _PERIOD.match(period or "") or seen is None:
            continue
        key = (app_id, prefix)
        if key not in newest or newest[key][3] <= seen:
            newest[key] = (Decimal(rate), currency or "USD", period.strip(), seen)
    return newest


def learn_from_calls(calls: Iterable[Call]) -> int:
    """The final records among `calls` (just applied, in the caller's transaction): one upsert
    of the newest rate per prefix; nothing when none is final."""
    return _upsert_learned(
        _newest(
            (c.app_id, c.callee, c.rate, c.currency, c.bill_period, c.hangup_time)
            for c in calls
            if c.hangup_time is not None
        )
    )


def rates_backfill(*, app: ItnioApp | None = None) -> int:
    """Learn from every existing final call (in id order, chunks of BACKFILL_CHUNK); how many
    (app, prefix) rows were offered."""
    calls = Call.objects.filter(hangup_time__isnull=False, rate__isnull=False)
    if app is not None:
        calls = calls.filter(app=app)
    last, offered = 0, 0
    while True:
        chunk = list(
            calls.filter(pk__gt=last)
            .order_by("pk")
            .values_list(
                "pk", "app_id", "callee", "rate", "currency", "bill_period", "hangup_time"
            )[:BACKFILL_CHUNK]
        )
        if not chunk:
            return offered
        last = chunk[-1][0]
        with transaction.atomic():
            offered += _upsert_learned(_newest(row[1:] for row in chunk))


def unit_check(app: ItnioApp, *, days: int = 30) -> dict[str, Any]:
    """How the app's own records read its rates: of its final calls with a cost in the last
    `days`, the share whose cost equals rate × billed time / 60, and the share whose cost
    equals rate × billed seconds (±0.5 % or one millionth). Two counts in one query."""
    from datetime import timedelta

    from django.db.models import Count, ExpressionWrapper, F, Q
    from django.db.models import DecimalField as Dec
    from django.db.models.functions import Abs

    since = timezone.now() - timedelta(days=days)
    calls = Call.objects.filter(
        app=app,
        placed_at__gte=since,
        hangup_time__isnull=False,
        cost__isnull=False,
        rate__isnull=False,
        charged_duration__isnull=False,
    )
    money = Dec(max_digits=30, decimal_places=10)
    per_second = ExpressionWrapper(F("rate") * F("charged_duration"), output_field=money)
    per_minute = ExpressionWrapper(per_second / 60, output_field=money)

    row = calls.annotate(
        gap_m=ExpressionWrapper(Abs(F("cost") - per_minute), output_field=money),
        gap_s=ExpressionWrapper(Abs(F("cost") - per_second), output_field=money),
        slack=ExpressionWrapper(Abs(F("cost")) * Decimal("0.005"), output_field=money),
    ).aggregate(
        n=Count("pk"),
        minute=Count("pk", filter=Q(gap_m__lte=F("slack")) | Q(gap_m__lte=MICRO)),
        second=Count("pk", filter=Q(gap_s__lte=F("slack")) | Q(gap_s__lte=MICRO)),
    )
    n = row["n"] or 0
    return {
        "calls": n,
        "minute": round(100 * row["minute"] / n, 1) if n else None,
        "second": round(100 * row["second"] / n, 1) if n else None,
    }


# ---------------------------------------------------------------------------
# Rate cards, through the one import pipeline
# ---------------------------------------------------------------------------
class _CardRow(list):
    """A rate-card row as the pipeline passes it on; shown (rejected rows) as its CSV line."""

    def __str__(self) -> str:
        return ",".join("" if v is None else str(v) for v in self)


class CardRowValidator:
    """The pipeline's validator for rate-card rows: (VALID, prefix, "") or (REJECTED, "",
    reason) or (DUPLICATE, prefix, reason); `check` gets the whole row."""

    def __init__(self, columns: list[str]) -> None:
        names = [str(c or "").strip().lower() for c in columns]
        missing = [c for c in CARD_COLUMNS if c not in names]
        if missing:
            raise ImportFileError(
                gettext("A rate card needs the columns %(columns)s; missing: %(missing)s.")
                % {"columns": ",".join(CARD_COLUMNS), "missing": ", ".join(missing)}
            )
        self.index = {c: names.index(c) for c in CARD_COLUMNS}
        self.seen: dict[str, int] = {}

    def cells(self, record: list[Any]) -> dict[str, str]:
        out = {}
        for name, i in self.index.items():
            value = record[i] if i < len(record) else ""
            if isinstance(value, float) and value.is_integer() and name == "prefix":
                value = int(value)
            out[name] = "" if value is None else str(value).strip()
        return out

    def parsed(self, record: list[Any]) -> tuple[str, Decimal, str, str]:
        cells = self.cells(record)
        prefix = cells["prefix"].lstrip("+")
        if prefix.startswith("00"):
            prefix = prefix[2:]
        if not (prefix.isdigit() and prefix.isascii() and 1 <= len(prefix) <= 15):
            raise RateError(gettext("the prefix must be 1–15 digits"))
        try:
            rate = Decimal(cells["rate"])
        except InvalidOperation:
            raise RateError(gettext("the rate is not a number")) from None
        if not rate.is_finite() or rate < 0 or rate >= Decimal(10) ** 12:
            raise RateError(gettext("the rate must be 0 or more"))
        if rate != rate.quantize(MICRO):
            raise RateError(gettext("the rate has more than 6 decimals"))
        currency = cells["currency"].upper()
        if not _CURRENCY.match(currency):
            raise RateError(gettext("the currency must be a three-letter code such as EUR"))
        parse_bill_period(cells["bill_period"])
        return prefix, rate, currency, cells["bill_period"].replace(" ", "")

    def check(self, row: int, record: Any) -> tuple[str, str, str]:
        try:
            prefix, *_rest = self.parsed(record)
        except RateError as exc:
            return REJECTED, "", str(exc)
        first = self.seen.setdefault(prefix, row)
        if first != row:
            return DUPLICATE, prefix, gettext("duplicate of row %(row)s") % {"row": first}
        return VALID, prefix, ""


def rate_card_import(
    *, app: ItnioApp, source: Any, name: str, actor: Actor, dry_run: bool = False
) -> ImportCounts:
    """Import a rate card CSV/XLSX onto an app's rate table (a card row replaces the card's
    previous rate of that prefix). Admins only; the change lands in the app's history."""
    if actor.user is not None and not actor.user.has_perm(CARD_PERMISSION):
        raise PermissionDeniedError(
            gettext("%(who)s may not import rate cards (Admins only).") % {"who": actor.label}
        )
    now = timezone.now()
    with open_table(source, name) as rows:
        validator = CardRowValidator(list(rows.columns))

        def write(chunk: list[tuple[str, int, Any]]) -> list[tuple[int, str]]:
            objs = []
            for _prefix, _row, record in chunk:
                prefix, rate, currency, period = validator.parsed(record)
                objs.append(
                    AppRate(
                        app=app,
                        prefix=prefix,
                        rate=rate,
                        currency=currency,
                        bill_period=period,
                        source=AppRate.Source.CARD,
                        seen_at=now,
                    )
                )
            AppRate.objects.bulk_create(
                objs,
                update_conflicts=True,
                unique_fields=["app", "prefix", "source"],
                update_fields=["rate", "currency", "bill_period", "seen_at", "updated_at"],
            )
            return []

        with transaction.atomic():
            counts = import_stream(
                campaign=None,
                rows=rows,
                dry_run=dry_run,
                validator=validator,  # type: ignore[arg-type]
                number_cell=_CardRow,
                write=None if dry_run else write,
            )
            if not counts.rows:
                raise ImportFileError(gettext("The file has a header but no rows below it."))
            if not dry_run and counts.imported:
                _audit(app, actor, name, counts)
    return counts


def _audit(app: ItnioApp, actor: Actor, name: str, counts: ImportCounts) -> None:
    message = f"Imported the rate card {name}: {counts.summary()}"
    logger.info("%s (app %s, by %s)", message, app.app_id, actor.label)
    if actor.user is not None:
        LogEntry.objects.log_actions(
            user_id=actor.user.pk,
            queryset=[app],
            action_flag=CHANGE,
            change_message=message,
            single_object=True,
        )
