"""One way to show counts and money (campaigns/formatting.py and its template filters)."""

from __future__ import annotations

from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from campaigns.formatting import NONE, count, exact_money, money, money_html


def test_counts_have_thousands_separators():
    assert count(3578) == "3,578"
    assert count(1_000_000) == "1,000,000"
    assert count(7) == "7"
    assert count(None) == NONE


def test_money_has_its_currency_and_sensible_decimals_rounded_not_cut():
    assert money(Decimal("9.631848"), "EUR") == "9.63 EUR"
    assert money(Decimal("7.799372"), "EUR") == "7.80 EUR"  # rounded, not cut to 7.79
    assert money(Decimal("12345.5"), "USD") == "12,345.50 USD"
    assert money(Decimal("0.03588"), "EUR") == "0.0359 EUR"  # a per-call cost keeps its cents
    assert money(Decimal("0.018"), "") == "0.018 USD"  # a blank currency is ITNIO's USD
    assert money(0, "EUR") == "0.00 EUR"
    assert money(None, "EUR") == NONE
    assert exact_money(Decimal("9.631848000"), "EUR") == "9.631848 EUR"


def test_the_exact_amount_is_on_hover():
    html = money_html(Decimal("9.631848"), "EUR")
    assert html == '<span class="portal-money" title="9.631848 EUR">9.63 EUR</span>'


def test_the_template_filters():
    template = Template("{% load portal_format %}{{ n|count }} | {{ amount|money:'EUR' }}")
    with translation.override("en"):
        out = template.render(Context({"n": 3578, "amount": Decimal("9.631848")}))
    assert out.startswith("3,578 | ") and ">9.63 EUR</span>" in out
