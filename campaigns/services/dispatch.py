"""The campaign dispatcher: lease, claims (with their eligibility step), senders and recorders.

Exactly-once rules (design.md conventions 2, 3, 10):
- a batch and its callees are committed as SENDING before its sendGroup request, in a durable
  transaction (no caller can wrap the request in one of its own);
- per-callee results are committed after (dispatch_outcomes.py); accepted numbers get a Call;
- a connection that never opened, or a refusal, puts the batch back to PENDING (nothing reached
  ITNIO); its callees are re-batched under the current ITNIO_SEND_GROUP_MAX when claimed again;
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
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Callee, Campaign, DispatchBatch
from campaigns.services.actors import Actor
from campaigns.services.audience import PassedOver
from campaigns.services.budgets import release_reserved, reserve_in_claim
from campaigns.services.campaign_state import (
    complete_if_done,
    in_calling_window,
    may_send,
    set_campaign_state,
)
from campaigns.services.claim_rules import sendable_callees, settle_claim
from campaigns.services.claim_statements import mark_in_one_statement, mark_in_transaction
from campaigns.services.dbretry import retrying, surviving_lost_connection
from campaigns.services.dispatch_outcomes import (
    DispatchReport,
    batch_not_placed,
    orphans_to_unknown,
    record_failure,
    record_success,
)
from campaigns.services.frequency_caps import cap_lock, caps_in_force
from campaigns.services.pacing import Pacer
from campaigns.services.request_log import RequestLogBuffer
from campaigns.services.retries import DueRetries
from campaigns.services.variants import VariantRotation, batch_file_id
from itnio_portal.itnio import (
    ItnioApiError,
    ItnioLimitError,
    ItnioNotSentError,
    SendResult,
)

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Lease
# ---------------------------------------------------------------------------
def lease_stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)


def _acquire_lease(campaign_id: int, lease: str) -> bool:
    now = timezone.now()
    taken = (
        Campaign.objects.filter(pk=campaign_id)
        .filter(
            Q(dispatch_lease="")
            | Q(dispatch_lease=lease)  # retried after a lost connection: it may have landed
            | Q(dispatch_heartbeat_at__isnull=True)
            | Q(dispatch_heartbeat_at__lt=lease_stale_before(now))
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


# ---------------------------------------------------------------------------
# Claims
# ---------------------------------------------------------------------------
def _while_running(campaign: Campaign) -> Exists:
    # Checked in the claim's own statement: a pause or cancel stops the very next claim.
    return Exists(Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING))


def _while_running_now(campaign: Campaign) -> bool:
    return Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).exists()


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
        self.rotation = VariantRotation(campaign)  # A/B: each variant's own batches
        self.due_retries = DueRetries(campaign)  # retries.py: due retries become pending
        self.pace = Pacer(campaign)  # pacing.py: the rate limit, across the senders
        self.passed_over = PassedOver(campaign)  # audience.py: marked skipped a second apart
        self.variant: int | None = None
        self.claiming: int | None = None  # the sequence of a claim not yet handed to a sender

    def claim(self) -> Claimed | None:
        claimed = None
        if self.retry_pending:
            claimed = self._claim_pending()
            self.retry_pending = claimed is not None
        if claimed is None:
            claimed = self._claim_new()
        # Budget and balance, before the POST. The batch stays this claimer's (`claiming`)
        # until they are written: a connection lost meanwhile puts it back to pending.
        settled = settle_claim(self.campaign, claimed)
        self.claiming = None
        return settled

    def _claim_pending(self) -> Claimed | None:
        """A batch that went back to pending (not placed) is sent again with the sendable
        callees it still holds, at most ITNIO_SEND_GROUP_MAX of them; the rest leave it and are
        re-batched by the next new claims."""
        with transaction.atomic(durable=True):
            if caps_in_force(self.campaign):
                # As a new claim does: no other capped claim counts the same attempts meanwhile.
                cap_lock()
            if not Campaign.objects.filter(
                pk=self.campaign.pk, state=Campaign.State.RUNNING
            ).exists():
                return None
            batch = (
                DispatchBatch.objects.select_for_update()
                .filter(campaign=self.campaign, state=DispatchBatch.State.PENDING)
                .order_by("sequence")
                .first()
            )
            if batch is None:
                return None
            self.claiming = batch.sequence
            pairs = list(
                sendable_callees(self.campaign)
                .filter(batch=batch)
                .order_by("id")
                .values_list("id", "number")[: self.pace.take(settings.ITNIO_SEND_GROUP_MAX)]
            )
            Callee.objects.filter(batch=batch, state=Callee.State.PENDING).exclude(
                id__in=[callee_id for callee_id, _number in pairs]
            ).update(batch=None)
            if not pairs:
                DispatchBatch.objects.filter(pk=batch.pk).update(
                    state=DispatchBatch.State.FAILED,
                    reason=(batch.reason + " " + _("Its callees were re-batched.")).strip(),
                )
            else:
                marked = {"state": DispatchBatch.State.SENDING, "size": len(pairs)}
                marked.update(request_started_at=timezone.now(), request_finished_at=None)
                DispatchBatch.objects.filter(pk=batch.pk).update(
                    **marked, attempts=F("attempts") + 1
                )
                batch.refresh_from_db()
                reserve_in_claim(self.campaign.pk, batch, [i for i, _n in pairs])
                Callee.objects.filter(id__in=[i for i, _n in pairs]).update(
                    state=Callee.State.SENDING
                )
        if not pairs:
            self.rotation.reset()  # its callees sit below the cursors now
            return self._claim_pending()
        return self.rotation.prepare(batch), pairs

    def _claim_new(self) -> Claimed | None:
        if self.due_retries.release():
            self.rotation.reset()  # the retries sit below the cursors
        for variant in self.rotation.order():
            self.variant = variant
            self.last_id = self.rotation.cursors[self.variant]
            claimed = self._claim_new_after(self.last_id)
            if claimed is None and self.last_id:
                # Numbers released back to pending sit below the cursor: one full look.
                self.last_id = 0
                claimed = self._claim_new_after(0)
            if claimed is not None:
                self.last_id = max(self.last_id, claimed[1][-1][0])
            self.rotation.cursors[self.variant] = self.last_id
            if claimed is not None:
                return claimed
        return None

    def after_lost_connection(self) -> None:
        """A claim cut by a lost connection may have committed before the cut. Its batch was
        never sent (the sender had not got it), so it goes back to pending; its sequence is never
        reused."""
        if self.claiming is not None:
            with transaction.atomic(durable=True):
                batch_ids = list(
                    DispatchBatch.objects.filter(
                        campaign=self.campaign,
                        sequence=self.claiming,
                        state=DispatchBatch.State.SENDING,
                    ).values_list("id", flat=True)
                )
                if batch_ids:
                    # Its reservation was committed with it (budgets.reserve_in_claim).
                    release_reserved(
                        self.campaign,
                        Callee.objects.filter(batch_id__in=batch_ids, state=Callee.State.SENDING),
                    )
                    DispatchBatch.objects.filter(id__in=batch_ids).update(
                        state=DispatchBatch.State.PENDING,
                        reason=_("Claimed as the database connection was lost; not sent."),
                    )
                    Callee.objects.filter(
                        batch_id__in=batch_ids, state=Callee.State.SENDING
                    ).update(state=Callee.State.PENDING)
            self.claiming = None
        self.next_sequence += 1
        self.retry_pending = True

    def _claim_new_after(self, last_id: int) -> Claimed | None:
        """Commit a new batch of the next sendable callees as SENDING; None when none is left.

        Callees are taken in id order by the only lease holder, so starting after the last id
        taken skips the index entries of rows already sent (on PostgreSQL those stay in the
        index until vacuum, and rescanning them made each claim slower than the last).
        """
        batch = DispatchBatch(
            campaign=self.campaign,
            sequence=self.next_sequence,
            state=DispatchBatch.State.SENDING,
            request_started_at=timezone.now(),
            attempts=1,
            variant_id=self.variant,
        )
        batch.called_info = _called_info(self.campaign, batch)
        picked = (
            sendable_callees(self.campaign)
            .filter(self.rotation.only(self.variant), _while_running(self.campaign))
            .filter(batch__isnull=True, id__gt=last_id)
            .order_by("id")
            .values("id")[: self.pace.take(settings.ITNIO_SEND_GROUP_MAX)]
        )
        self.claiming = batch.sequence
        if connection.vendor == "postgresql" and caps_in_force(self.campaign):
            # While any cap is in force, claims of all campaigns take one lock, so two
            # dispatchers never count (or add to) the same number's attempts at once (SQLite's
            # write transaction already does that).
            with transaction.atomic(durable=True):
                cap_lock()
                pairs = mark_in_one_statement(self.campaign, batch, picked, in_transaction=True)
        elif connection.vendor == "postgresql":
            pairs = mark_in_one_statement(self.campaign, batch, picked)
        else:
            with transaction.atomic(durable=True):
                pairs = mark_in_transaction(batch, picked)
        if pairs or _while_running_now(self.campaign):
            # The callees this claim passed over (all that are left, at the end).
            up_to = pairs[-1][0] if pairs else None
            self.passed_over.add(after_id=last_id, up_to_id=up_to, taken=len(pairs))
        if not pairs:
            return None
        batch.size = len(pairs)
        self.next_sequence += 1
        return self.rotation.prepare(batch), pairs


def _post(
    client: Any, campaign: Campaign, batch: DispatchBatch, numbers: list[str]
) -> list[SendResult]:
    """The HTTP part only (runs in a pool thread; no database access here)."""
    return client.send_group(
        app_id=campaign.app.app_id,
        file_id=batch_file_id(campaign, batch),
        callees=numbers,
        display_num=campaign.display_num or None,
        max_duration=campaign.max_duration,
        max_ringing_time=campaign.max_ringing_time,
        loop_count=campaign.loop_count,
        called_info=batch.called_info,
    )


# ---------------------------------------------------------------------------
# The run: senders, recorders, the supervising thread
# ---------------------------------------------------------------------------
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
    # At most ITNIO_DISPATCH_CONCURRENCY requests in flight; one sender more than that claims
    # its batch while they are, so a claim never waits for a request to come back.
    posting: threading.Semaphore = field(default_factory=threading.Semaphore)


def campaign_dispatch(campaign_id: int) -> DispatchReport:
    """Send a running campaign's pending callees.

    ITNIO_DISPATCH_CONCURRENCY + 1 senders each loop: commit a batch as SENDING, POST it (at
    most ITNIO_DISPATCH_CONCURRENCY requests in flight: the one sender more has its next batch
    claimed when a request slot frees), hand the answer over; a few recorders commit the
    answers, each sender and recorder on its own database connection, so the database work of
    one batch overlaps the requests of the others. The calling thread supervises: the lease
    heartbeat, pause/cancel/window checks.

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
    complete_if_done(campaign)
    return report


def _dispatch_run(campaign_id: int, lease: str, report: DispatchReport) -> None:
    """One run of the senders and recorders under the lease, until they stop."""
    if not _heartbeat(campaign_id, lease):  # a run started again: the lease may be gone
        report.stopped = "lost the dispatch lease"
        return
    orphans_to_unknown(
        campaign_id,
        _("The dispatcher stopped while this request was in flight; its outcome is unknown."),
    )
    campaign = Campaign.objects.select_related("app__account", "voice_file").get(pk=campaign_id)
    buffer = RequestLogBuffer(actor=Actor.system(f"dispatch:{campaign.name}"))
    client = buffer.client(campaign.app.account)
    claimer = _Claimer(campaign)
    concurrency = max(1, settings.ITNIO_DISPATCH_CONCURRENCY)
    control = _Control(may_send=may_send(campaign), posting=threading.Semaphore(concurrency))
    # Bounded: answers not yet written are what a crash turns into UNKNOWN.
    answers: queue.Queue[Any] = queue.Queue(maxsize=concurrency)
    senders = [
        threading.Thread(
            target=_sender,
            args=(campaign, client, claimer, control, answers),
            name=f"dispatch-{campaign_id}-send-{i}",
            daemon=True,
        )
        for i in range(concurrency + 1)
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
                sender.join(timeout=0.5 / len(senders))
            now = time.monotonic()
            with surviving_lost_connection("The dispatcher", should_stop=lambda: control.stop):
                if now - last_heartbeat >= heartbeat_every:
                    if not _heartbeat(campaign_id, lease):
                        report.stopped = "lost the dispatch lease"
                        control.stop = True
                    last_heartbeat = now
                campaign.refresh_from_db(fields=["state"])
                control.may_send = may_send(campaign)
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
        retrying(claimer.passed_over.flush)  # what the last second's claims passed over
    if control.pause_reason:
        retrying(_pause_if_running, campaign, control.pause_reason)


def _pause_if_running(campaign: Campaign, reason: str) -> None:
    campaign.refresh_from_db()
    if campaign.state == Campaign.State.RUNNING:
        set_campaign_state(campaign, Campaign.State.PAUSED, reason, "portal")


_DONE = object()


def _sender(
    campaign: Campaign,
    client: Any,
    claimer: _Claimer,
    control: _Control,
    answers: queue.Queue[Any],
) -> None:
    """Claim, POST, hand the answer to a recorder; until nothing is left or told to stop.
    Pause and cancel are honoured by the claim itself (it takes nothing from a campaign that is
    not running), the calling window between batches; a batch claimed while its dispatch then
    stopped, waiting for a request slot, goes back to pending unsent. A lost database
    connection is waited out (the POST needs none)."""

    def stopped() -> bool:
        return control.stop

    try:
        while not control.stop and control.may_send:
            if not in_calling_window(campaign):
                return
            wait_s = max(control.retry_after - time.time(), claimer.pace.wait_s())
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
            waited = not control.posting.acquire(blocking=False)
            if waited:
                control.posting.acquire()
            try:  # the request slot is held until what the answer means for the others is set
                if not _may_still_send(campaign, control, since_claim=waited):
                    # Claimed, then paused, refused or told to wait meanwhile: never sent.
                    retrying(
                        batch_not_placed,
                        campaign,
                        batch,
                        code="",
                        reason=_("Not sent: the dispatch stopped before its request."),
                        now=timezone.now(),
                    )
                    with control.claim_lock:
                        claimer.retry_pending = True
                    continue
                try:
                    results = _post(client, campaign, batch, [number for _id, number in pairs])
                except BaseException as exc:  # written down by a recorder
                    error = exc
                _after_answer(control, error)
            finally:
                control.posting.release()
            answers.put((batch, pairs, results, error))
            if error is not None and not isinstance(error, Exception):
                raise error
    finally:
        connection.close()


def _may_still_send(campaign: Campaign, control: _Control, *, since_claim: bool) -> bool:
    """For a claimed batch, once a request slot is free: not stopped, not told to wait (a
    refusal or an unreachable ITNIO answered while it was claimed); for a batch that waited for
    its slot, the campaign still running too (a pause since its claim)."""
    if control.stop or control.retry_after > time.time():
        return False
    if not since_claim:
        return True
    running = Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING)
    try:
        return retrying(running.exists, should_stop=lambda: control.stop)
    except Exception:  # stopped while the database was away: not sent, the safe side
        return False


def _after_answer(control: _Control, error: BaseException | None) -> None:
    """What a request's outcome means for the other senders (before its slot is freed)."""
    with control.lock:
        if isinstance(error, ItnioApiError | ItnioLimitError):
            # A refusal stops every sender before its batch can be claimed again.
            control.stop = True
        elif isinstance(error, ItnioNotSentError):
            control.not_sent_streak += 1
            control.retry_after = time.time() + min(2**control.not_sent_streak, 30)
            if control.not_sent_streak >= settings.DISPATCH_PAUSE_AFTER_NOT_SENT:
                control.pause_reason = _(
                    "ITNIO could not be reached %(count)s times in a row: %(error)s"
                ) % {"count": control.not_sent_streak, "error": error}
                control.stop = True
        elif error is None:
            control.not_sent_streak = 0


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
                    retrying(record_success, campaign, batch, pairs, results, report)
                    continue
                pause_reason = retrying(record_failure, campaign, batch, error, report)
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
