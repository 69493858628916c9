"""manage.py set_budget NAME "8.00 EUR" (or none): set, raise or remove a campaign's budget.

Prints `budget=8.00 EUR billed=1.20 EUR reserved=0.40 EUR` (plain numbers, never translated);
a campaign the budget paused runs again when the new budget leaves room."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.management.campaign_commands import get_campaign
from campaigns.services.actors import Actor
from campaigns.services.budgets import BudgetError, budget_set, parse_budget
from campaigns.services.campaigns import CampaignError
from campaigns.services.estimate import plain


class Command(PortalCommand):
    help = gettext_lazy(
        'Set a campaign\'s budget ("8.00 EUR"; "none" removes it): the dispatcher never '
        "spends more."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("budget")

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        campaign = get_campaign(options["name"])
        amount, currency = None, ""
        if options["budget"].strip().lower() != "none":
            try:
                amount, currency = parse_budget(options["budget"])
            except BudgetError as exc:
                raise usage_error(str(exc)) from exc
        try:
            campaign = budget_set(
                campaign=campaign,
                amount=amount,
                currency=currency,
                actor=Actor(label=label, user=user),
            )
        except CampaignError as exc:
            raise data_error(str(exc)) from exc
        if campaign.budget_amount is None:
            self.stdout.write("budget=none")
            return
        c = campaign.budget_currency
        self.stdout.write(
            f"budget={plain(campaign.budget_amount)} {c} billed={plain(campaign.budget_billed)} "
            f"{c} reserved={plain(campaign.budget_reserved)} {c}"
        )
        self.stdout.write(f"state={campaign.state}")
