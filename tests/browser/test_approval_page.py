"""Two-person approval in the browser at 1366×768: one Admin launches, the launch waits; a
second Admin finds it on the home page, reviews the plan asked for beside the plan now, and
approves it, which starts the campaign."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from tests.browser.helpers import log_in
from tests.conftest import make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = "test-artifacts/screenshots"


def test_a_second_admin_approves_a_waiting_launch(
    live_server, browser, campaign, sandbox_state, settings
):
    settings.LAUNCH_APPROVAL_ABOVE_CALLEES = 10
    for name in ("boss", "second"):
        user = make_staff(name, "Admin")
        user.set_password("pw")
        user.save()
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, live_server, "boss")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/launch/")
    page.click("#confirm-launch")
    page.wait_for_selector("#waiting-approval")
    assert "second person" in page.locator(".messagelist").inner_text()
    page.screenshot(path=f"{SHOTS}/approval-requested.png")
    context.clear_cookies()
    log_in(page, live_server, "second")
    page.click("#needs-attention a:has-text('waits for approval')")
    page.wait_for_selector("#approval-snapshot")
    snapshot = page.locator("#approval-snapshot").inner_text()
    assert "35" in snapshot and "changed" not in snapshot
    page.screenshot(path=f"{SHOTS}/approval-review.png")
    page.click("#approve-launch")
    page.wait_for_selector(".messagelist")
    assert "Approved and launched" in page.locator(".messagelist").inner_text()
    assert Campaign.objects.get(pk=campaign.pk).state in ("running", "completed")
    assert sandbox_state.requests_for("/voice/sendGroup")
    context.close()
