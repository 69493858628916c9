"""Campaigns: launch, pause, resume, cancel, crash-safe chunked dispatch, recovery, reconciliation.

Exactly-once rules (design.md conventions 2, 3, 10):
- a batch and its callees are committed as SENDING before its sendGroup request;
- per-callee results are committed after; accepted numbers get their Call;
- a connection that never opened puts the batch back to PENDING (nothing reached ITNIO);
- a read timeout, a dropped connection or a 5xx makes the batch and its callees UNKNOWN, and
  nothing UNKNOWN is ever resent automatically: reconciliation looks it up in ITNIO's records,
  and only an operator may release what is still unknown for resending;
- one dispatcher per campaign at a time, by a lease renewed as a heartbeat; a dispatcher that
  dies leaves a stale lease, and the scheduler tick starts a new one, which first marks the
  dead one's SENDING batches UNKNOWN;
- a lost database connection does not end a dispatch: each thread reconnects (dbretry), answers
  in flight are written once the database is back, and a cut run starts again under its lease.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from campaigns.models import Call, Callee, Campaign, DispatchBatch, ItnioApp, VoiceFile
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.calls import call_upsert_record
from campaigns.services.dbretry import retrying, surviving_lost_connection
from campaigns.services.request_log import RequestLogBuffer, logged_client
from itnio_portal.itnio import (
    ItnioApiError,
    ItnioError,
    ItnioLimitError,
    ItnioNotSentError,
    SendResult,
)

logger = logging.getLogger(__name__)

ACTIVE_STATES = (Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED)
FINAL_STATES = (Campaign.State.COMPLETED, Campaign.State.CANCELLED)


class CampaignError(Exception):
    """The campaign cannot do what was asked; the message says why."""


# ---------------------------------------------------------------------------
# Plans and progress
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    campaign: Campaign
    callees: int
    requests: int
    per_request: int
    staged: int
    problems: list[str]

    def lines(self) -> list[str]:
        c = self.campaign
        window = (
            f"{c.window_start:%H:%M}–{c.window_end:%H:%M} {c.window_tz}"
            if c.window_start and c.window_end
            else "any time"
        )
        return [
            f"Campaign:        {c.name}",
            f"Callees:         {self.callees:,} pending",
            f"Requests:        {self.requests:,} sendGroup requests of up to {self.per_request}",
            f"App:             {c.app.app_id} ({c.app.account.name})",
            f"Voice file:      {c.voice_file.file_name} "
            f"(ITNIO file ID {c.voice_file.remote_file_id or '—'})",
            f"Display number:  {c.display_num or '(ITNIO default)'}",
            f"Loop count:      {c.loop_count or 1}",
            f"Start:           {c.scheduled_start.isoformat() if c.scheduled_start else 'now'}",
            f"Calling window:  {window}",
        ]


def campaign_plan(campaign: Campaign) -> Plan:
    """What launching would do, and what stops it."""
    counts = _state_counts(campaign)
    pending = counts.get(Callee.State.PENDING, 0)
    per = settings.ITNIO_SEND_GROUP_MAX
    problems = []
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
        problems.append(
            f"The campaign is {campaign.get_state_display().lower()}; only a draft can be launched."
        )
    if campaign.app.kind != ItnioApp.Kind.VOICE or not campaign.app.active:
        problems.append(f"App {campaign.app.app_id} is not an active voice app.")
    if campaign.voice_file.state != VoiceFile.State.UPLOADED:
        problems.append(f"Voice file {campaign.voice_file.file_name} is not uploaded to ITNIO yet.")
    elif campaign.voice_file.account_id != campaign.app.account_id:
        problems.append("The voice file belongs to another ITNIO account than the app.")
    if pending == 0:
        problems.append("No pending callees: import a list (and confirm it) first.")
    return Plan(
        campaign=campaign,
        callees=pending,
        requests=math.ceil(pending / per) if pending else 0,
        per_request=per,
        staged=counts.get(Callee.State.STAGED, 0),
        problems=problems,
    )


def _state_counts(campaign: Campaign) -> dict[str, int]:
    rows = (
        Callee.objects.filter(campaign=campaign).values("state").annotate(n=Count("id")).order_by()
    )
    return {row["state"]: row["n"] for row in rows}


@dataclass
class Progress:
    counts: dict[str, int]
    total: int
    done: int
    percent: float
    rate_per_minute: float | None
    eta: datetime | None
    batches: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "total": self.total,
            "done": self.done,
            "percent": round(self.percent, 1),
            "rate_per_minute": self.rate_per_minute,
            "eta": self.eta.isoformat() if self.eta else None,
            "batches": self.batches,
        }


def campaign_progress(campaign: Campaign, *, now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    counts = {state: 0 for state in Callee.State.values if state != Callee.State.STAGED}
    counts.update({k: v for k, v in _state_counts(campaign).items() if k != Callee.State.STAGED})
    total = sum(counts.values())
    done = (
        counts[Callee.State.SUBMITTED]
        + counts[Callee.State.REJECTED]
        + counts[Callee.State.UNKNOWN]
    )
    batches = dict(
        DispatchBatch.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    # Throughput over the last five minutes of finished requests gives the estimate.
    since = now - timedelta(minutes=5)
    recent = DispatchBatch.objects.filter(
        campaign=campaign, request_finished_at__gte=since
    ).aggregate(n=Count("id"), first=Max("request_finished_at"))
    recent_sizes = sum(
        DispatchBatch.objects.filter(campaign=campaign, request_finished_at__gte=since).values_list(
            "size", flat=True
        )
    )
    rate = eta = None
    if recent["n"]:
        first_started = (
            DispatchBatch.objects.filter(campaign=campaign, request_finished_at__gte=since)
            .order_by("request_started_at")
            .values_list("request_started_at", flat=True)
            .first()
        )
        minutes = max((now - first_started).total_seconds() / 60, 1 / 60) if first_started else None
        if minutes:
            rate = round(recent_sizes / minutes, 1)
            remaining = counts[Callee.State.PENDING] + counts[Callee.State.SENDING]
            if rate and campaign.state == Campaign.State.RUNNING and remaining:
                eta = now + timedelta(minutes=remaining / rate)
    return Progress(
        counts=counts,
        total=total,
        done=done,
        percent=(100.0 * done / total) if total else 0.0,
        rate_per_minute=rate,
        eta=eta,
        batches=batches,
    )


# ---------------------------------------------------------------------------
# State changes
# ---------------------------------------------------------------------------
def _require(actor: Actor) -> None:
    if not actor.may_place_calls():
        raise PermissionDeniedError(f"{actor.label} may not launch or steer campaigns.")


def _set_state(campaign: Campaign, state: str, reason: str, by: str) -> None:
    Campaign.objects.filter(pk=campaign.pk).update(
        state=state, state_reason=reason, state_changed_at=timezone.now(), state_changed_by=by[:150]
    )
    campaign.refresh_from_db()


def campaign_launch(*, campaign: Campaign, actor: Actor) -> Campaign:
    """Start sending (or schedule the start). The dispatch task is enqueued on commit."""
    _require(actor)
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update()
            .select_related("app__account", "voice_file")
            .get(pk=campaign.pk)
        )
        plan = campaign_plan(campaign)
        if plan.problems:
            raise CampaignError(" ".join(plan.problems))
        now = timezone.now()
        if campaign.scheduled_start and campaign.scheduled_start > now:
            _set_state(
                campaign,
                Campaign.State.SCHEDULED,
                f"Scheduled for {campaign.scheduled_start:%Y-%m-%d %H:%M %Z} by {actor.label}",
                actor.label,
            )
        else:
            _set_state(campaign, Campaign.State.RUNNING, f"Launched by {actor.label}", actor.label)
            Campaign.objects.filter(pk=campaign.pk).update(launched_at=now)
            _enqueue_dispatch_on_commit(campaign)
    campaign.refresh_from_db()
    return campaign


def campaign_pause(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    _require(actor)
    if campaign.state not in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
        raise CampaignError(
            "Only a running or scheduled campaign can be paused "
            f"(it is {campaign.get_state_display().lower()})."
        )
    _set_state(campaign, Campaign.State.PAUSED, reason or f"Paused by {actor.label}", actor.label)
    return campaign


def campaign_resume(*, campaign: Campaign, actor: Actor) -> Campaign:
    _require(actor)
    if campaign.state != Campaign.State.PAUSED:
        raise CampaignError(
            f"Only a paused campaign can be resumed (it is {campaign.get_state_display().lower()})."
        )
    with transaction.atomic():
        if (
            campaign.scheduled_start
            and campaign.scheduled_start > timezone.now()
            and not campaign.launched_at
        ):
            _set_state(campaign, Campaign.State.SCHEDULED, f"Resumed by {actor.label}", actor.label)
        else:
            _set_state(campaign, Campaign.State.RUNNING, f"Resumed by {actor.label}", actor.label)
            if not campaign.launched_at:
                Campaign.objects.filter(pk=campaign.pk).update(launched_at=timezone.now())
            _enqueue_dispatch_on_commit(campaign)
    return campaign


def campaign_cancel(*, campaign: Campaign, actor: Actor) -> Campaign:
    _require(actor)
    if campaign.state in FINAL_STATES:
        raise CampaignError(f"The campaign is already {campaign.get_state_display().lower()}.")
    _set_state(
        campaign,
        Campaign.State.CANCELLED,
        f"Cancelled by {actor.label}; pending callees will not be called",
        actor.label,
    )
    Campaign.objects.filter(pk=campaign.pk).update(completed_at=timezone.now())
    campaign.refresh_from_db()
    return campaign


def _enqueue_dispatch_on_commit(campaign: Campaign) -> None:
    from campaigns.tasks import dispatch_campaign

    campaign_id = campaign.pk

    def enqueue() -> None:
        dispatch_campaign.enqueue(campaign_id)

    transaction.on_commit(enqueue)


# ---------------------------------------------------------------------------
# Calling window
# ---------------------------------------------------------------------------
def in_calling_window(campaign: Campaign, now: datetime | None = None) -> bool:
    """No window means any time. A window may cross midnight (22:00–02:00)."""
    if not (campaign.window_start and campaign.window_end):
        return True
    local = (now or timezone.now()).astimezone(ZoneInfo(campaign.window_tz or "UTC")).time()
    start, end = campaign.window_start, campaign.window_end
    if start <= end:
        return start <= local < end
    return local >= start or local < end


# ---------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------
def _lease_stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)


def _acquire_lease(campaign_id: int, lease: str) -> bool:
    now = timezone.now()
    taken = (
        Campaign.objects.filter(pk=campaign_id)
        .filter(
            Q(dispatch_lease="")
            | Q(dispatch_lease=lease)  # retried after a lost connection: it may have landed
            | Q(dispatch_heartbeat_at__isnull=True)
            | Q(dispatch_heartbeat_at__lt=_lease_stale_before(now))
            | Q(dispatch_lease__startswith="queued")
        )
        .update(dispatch_lease=lease, dispatch_heartbeat_at=now)
    )
    return taken == 1


def _heartbeat(campaign_id: int, lease: str) -> bool:
    return (
        Campaign.objects.filter(pk=campaign_id, dispatch_lease=lease).update(
            dispatch_heartbeat_at=timezone.now()
        )
        == 1
    )


def _release_lease(campaign_id: int, lease: str) -> None:
    Campaign.objects.filter(pk=campaign_id, dispatch_lease=lease).update(
        dispatch_lease="", dispatch_heartbeat_at=timezone.now()
    )


def _orphans_to_unknown(campaign_id: int, reason: str) -> int:
    """SENDING batches of a dispatcher that is gone: their outcome is unknown."""
    with transaction.atomic():
        batch_ids = list(
            DispatchBatch.objects.select_for_update()
            .filter(campaign_id=campaign_id, state=DispatchBatch.State.SENDING)
            .values_list("id", flat=True)
        )
        if not batch_ids:
            return 0
        DispatchBatch.objects.filter(id__in=batch_ids).update(
            state=DispatchBatch.State.UNKNOWN, reason=reason
        )
        Callee.objects.filter(batch_id__in=batch_ids, state=Callee.State.SENDING).update(
            state=Callee.State.UNKNOWN, reason=reason
        )
    return len(batch_ids)


def _called_info(campaign: Campaign, batch: DispatchBatch) -> str:
    tag = batch.tag
    base = campaign.called_info[: 1000 - len(tag) - 1].strip()
    return f"{base} {tag}" if base else tag


Claimed = tuple[DispatchBatch, list[tuple[int, str]]]


class _Claimer:
    """Commits the next batch as SENDING before its request: a batch put back to pending
    first, else a new one. Only the lease holder claims, so the sequence is kept in memory."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        last = DispatchBatch.objects.filter(campaign=campaign).aggregate(m=Max("sequence"))["m"]
        self.next_sequence = (last or 0) + 1
        self.retry_pending = DispatchBatch.objects.filter(
            campaign=campaign, state=DispatchBatch.State.PENDING
        ).exists()
        self.last_id = 0
        self.claiming: int | None = None  # the batch of a claim not yet handed to a sender

    def claim(self) -> Claimed | None:
        if self.retry_pending:
            claimed = self._claim_pending()
            if claimed is not None:
                self.claiming = None
                return claimed
            self.retry_pending = False
        claimed = self._claim_new()
        self.claiming = None
        return claimed

    def _claim_pending(self) -> Claimed | None:
        with transaction.atomic():
            batch = (
                DispatchBatch.objects.select_for_update()
                .filter(campaign=self.campaign, state=DispatchBatch.State.PENDING)
                .order_by("sequence")
                .first()
            )
            if batch is None:
                return None
            self.claiming = batch.pk
            pairs = list(
                Callee.objects.filter(batch=batch, state=Callee.State.PENDING)
                .order_by("id")
                .values_list("id", "number")
            )
            if not pairs:
                DispatchBatch.objects.filter(pk=batch.pk).update(state=DispatchBatch.State.SENT)
                return self._claim_pending()
            batch.state = DispatchBatch.State.SENDING
            batch.request_started_at = timezone.now()
            batch.request_finished_at = None
            batch.attempts += 1
            batch.save(
                update_fields=["state", "request_started_at", "request_finished_at", "attempts"]
            )
            Callee.objects.filter(batch=batch, state=Callee.State.PENDING).update(
                state=Callee.State.SENDING
            )
        return batch, pairs

    def _claim_new(self) -> Claimed | None:
        claimed = self._claim_new_after(self.last_id)
        if claimed is None and self.last_id:
            # Numbers released back to pending sit below the cursor: one full look.
            self.last_id = 0
            claimed = self._claim_new_after(0)
        if claimed is not None:
            self.last_id = max(self.last_id, claimed[1][-1][0])
        return claimed

    def after_lost_connection(self) -> None:
        """A claim cut by a lost connection may have committed before the cut. Its batch was
        never sent (the sender had not got it), so it goes back to pending; its sequence is never
        reused."""
        if self.claiming is not None:
            with transaction.atomic():
                reverted = DispatchBatch.objects.filter(
                    pk=self.claiming, state=DispatchBatch.State.SENDING
                ).update(
                    state=DispatchBatch.State.PENDING,
                    reason="Claimed as the database connection was lost; not sent.",
                )
                if reverted:
                    Callee.objects.filter(
                        batch_id=self.claiming, state=Callee.State.SENDING
                    ).update(state=Callee.State.PENDING)
            self.claiming = None
        self.next_sequence += 1
        self.retry_pending = True

    def _claim_new_after(self, last_id: int) -> Claimed | None:
        # Callees are taken in id order by the only lease holder, so starting after the last
        # id taken skips the index entries of rows already sent (on PostgreSQL those stay in
        # the index until vacuum, and rescanning them made each claim slower than the last).
        table = Callee._meta.db_table
        with transaction.atomic():
            batch = DispatchBatch(
                campaign=self.campaign,
                sequence=self.next_sequence,
                state=DispatchBatch.State.SENDING,
                request_started_at=timezone.now(),
                attempts=1,
            )
            batch.called_info = _called_info(self.campaign, batch)
            batch.save()
            self.claiming = batch.pk
            # One statement takes the next numbers and marks them (PostgreSQL, SQLite ≥ 3.35).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET batch_id = %s, state = %s WHERE id IN ("
                    f"SELECT id FROM {table} WHERE campaign_id = %s AND state = %s "
                    f"AND id > %s AND batch_id IS NULL ORDER BY id LIMIT %s) RETURNING id, number",
                    [
                        batch.pk,
                        Callee.State.SENDING,
                        self.campaign.pk,
                        Callee.State.PENDING,
                        last_id,
                        settings.ITNIO_SEND_GROUP_MAX,
                    ],
                )
                pairs = sorted(cursor.fetchall())
            if not pairs:
                transaction.set_rollback(True)
                return None
            batch.size = len(pairs)  # stored with the outcome
        self.next_sequence += 1
        return batch, pairs


def _post(
    client: Any, campaign: Campaign, batch: DispatchBatch, numbers: list[str]
) -> list[SendResult]:
    """The HTTP part only (runs in a pool thread; no database access here)."""
    return client.send_group(
        app_id=campaign.app.app_id,
        file_id=campaign.voice_file.remote_file_id,
        callees=numbers,
        display_num=campaign.display_num or None,
        max_duration=campaign.max_duration,
        max_ringing_time=campaign.max_ringing_time,
        loop_count=campaign.loop_count,
        called_info=batch.called_info,
    )


@dataclass
class DispatchReport:
    batches_sent: int = 0
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    not_sent: int = 0
    stopped: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Senders run in parallel threads: count under a lock."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def __str__(self) -> str:
        return (
            f"batches={self.batches_sent} accepted={self.accepted} rejected={self.rejected} "
            f"unknown={self.unknown} not_sent={self.not_sent} stopped={self.stopped or '-'}"
        )


def _record_success(
    campaign: Campaign,
    batch: DispatchBatch,
    pairs: list[tuple[int, str]],
    results: list[SendResult],
    report: DispatchReport,
) -> None:
    """Commit a sendGroup answer: a Call per accepted number, each callee's outcome, the batch.

    A handful of set-based statements per batch, not a query per callee: this runs for every
    answer, and at 200 numbers a request the database work decides the dispatch rate.
    """
    now = timezone.now()
    by_number = {r.callee: r for r in results}
    outcomes: list[tuple[int, str, str, str]] = []
    for callee_id, number in pairs:
        result = by_number.get(number)
        if result is None:
            reason = "ITNIO's answer did not mention this number."
            outcomes.append((callee_id, Callee.State.UNKNOWN, "", reason))
        elif result.accepted and result.voice_id:
            outcomes.append((callee_id, Callee.State.SUBMITTED, result.voice_id, ""))
        else:
            reason = f"{result.termination_code}: {result.termination_reason}".strip(": ")
            outcomes.append((callee_id, Callee.State.REJECTED, "", reason))
    accepted = {o[2]: o[0] for o in outcomes if o[1] == Callee.State.SUBMITTED}
    numbers = dict(pairs)
    with transaction.atomic():
        _relaxed_commit()
        call_ids = _insert_calls(
            campaign, batch, {vid: numbers[cid] for vid, cid in accepted.items()}, now
        )
        _write_callee_outcomes(
            [(cid, state, vid, reason, call_ids.get(vid)) for cid, state, vid, reason in outcomes]
        )
        states = Counter(o[1] for o in outcomes)
        DispatchBatch.objects.filter(pk=batch.pk).update(
            size=len(pairs),
            state=DispatchBatch.State.SENT,
            request_finished_at=now,
            code="0",
            reason="",
            accepted=states[Callee.State.SUBMITTED],
            rejected=states[Callee.State.REJECTED],
        )
    report.add(
        batches_sent=1,
        accepted=states[Callee.State.SUBMITTED],
        rejected=states[Callee.State.REJECTED],
        unknown=states[Callee.State.UNKNOWN],
    )


def _relaxed_commit() -> None:
    """On PostgreSQL, let this transaction commit without waiting for its WAL flush.

    Only for outcome writes: if the database crashed and lost the last few of them, their
    batches would still read SENDING, which the recovery tick turns into UNKNOWN and
    reconciliation resolves, so nothing is ever resent. The SENDING mark written before a
    request keeps the default, durable commit.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _insert_calls(
    campaign: Campaign, batch: DispatchBatch, accepted: dict[str, str], now: datetime
) -> dict[str, int]:
    """Insert a Call for every accepted voiceId (→ number) in one statement; return voiceId → id.

    A status push can beat the HTTP answer and create the Call first: such calls are not
    inserted again (NOT EXISTS on the unique voiceId), only claimed for the campaign.
    """
    if not accepted:
        return {}
    call_table = Call._meta.db_table
    known = {
        "app_id": campaign.app_id,
        "campaign_id": campaign.pk,
        "kind": Call.Kind.GROUP,
        "state": Call.State.SUBMITTED,
        "display_num": campaign.display_num,
        "called_info": batch.called_info,
        "voice_file_id": campaign.voice_file.remote_file_id,
        "submit_time": now,
        "created_by": f"campaign:{campaign.name}"[:150],
        "created_at": now,
    }
    from_values = {"callee": "v.number", "voice_id": "v.voice_id"}
    columns, exprs, params = [], [], []
    for model_field in Call._meta.concrete_fields:
        if model_field.primary_key or model_field.generated:
            continue
        columns.append(connection.ops.quote_name(model_field.column))
        if model_field.column in from_values:
            exprs.append(from_values[model_field.column])
            continue
        value = known.get(model_field.column, model_field.get_default())
        exprs.append("%s")
        params.append(model_field.get_db_prep_save(value, connection))
    if connection.vendor == "postgresql":
        # Two array parameters: a short statement psycopg prepares once, however many rows.
        source = "SELECT * FROM unnest(%s::text[], %s::text[])"
        values: list[Any] = [list(accepted.values()), list(accepted)]
    else:
        source = "VALUES " + ", ".join(["(%s, %s)"] * len(accepted))
        values = [x for voice_id, number in accepted.items() for x in (number, voice_id)]
    sql = (
        f"WITH v(number, voice_id) AS ({source}) "
        f"INSERT INTO {call_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM v "
        f"WHERE NOT EXISTS (SELECT 1 FROM {call_table} x WHERE x.voice_id = v.voice_id) "
        # A push applied at this very moment may insert the same voiceId: skip it, never fail
        # the outcome write (the row is claimed for the campaign below).
        f"ON CONFLICT (voice_id) DO NOTHING "
        f"RETURNING id, voice_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params])
        call_ids = {voice_id: pk for pk, voice_id in cursor.fetchall()}
    early = [voice_id for voice_id in accepted if voice_id not in call_ids]
    if early:
        Call.objects.filter(voice_id__in=early, campaign__isnull=True).update(campaign=campaign)
        call_ids.update(
            {
                vid: pk
                for pk, vid in Call.objects.filter(voice_id__in=early).values_list("id", "voice_id")
            }
        )
    return call_ids


def _write_callee_outcomes(outcomes: list[tuple[int, str, str, str, int | None]]) -> None:
    """One UPDATE … FROM a VALUES list of (id, state, voice_id, reason, call id) for the whole
    batch (Django's bulk_update builds a CASE per column and row: it was the dispatcher's
    bottleneck). Works on PostgreSQL and SQLite ≥ 3.33 alike."""
    if not outcomes:
        return
    table = Callee._meta.db_table
    if connection.vendor == "postgresql":
        source = (
            "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[])"
        )
        params: list[Any] = [list(column) for column in zip(*outcomes, strict=True)]
    else:
        source = "VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(outcomes))
        params = [value for outcome in outcomes for value in outcome]
    sql = (
        f"WITH v(id, state, voice_id, reason, call_id) AS ({source}) "
        f"UPDATE {table} SET state = v.state, voice_id = v.voice_id, reason = v.reason, "
        f"call_id = CAST(v.call_id AS BIGINT) "
        f"FROM v WHERE {table}.id = CAST(v.id AS BIGINT) AND {table}.state = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Callee.State.SENDING])


def _record_failure(
    campaign: Campaign, batch: DispatchBatch, exc: BaseException, report: DispatchReport
) -> str | None:
    """Write a failed request's outcome. Returns a reason to pause the campaign, if any."""
    now = timezone.now()
    if isinstance(exc, ItnioNotSentError | ItnioApiError | ItnioLimitError):
        # Nothing was placed: the batch goes back to pending, untouched. Only this attempt's:
        # written again after a lost connection, this must not touch the batch once another
        # sender has claimed it anew (attempts went up) and is sending it.
        with transaction.atomic():
            if DispatchBatch.objects.filter(
                pk=batch.pk, state=DispatchBatch.State.SENDING, attempts=batch.attempts
            ).update(
                state=DispatchBatch.State.PENDING,
                request_finished_at=now,
                code=getattr(exc, "code", "") or "",
                reason=f"Not placed: {exc}",
            ):
                Callee.objects.filter(batch=batch, state=Callee.State.SENDING).update(
                    state=Callee.State.PENDING
                )
        if isinstance(exc, ItnioNotSentError):
            report.add(not_sent=1)
            return None
        # Balance (-10), authentication (-1, -2), a parameter or any other refusal: it will
        # not get better by itself, so stop and tell the operator.
        return f"ITNIO refused batch {batch.sequence}: {exc}"
    reason = (
        f"{exc}"
        if isinstance(exc, ItnioError)
        else f"The dispatcher failed while sending ({type(exc).__name__})."
    )
    reason += (
        " The request may have reached ITNIO; it is never resent automatically: "
        "reconcile the campaign."
    )
    with transaction.atomic():
        DispatchBatch.objects.filter(pk=batch.pk).update(
            state=DispatchBatch.State.UNKNOWN, request_finished_at=now, reason=reason
        )
        report.add(
            unknown=Callee.objects.filter(batch=batch, state=Callee.State.SENDING).update(
                state=Callee.State.UNKNOWN, reason=reason
            )
        )
    return None


@dataclass
class _Control:
    """What the dispatcher's supervisor tells its senders, and what they report back."""

    may_send: bool = True
    stop: bool = False
    retry_after: float = 0.0
    not_sent_streak: int = 0
    pause_reason: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    claim_lock: threading.Lock = field(default_factory=threading.Lock)


def campaign_dispatch(campaign_id: int) -> DispatchReport:
    """Send a running campaign's pending callees.

    ITNIO_DISPATCH_CONCURRENCY senders each loop: commit a batch as SENDING, POST it, hand the
    answer over; a few recorders commit the answers, each sender and recorder on its own
    database connection, so the database work of one batch overlaps the requests of the
    others. The calling thread supervises: the lease heartbeat, pause/cancel/window checks.

    A run cut by a lost database connection starts again under the same lease once the
    database is back (what it left SENDING becomes UNKNOWN first, as after a crash).
    """
    report = DispatchReport()
    lease = uuid.uuid4().hex
    if not retrying(_acquire_lease, campaign_id, lease):
        report.stopped = "another dispatcher is running"
        return report
    try:
        retrying(_dispatch_run, campaign_id, lease, report)
    finally:
        retrying(_release_lease, campaign_id, lease)
    campaign = Campaign.objects.get(pk=campaign_id)
    if not report.stopped:
        report.stopped = (
            "nothing left to send"
            if campaign.state == Campaign.State.RUNNING and in_calling_window(campaign)
            else f"campaign {campaign.state}"
            if campaign.state != Campaign.State.RUNNING
            else "outside the calling window"
        )
    _complete_if_done(campaign)
    return report


def _dispatch_run(campaign_id: int, lease: str, report: DispatchReport) -> None:
    """One run of the senders and recorders under the lease, until they stop."""
    if not _heartbeat(campaign_id, lease):  # a run started again: the lease may be gone
        report.stopped = "lost the dispatch lease"
        return
    _orphans_to_unknown(
        campaign_id,
        "The dispatcher stopped while this request was in flight; its outcome is unknown.",
    )
    campaign = Campaign.objects.select_related("app__account", "voice_file").get(pk=campaign_id)
    buffer = RequestLogBuffer(actor=Actor.system(f"dispatch:{campaign.name}"))
    client = buffer.client(campaign.app.account)
    claimer = _Claimer(campaign)
    control = _Control(may_send=_may_send(campaign))
    concurrency = max(1, settings.ITNIO_DISPATCH_CONCURRENCY)
    # Bounded: answers not yet written are what a crash turns into UNKNOWN.
    answers: queue.Queue[Any] = queue.Queue(maxsize=concurrency)
    senders = [
        threading.Thread(
            target=_sender,
            args=(campaign, client, claimer, control, answers),
            name=f"dispatch-{campaign_id}-send-{i}",
            daemon=True,
        )
        for i in range(concurrency)
    ]
    recorders = [
        threading.Thread(
            target=_recorder,
            args=(campaign, claimer, control, answers, report),
            name=f"dispatch-{campaign_id}-record-{i}",
            daemon=True,
        )
        for i in range(max(1, concurrency // 2))
    ]
    heartbeat_every = max(0.5, settings.DISPATCH_LEASE_SECONDS / 4)
    last_heartbeat = last_flush = time.monotonic()
    for thread in senders + recorders:
        thread.start()
    try:
        while any(sender.is_alive() for sender in senders):
            for sender in senders:
                sender.join(timeout=0.2 / concurrency)
            now = time.monotonic()
            with surviving_lost_connection("The dispatcher", should_stop=lambda: control.stop):
                if now - last_heartbeat >= heartbeat_every:
                    if not _heartbeat(campaign_id, lease):
                        report.stopped = "lost the dispatch lease"
                        control.stop = True
                    last_heartbeat = now
                campaign.refresh_from_db(fields=["state"])
                control.may_send = _may_send(campaign)
                if not control.may_send:
                    control.stop = True
                if now - last_flush >= 2:
                    buffer.flush()
                    last_flush = now
    finally:
        control.stop = True
        for sender in senders:
            sender.join()
        for _recorder_thread in recorders:
            answers.put(_DONE)
        for recorder in recorders:
            recorder.join()
        retrying(buffer.flush)
    if control.pause_reason:
        retrying(_pause_if_running, campaign, control.pause_reason)


def _pause_if_running(campaign: Campaign, reason: str) -> None:
    campaign.refresh_from_db()
    if campaign.state == Campaign.State.RUNNING:
        _set_state(campaign, Campaign.State.PAUSED, reason, "portal")


_DONE = object()


def _sender(
    campaign: Campaign,
    client: Any,
    claimer: _Claimer,
    control: _Control,
    answers: queue.Queue[Any],
) -> None:
    """Claim, POST, hand the answer to a recorder; until nothing is left or told to stop.
    A lost database connection is waited out (the POST needs none)."""

    def stopped() -> bool:
        return control.stop

    try:
        while not control.stop and control.may_send:
            # Pause, cancel and the calling window are honoured between batches.
            with surviving_lost_connection("A sender", should_stop=stopped) as cut:
                state = (
                    Campaign.objects.filter(pk=campaign.pk).values_list("state", flat=True).first()
                )
            if cut.lost:
                continue
            if state != Campaign.State.RUNNING or not in_calling_window(campaign):
                return
            wait_s = control.retry_after - time.time()
            if wait_s > 0:
                time.sleep(min(wait_s, 0.5))
                continue
            with control.claim_lock:
                if control.stop:
                    return
                with surviving_lost_connection("A sender", should_stop=stopped) as cut:
                    claimed = claimer.claim()
                if cut.lost:
                    retrying(claimer.after_lost_connection, should_stop=stopped)
                    continue
            if claimed is None:
                return
            batch, pairs = claimed
            results, error = None, None
            try:
                results = _post(client, campaign, batch, [number for _id, number in pairs])
            except BaseException as exc:  # written down by a recorder
                error = exc
            with control.lock:
                if isinstance(error, ItnioApiError | ItnioLimitError):
                    # A refusal stops every sender before its batch can be claimed again.
                    control.stop = True
                elif isinstance(error, ItnioNotSentError):
                    control.not_sent_streak += 1
                    control.retry_after = time.time() + min(2**control.not_sent_streak, 30)
                    if control.not_sent_streak >= settings.DISPATCH_PAUSE_AFTER_NOT_SENT:
                        control.pause_reason = (
                            f"ITNIO could not be reached {control.not_sent_streak} times "
                            f"in a row: {error}"
                        )
                        control.stop = True
                elif error is None:
                    control.not_sent_streak = 0
            answers.put((batch, pairs, results, error))
            if error is not None and not isinstance(error, Exception):
                raise error
    finally:
        connection.close()


def _recorder(
    campaign: Campaign,
    claimer: _Claimer,
    control: _Control,
    answers: queue.Queue[Any],
    report: DispatchReport,
) -> None:
    """Commit the senders' answers, waiting for the database when its connection was lost (both
    writes are safe to repeat). A batch whose outcome cannot be written stays SENDING, which
    the recovery tick turns into UNKNOWN: never resent."""
    try:
        while (item := answers.get()) is not _DONE:
            batch, pairs, results, error = item
            try:
                if error is None:
                    retrying(_record_success, campaign, batch, pairs, results, report)
                    continue
                pause_reason = retrying(_record_failure, campaign, batch, error, report)
                if isinstance(error, ItnioNotSentError | ItnioApiError | ItnioLimitError):
                    claimer.retry_pending = True  # back to pending: send it again
                if pause_reason:
                    with control.lock:
                        control.pause_reason = control.pause_reason or pause_reason
                        control.stop = True
            except Exception:
                logger.exception("Could not record the outcome of %s", batch)
    finally:
        connection.close()


def _may_send(campaign: Campaign) -> bool:
    return campaign.state == Campaign.State.RUNNING and in_calling_window(campaign)


def _complete_if_done(campaign: Campaign) -> bool:
    """A running campaign with nothing pending or in flight is completed."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state != Campaign.State.RUNNING:
            return False
        busy = Callee.objects.filter(
            campaign=locked, state__in=[Callee.State.PENDING, Callee.State.SENDING]
        ).exists()
        if busy:
            return False
        counts = _state_counts(locked)
        reason = (
            f"All callees sent: {counts.get(Callee.State.SUBMITTED, 0):,} submitted, "
            f"{counts.get(Callee.State.REJECTED, 0):,} rejected, "
            f"{counts.get(Callee.State.UNKNOWN, 0):,} unknown."
        )
        Campaign.objects.filter(pk=locked.pk).update(
            state=Campaign.State.COMPLETED,
            state_reason=reason,
            state_changed_at=timezone.now(),
            state_changed_by="portal",
            completed_at=timezone.now(),
        )
    campaign.refresh_from_db()
    return True


# ---------------------------------------------------------------------------
# The scheduler's tick: start, recover, complete
# ---------------------------------------------------------------------------
@dataclass
class TickReport:
    started: list[str] = field(default_factory=list)
    enqueued: list[str] = field(default_factory=list)
    unknown_batches: int = 0
    completed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"started={len(self.started)} enqueued={len(self.enqueued)} "
            f"unknown_batches={self.unknown_batches} completed={len(self.completed)}"
        )


def campaigns_tick(*, now: datetime | None = None) -> TickReport:
    """Start scheduled campaigns, turn stuck batches UNKNOWN, re-enqueue dead dispatchers."""
    from campaigns.tasks import dispatch_campaign

    now = now or timezone.now()
    report = TickReport()
    for campaign in Campaign.objects.filter(
        state=Campaign.State.SCHEDULED, scheduled_start__lte=now
    ):
        _set_state(
            campaign,
            Campaign.State.RUNNING,
            f"Started at its scheduled time {campaign.scheduled_start:%Y-%m-%d %H:%M %Z}",
            "scheduler",
        )
        Campaign.objects.filter(pk=campaign.pk).update(launched_at=now)
        report.started.append(campaign.name)
    stale_lease = _lease_stale_before(now)
    stuck_before = now - timedelta(seconds=settings.DISPATCH_STALE_BATCH_SECONDS)
    stuck = (
        DispatchBatch.objects.filter(
            state=DispatchBatch.State.SENDING, request_started_at__lt=stuck_before
        )
        .filter(Q(campaign__dispatch_lease="") | Q(campaign__dispatch_heartbeat_at__lt=stale_lease))
        .values_list("campaign_id", flat=True)
        .distinct()
    )
    for campaign_id in list(stuck):
        report.unknown_batches += _orphans_to_unknown(
            campaign_id,
            "Stuck in sending longer than DISPATCH_STALE_BATCH_SECONDS; its outcome is unknown.",
        )
    for campaign in Campaign.objects.filter(state=Campaign.State.RUNNING):
        alive = (
            campaign.dispatch_lease
            and campaign.dispatch_heartbeat_at
            and campaign.dispatch_heartbeat_at >= stale_lease
        )
        if alive:
            continue
        if _complete_if_done(campaign):
            report.completed.append(campaign.name)
            continue
        if not in_calling_window(campaign, now):
            continue
        # Reserve for the queued task so the next tick does not enqueue it again meanwhile.
        Campaign.objects.filter(pk=campaign.pk).update(
            dispatch_lease="queued", dispatch_heartbeat_at=now
        )
        dispatch_campaign.enqueue(campaign.pk)
        report.enqueued.append(campaign.name)
    return report


# ---------------------------------------------------------------------------
# Reconciliation
# ---------------------------------------------------------------------------
@dataclass
class ReconcileReport:
    resolved: int = 0
    still_unknown: int = 0
    batches_checked: int = 0

    def __str__(self) -> str:
        return (
            f"resolved={self.resolved} still_unknown={self.still_unknown} "
            f"batches={self.batches_checked}"
        )


def campaign_reconcile(*, campaign: Campaign, actor: Actor) -> ReconcileReport:
    """Look unknown callees up in ITNIO's records and resolve those that were placed.

    One recordGroupQuery pass over the span of the unknown batches' requests (plus a margin,
    in windows of at most 31 days), matching each record by callee and by the batch tag that
    every request carried in its calledInfo.
    """
    report = ReconcileReport()
    batches = {
        b.tag: b
        for b in DispatchBatch.objects.filter(
            campaign=campaign, callees__state=Callee.State.UNKNOWN
        ).distinct()
    }
    if not batches:
        return report
    report.batches_checked = len(batches)
    unknown: dict[tuple[int, str], Callee] = {
        (c.batch_id, c.number): c
        for c in Callee.objects.filter(
            campaign=campaign, state=Callee.State.UNKNOWN, batch__isnull=False
        )
    }
    now = timezone.now()
    margin = timedelta(minutes=settings.RECONCILE_WINDOW_MINUTES)
    started = [b.request_started_at or now for b in batches.values()]
    finished = [b.request_finished_at or b.request_started_at or now for b in batches.values()]
    floor = now - timedelta(days=settings.ITNIO_RECORD_RETENTION_DAYS) + timedelta(minutes=5)
    start = max(min(started) - margin, floor)
    # Query times go out in whole seconds: round "now" up so this second's records count.
    end = min(max(finished) + margin, _next_second(now))
    client = logged_client(campaign.app.account, actor=actor, obj=campaign)
    window_start = start
    while window_start < end and unknown:
        window_end = min(window_start + timedelta(days=31), end)
        page = 1
        while unknown:
            result = client.record_group_query(
                start=window_start, end=window_end, current=page, size=100
            )
            for record in result.records:
                batch = next(
                    (b for tag, b in batches.items() if tag in (record.called_info or "")), None
                )
                callee = unknown.get((batch.pk, record.callee)) if batch else None
                if callee is None:
                    continue
                _resolve(campaign, callee, record)
                del unknown[(batch.pk, record.callee)]
                report.resolved += 1
            if page >= result.pages or not result.records:
                break
            page += 1
        window_start = window_end
    report.still_unknown = Callee.objects.filter(
        campaign=campaign, state=Callee.State.UNKNOWN
    ).count()
    for batch in batches.values():
        if not Callee.objects.filter(batch=batch, state=Callee.State.UNKNOWN).exists():
            DispatchBatch.objects.filter(pk=batch.pk).update(
                state=DispatchBatch.State.SENT,
                reason=(
                    batch.reason + " Reconciled: every callee was found in ITNIO's records."
                ).strip(),
                accepted=Callee.objects.filter(batch=batch, state=Callee.State.SUBMITTED).count(),
            )
    return report


def _resolve(campaign: Campaign, callee: Callee, record: Any) -> None:
    call, _created = call_upsert_record(
        app=campaign.app, record=record, source="reconcile", kind=Call.Kind.GROUP
    )
    if call.campaign_id is None:
        Call.objects.filter(pk=call.pk).update(campaign=campaign)
    callee.state = Callee.State.SUBMITTED
    callee.voice_id = record.voice_id
    callee.call_id = call.pk
    callee.reason = "Resolved by reconciliation: ITNIO's records show it was placed."
    callee.save(update_fields=["state", "voice_id", "call", "reason"])


def _next_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond else 0)


def campaign_release_unknown(*, campaign: Campaign, actor: Actor) -> int:
    """Put still-unknown callees back to pending: they WILL be sent again, maybe twice."""
    _require(actor)
    return Callee.objects.filter(campaign=campaign, state=Callee.State.UNKNOWN).update(
        state=Callee.State.PENDING,
        batch=None,
        reason=f"Released for resending by {actor.label} (may be called twice).",
    )


__all__ = [
    "CampaignError",
    "campaign_cancel",
    "campaign_dispatch",
    "campaign_launch",
    "campaign_pause",
    "campaign_plan",
    "campaign_progress",
    "campaign_reconcile",
    "campaign_release_unknown",
    "campaign_resume",
    "campaigns_tick",
    "in_calling_window",
]
