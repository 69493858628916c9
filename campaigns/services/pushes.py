"""The push inbox: store every body first, apply stored entries in batches off the request.

ITNIO signs no push (itnio-api.md §6), retries on HTTP errors every 30 minutes up to 3 times and
may send duplicates late (§6.4). So the receiver's only job is to keep the body durably and
answer: 200 means "stored", anything not stored gets a non-2xx so ITNIO sends it again. The inbox
is the durable queue of the apply worker (`manage.py apply_pushes`): it claims pending entries
(FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers share the queue), applies their reports
with set-based upserts (push_apply.py) and marks them in the same transaction. A transient
database error puts the batch back with a backoff; an error that will not fix itself marks only
the entry that causes it failed, with the reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import ItnioApp, PushEvent
from campaigns.services.bulk import bulk_update_rows, execute_bound, preparer
from campaigns.services.push_apply import ID_KEYS, EntryOutcome, apply_entries, describe_foreign
from campaigns.services.push_bodies import MalformedPush, decode_body, read_reports

logger = logging.getLogger(__name__)

# Errors a retry can fix: the connection went away, a deadlock or serialization failure.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class Stored:
    """What the receiver stored: the inbox entry's id, and `malformed`, the reason when the body
    is no report."""

    event_id: int
    malformed: str | None


def push_store(*, app: ItnioApp, kind: str, raw: bytes, remote_addr: str | None) -> Stored:
    """Keep one pushed body in the inbox (one INSERT). A malformed body is kept too, as failed
    with its reason, for a person to look at; nothing else is written."""
    text, problem = decode_body(raw)
    reports = 0
    if problem is None:
        try:
            reports = len(read_reports(text, ID_KEYS[kind]))
        except MalformedPush as exc:
            problem = str(exc)
    faithful = text.encode("utf-8", "surrogatepass") == raw
    now = timezone.now()
    row = {
        **_ROW_DEFAULTS,
        "app_id": app.pk,
        "kind": kind,
        "body": text,
        "body_bytes": None if faithful else raw,
        "remote_addr": remote_addr,
        "received_at": now,
        "reports": reports,
        "state": PushEvent.State.FAILED if problem else PushEvent.State.PENDING,
        "error": _("Malformed: %(reason)s") % {"reason": problem} if problem else "",
        "processed_at": now if problem else None,
    }
    return Stored(_insert(row), problem)


def _insert(row: dict[str, Any]) -> int:
    """`insert_event`, made once more on a new connection when the kept one turned out dead.

    The WSGI fast path skips Django's per-request connection health check (a `SELECT 1` round
    trip before every push, half of the receiver's database work): a connection that died while
    idle (a database restart, an idle timeout) fails its INSERT instead, and the INSERT is made
    again on a fresh connection. At worst a body whose first INSERT committed just as the
    connection broke is stored twice; applying an entry twice changes nothing."""
    try:
        return insert_event(row)
    except TRANSIENT_ERRORS:
        if connection.in_atomic_block:
            raise
        connection.close()
        return insert_event(row)


_STORED_FIELDS = [f for f in PushEvent._meta.concrete_fields if not f.primary_key]
_PREPARERS = [(f.attname, preparer(f)) for f in _STORED_FIELDS]
_INSERTS: dict[str, str] = {}
# The columns a new entry starts with (attempts, next attempt, foreign reports), once.
_ROW_DEFAULTS = {
    f.attname: f.get_default()
    for f in _STORED_FIELDS
    if not (f.has_default() and callable(f.default))
}


def insert_event(row: dict[str, Any]) -> int:
    """One INSERT … RETURNING id of an inbox row from its column values (by attribute name).
    The receiver's hot path: a model instance and its save cost twice the CPU for the same
    statement, and at hundreds of pushes a second on two cores that is what decides the rate."""
    sql = _INSERTS.get(connection.vendor)
    if sql is None:
        ops = connection.ops
        table = ops.quote_name(PushEvent._meta.db_table)
        columns = ", ".join(ops.quote_name(f.column) for f in _STORED_FIELDS)
        marks = ", ".join(["%s"] * len(_STORED_FIELDS))
        sql = _INSERTS[connection.vendor] = (
            f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING id"
        )
    params = [prepare(row[attname]) for attname, prepare in _PREPARERS]
    if connection.vendor == "postgresql":
        # Prepared once per connection: neither side composes or parses it again for every push.
        return execute_bound(sql, params).fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# ---------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------
@dataclass
class ApplyReport:
    claimed: int = 0
    processed: int = 0
    failed: int = 0
    reports: int = 0
    retried: int = 0

    def add(self, other: ApplyReport) -> None:
        for name in self.__dict__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.__dict__.items())


def _backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s … up to 5 minutes between tries of an entry that met a transient error."""
    return timedelta(seconds=min(2**attempts, 300))


def _claim(*, ids: list[int] | None, limit: int, now: datetime) -> list[PushEvent]:
    queryset = PushEvent.objects.filter(state=PushEvent.State.PENDING)
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    else:
        queryset = queryset.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    return list(
        queryset.select_for_update(skip_locked=True).select_related("app").order_by("id")[:limit]
    )


def _mark(outcomes: list[EntryOutcome], *, now: datetime) -> ApplyReport:
    report = ApplyReport()
    events = []
    for outcome in outcomes:
        event = outcome.event
        event.state = PushEvent.State.FAILED if outcome.failed else PushEvent.State.PROCESSED
        event.error = outcome.error()
        if outcome.foreign:
            event.error = " ".join(filter(None, [event.error, describe_foreign(outcome.foreign)]))
        event.reports = outcome.reports
        event.foreign = outcome.foreign
        event.processed_at = now
        event.next_attempt_at = None
        event.attempts += 1
        events.append(event)
        report.processed += not outcome.failed
        report.failed += outcome.failed
        report.reports += outcome.applied
    bulk_update_rows(
        events,
        ["state", "error", "reports", "foreign", "processed_at", "next_attempt_at", "attempts"],
    )
    return report


def _apply_batch(*, ids: list[int] | None, limit: int, claimed: list[int]) -> ApplyReport:
    """One transaction: claim, apply, mark. `claimed` receives the ids it claimed, so a caller
    whose batch raised knows which entries to look at."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        events = _claim(ids=ids, limit=limit, now=now)
        claimed[:] = [e.pk for e in events]
        if not events:
            return ApplyReport()
        report = _mark(apply_entries(events, now=now), now=now)
    report.claimed = len(events)
    return report


def _apply_one_by_one(ids: list[int]) -> ApplyReport:
    """After a batch failed on something that will not fix itself: apply its entries one at a
    time, so only the entry that causes the error is marked failed (with that error)."""
    report = ApplyReport()
    for pk in ids:
        try:
            one = _apply_batch(ids=[pk], limit=1, claimed=[])
        except TRANSIENT_ERRORS:
            raise
        except Exception as exc:
            logger.exception("Push %s could not be applied", pk)
            PushEvent.objects.filter(pk=pk, state=PushEvent.State.PENDING).update(
                state=PushEvent.State.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                processed_at=timezone.now(),
                attempts=1,
            )
            report.claimed += 1
            report.failed += 1
            continue
        report.add(one)
    return report


def _defer(ids: list[int], error: BaseException) -> None:
    """A transient error: put the entries back with a later next attempt (never failed)."""
    now = timezone.now()
    reason = _("Will try again: %(error)s") % {"error": f"{type(error).__name__}: {error}"}
    for event in PushEvent.objects.filter(pk__in=ids, state=PushEvent.State.PENDING):
        PushEvent.objects.filter(pk=event.pk).update(
            attempts=event.attempts + 1,
            next_attempt_at=now + _backoff(event.attempts + 1),
            error=reason[:500],
        )


def pushes_apply(*, ids: list[int] | None = None, limit: int | None = None) -> ApplyReport:
    """Apply one batch of due pending entries (or the given ones). Transient database errors
    are raised after the entries were put back for later (the loop reconnects and goes on)."""
    limit = limit or settings.PUSH_APPLY_BATCH
    claimed: list[int] = []
    for _attempt in range(3):
        try:
            return _apply_batch(ids=ids, limit=limit, claimed=claimed)
        except IntegrityError:
            # Another writer inserted one of the new voiceIds meanwhile: run the batch again.
            continue
        except TRANSIENT_ERRORS as exc:
            _defer_safely(claimed, exc)
            raise
        except Exception:
            logger.warning("A batch of %s push(es) failed; applying them one by one", len(claimed))
            break
    # Something in one of the claimed entries keeps failing the batch: find it.
    return _apply_one_by_one(list(claimed))


def _defer_safely(ids: list[int], exc: BaseException) -> None:
    if not ids:
        return
    try:
        _defer(ids, exc)
    except DatabaseError:
        logger.warning("Could not defer %s push(es) after %s", len(ids), exc)


def pushes_apply_due(*, max_seconds: float | None = None) -> ApplyReport:
    """Apply batches until nothing is due or `max_seconds` passed (the scheduler's fallback for
    a deployment whose apply worker is not running)."""
    deadline = time.monotonic() + (max_seconds or settings.PUSH_APPLY_MAX_SECONDS)
    total = ApplyReport()
    while time.monotonic() < deadline:
        report = pushes_apply()
        total.add(report)
        if not report.claimed:
            break
    return total


def pushes_reprocess(queryset: Any) -> tuple[int, int]:
    """Apply inbox entries again now (any state); returns (processed, failed)."""
    ids = list(queryset.order_by("id").values_list("pk", flat=True))
    PushEvent.objects.filter(pk__in=ids).exclude(body_bytes__isnull=False).update(
        state=PushEvent.State.PENDING, next_attempt_at=None, error=""
    )
    ok = failed = 0
    batch = settings.PUSH_APPLY_BATCH
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        report = pushes_apply(ids=chunk, limit=len(chunk))
        ok += report.processed
        failed += report.failed
    # Bodies that are not text (kept as bytes) cannot be applied: they stay failed.
    failed += PushEvent.objects.filter(pk__in=ids, body_bytes__isnull=False).count()
    return ok, failed


# ---------------------------------------------------------------------------
# Housekeeping
# ---------------------------------------------------------------------------
def _first_id_since(moment: datetime) -> int | None:
    """The id of the first entry received at or after `moment` (ids follow arrival; walked in
    key order, so it reads only the entries before it)."""
    return (
        PushEvent.objects.filter(received_at__gte=moment)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )


def pushes_prune(*, now: datetime | None = None, chunk: int = 5000) -> int:
    """Delete applied entries older than PUSH_RETENTION_DAYS (failed ones are kept), by key
    range: the inbox keeps no index on its times."""
    days = settings.PUSH_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    boundary = _first_id_since(cutoff)
    old = PushEvent.objects.filter(state=PushEvent.State.PROCESSED, processed_at__lt=cutoff)
    if boundary is not None:
        old = old.filter(pk__lt=boundary)
    deleted = 0
    while True:
        ids = list(old.order_by("id").values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        deleted += PushEvent.objects.filter(pk__in=ids).delete()[0]


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest: datetime | None


def pushes_backlog() -> Backlog:
    """How many entries wait to be applied, and since when (both read from the queue index)."""
    pending = PushEvent.objects.filter(state=PushEvent.State.PENDING)
    oldest = pending.order_by("id").values_list("received_at", flat=True).first()
    return Backlog(pending.count(), oldest)
