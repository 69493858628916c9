"""Retries by outcome: a callee whose final record says it was not reached is called again.

The rule (shown on the campaign page, RETRY_RULE): a record is *not reached* when it is final
(it has a hang-up time) and has no answer time; it is *retried* unless its terminationCode says
the number itself cannot be reached (NEVER_RETRIED_CODES: no such number), up to the campaign's
`retries` more attempts, each due `retry_after_minutes` after the previous attempt's hang-up.

How it runs, without a job of its own:
- applying a final record (push apply in bulk, record sync, reconciliation, the dispatcher's
  answer when a push beat it) makes the callee *waiting (retry)* with its due time, in one
  set-based UPDATE per campaign (`mark_retries`);
- the claim step makes due retries pending again (`DueRetries`, called by the dispatcher's
  claim) and claims them like any pending callee, so the calling window, the do-not-call list
  and the frequency cap (claim_rules.py) apply to them as to any callee; a due retry the claim
  leaves out for do-not-call or the cap is not retried (`retries_passed_over`) and keeps its
  last attempt's outcome;
- a campaign with retries is not complete while a retry waits or may still follow
  (`retries_may_follow`).

Never retried: an answered callee, a record not final yet, an unknown callee (it is not
submitted; after reconciliation its record decides), a record still not final 48 hours after
submission (it counts as not reached, without a retry). A callee has one state, so it is never
in two attempts at once: a retry is only made from `submitted`, and only for its latest call.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import (
    DateTimeField,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from campaigns.models import Call, Callee, Campaign
from campaigns.services.frequency_caps import under_cap
from campaigns.services.suppression import without_suppressed

#: SIP codes of a number that does not exist or is incomplete: calling it again cannot help.
NEVER_RETRIED_CODES = ("404", "484", "604")
#: At most this many retries (the form and the command refuse more).
MAX_RETRIES = 5
#: A record not final this long after submission counts as not reached, without a retry
#: (campaign_state.NOT_FINAL_AFTER).
NOT_FINAL_AFTER = timedelta(hours=48)
#: How many call ids one UPDATE … IN names.
CHUNK = 5000

RETRY_RULE = gettext_lazy(
    "Retried: a callee whose final record has no answer time (not answered, busy, failed), "
    "unless its terminationCode is 404, 484 or 604 (no such number); each retry is due the "
    "given minutes after the previous attempt's hang-up and is sent only inside the calling "
    "window. Never retried: an answered callee, a record not final yet, an unknown callee "
    "(until reconciliation), a record still not final 48 hours after submission, and a number "
    "put on a do-not-call list or over the frequency cap meanwhile."
)


def not_reached(prefix: str = "") -> Q:
    """A final record without an answer time (on Call rows, or through `prefix`, e.g.
    "call__")."""
    return Q(**{f"{prefix}hangup_time__isnull": False, f"{prefix}answer_time__isnull": True})


def retryable(prefix: str = "") -> Q:
    """A not-reached final record whose termination code does not rule a retry out."""
    return not_reached(prefix) & ~Q(**{f"{prefix}termination_code__in": NEVER_RETRIED_CODES})


class DueRetries:
    """The claim's step for retries: the callees whose retry is due become pending again, one
    UPDATE over the small partial index of waiting retries (callee_retry_due), at most every
    `every_s` seconds per dispatcher. The claim itself then stays a `state = pending` ordered
    scan for every campaign: `state = pending OR (state = retry AND due)` read and sorted every
    pending callee of the campaign for each claim (EXPLAIN at 50,000 callees: a BitmapOr and a
    sort of 25,000 rows, each with its do-not-call probe, 72 ms a claim instead of 3 ms)."""

    def __init__(self, campaign: Campaign, every_s: float = 5.0) -> None:
        self.campaign = campaign
        self.every_s = every_s
        self.checked_at = float("-inf")

    def release(self) -> int:
        """Make the due retries pending; how many (their ids may sit below the claim's cursor,
        so the caller resets it when this is not 0)."""
        if not self.campaign.retries or time.monotonic() - self.checked_at < self.every_s:
            return 0
        self.checked_at = time.monotonic()
        return Callee.objects.filter(
            campaign_id=self.campaign.pk,
            state=Callee.State.RETRY,
            retry_due_at__lte=timezone.now(),
        ).update(state=Callee.State.PENDING, reason=gettext("Not reached: its retry is due."))


def mark_retries(
    callees: QuerySet[Callee], *, now: datetime | None = None, reconciled: bool = False
) -> int:
    """Make the submitted callees of `callees` whose latest record is final and retryable
    *waiting (retry)*, due at its hang-up time + the campaign's minutes: one UPDATE per
    campaign concerned (the minutes are the campaign's), whatever the number of callees.
    Campaigns running or paused; `reconciled`: also a sent campaign waiting for its
    reconciliation (reopen_for_retries then runs it again)."""
    now = now or timezone.now()
    running = Q(campaign__state__in=(Campaign.State.RUNNING, Campaign.State.PAUSED))
    if reconciled:
        running |= Q(campaign__state=Campaign.State.COMPLETED, campaign__completed_at__isnull=True)
    candidates = callees.filter(
        running,
        retryable("call__"),
        state=Callee.State.SUBMITTED,
        campaign__retries__gt=0,
        call__placed_at__gte=now - NOT_FINAL_AFTER,
    )
    settings_of = (
        candidates.order_by()
        .values_list("campaign_id", "campaign__retries", "campaign__retry_after_minutes")
        .distinct()
    )
    marked = 0
    for campaign_id, retries, minutes in list(settings_of):
        hangup = Call.objects.filter(pk=OuterRef("call_id")).values("hangup_time")[:1]
        due = ExpressionWrapper(
            Subquery(hangup, output_field=DateTimeField()) + Value(timedelta(minutes=minutes)),
            output_field=DateTimeField(),
        )
        rows = Callee.objects.filter(
            pk__in=candidates.filter(campaign_id=campaign_id, attempts__lte=retries).values("pk")
        )
        marked += rows.update(
            state=Callee.State.RETRY,
            retry_due_at=due,
            batch=None,
            reason=gettext("Not reached: waiting for its retry."),
        )
    return marked


def retries_from_calls(call_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """After records were applied to these calls (in the same transaction): the callees whose
    latest call they are may wait for a retry now."""
    ids = list(call_ids)
    if (
        not ids
        or not Campaign.objects.filter(
            retries__gt=0, state__in=(Campaign.State.RUNNING, Campaign.State.PAUSED)
        ).exists()
    ):
        return 0
    marked = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marked += mark_retries(Callee.objects.filter(call_id__in=chunk), now=now)
    return marked


def retries_passed_over(campaign: Campaign, *, after_id: int, up_to_id: int | None) -> int:
    """Due retries (pending callees with an attempt already) with ids in (after_id, up_to_id]
    that the claim left out because their number is on a do-not-call list or over the frequency
    cap now: not retried. They go back to submitted, so their last attempt's record stays their
    outcome (not reached), and are not counted as skipped. Runs before the claim marks the other
    passed-over callees skipped (audience.skip_passed_over)."""
    if not campaign.retries:
        return 0
    rows = Callee.objects.filter(
        campaign_id=campaign.pk,
        state=Callee.State.PENDING,
        attempts__gte=1,
        batch__isnull=True,
        id__gt=after_id,
    )
    if up_to_id is not None:
        rows = rows.filter(id__lte=up_to_id)
    suppressed = without_suppressed(rows, campaign.app_id, only=True).values("pk")
    done = Callee.objects.filter(pk__in=suppressed).update(
        state=Callee.State.SUBMITTED,
        retry_due_at=None,
        reason=gettext("Not retried: on a do-not-call list when its retry was due."),
    )
    if campaign.frequency_cap_calls:
        over = under_cap(rows, campaign, over=True).values("pk")
        done += Callee.objects.filter(pk__in=over).update(
            state=Callee.State.SUBMITTED,
            retry_due_at=None,
            reason=gettext("Not retried: over the frequency cap when its retry was due."),
        )
    return done


def reopen_for_retries(campaign: Campaign) -> bool:
    """A sent campaign whose reconciliation found not-reached callees to retry runs again (the
    scheduler's tick starts its dispatcher); True if it did."""
    if campaign.state != Campaign.State.COMPLETED or not campaign.retries:
        return False
    waiting = Callee.objects.filter(campaign_id=campaign.pk, state=Callee.State.RETRY).count()
    if not waiting and not retries_may_follow(campaign):
        return False
    reopened = Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.COMPLETED).update(
        state=Campaign.State.RUNNING,
        completed_at=None,
        state_changed_at=timezone.now(),
        state_changed_by="portal",
        state_reason=gettext(
            "Reconciled: resolved callees may be retried (%(n)s waiting for their retry)."
        )
        % {"n": f"{waiting:,}"},
    )
    campaign.refresh_from_db()
    if reopened:
        from campaigns.services.outbound_hooks import emit_campaign_state

        emit_campaign_state(campaign, Campaign.State.COMPLETED, by="portal")
    return True


def retries_may_follow(campaign: Campaign, *, now: datetime | None = None) -> bool:
    """Whether a campaign with retries still has a retry waiting, or a submitted callee with
    retries left whose record is not final yet (less than 48 hours after submission)."""
    if not campaign.retries:
        return False
    now = now or timezone.now()
    callees = Callee.objects.filter(campaign_id=campaign.pk)
    if callees.filter(state=Callee.State.RETRY).exists():
        return True
    return callees.filter(
        state=Callee.State.SUBMITTED,
        attempts__lte=campaign.retries,
        call__hangup_time__isnull=True,
        call__placed_at__gte=now - NOT_FINAL_AFTER,
    ).exists()


def attempt_figures(campaign: Campaign) -> dict[str, int]:
    """Callees reached and attempts, counted separately: `attempts` is every call placed (each
    retry is one more), `retried` the callees called more than once."""
    callees = Callee.objects.filter(campaign_id=campaign.pk)
    row = callees.aggregate(attempts=Sum("attempts"))
    return {
        "attempts": row["attempts"] or 0,
        "retried": callees.filter(attempts__gt=1).count(),
        "reached": callees.filter(
            state=Callee.State.SUBMITTED, call__answer_time__isnull=False
        ).count(),
    }


def cap_warning(
    *, retries: int, retry_after_minutes: int, cap_calls: int | None, cap_hours: int | None
) -> str:
    """Why the frequency cap cannot allow the retries ("" when it can): the cap counts every
    attempt, so 1 + retries attempts within the cap's hours need a cap of at least that many."""
    if not retries or not cap_calls or not cap_hours:
        return ""
    attempts = 1 + retries
    # The attempts of one callee that fall inside one cap window, at the shortest spacing.
    spacing = max(retry_after_minutes, 1)
    inside = min(attempts, 1 + (cap_hours * 60 - 1) // spacing)
    if inside <= cap_calls:
        return ""
    return gettext(
        "The frequency cap (%(calls)s calls within %(hours)s hours) counts every attempt: with "
        "%(retries)s retries %(minutes)s minutes apart, up to %(inside)s attempts fall within "
        "%(hours)s hours, so some retries will not be made."
    ) % {
        "calls": cap_calls,
        "hours": cap_hours,
        "retries": retries,
        "minutes": retry_after_minutes,
        "inside": inside,
    }


def retry_summary(campaign: Campaign) -> str:
    """ "up to 2, 30 minutes after the previous attempt's hang-up" (the plan, create_campaign)."""
    minutes = campaign.retry_after_minutes
    return ngettext(
        "up to %(k)s, %(m)s minute after the previous attempt's hang-up",
        "up to %(k)s, %(m)s minutes after the previous attempt's hang-up",
        minutes,
    ) % {"k": campaign.retries, "m": f"{minutes:,}"}


def plan_rows(campaign: Campaign) -> list[tuple[str, str]]:
    """The launch plan's lines for retries and A/B variants (none when the campaign has
    neither)."""
    rows = []
    if campaign.retries:
        rows.append(
            (
                gettext("Retries:"),
                retry_summary(campaign),
            )
        )
    for variant in campaign.variants.select_related("voice_file").order_by("position"):
        rows.append(
            (
                gettext("Variant %(label)s:") % {"label": variant.label},
                gettext("%(file)s, %(share)s %% of the callees")
                % {"file": variant.voice_file.file_name, "share": variant.percent},
            )
        )
    return rows
