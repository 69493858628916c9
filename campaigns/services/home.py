"""What the operations home (the admin index) shows, read with bounded queries: each account's
balance, the campaigns on the board with their progress (campaign_progress, the campaign page's
own counts), today's call figures (the daily figures, never a count over the calls table), and
the counts behind "needs attention". Who may see which part is the admin's business
(campaigns/admin/home.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max
from django.utils import timezone

from campaigns.formatting import balance_currency
from campaigns.models import AiTask, Callee, CalleeImport, Campaign, ItnioAccount, PushEvent
from campaigns.services.balance_watch import is_low
from campaigns.services.campaign_plan import Progress, campaign_progress
from campaigns.services.reports import CallSlice, call_figures

#: Campaigns listed per state on the board (the rest: "and N more", linking to the list).
BOARD_LIMIT = 5
#: Finished campaigns stay on the board this long.
FINISHED_DAYS = 7
#: Accounts listed (a portal has a handful).
ACCOUNTS_LIMIT = 20
#: Campaigns whose unknown callees are counted: the most recently changed ones.
RECONCILE_CAMPAIGNS = 200
#: Push inbox entries looked at (the newest, by id): the inbox takes hundreds a second.
PUSH_WINDOW = 100_000
#: A pending push entry older than this is late (the apply worker keeps up within seconds).
PUSH_LATE = timedelta(minutes=5)
#: Counts stop here ("10,000+"): enough to say something is wrong.
COUNT_CAP = 10_000


@dataclass(frozen=True)
class Balance:
    account: ItnioAccount
    currency: str
    low: bool


@dataclass(frozen=True)
class BoardRow:
    campaign: Campaign
    progress: Progress


@dataclass(frozen=True)
class Capped:
    """A count that stopped at COUNT_CAP."""

    n: int
    more: bool = False


def balances() -> list[Balance]:
    """Each account's last balance read, low when balance + gift + credit is under its threshold."""
    rows = ItnioAccount.objects.order_by("name")[:ACCOUNTS_LIMIT]
    return [Balance(account=a, currency=balance_currency(), low=is_low(a)) for a in rows]


def campaign_board(*, now: datetime | None = None) -> dict[str, tuple[list[BoardRow], int]]:
    """Running, scheduled, paused and recently finished campaigns: rows and how many more."""
    now = now or timezone.now()
    S = Campaign.State
    picks = {
        "running": Campaign.objects.filter(state=S.RUNNING).order_by("-launched_at", "-id"),
        "scheduled": Campaign.objects.filter(state=S.SCHEDULED).order_by("scheduled_start", "id"),
        "paused": Campaign.objects.filter(state=S.PAUSED).order_by("-state_changed_at", "-id"),
        "finished": Campaign.objects.filter(
            state__in=(S.COMPLETED, S.CANCELLED),
            state_changed_at__gte=now - timedelta(days=FINISHED_DAYS),
        ).order_by("-state_changed_at", "-id"),
    }
    board = {}
    for key, queryset in picks.items():
        shown = list(queryset.select_related("app")[: BOARD_LIMIT + 1])
        more = queryset.count() - BOARD_LIMIT if len(shown) > BOARD_LIMIT else 0
        board[key] = (
            [BoardRow(c, campaign_progress(c, now=now)) for c in shown[:BOARD_LIMIT]],
            more,
        )
    return board


def today_figures(*, now: datetime | None = None) -> dict[str, Any]:
    """Today's (UTC) calls, answered, answer-seizure ratio and cost per currency, from the
    dashboard's own figures."""
    today = (now or timezone.now()).astimezone(UTC).date()
    summary = call_figures(CallSlice(since=today, until=today))["summary"]
    return {
        "day": today,
        "calls": summary["Calls"],
        "answered": summary["Answered"],
        "asr": summary["ASR %"],
        "costs": [
            (key.removeprefix("Cost "), value)
            for key, value in summary.items()
            if key.startswith("Cost ")
        ],
    }


def _capped(queryset: Any) -> Capped:
    n = queryset.order_by()[: COUNT_CAP + 1].count()
    return Capped(min(n, COUNT_CAP), n > COUNT_CAP)


def waiting_for_reconciliation() -> list[tuple[Campaign, int]]:
    """Campaigns with callees whose send outcome is unknown, most first (the most recently
    changed RECONCILE_CAMPAIGNS campaigns are looked at, each through its own index)."""
    recent = list(
        Campaign.objects.exclude(state=Campaign.State.DRAFT)
        .order_by("-state_changed_at", "-id")
        .values_list("id", flat=True)[:RECONCILE_CAMPAIGNS]
    )
    counts = dict(
        Callee.objects.filter(campaign_id__in=recent, state=Callee.State.UNKNOWN)
        .values_list("campaign_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    campaigns = Campaign.objects.in_bulk(list(counts))
    return sorted(((campaigns[pk], n) for pk, n in counts.items()), key=lambda r: (-r[1], r[0].pk))


def push_inbox_trouble(*, now: datetime | None = None) -> dict[str, Capped]:
    """Failed entries among the newest PUSH_WINDOW, and pending ones waiting over PUSH_LATE."""
    now = now or timezone.now()
    newest = PushEvent.objects.aggregate(top=Max("id"))["top"] or 0
    recent = PushEvent.objects.filter(id__gt=newest - PUSH_WINDOW)
    return {
        "failed": _capped(recent.filter(state=PushEvent.State.FAILED)),
        "late": _capped(
            PushEvent.objects.filter(state=PushEvent.State.PENDING, received_at__lt=now - PUSH_LATE)
        ),
    }


def imports_waiting() -> tuple[list[CalleeImport], int]:
    """Callee imports read and waiting for someone to confirm them (the oldest, and how many)."""
    staged = CalleeImport.objects.filter(state=CalleeImport.State.STAGED)
    return list(staged.select_related("campaign").order_by("created_at")[:BOARD_LIMIT]), (
        staged.count()
    )


def ai_tasks_refused() -> int:
    return AiTask.objects.filter(state=AiTask.State.FAILED).count()
