"""The one state machine of a campaign's callees, their counts, completion and the calling window.

Shared by the dispatcher (dispatch.py) and the steering, tick and reconciliation (campaigns.py),
so neither imports the other's internals. The table itself is written in the Callee model's
docstring and the README; CALLEE_STATES below holds its words for the campaign page's legend,
and every count, the progress bar and completion are computed from it here: reached and not
reached are read from the callee's Call, not stored on the callee.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy, ngettext

from campaigns.models import Call, Callee, Campaign
from campaigns.services.outbound_hooks import emit_campaign_state
from campaigns.services.retries import NOT_FINAL_AFTER, retries_may_follow
from campaigns.services.windows import campaign_window, open_now, zones_of

#: A submitted callee whose record is still not final this long after submission counts as
#: not reached (its call may still be updated; it no longer holds the campaign's progress):
#: NOT_FINAL_AFTER, 48 hours, in retries.py (such a callee is never retried).

#: Callee states that keep a campaign from being finished.
BUSY_STATES = (
    Callee.State.PENDING,
    Callee.State.WAITING,
    Callee.State.RETRY,
    Callee.State.SENDING,
)
OPEN_STATES = (*BUSY_STATES, Callee.State.UNKNOWN)

REACHED = "reached"
NOT_REACHED = "not_reached"


@dataclass(frozen=True)
class CalleeStateRow:
    key: str
    label: str | Promise
    meaning: str | Promise
    terminal: bool


#: The table, in the order counts are shown.
CALLEE_STATES: tuple[CalleeStateRow, ...] = (
    CalleeStateRow(
        Callee.State.PENDING, gettext_lazy("pending"), gettext_lazy("may be claimed now"), False
    ),
    CalleeStateRow(
        Callee.State.WAITING,
        gettext_lazy("waiting (cap)"),
        gettext_lazy("over the frequency cap; claimed once the cap allows it"),
        False,
    ),
    CalleeStateRow(
        Callee.State.RETRY,
        gettext_lazy("waiting (retry)"),
        gettext_lazy("its last attempt was not reached; called again once its retry is due"),
        False,
    ),
    CalleeStateRow(
        Callee.State.SENDING,
        gettext_lazy("sending"),
        gettext_lazy("in a request in flight"),
        False,
    ),
    CalleeStateRow(
        Callee.State.SUBMITTED,
        gettext_lazy("submitted"),
        gettext_lazy("ITNIO accepted it, no final record yet"),
        False,
    ),
    CalleeStateRow(
        REACHED,
        gettext_lazy("reached"),
        gettext_lazy("the record is final: the call was answered"),
        True,
    ),
    CalleeStateRow(
        NOT_REACHED,
        gettext_lazy("not reached"),
        gettext_lazy(
            "the record is final and unanswered, or still not final 48 hours after submission"
        ),
        True,
    ),
    CalleeStateRow(
        Callee.State.REJECTED,
        gettext_lazy("rejected"),
        gettext_lazy("ITNIO refused the number"),
        True,
    ),
    CalleeStateRow(
        Callee.State.SKIPPED,
        gettext_lazy("skipped"),
        gettext_lazy(
            "not called, for the reason shown (do-not-call, frequency cap, or no window: its "
            "zones leave no common time inside the calling window)"
        ),
        True,
    ),
    CalleeStateRow(
        Callee.State.UNKNOWN,
        gettext_lazy("unknown"),
        gettext_lazy(
            "the request's outcome is unknown; reconciliation decides (never resent by itself)"
        ),
        False,
    ),
)
TERMINAL = frozenset(row.key for row in CALLEE_STATES if row.terminal)


def stored_state_counts(campaign: Campaign) -> dict[str, int]:
    """Callees per stored state (staged included), one index-only GROUP BY."""
    rows = (
        Callee.objects.filter(campaign=campaign).values("state").annotate(n=Count("id")).order_by()
    )
    return {row["state"]: row["n"] for row in rows}


def callee_counts(campaign: Campaign, *, now: datetime | None = None) -> dict[str, int]:
    """Callees per state of the table (CALLEE_STATES order; staged callees are not listed).

    Submitted callees are split by their call's record: final and answered (reached), final
    and unanswered, expired, or not final NOT_FINAL_AFTER after submission (not reached).
    """
    now = now or timezone.now()
    stored = stored_state_counts(campaign)
    counts = {row.key: 0 for row in CALLEE_STATES}
    for state, n in stored.items():
        if state in counts:
            counts[state] = n
    if counts[Callee.State.SUBMITTED]:
        final = Q(call__hangup_time__isnull=False)
        split = Callee.objects.filter(campaign=campaign, state=Callee.State.SUBMITTED).aggregate(
            reached=Count("id", filter=final & Q(call__answer_time__isnull=False)),
            not_reached=Count(
                "id",
                filter=(final & Q(call__answer_time__isnull=True))
                | (
                    Q(call__hangup_time__isnull=True)
                    & (
                        Q(call__state=Call.State.EXPIRED)
                        | Q(call__placed_at__lt=now - NOT_FINAL_AFTER)
                    )
                ),
            ),
        )
        counts[REACHED] = split["reached"]
        counts[NOT_REACHED] = split["not_reached"]
        counts[Callee.State.SUBMITTED] -= split["reached"] + split["not_reached"]
    return counts


#: The skip reasons in the order pages and `campaign_status` show them, with their plain keys.
SKIP_KEYS = {
    Callee.SkipReason.DO_NOT_CALL: "dnc",
    Callee.SkipReason.FREQUENCY_CAP: "frequency_cap",
    Callee.SkipReason.NO_WINDOW: "no_window",
}


def skipped_by_reason(campaign: Campaign) -> dict[str, int]:
    """Skipped callees per skip reason (every reason listed, 0 when none)."""
    rows = (
        Callee.objects.filter(campaign=campaign, state=Callee.State.SKIPPED)
        .values("skip_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    found = {row["skip_reason"]: row["n"] for row in rows}
    return {reason: found.get(reason, 0) for reason in SKIP_KEYS}


def terminal_count(counts: dict[str, int]) -> int:
    return sum(n for state, n in counts.items() if state in TERMINAL)


def counts_text(counts: dict[str, int]) -> str:
    """ "12 pending, 30 submitted, 5 unknown": the non-zero counts in the table's words."""
    labels = {row.key: row.label for row in CALLEE_STATES}
    return ", ".join(f"{n:,} {labels.get(state, state)}" for state, n in counts.items() if n)


def waiting_for_reconciliation(unknown: int) -> str:
    """What a campaign with unknown callees says wherever its state is shown."""
    return ngettext(
        "%(n)s callee waits for reconciliation",
        "%(n)s callees wait for reconciliation",
        unknown,
    ) % {"n": f"{unknown:,}"}


def state_display(campaign: Campaign, unknown: int) -> str:
    """The campaign's state as people read it: a sent campaign with unknown callees is not
    finished."""
    if campaign.state == Campaign.State.COMPLETED and unknown:
        return gettext("Sent; %(waiting)s") % {"waiting": waiting_for_reconciliation(unknown)}
    return str(campaign.get_state_display())


def sent_summary(counts: dict[str, int]) -> str:
    """The reason line of a sent campaign, with the counts (rewritten on reconcile/release)."""
    submitted = sum(counts.get(k, 0) for k in (Callee.State.SUBMITTED, REACHED, NOT_REACHED))
    text = gettext(
        "All callees sent: %(submitted)s submitted, %(rejected)s rejected, %(unknown)s unknown."
    ) % {
        "submitted": f"{submitted:,}",
        "rejected": f"{counts.get(Callee.State.REJECTED, 0):,}",
        "unknown": f"{counts.get(Callee.State.UNKNOWN, 0):,}",
    }
    if counts.get(Callee.State.SKIPPED):
        text += " " + gettext("%(skipped)s skipped (not called: do-not-call or frequency cap).") % {
            "skipped": f"{counts[Callee.State.SKIPPED]:,}"
        }
    if counts.get(Callee.State.UNKNOWN):
        text += " " + gettext("%(waiting)s: reconcile, or release them for resending.") % {
            "waiting": waiting_for_reconciliation(counts[Callee.State.UNKNOWN])
        }
    return text


def set_campaign_state(campaign: Campaign, state: str, reason: str, by: str) -> None:
    previous = campaign.state
    with transaction.atomic():  # the state and its webhook event commit together
        Campaign.objects.filter(pk=campaign.pk).update(
            state=state,
            state_reason=reason,
            state_changed_at=timezone.now(),
            state_changed_by=by[:150],
        )
        campaign.refresh_from_db()
        emit_campaign_state(campaign, previous, by=by)
        if state in (Campaign.State.PAUSED, Campaign.State.COMPLETED):
            mail_state_on_commit(campaign)


def pause_running(campaign: Campaign, reason: str, by: str, **also: Any) -> bool:
    """Pause the campaign if it is still running, as a rule of the claim decided (the budget,
    the balance guard): a conditional UPDATE, so of two deciders one pauses; its
    campaign.state_changed event and e-mail as for any pause, in one transaction. `also`:
    more columns written with it. Whether it paused."""
    with transaction.atomic():
        paused = Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).update(
            state=Campaign.State.PAUSED,
            state_reason=reason,
            state_changed_at=timezone.now(),
            state_changed_by=by[:150],
            **also,
        )
        if paused:
            campaign.refresh_from_db()
            emit_campaign_state(campaign, Campaign.State.RUNNING, by=by)
            mail_state_on_commit(campaign)
    return bool(paused)


def mail_state_on_commit(campaign: Campaign) -> None:
    """Its creator and subscribers hear of a pause or completion (campaigns/tasks.py)."""
    from campaigns.tasks import mail_campaign_state

    campaign_id = campaign.pk
    transaction.on_commit(lambda: mail_campaign_state.enqueue(campaign_id))


def complete_if_done(campaign: Campaign) -> bool:
    """A running campaign with nothing pending or in flight is sent (completed); it is finished
    (completed_at) only once nothing is unknown either."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state != Campaign.State.RUNNING:
            return False
        if Callee.objects.filter(campaign=locked, state__in=BUSY_STATES).exists():
            return False
        if retries_may_follow(locked):
            return False
        counts = callee_counts(locked)
        now = timezone.now()
        Campaign.objects.filter(pk=locked.pk).update(
            state=Campaign.State.COMPLETED,
            state_reason=sent_summary(counts),
            state_changed_at=now,
            state_changed_by="portal",
            completed_at=None if counts[Callee.State.UNKNOWN] else now,
        )
        mail_state_on_commit(locked)
        campaign.refresh_from_db()
        emit_campaign_state(campaign, Campaign.State.RUNNING, by="portal")
    return True


def in_calling_window(campaign: Campaign, now: datetime | None = None) -> bool:
    """No window means any time. A window may cross midnight (22:00–02:00); its days and
    excluded dates apply too. A window in the callee's local time is checked per callee by
    the claim (windows.within_window): for the campaign as a whole it is always open."""
    if campaign.window_callee_local:
        return True
    window = campaign_window(campaign)
    return window.any_time or open_now(window, zones_of(campaign, ""), now or timezone.now())


def may_send(campaign: Campaign) -> bool:
    return campaign.state == Campaign.State.RUNNING and in_calling_window(campaign)
