"""Budget caps that hold: a campaign's budget (amount and currency) and its two running totals.

The invariant: billed + reserved ≤ budget, where `reserved` is the worst case of every callee
claimed whose call is not final yet, and `billed` the cost of its final calls (in the budget's
currency; other currencies are never netted against it).

- Each callee of a budgeted campaign carries its worst case (`worst_cost`, priced from the
  app's rate table at launch and when a budget is set); a callee without a known rate in the
  budget's currency has none and is never claimed (and the plan refuses to launch it).
- The claim (claim_rules.sendable_callees → `within_budget`) takes, in id order, only the
  callees whose running sum of worst cases fits the room (budget − billed − reserved): one
  window over at most one batch of rows, in the claim's own statement. `reserve_claimed`
  then adds the batch's worst case to `reserved`, committed before its request is sent.
- The record apply (`charge_calls`: push apply in bulk, record sync, reconciliation, the
  dispatcher's answer when a push beat it) moves a call's worst case from reserved to its real
  cost in billed, once per call (Call.budget_charged), a few statements per batch. A rejected
  number, or a request that was not placed, gives its reservation back (`release_batch`).
- No room and calls still open: the campaign stays running, "waiting for budget room", and the
  tick's next dispatcher continues as records free room. No room and nothing open: it pauses
  with "Budget reached: spent X of Z"; raising the budget (`budget_set`) continues it.
- Every campaign keeps the two totals, in its cost currency (`cost_currency`: the budget's, or
  the account balance's for a campaign without a budget), so an app's daily cap counts every
  campaign of the app whose costs are in the cap's currency, budgeted or not, and the balance
  guard (balance_guard.py) knows each batch's worst case.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import (
    Case,
    DecimalField,
    F,
    Max,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
    When,
    Window,
)
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.formatting import balance_currency
from campaigns.models import Call, Callee, Campaign, DispatchBatch, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.estimate import grouped, plain
from campaigns.services.rates import RateTable, worst_case

#: Callees whose worst case may still be (re)priced: not claimed, not in flight.
PRICEABLE = (Callee.State.STAGED, Callee.State.PENDING, Callee.State.WAITING, Callee.State.RETRY)
#: Callees whose worst case is reserved (claimed, not final yet).
IN_FLIGHT = (Callee.State.SENDING, Callee.State.UNKNOWN)
BY_BUDGET = "budget"
_BUDGET = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,6})?)\s*([A-Za-z]{3})\s*$")


class BudgetError(Exception):
    """A budget that cannot be read or set (shown as is)."""


def parse_budget(text: str) -> tuple[Decimal, str]:
    """ "6.00 EUR" → (Decimal("6.00"), "EUR"); BudgetError otherwise."""
    match = _BUDGET.match(text or "")
    if not match:
        raise BudgetError(
            gettext('A budget is an amount and a currency, such as "6.00 EUR" (not %(text)r).')
            % {"text": text}
        )
    try:
        amount = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise BudgetError(gettext("The budget amount is not a number.")) from None
    if amount <= 0:
        raise BudgetError(gettext("A budget must be more than 0."))
    return amount, match.group(2).upper()


def cost_currency(campaign: Campaign) -> str:
    """The currency of the campaign's worst cases and totals: its budget's, else the account
    balance's (a campaign without a budget is counted by the balance guard and the daily cap)."""
    if campaign.budget_amount is not None:
        return campaign.budget_currency
    return balance_currency()


def _in_currency(currency: str) -> Q:
    """The campaigns whose totals are kept in `currency`."""
    budgeted = Q(budget_amount__isnull=False, budget_currency=currency)
    if currency == balance_currency():
        return budgeted | Q(budget_amount__isnull=True)
    return budgeted


def budget_text(campaign: Campaign) -> str:
    if campaign.budget_amount is None:
        return ""
    return f"{plain(campaign.budget_amount)} {campaign.budget_currency}"


# ---------------------------------------------------------------------------
# Pricing the callees
# ---------------------------------------------------------------------------
def price_callees(campaign: Campaign) -> int:
    """Give the campaign's unclaimed callees their worst case in its cost currency (NULL: no
    known rate in that currency): one UPDATE per distinct worst case. How many priced."""
    table = RateTable.of(campaign.app_id)
    rows = Callee.objects.filter(campaign_id=campaign.pk, state__in=PRICEABLE)
    if not table.longest:  # no rate known: nothing to price (a million rows left untouched)
        rows.filter(worst_cost__isnull=False).update(worst_cost=None)
        return 0
    size = table.longest
    currency = cost_currency(campaign)
    by_cost: dict[Decimal | None, list[str]] = defaultdict(list)
    for head in grouped(rows, "number", size):
        rate = table.lookup(head or "")
        cost = None
        if rate is not None and rate.currency == currency:
            cost = worst_case(rate, campaign.max_duration, campaign.app.rate_unit)
        by_cost[cost].append(head or "")
    from django.db.models.functions import Substr

    priced = 0
    for cost, heads in by_cost.items():
        for start in range(0, len(heads), 2000):
            chunk = heads[start : start + 2000]
            priced += (
                rows.annotate(head=Substr("number", 1, size))
                .filter(head__in=chunk)
                .update(worst_cost=cost)
            )
    return priced


# ---------------------------------------------------------------------------
# The claim
# ---------------------------------------------------------------------------
APP_CAP = ("daily_cap_amount", "daily_cap_currency", "daily_billed", "daily_day")
BALANCE = ("balance", "gift", "credit")


def _claim_row(campaign: Campaign) -> dict[str, Any] | None:
    """A claim's one read of money: the campaign's budget totals, its app's daily cap and its
    account's balance (kept for the balance guard right after: balance_guard.within_balance)."""
    joined = {f: F(f"app__{f}") for f in APP_CAP} | {f: F(f"app__account__{f}") for f in BALANCE}
    row = (
        Campaign.objects.filter(pk=campaign.pk)
        .values("budget_amount", "budget_currency", "budget_billed", "budget_reserved", **joined)
        .first()
    )
    campaign.claim_balance = None if row is None else tuple(row[f] for f in BALANCE)
    return row


def _room(
    campaign: Campaign, row: dict[str, Any] | None = None
) -> tuple[Decimal, dict[str, Any]] | None:
    row = row or (
        Campaign.objects.filter(pk=campaign.pk)
        .values("budget_amount", "budget_currency", "budget_billed", "budget_reserved")
        .first()
    )
    if row is None or row["budget_amount"] is None:
        return None
    return row["budget_amount"] - row["budget_billed"] - row["budget_reserved"], row


def _app_left(
    campaign: Campaign, currency: str, app: dict[str, Any] | None = None
) -> Decimal | None:
    """Room under the app's daily cap (None: no cap in this currency): the cap less what was
    billed today and the reservations of the app's campaigns in that currency (a few campaign
    rows, never the calls). `app`: the claim's row (_claim_row), else the app row is read."""
    app = app or ItnioApp.objects.filter(pk=campaign.app_id).values(*APP_CAP).first()
    if app is None or app["daily_cap_amount"] is None or app["daily_cap_currency"] != currency:
        return None
    billed = app["daily_billed"] if app["daily_day"] == timezone.localdate() else Decimal(0)
    # Every campaign of the app, with a budget or not, whose totals are in the cap's currency.
    reserved = Campaign.objects.filter(_in_currency(currency), app_id=campaign.app_id).aggregate(
        s=Sum("budget_reserved")
    )["s"] or Decimal(0)
    return app["daily_cap_amount"] - billed - reserved


def _worst_max(campaign: Campaign) -> Decimal:
    """The dearest worst case of the campaign's callees, read once per campaign object (a
    dispatcher run's: callees are never priced while its dispatcher runs)."""
    cached = getattr(campaign, "_worst_max", None)
    if cached is None:
        found = Callee.objects.filter(campaign_id=campaign.pk).aggregate(m=Max("worst_cost"))
        cached = campaign._worst_max = found["m"] or Decimal(0)
    return cached


def within_budget(campaign: Campaign, callees: QuerySet[Callee]) -> QuerySet[Callee]:
    """The claim's budget rule: of `callees` (the sendable ones), only the first in id order
    whose worst cases add up to no more than the room left under the budget and the app's
    daily cap, one batch at most. Any subset the claim then takes fits as well (worst cases are
    never negative). A campaign without a budget on an app without a cap in its currency is
    not limited (one read of the app row)."""
    row = _claim_row(campaign)
    if row is None:
        return callees
    if campaign.budget_amount is None:  # a budget is only given to a campaign not running
        left = _app_left(campaign, cost_currency(campaign), row)
        if left is None:
            return callees
    else:
        room = _room(campaign, row)
        if room is None:
            return callees
        left = room[0]
        app_left = _app_left(campaign, room[1]["budget_currency"], row)
        if app_left is not None:
            left = min(left, app_left)
    if left >= _worst_max(campaign) * settings.ITNIO_SEND_GROUP_MAX:
        # A full batch of its dearest callees fits: the budget cannot bind this claim (the
        # claim's statement then needs no running sum). Unpriced callees still wait.
        return callees.filter(worst_cost__isnull=False)
    first = (
        callees.filter(worst_cost__lte=left)
        .order_by("id")
        .values("id")[: settings.ITNIO_SEND_GROUP_MAX]
    )
    running = (
        Callee.objects.filter(pk__in=first)
        .annotate(run=Window(Sum("worst_cost"), order_by=F("id").asc()))
        .filter(run__lte=left)
        .values("id")
    )
    return callees.filter(pk__in=running)


def reserve_in_claim(campaign_id: int, batch: DispatchBatch, callee_ids: list[int]) -> None:
    """In the claim's own transaction: add the claimed callees' worst case to the campaign's
    reserved total, so a claim and its reservation commit together (a claim cut by a lost
    connection gives back exactly what it reserved). PostgreSQL's claim statement does the
    same in SQL (claim_statements.py)."""
    total = Callee.objects.filter(id__in=callee_ids).aggregate(s=Sum("worst_cost"))["s"]
    if total:
        Campaign.objects.filter(pk=campaign_id).update(budget_reserved=F("budget_reserved") + total)
    batch.worst_total, batch.reserved_by_claim = total or Decimal(0), True


def reserve_claimed(campaign: Campaign, claimed: Any) -> Decimal:
    """After a claim (before its request): add the batch's worst case to the campaign's
    reserved total; a claim that found nothing decides between waiting and pausing. Returns
    the batch's worst case (0 for no batch).

    Each write is one statement of its own (atomic by itself), and a batch that costs nothing
    known (no rate: its worst cases are NULL) writes nothing unless the budget was waiting:
    this runs once per claim, and the claim's pace is the dispatcher's."""
    total = Decimal(0)
    if claimed is not None:
        batch, pairs = claimed
        total = getattr(batch, "worst_total", None)  # summed by the claim's own statement
        if total is None:
            ids = [i for i, _n in pairs]
            total = Callee.objects.filter(id__in=ids).aggregate(s=Sum("worst_cost"))["s"]
        total = total or Decimal(0)
        freed = gettext("Budget room freed by final records: sending again.")
        rows = Campaign.objects.filter(pk=campaign.pk)
        # Whether the budget waits: the claimer's campaign row, read at the run's start and
        # set again after a claim that found nothing. Only then does a free batch write.
        waiting = getattr(campaign, "budget_waiting", True)
        campaign.budget_waiting = False
        if total and not getattr(batch, "reserved_by_claim", False):
            rows.update(
                budget_reserved=F("budget_reserved") + total,
                budget_waiting=False,
                state_reason=Case(
                    When(budget_waiting=True, then=Value(freed)),
                    default=F("state_reason"),
                    output_field=TextField(),
                ),
            )
        elif waiting:  # (reserved by the claim's statement, or nothing to reserve)
            rows.filter(budget_waiting=True).update(budget_waiting=False, state_reason=freed)
        return total
    budget_stalled(campaign)
    campaign.budget_waiting = True  # it may wait now: the next batch clears it
    return total


def budget_stalled(campaign: Campaign) -> str:
    """A running budgeted campaign whose claim found nothing: "" when the budget is not why;
    "waiting" when open calls may still free room; "paused" when nothing is open and not one
    pending callee fits."""
    room = _room(campaign)
    if room is None:
        if campaign.budget_amount is None:  # no budget: only the app's daily cap holds it
            return _cap_stalled(campaign)
        return ""
    left, row = room
    app_left = _app_left(campaign, row["budget_currency"])
    pending = Callee.objects.filter(
        campaign_id=campaign.pk, state__in=(Callee.State.PENDING, Callee.State.WAITING)
    )
    if not pending.exists():
        return ""
    running = Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING)
    fits = pending.filter(worst_cost__lte=left)
    if app_left is not None and fits.exists() and not fits.filter(worst_cost__lte=app_left):
        # The app's daily cap, not the budget: room comes back tomorrow (the tick continues).
        running.update(
            budget_waiting=True,
            state_reason=gettext("Waiting for the app's daily cap (billed today and reserved)."),
        )
        return "waiting"
    if fits.exists():
        return ""  # something fits: the claim left it out for another reason
    if row["budget_reserved"] > 0 or _open_calls(campaign):
        running.filter(budget_waiting=False).update(
            budget_waiting=True,
            state_reason=gettext(
                "Waiting for budget room: %(reserved)s reserved for calls not final yet, "
                "%(billed)s billed of %(budget)s."
            )
            % _amounts(row),
        )
        return "waiting"
    from campaigns.services.campaign_state import pause_running

    with transaction.atomic():  # the pause and its webhook events commit together
        reason = gettext("Budget reached: spent %(billed)s of %(budget)s.") % _amounts(row)
        if pause_running(campaign, reason, BY_BUDGET, budget_waiting=False):
            _announce_budget_reached(campaign, row)
    return "paused"


def _cap_stalled(campaign: Campaign) -> str:
    """A running campaign without a budget whose claim found nothing: "waiting" when the app's
    daily cap is why (not one pending callee's worst case fits under it); the tick continues."""
    app_left = _app_left(campaign, cost_currency(campaign))
    if app_left is None:
        return ""
    pending = Callee.objects.filter(
        campaign_id=campaign.pk, state__in=(Callee.State.PENDING, Callee.State.WAITING)
    )
    if not pending.exists() or pending.filter(worst_cost__lte=app_left).exists():
        return ""
    Campaign.objects.filter(pk=campaign.pk, state=Campaign.State.RUNNING).update(
        budget_waiting=True,
        state_reason=gettext("Waiting for the app's daily cap (billed today and reserved)."),
    )
    return "waiting"


def _announce_budget_reached(campaign: Campaign, row: dict[str, Any]) -> None:
    """campaign.budget_reached for webhook subscribers (the pause itself, with its
    campaign.state_changed and e-mail, is campaign_state.pause_running's)."""
    from campaigns.services.outbound_hooks import CAMPAIGN_BUDGET_REACHED, campaign_payload, emit

    amounts = {key: row[f"budget_{key}"] for key in ("amount", "billed", "reserved")}
    emit(
        CAMPAIGN_BUDGET_REACHED,
        [
            campaign_payload(
                campaign,
                budget={k: str(v) for k, v in amounts.items()},
                currency=row["budget_currency"],
            )
        ],
    )


def _open_calls(campaign: Campaign) -> bool:
    return Callee.objects.filter(campaign_id=campaign.pk, state__in=IN_FLIGHT).exists()


def _amounts(row: dict[str, Any]) -> dict[str, str]:
    currency = row["budget_currency"]
    return {
        "billed": f"{plain(row['budget_billed'])} {currency}",
        "reserved": f"{plain(row['budget_reserved'])} {currency}",
        "budget": f"{plain(row['budget_amount'])} {currency}",
    }


# ---------------------------------------------------------------------------
# Records: reserved → billed
# ---------------------------------------------------------------------------
def charge_calls(calls: Iterable[Call]) -> int:
    """For the final calls among `calls` (in memory, locked, about to be saved by the caller
    with `budget_charged`): add each one's cost to its campaign's billed total in its cost
    currency (only the change, when a final record is replaced) and release its callee's worst
    case the first time. A few statements per batch, whatever its size. How many counted."""
    finals = [c for c in calls if c.hangup_time is not None and c.campaign_id]
    if not finals:
        return 0
    balance = balance_currency()
    budgeted = {
        pk: currency if amount is not None else balance
        for pk, amount, currency in Campaign.objects.filter(
            pk__in={c.campaign_id for c in finals}
        ).values_list("pk", "budget_amount", "budget_currency")
    }
    finals = [c for c in finals if c.campaign_id in budgeted]
    if not finals:
        return 0
    first_time = [c.campaign_callee_id for c in finals if c.budget_charged is None]
    worst = dict(
        Callee.objects.filter(
            pk__in=[i for i in first_time if i], worst_cost__isnull=False
        ).values_list("pk", "worst_cost")
    )
    billed: dict[int, Decimal] = defaultdict(Decimal)
    released: dict[int, Decimal] = defaultdict(Decimal)
    today_billed: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    today = timezone.localdate()
    for call in finals:
        same = (call.currency or "USD") == budgeted[call.campaign_id]
        cost = call.cost if same and call.cost is not None else Decimal(0)
        delta = cost - (call.budget_charged or Decimal(0))
        billed[call.campaign_id] += delta
        if timezone.localdate(call.hangup_time) == today:
            today_billed[(call.app_id, budgeted[call.campaign_id])] += delta
        if call.budget_charged is None:
            released[call.campaign_id] += worst.get(call.campaign_callee_id, Decimal(0))
        call.budget_charged = cost
    for campaign_id in billed:
        Campaign.objects.filter(pk=campaign_id).update(
            budget_billed=F("budget_billed") + billed[campaign_id],
            budget_reserved=F("budget_reserved") - released[campaign_id],
        )
    _bill_apps_today(finals, budgeted, today_billed)
    return len(finals)


def _bill_apps_today(
    finals: list[Call], budgeted: dict[int, str], billed: dict[tuple[int, str], Decimal]
) -> None:
    """Add today's part of the costs to each app's running daily total (in its cap's currency);
    a new day starts it again. One UPDATE per app and currency of the batch."""
    today = timezone.localdate()
    for (app_id, currency), amount in billed.items():
        if not amount:
            continue
        ItnioApp.objects.filter(pk=app_id, daily_cap_currency=currency).update(
            daily_billed=Case(
                When(daily_day=today, then=F("daily_billed") + amount),
                default=Value(amount),
                output_field=DecimalField(max_digits=18, decimal_places=6),
            ),
            daily_day=today,
        )


def charge_calls_by_id(call_ids: Iterable[int]) -> int:
    """`charge_calls` for calls not in memory (linked to their campaign after their record was
    applied: a push that beat the answer, reconciliation), and saves them."""
    ids = list(call_ids)
    if not ids:
        return 0
    with transaction.atomic():
        calls = list(
            Call.objects.select_for_update()
            .filter(pk__in=ids, hangup_time__isnull=False, budget_charged__isnull=True)
            .order_by("pk")
        )
        counted = charge_calls(calls)
        for call in calls:
            Call.objects.filter(pk=call.pk).update(budget_charged=call.budget_charged)
    return counted


def release_batch(campaign: Campaign, batch: DispatchBatch, *, states: Iterable[str]) -> None:
    """Give back the reservation of the batch's callees in `states` (rejected numbers; a
    request not placed, before its callees go back to pending). In the caller's transaction."""
    total = Callee.objects.filter(batch_id=batch.pk, state__in=list(states)).aggregate(
        s=Sum("worst_cost")
    )["s"]
    if total:
        Campaign.objects.filter(pk=campaign.pk).update(budget_reserved=F("budget_reserved") - total)


def release_reserved(campaign: Campaign, callees: QuerySet[Callee]) -> None:
    """Give back the reservation of these in-flight callees (about to go back to pending)."""
    total = callees.aggregate(s=Sum("worst_cost"))["s"]
    if total:
        Campaign.objects.filter(pk=campaign.pk).update(budget_reserved=F("budget_reserved") - total)


def after_answer(
    campaign: Campaign, batch: DispatchBatch, *, rejected: int = 1, pushed_first: bool = True
) -> None:
    """After a sendGroup answer was written: rejected numbers give their reservation back (once
    per batch: its `budget_settled` mark), and calls a push made final before the answer
    linked them to the campaign are charged now. The answer's writer says when neither can
    apply (no number rejected; no call of the batch existed before its answer, so none is
    final yet: a push after the answer finds the call linked and charges it itself), and then
    this costs no query: it runs for every answer."""
    if rejected:
        with transaction.atomic():
            if DispatchBatch.objects.filter(pk=batch.pk, budget_settled=False).update(
                budget_settled=True
            ):
                release_batch(campaign, batch, states=(Callee.State.REJECTED,))
    if pushed_first:
        charge_calls_by_id(
            Callee.objects.filter(batch_id=batch.pk, call__hangup_time__isnull=False).values_list(
                "call_id", flat=True
            )
        )


# ---------------------------------------------------------------------------
# Setting a budget
# ---------------------------------------------------------------------------
def recount(campaign: Campaign) -> None:
    """Both totals from scratch (when the budget of a campaign that is not running is set,
    never per claim): billed from the final calls, reserved from the claimed callees whose call
    is not final; each final call is marked counted."""
    calls = Call.objects.filter(campaign_id=campaign.pk, hangup_time__isnull=False)
    currency = cost_currency(campaign)
    currencies = [currency] + (["", None] if currency == "USD" else [])
    same = calls.filter(currency__in=[c for c in currencies if c is not None])
    billed = same.aggregate(s=Sum("cost"))["s"] or Decimal(0)
    calls.update(budget_charged=0)
    same.filter(cost__isnull=False).update(budget_charged=F("cost"))
    claimed = Callee.objects.filter(campaign_id=campaign.pk)
    in_flight = claimed.filter(state__in=IN_FLIGHT).aggregate(s=Sum("worst_cost"))["s"]
    not_final = claimed.filter(
        state=Callee.State.SUBMITTED, call__hangup_time__isnull=True
    ).aggregate(s=Sum("worst_cost"))["s"]
    Campaign.objects.filter(pk=campaign.pk).update(
        budget_billed=billed,
        budget_reserved=(in_flight or Decimal(0)) + (not_final or Decimal(0)),
        budget_waiting=False,
    )


def budget_set(
    *, campaign: Campaign, amount: Decimal | None, currency: str, actor: Actor
) -> Campaign:
    """Set (or, with amount None, remove) a campaign's budget. Its callees are priced, its
    totals recounted; a campaign the budget paused runs again when the new budget leaves room.
    """
    from campaigns.services.campaigns import CampaignError, _enqueue_dispatch_on_commit, _require

    _require(actor)  # a budget steers what is spent: who may place calls
    if campaign.state in (Campaign.State.COMPLETED, Campaign.State.CANCELLED):
        raise CampaignError(
            gettext("The campaign is %(state)s: its budget no longer matters.")
            % {"state": campaign.get_state_display().lower()}
        )
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().select_related("app").get(pk=campaign.pk)
        running = locked.state == Campaign.State.RUNNING
        if running and (amount is None) != (locked.budget_amount is None):
            raise CampaignError(
                gettext("Pause the campaign first to give it a budget or to remove its budget.")
            )
        if running and amount is not None and currency != locked.budget_currency:
            raise CampaignError(
                gettext("The budget is in %(currency)s: a running campaign keeps its currency.")
                % {"currency": locked.budget_currency}
            )
        locked.budget_amount = amount
        locked.budget_currency = currency.upper() if amount is not None else ""
        Campaign.objects.filter(pk=locked.pk).update(
            budget_amount=locked.budget_amount, budget_currency=locked.budget_currency
        )
        if running:
            # The dispatcher reads the amount before every claim; the totals are kept running.
            Campaign.objects.filter(pk=locked.pk).update(budget_waiting=False)
            _enqueue_dispatch_on_commit(locked)
        else:
            price_callees(locked)  # without a budget: in the balance's currency
            recount(locked)
            budget_paused = locked.state_changed_by == BY_BUDGET
            if amount is not None and locked.state == Campaign.State.PAUSED and budget_paused:
                Campaign.objects.filter(pk=locked.pk).update(
                    state=Campaign.State.RUNNING,
                    state_reason=gettext("Budget raised to %(budget)s by %(actor)s")
                    % {"budget": budget_text(locked), "actor": actor.label},
                    state_changed_at=timezone.now(),
                    state_changed_by=actor.label[:150],
                )
                _enqueue_dispatch_on_commit(locked)
    campaign.refresh_from_db()
    if actor.user is not None:
        LogEntry.objects.log_actions(
            user_id=actor.user.pk,
            queryset=[campaign],
            action_flag=CHANGE,
            change_message=f"Budget set to {budget_text(campaign) or 'none'}",
            single_object=True,
        )
    return campaign
