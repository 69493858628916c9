"""Campaigns: steering (launch, pause, resume, cancel), the scheduler's tick,
reconciliation and the release of unknown callees.

The dispatcher itself (lease, claims, senders, recorders) lives in dispatch.py, the callee state
table, counts and completion in campaign_state.py. Nothing UNKNOWN is ever resent by itself:
reconciliation looks it up in ITNIO's records, and only an operator may release what is still
unknown for resending; released callees are sent by the next dispatch, exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from campaigns.models import Call, Callee, Campaign, DispatchBatch
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.approvals import approval_gate
from campaigns.services.audience import audience_materialise
from campaigns.services.balance_guard import balance_before_resume
from campaigns.services.budgets import charge_calls_by_id, price_callees, release_reserved
from campaigns.services.calls import call_upsert_record
from campaigns.services.campaign_plan import Plan, campaign_plan
from campaigns.services.campaign_state import (
    callee_counts,
    complete_if_done,
    counts_text,
    in_calling_window,
    sent_summary,
    set_campaign_state,
)
from campaigns.services.dispatch import lease_stale_before
from campaigns.services.dispatch_outcomes import orphans_to_unknown
from campaigns.services.records import next_second, record_windows, records_in
from campaigns.services.request_log import logged_client
from campaigns.services.retries import mark_retries, reopen_for_retries
from campaigns.services.windows import any_window_open, windows_prepare

logger = logging.getLogger(__name__)

ACTIVE_STATES = (Campaign.State.SCHEDULED, Campaign.State.RUNNING, Campaign.State.PAUSED)
FINAL_STATES = (Campaign.State.COMPLETED, Campaign.State.CANCELLED)


class CampaignError(Exception):
    """The campaign cannot do what was asked; the message says why."""


class LaunchAwaitsApproval(CampaignError):
    """The launch filed (or found) a request for a second person's approval: nothing started."""

    def __init__(self, request: Any) -> None:
        self.request = request
        super().__init__(
            gettext(
                "%(name)s waits for a second person's approval before it starts (requested by "
                "%(user)s): someone with the permission approve_launch approves it on the "
                "campaign's page or with approve_campaign."
            )
            % {"name": request.campaign.name, "user": request.requested_by}
        )


# ---------------------------------------------------------------------------
# State changes
# ---------------------------------------------------------------------------
def _require(actor: Actor) -> None:
    if not actor.may_place_calls():
        raise PermissionDeniedError(
            gettext("%(actor)s may not launch or steer campaigns.") % {"actor": actor.label}
        )


def campaign_launch(
    *, campaign: Campaign, actor: Actor, confirm: Callable[[Plan], None] | None = None
) -> Campaign:
    """Start sending (or schedule the start). The dispatch task is enqueued on commit.

    `confirm` sees the plan computed under the campaign's lock and may refuse it by raising
    (the API's confirmation token: the launch is the plan that was read, or nothing)."""
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
        if confirm is not None:
            confirm(plan)
        waiting = approval_gate(campaign, plan, actor)
        if waiting is None:
            _start(campaign, actor)
    if waiting is not None:  # the request is committed: the launch waits for a second person
        raise LaunchAwaitsApproval(waiting)
    campaign.refresh_from_db()
    return campaign


def _start(campaign: Campaign, actor: Actor) -> None:
    """Scheduled or running, its audience materialised (inside the launch's transaction)."""
    audience_materialise(campaign)  # the lists' contacts become pending callees
    windows_prepare(campaign)  # their zones, and the ones with no window skipped
    price_callees(campaign)  # budgets.py: each callee's worst case, for the claim
    now = timezone.now()
    if campaign.scheduled_start and campaign.scheduled_start > now:
        set_campaign_state(
            campaign,
            Campaign.State.SCHEDULED,
            gettext("Scheduled for %(start)s by %(actor)s")
            % {"start": f"{campaign.scheduled_start:%Y-%m-%d %H:%M %Z}", "actor": actor.label},
            actor.label,
        )
    else:
        set_campaign_state(
            campaign,
            Campaign.State.RUNNING,
            gettext("Launched by %(actor)s") % {"actor": actor.label},
            actor.label,
        )
        Campaign.objects.filter(pk=campaign.pk).update(launched_at=now)
        _enqueue_dispatch_on_commit(campaign)


def campaign_pause(*, campaign: Campaign, actor: Actor, reason: str = "") -> Campaign:
    _require(actor)
    if campaign.state not in (Campaign.State.RUNNING, Campaign.State.SCHEDULED):
        raise CampaignError(
            gettext("Only a running or scheduled campaign can be paused (it is %(state)s).")
            % {"state": campaign.get_state_display().lower()}
        )
    set_campaign_state(
        campaign,
        Campaign.State.PAUSED,
        reason or gettext("Paused by %(actor)s") % {"actor": actor.label},
        actor.label,
    )
    return campaign


def campaign_resume(*, campaign: Campaign, actor: Actor) -> Campaign:
    _require(actor)
    if campaign.state != Campaign.State.PAUSED:
        raise CampaignError(
            gettext("Only a paused campaign can be resumed (it is %(state)s).")
            % {"state": campaign.get_state_display().lower()}
        )
    balance_before_resume(campaign, actor)  # balance_guard.py: a top-up counts at once
    with transaction.atomic():
        if (
            campaign.scheduled_start
            and campaign.scheduled_start > timezone.now()
            and not campaign.launched_at
        ):
            set_campaign_state(
                campaign,
                Campaign.State.SCHEDULED,
                gettext("Resumed by %(actor)s") % {"actor": actor.label},
                actor.label,
            )
        else:
            set_campaign_state(
                campaign,
                Campaign.State.RUNNING,
                gettext("Resumed by %(actor)s") % {"actor": actor.label},
                actor.label,
            )
            if not campaign.launched_at:
                Campaign.objects.filter(pk=campaign.pk).update(launched_at=timezone.now())
            _enqueue_dispatch_on_commit(campaign)
    return campaign


def campaign_cancel(*, campaign: Campaign, actor: Actor) -> Campaign:
    _require(actor)
    if campaign.state in FINAL_STATES:
        raise CampaignError(
            gettext("The campaign is already %(state)s.")
            % {"state": campaign.get_state_display().lower()}
        )
    set_campaign_state(
        campaign,
        Campaign.State.CANCELLED,
        gettext("Cancelled by %(actor)s; pending callees will not be called")
        % {"actor": actor.label},
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
        set_campaign_state(
            campaign,
            Campaign.State.RUNNING,
            gettext("Started at its scheduled time %(start)s")
            % {"start": f"{campaign.scheduled_start:%Y-%m-%d %H:%M %Z}"},
            "scheduler",
        )
        Campaign.objects.filter(pk=campaign.pk).update(launched_at=now)
        report.started.append(campaign.name)
    stale_lease = lease_stale_before(now)
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
        report.unknown_batches += orphans_to_unknown(
            campaign_id,
            gettext(
                "Stuck in sending longer than DISPATCH_STALE_BATCH_SECONDS; its outcome is unknown."
            ),
        )
    for campaign in Campaign.objects.filter(state=Campaign.State.RUNNING):
        alive = (
            campaign.dispatch_lease
            and campaign.dispatch_heartbeat_at
            and campaign.dispatch_heartbeat_at >= stale_lease
        )
        if alive:
            continue
        if complete_if_done(campaign):
            report.completed.append(campaign.name)
            continue
        if not (in_calling_window(campaign, now) and any_window_open(campaign, now)):
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
    windows = record_windows(min(started) - margin, max(finished) + margin, latest=next_second(now))
    client = logged_client(campaign.app.account, actor=actor, obj=campaign)

    def fetch(start: datetime, end: datetime, page: int, size: int) -> Any:
        return client.record_group_query(start=start, end=end, current=page, size=size)

    for record in records_in(fetch, windows) if unknown else ():
        batch = next((b for tag, b in batches.items() if tag in (record.called_info or "")), None)
        callee = unknown.get((batch.pk, record.callee)) if batch else None
        if callee is None:
            continue
        _resolve(campaign, callee, record)
        del unknown[(batch.pk, record.callee)]
        report.resolved += 1
        if not unknown:
            break  # found them all: no further page is asked for
    report.still_unknown = Callee.objects.filter(
        campaign=campaign, state=Callee.State.UNKNOWN
    ).count()
    for batch in batches.values():
        if not Callee.objects.filter(batch=batch, state=Callee.State.UNKNOWN).exists():
            DispatchBatch.objects.filter(pk=batch.pk).update(
                state=DispatchBatch.State.SENT,
                reason=(
                    batch.reason
                    + " "
                    + gettext("Reconciled: every callee was found in ITNIO's records.")
                ).strip(),
                accepted=Callee.objects.filter(batch=batch, state=Callee.State.SUBMITTED).count(),
            )
    _note_counts(
        campaign,
        ngettext(
            "Reconciled by %(actor)s: %(n)s unknown callee found in ITNIO's records.",
            "Reconciled by %(actor)s: %(n)s unknown callees found in ITNIO's records.",
            report.resolved,
        )
        % {"actor": actor.label, "n": f"{report.resolved:,}"},
    )
    reopen_for_retries(campaign)  # a sent campaign whose resolved callees wait for retries
    return report


def _resolve(campaign: Campaign, callee: Callee, record: Any) -> None:
    call, _created = call_upsert_record(
        app=campaign.app, record=record, source="reconcile", kind=Call.Kind.GROUP
    )
    if call.campaign_id is None:
        Call.objects.filter(pk=call.pk).update(campaign=campaign)
    if call.campaign_callee_id is None:
        callee.attempts += 1
        Call.objects.filter(pk=call.pk).update(campaign_callee=callee, attempt=callee.attempts)
    callee.state = Callee.State.SUBMITTED
    callee.voice_id = record.voice_id
    callee.call_id = call.pk
    callee.reason = gettext("Resolved by reconciliation: ITNIO's records show it was placed.")
    callee.save(update_fields=["state", "voice_id", "call", "reason", "attempts"])
    charge_calls_by_id([call.pk])  # budgets.py: now that it is the callee's call
    mark_retries(Callee.objects.filter(pk=callee.pk), reconciled=True)  # it may be not reached


def campaign_release_unknown(*, campaign: Campaign, actor: Actor) -> int:
    """Put still-unknown callees back to pending: they WILL be sent again, maybe twice.

    The next dispatch sends them, exactly once, without a relaunch: a running campaign gets
    a dispatcher at once, a sent (completed) one runs again for them, a paused one sends them
    when resumed. A cancelled campaign sends nothing more, so nothing is released there.
    """
    _require(actor)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state == Campaign.State.CANCELLED:
            raise CampaignError(
                gettext("The campaign is cancelled: nothing more is sent, so nothing is released.")
            )
        unknown = Callee.objects.filter(campaign=locked, state=Callee.State.UNKNOWN)
        release_reserved(locked, unknown)  # budgets.py: they are claimed (reserved) again
        released = unknown.update(
            state=Callee.State.PENDING,
            batch=None,
            reason=gettext("Released for resending by %(actor)s (may be called twice).")
            % {"actor": actor.label},
        )
        if not released:
            return 0
        event = ngettext(
            "%(n)s unknown callee released for resending by %(actor)s (may be called twice).",
            "%(n)s unknown callees released for resending by %(actor)s (may be called twice).",
            released,
        ) % {"n": f"{released:,}", "actor": actor.label}
        if locked.state == Campaign.State.COMPLETED:
            # A sent campaign runs again for the released callees; the dispatcher completes it
            # once they are sent.
            Campaign.objects.filter(pk=locked.pk).update(completed_at=None)
            set_campaign_state(
                locked, Campaign.State.RUNNING, event + " " + gettext("Sending them."), actor.label
            )
        else:
            _note_counts(locked, event)
        if locked.state == Campaign.State.RUNNING:
            _enqueue_dispatch_on_commit(locked)
    campaign.refresh_from_db()
    return released


def _note_counts(campaign: Campaign, event: str) -> None:
    """Rewrite the reason line after a reconciliation or a release, with the new counts.

    A sent campaign's line is its summary (and it is finished once nothing is unknown); a
    paused one keeps why it was paused, followed by the event and the counts.
    """
    campaign.refresh_from_db()
    counts = callee_counts(campaign)
    if campaign.state == Campaign.State.COMPLETED:
        finished = campaign.completed_at or (
            None if counts[Callee.State.UNKNOWN] else timezone.now()
        )
        Campaign.objects.filter(pk=campaign.pk).update(
            state_reason=f"{event} {sent_summary(counts)}", completed_at=finished
        )
        campaign.refresh_from_db()
        return
    head = campaign.state_reason.split(COUNTS_MARK)[0].strip()
    line = gettext("%(event)s Now %(counts)s.") % {"event": event, "counts": counts_text(counts)}
    Campaign.objects.filter(pk=campaign.pk).update(
        state_reason=f"{head}{COUNTS_MARK}{line}" if head else line
    )
    campaign.refresh_from_db()


#: Separates a steering reason from the counts a reconciliation or release added to it.
COUNTS_MARK = " | "


__all__ = [
    "CampaignError",
    "campaign_cancel",
    "campaign_launch",
    "campaign_pause",
    "campaign_reconcile",
    "campaign_release_unknown",
    "campaign_resume",
    "campaigns_tick",
]
