"""The balance watch in the browser at 1366×768: the low-balance banner on a page and the
account page's chart of the readings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from campaigns.services.balance_watch import balances_watch
from tests.browser.helpers import log_in
from tests.conftest import API_KEY, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "test-artifacts/screenshots"


def test_the_banner_and_the_balance_chart(live_server, browser, sandbox, sandbox_state, account):
    account.low_balance_threshold = 300
    account.save()
    start = timezone.now() - timedelta(days=3)
    for step, balance in enumerate(["500.00", "460.00", "410.00", "350.00", "290.00"]):
        sandbox_state.add_account(API_KEY, account.api_secret, balance=balance, gift="5.00")
        with freeze_time(start + timedelta(hours=12 * step)):
            balances_watch()
    boss = make_staff("boss", "Admin")
    boss.set_password("pw")
    boss.save()
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, live_server, "boss", then="/admin/campaigns/campaign/")
    banner = page.locator("#low-balance-banner")
    assert "Low balance on Acme: 295.00 USD" in banner.inner_text()
    page.screenshot(path=f"{SHOTS}/low-balance-banner.png")
    banner.locator("a").click()
    page.wait_for_selector("#balance-chart")
    page.locator("#balance-history").scroll_into_view_if_needed()
    assert page.locator("#balance-chart").bounding_box()["height"] > 100
    page.screenshot(path=f"{SHOTS}/balance-chart.png")
    context.close()
