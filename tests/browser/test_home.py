"""The operations home in the browser, as each role: what each sees, a campaign's bar moving
by itself, and nothing clipped or overlapping at 1366×768."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from campaigns.models import Callee, Campaign
from tests.browser.helpers import log_in
from tests.conftest import make_staff
from tests.home_data import busy_portal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["Viewer", "Operator", "Admin", "superuser"]
QUICK = ["Send TTS call", "New campaign", "Import callees", "Upload voice file"]
GROUPS = ["Setup", "Campaigns", "Calls", "AI", "Operations", "Users"]

# Boxes of the home whose content is wider than the box (cut off), and boxes of the main column
# that run into the Recent actions panel.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const side = document.querySelector('#content-related').getBoundingClientRect();
  document.querySelectorAll('#content-main .module').forEach(box => {
    const r = box.getBoundingClientRect();
    const name = box.id || box.className;
    if (box.scrollWidth > box.clientWidth + 1) problems.push(name + ' is cut off');
    if (r.right > side.left && r.top < side.bottom && r.bottom > side.top)
      problems.push(name + ' runs under Recent actions');
  });
  if (document.documentElement.scrollWidth > window.innerWidth)
    problems.push('page scrolls sideways');
  return problems;
}"""


def _log_in(page, live_server, role: str) -> None:
    if role == "superuser":
        User.objects.create_superuser("root", "root@example.com", "pw")
        username = "root"
    else:
        username = f"home-{role.lower()}"
        make_staff(username, role)
    log_in(page, live_server, username)
    page.wait_for_selector("#needs-attention")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_walks_its_home(live_server, page, screenshot, account, role):
    rows = busy_portal(account)
    page.set_viewport_size({"width": 1366, "height": 768})
    _log_in(page, live_server, role)

    actions = page.locator("#quick-actions a")
    assert actions.all_inner_texts() == ([] if role == "Viewer" else QUICK)
    attention = page.locator("#needs-attention").inner_text()
    assert "Autumn sale: 1 callee waits for reconciliation" in attention
    assert "1 AI task was refused by ITNIO" in attention
    assert "low: under 10 USD" in page.locator("#balances").inner_text()
    assert "Paused by ops: wrong voice file" in page.locator("#board-paused").inner_text()
    assert page.locator("#today-answered").inner_text() == "1"
    groups = page.locator(".portal-groups .module caption a.section")
    names = [n.strip() for n in groups.all_text_contents() if n.strip() in GROUPS]
    admin_like = role in ("Admin", "superuser")
    assert names == (GROUPS if admin_like else GROUPS[:-1])
    heartbeats = page.locator("#group-operations th a[href='/admin/campaigns/heartbeat/']")
    assert heartbeats.count() == (1 if admin_like else 0)

    screenshot(f"home-{role.lower()}")
    assert page.evaluate(LAYOUT_PROBLEMS) == []

    if role == "Operator":
        # The running campaign's bar follows its progress without a reload.
        running = page.locator("#board-running tr.board-campaign")
        assert "0.0 %" in running.inner_text()
        Callee.objects.filter(campaign=rows[Campaign]).update(state=Callee.State.REJECTED)
        page.wait_for_function(
            "() => document.querySelector('#board-running .portal-bar-label')"
            ".textContent.startsWith('100.0')",
            timeout=15_000,
        )
        # The sidebar of any other page is grouped the same way.
        page.click("#group-campaigns th a[href='/admin/campaigns/campaign/']")
        page.wait_for_selector("#nav-sidebar")
        sidebar = page.locator("#nav-sidebar caption").all_text_contents()
        assert [s.strip() for s in sidebar] == GROUPS[:-1]
        screenshot("campaign-list-sidebar")
