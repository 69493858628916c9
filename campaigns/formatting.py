"""One way to show counts and money on every page: thousands separators by the page's locale,
money with its currency and sensible decimals, the exact amount on hover and in exports.

Ids, jobIds and phone numbers are never formatted: they are shown as they are.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils import formats
from django.utils.html import format_html

# What a page shows where a value is missing (one placeholder everywhere).
NONE = "–"


def count(value: Any) -> str:
    """3578 -> "3,578" (by the locale); anything not a whole number as it is."""
    if value is None or value == "":
        return NONE
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    return formats.number_format(number, force_grouping=True)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _places(amount: Decimal) -> int:
    """Two decimals from 1 up; below, up to four, so a per-call cost of 0.00358 reads 0.0036."""
    if abs(amount) >= 1:
        return 2
    exact = max(0, -amount.normalize().as_tuple().exponent)
    return min(max(exact, 2), 4)


def money(value: Any, currency: str | None = None) -> str:
    """9.631848 EUR -> "9.63 EUR" (grouped by the locale); a blank currency is ITNIO's USD."""
    amount = _decimal(value)
    if amount is None:
        return NONE
    places = _places(amount)
    # Rounded here: Django's number_format cuts the extra decimals off instead.
    rounded = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    shown = formats.number_format(rounded, places, force_grouping=True)
    return f"{shown} {currency or 'USD'}"


def exact_money(value: Any, currency: str | None = None) -> str:
    """The amount as ITNIO sent it (no padding zeros), with its currency: for hovers, exports."""
    amount = _decimal(value)
    if amount is None:
        return NONE
    return f"{amount.normalize():f} {currency or 'USD'}"


def money_html(value: Any, currency: str | None = None) -> str:
    """`money` with the exact amount on hover."""
    if _decimal(value) is None:
        return NONE
    return format_html(
        '<span class="portal-money" title="{}">{}</span>',
        exact_money(value, currency),
        money(value, currency),
    )


def balance_currency() -> str:
    """ITNIO's balance has no currency field; its settlement currency is the US dollar."""
    return settings.PORTAL_BALANCE_CURRENCY
