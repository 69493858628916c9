"""The admin's part for money: the budget on the campaign form (a draft's; later changes go
through `set_budget`, which prices the callees and recounts the totals) and its running
totals; the app form's daily cap."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext, gettext_lazy

from campaigns.models import Campaign, ItnioApp

BUDGET_FIELDS = ["budget_amount", "budget_currency"]
BUDGET_TOTALS = ["budget_billed", "budget_reserved", "budget_waiting"]


def budget_fieldset(obj: Campaign | None) -> tuple[Any, dict[str, Any]]:
    return (
        gettext_lazy("Budget"),
        {
            "fields": BUDGET_FIELDS + (BUDGET_TOTALS if obj is not None else []),
            "description": gettext_lazy(
                "Optional. The dispatcher never sends a batch whose worst case (every callee "
                "answers and talks the max duration), added to what is billed and the worst "
                "case of the calls not final yet, would exceed it. Every callee needs a known "
                "rate in the budget's currency. After launch, change it with set_budget."
            ),
        },
    )


def budget_readonly(obj: Campaign | None) -> list[str]:
    if obj is None:
        return []
    return BUDGET_TOTALS + (BUDGET_FIELDS if obj.state != Campaign.State.DRAFT else [])


def check_budget(form: Any, cleaned: dict[str, Any]) -> None:
    """Both parts of a budget, or neither; a three-letter currency; more than 0."""
    if "budget_amount" not in form.fields:
        return
    amount = cleaned.get("budget_amount")
    currency = (cleaned.get("budget_currency") or "").strip().upper()
    if (amount is None) != (not currency):
        form.add_error("budget_currency", gettext("Give both parts of the budget, or neither."))
        return
    if amount is not None and amount <= 0:
        form.add_error("budget_amount", gettext("A budget must be more than 0."))
    if currency and not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
        form.add_error(
            "budget_currency", gettext("the currency must be a three-letter code such as EUR")
        )
    cleaned["budget_currency"] = currency


class DailyCapForm(forms.ModelForm):
    """The app form: its daily cap needs both parts (or neither)."""

    class Meta:
        model = ItnioApp
        fields = ["daily_cap_amount", "daily_cap_currency"]  # the admin adds its others

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "daily_cap_amount" not in self.fields:
            return cleaned
        amount = cleaned.get("daily_cap_amount")
        currency = (cleaned.get("daily_cap_currency") or "").strip().upper()
        if (amount is None) != (not currency):
            self.add_error(
                "daily_cap_currency", gettext("Give both parts of the daily cap, or neither.")
            )
        elif amount is not None and amount <= 0:
            self.add_error("daily_cap_amount", gettext("A daily cap must be more than 0."))
        elif currency and not (len(currency) == 3 and currency.isalpha() and currency.isascii()):
            self.add_error(
                "daily_cap_currency",
                gettext("the currency must be a three-letter code such as EUR"),
            )
        cleaned["daily_cap_currency"] = currency
        return cleaned
