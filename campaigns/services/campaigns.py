"""Campaigns: plan, progress, steering (launch, pause, resume, cancel), the scheduler's tick,
reconciliation and the release of unknown callees.

The dispatcher itself (lease, claims, senders, recorders) lives in dispatch.py, the callee state
table, counts and completion in campaign_state.py. Nothing UNKNOWN is ever resent by itself:
reconciliation looks it up in ITNIO's records, and only an operator may release what is still
unknown for resending; released callees are sent by the next dispatch, exactly once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from campaigns.formatting import count as count_text
from campaigns.models import Call, Callee, Campaign, DispatchBatch, ItnioApp, VoiceFile
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.audience import Preflight, audience_materialise, audience_preflight
from campaigns.services.calls import call_upsert_record
from campaigns.services.campaign_state import (
    callee_counts,
    complete_if_done,
    counts_text,
    in_calling_window,
    sent_summary,
    set_campaign_state,
    state_display,
    stored_state_counts,
    terminal_count,
)
from campaigns.services.dispatch import lease_stale_before
from campaigns.services.dispatch_outcomes import orphans_to_unknown
from campaigns.services.records import next_second, record_windows, records_in
from campaigns.services.request_log import logged_client

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
    preflight: Preflight = field(default_factory=Preflight)

    def lines(self) -> list[str]:
        """The plan as the command line prints it: labels padded to one column."""
        # 17 characters in English; the page shows rows() as a table (aligned in any script).
        return [f"{label:<16} {value}" for label, value in self.rows()]

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) per line of the plan, in the active language."""
        c = self.campaign
        window = (
            f"{c.window_start:%H:%M}–{c.window_end:%H:%M} {c.window_tz}"
            if c.window_start and c.window_end
            else gettext("any time")
        )
        rows = [
            (gettext("Campaign:"), c.name),
            (
                gettext("Callees:"),
                gettext("%(count)s pending") % {"count": count_text(self.callees)},
            ),
            (
                gettext("Requests:"),
                gettext("%(count)s sendGroup requests of up to %(size)s")
                % {"count": count_text(self.requests), "size": self.per_request},
            ),
            (gettext("App:"), f"{c.app.app_id} ({c.app.account.name})"),
            (
                gettext("Voice file:"),
                gettext("%(file)s (ITNIO file ID %(file_id)s)")
                % {"file": c.voice_file.file_name, "file_id": c.voice_file.remote_file_id or "—"},
            ),
            (gettext("Display number:"), c.display_num or gettext("(ITNIO default)")),
            (gettext("Loop count:"), str(c.loop_count or 1)),
            (
                gettext("Start:"),
                c.scheduled_start.isoformat() if c.scheduled_start else gettext("now"),
            ),
            (gettext("Calling window:"), window),
            (gettext("Audience:"), count_text(self.preflight.audience)),
            (gettext("Will be called:"), count_text(self.preflight.will_call)),
            *(
                (gettext("Skipped:"), f"{count_text(n)} {label}")
                for _key, label, n in self.preflight.rows()
            ),
        ]
        return rows


def campaign_plan(campaign: Campaign) -> Plan:
    """What launching would do, and what stops it."""
    counts = stored_state_counts(campaign)
    pending = counts.get(Callee.State.PENDING, 0)
    preflight = audience_preflight(campaign)
    per = settings.ITNIO_SEND_GROUP_MAX
    problems = []
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
        problems.append(
            gettext("The campaign is %(state)s; only a draft can be launched.")
            % {"state": campaign.get_state_display().lower()}
        )
    if campaign.app.kind != ItnioApp.Kind.VOICE or not campaign.app.active:
        problems.append(
            gettext("App %(app_id)s is not an active voice app.") % {"app_id": campaign.app.app_id}
        )
    if campaign.voice_file.state != VoiceFile.State.UPLOADED:
        problems.append(
            gettext("Voice file %(file)s is not uploaded to ITNIO yet.")
            % {"file": campaign.voice_file.file_name}
        )
    elif campaign.voice_file.account_id != campaign.app.account_id:
        problems.append(gettext("The voice file belongs to another ITNIO account than the app."))
    if preflight.audience == 0:
        problems.append(gettext("No pending callees: import a list (and confirm it) first."))
    elif preflight.will_call == 0:
        problems.append(gettext("Nobody to call: every number of the audience is skipped."))
    return Plan(
        campaign=campaign,
        callees=pending,
        requests=math.ceil(preflight.will_call / per) if preflight.will_call else 0,
        per_request=per,
        staged=counts.get(Callee.State.STAGED, 0),
        problems=problems,
        preflight=preflight,
    )


@dataclass
class Progress:
    """A campaign's callees by the state table (campaign_state.CALLEE_STATES); `done` counts
    the terminal ones, `percent` is done ÷ total, `waiting` the unknown callees that wait for
    reconciliation."""

    counts: dict[str, int]
    total: int
    done: int
    percent: float
    rate_per_minute: float | None
    eta: datetime | None
    batches: dict[str, int] = field(default_factory=dict)
    state_display: str = ""

    @property
    def waiting(self) -> int:
        return self.counts.get(Callee.State.UNKNOWN, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "total": self.total,
            "done": self.done,
            "percent": round(self.percent, 1),
            "rate_per_minute": self.rate_per_minute,
            "eta": self.eta.isoformat() if self.eta else None,
            "batches": self.batches,
            "waiting_for_reconciliation": self.waiting,
        }


def campaign_progress(campaign: Campaign, *, now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    counts = callee_counts(campaign, now=now)
    total = sum(counts.values())
    done = terminal_count(counts)
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
        state_display=state_display(campaign, counts[Callee.State.UNKNOWN]),
    )


# ---------------------------------------------------------------------------
# State changes
# ---------------------------------------------------------------------------
def _require(actor: Actor) -> None:
    if not actor.may_place_calls():
        raise PermissionDeniedError(
            gettext("%(actor)s may not launch or steer campaigns.") % {"actor": actor.label}
        )


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
        audience_materialise(campaign)  # the lists' contacts become pending callees
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
    campaign.refresh_from_db()
    return campaign


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
    callee.reason = gettext("Resolved by reconciliation: ITNIO's records show it was placed.")
    callee.save(update_fields=["state", "voice_id", "call", "reason"])


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
        released = Callee.objects.filter(campaign=locked, state=Callee.State.UNKNOWN).update(
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
    "campaign_plan",
    "campaign_progress",
    "campaign_reconcile",
    "campaign_release_unknown",
    "campaign_resume",
    "campaigns_tick",
]
