"""Template filters for counts and money (campaigns/formatting.py): {{ n|count }},
{{ amount|money:currency }}."""

from __future__ import annotations

from typing import Any

from django import template

from campaigns import formatting

register = template.Library()


@register.filter
def count(value: Any) -> str:
    return formatting.count(value)


@register.filter
def money(value: Any, currency: str | None = None) -> str:
    return formatting.money_html(value, currency)
