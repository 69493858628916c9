"""The balance guard: a running campaign pauses before it sends a batch whose worst case
exceeds the account's last known balance (balance + gift + credit, as the balance watch last
read it), rather than letting ITNIO answer "insufficient balance" (-10, itnio-api.md §3.2).

Part of the claim step (claim_rules.settle_claim): right after a batch is claimed and its
worst case reserved (budgets.reserve_claimed, which sums it anyway), and before its request.
A batch over the balance goes back to pending unsent (dispatch_outcomes.batch_not_placed)
and the campaign pauses the way a budget pause does (campaign.state_changed, the pause
e-mail). Only amounts in the balance's currency are compared (ITNIO's balance has no currency
field: PORTAL_BALANCE_CURRENCY); an account never read is not guarded.

Resuming a campaign the guard paused reads the balance first (getBalance spends nothing), so
a top-up counts at once; the batch is then claimed again and checked against the new balance.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext

from campaigns.formatting import balance_currency
from campaigns.models import Campaign, DispatchBatch, ItnioAccount
from campaigns.services.actors import Actor
from campaigns.services.budgets import cost_currency
from campaigns.services.estimate import plain

logger = logging.getLogger(__name__)
BY_BALANCE = "balance guard"


def last_known_balance(account_id: int) -> Decimal | None:
    """balance + gift + credit of the account's last reading (None: never read). One read of
    the account row: a top-up the watch saw counts from the next batch."""
    row = (
        ItnioAccount.objects.filter(pk=account_id).values_list("balance", "gift", "credit").first()
    )
    if row is None or row[0] is None:
        return None
    balance, gift, credit = row
    return balance + (gift or 0) + (credit or 0)


def claimed_balance(campaign: Campaign) -> Decimal | None:
    """The balance the claim read with its money row (budgets._claim_row), used once; without
    one (a claim that did not read it), the account's last reading."""
    row = campaign.__dict__.pop("claim_balance", None)
    if row is None:
        return last_known_balance(campaign.app.account_id)
    balance, gift, credit = row
    return None if balance is None else balance + (gift or 0) + (credit or 0)


def over_balance_reason(worst: Decimal, balance: Decimal) -> str:
    currency = balance_currency()
    return gettext(
        "Paused: the next batch could cost up to %(worst)s, more than the account's last known "
        "balance of %(balance)s (balance, gift and credit)."
    ) % {"worst": f"{plain(worst)} {currency}", "balance": f"{plain(balance)} {currency}"}


def within_balance(campaign: Campaign, batch: DispatchBatch, worst: Decimal) -> bool:
    """True: the claimed batch may be sent. False: its worst case (in the balance's currency)
    exceeds the last known balance, so it went back to pending unsent and the campaign was
    paused with the reason."""
    if worst <= 0 or cost_currency(campaign) != balance_currency():
        return True
    balance = claimed_balance(campaign)
    if balance is None or worst <= balance:
        return True
    from campaigns.services.campaign_state import pause_running
    from campaigns.services.dispatch_outcomes import batch_not_placed

    reason = over_balance_reason(worst, balance)
    batch_not_placed(campaign, batch, code="", reason=reason, now=timezone.now())
    pause_running(campaign, reason, BY_BALANCE)
    return False


def balance_before_resume(campaign: Campaign, actor: Actor) -> None:
    """A campaign the guard paused: read its account's balance now (outside any transaction),
    so resuming after a top-up continues without waiting for the watch. A failed read leaves
    the last known balance (the guard pauses again if it still does not suffice)."""
    if campaign.state != Campaign.State.PAUSED or campaign.state_changed_by != BY_BALANCE:
        return
    from campaigns.services.balance_watch import balance_read

    account = ItnioAccount.objects.get(pk=campaign.app.account_id)
    if balance_read(account, now=timezone.now(), actor=actor) is None:
        logger.warning("Balance of %s could not be read before resuming", account.name)
