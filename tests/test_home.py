"""The operations home (the admin index) per role, and the navigation grouped by task."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.models import (
    CalleeImport,
    Campaign,
    Heartbeat,
)
from tests.conftest import make_staff
from tests.home_data import busy_portal

pytestmark = pytest.mark.django_db

QUICK = ["send-tts", "new-campaign", "import-callees", "upload-voice-file"]
INTERNAL = [
    "/admin/campaigns/heartbeat/",
    "/admin/campaigns/scheduledjobrun/",
    "/admin/campaigns/erasednumber/",
]
TASK_RESULTS = "/admin/django_tasks_database/dbtaskresult/"  # not the portal's: superusers


def _user(role: str) -> User:
    if role == "superuser":
        return User.objects.create_superuser("root", "root@example.com", "pw")
    return make_staff(f"home-{role.lower()}", role)


def _home(client, role: str) -> str:
    client.force_login(_user(role))
    response = client.get("/admin/")
    assert response.status_code == 200
    return response.content.decode()


def _box(html: str, box_id: str) -> str:
    box = rf'<div class="module portal-home-box" id="{box_id}">(.*?)\n    </div>'
    match = re.search(box, html, re.S)
    assert match, f"no #{box_id} box"
    return match.group(1)


@pytest.fixture
def busy(account):
    return busy_portal(account)


@pytest.mark.parametrize("role", ["Viewer", "Operator", "Admin", "superuser"])
def test_the_home_shows_each_role_its_day(client, busy, role, settings):
    settings.PORTAL_LOW_BALANCE = 10
    html = _home(client, role)

    # Quick actions: none for a Viewer, every one for who may spend.
    shown = re.findall(r'id="quick-(?!actions)([a-z-]+)"', html)
    assert shown == ([] if role == "Viewer" else QUICK)
    if role == "Viewer":
        assert 'id="quick-actions"' not in html

    balances = _box(html, "balances")
    assert "3.50 USD" in balances and "low: under 10 USD" in balances and "read " in balances

    board = _box(html, "campaign-board")
    for name in ("Spring promo", "Autumn sale", "Winter wishes", "Summer done"):
        assert name in board
    assert "Long gone" not in board  # finished a month ago
    assert "Paused by ops: wrong voice file" in board
    paused = re.search(r'id="board-paused">(.*?)</table>', board, re.S).group(1)
    assert "50.0 %" in paused and "2</span> / <span" in paused  # 2 of 4 final

    today = _box(html, "today")
    assert re.search(r'id="today-calls">2<', today)  # today's call and the admin object's
    assert re.search(r'id="today-answered">1<', today)
    assert "1,234.50 EUR" in today and 'id="dashboard-link"' in today

    attention = _box(html, "needs-attention")
    assert "Autumn sale: 1 callee waits for reconciliation" in attention
    assert "Push inbox: 1 entry failed" in attention
    assert "Import list.csv into Spring promo is waiting for confirmation" in attention
    assert "1 AI task was refused by ITNIO" in attention
    assert "Task worker has never been seen running" in attention
    assert "Scheduler" not in attention  # seen a moment ago
    # The internal tables (and links to them) are for Admins only.
    admin_like = role in ("Admin", "superuser")
    assert ("/admin/campaigns/heartbeat/" in attention) is admin_like
    nav = html.split('id="group-operations"', 1)[1]
    for url in INTERNAL:
        assert (f'href="{url}"' in nav) is admin_like, (role, url)
    assert (f'href="{TASK_RESULTS}"' in nav) is (role == "superuser")
    assert ('id="group-users"' in html) is admin_like


def test_the_internal_pages_refuse_viewers_and_operators(client, busy):
    for role, status in (("Viewer", 403), ("Operator", 403), ("Admin", 200)):
        client.force_login(_user(role))
        for url in INTERNAL:
            assert client.get(url).status_code == status, (role, url)


def test_a_quiet_portal_needs_no_attention(client, account):
    Heartbeat.objects.bulk_create(
        Heartbeat(name=n, last_seen_at=timezone.now())
        for n in ("scheduler", "worker", "push-apply")
    )
    html = _home(client, "Operator")
    assert "Nothing needs attention." in _box(html, "needs-attention")
    assert "not read yet" in _box(html, "balances")
    assert html.count("None.") == 4  # no campaign in any state


def test_the_navigation_is_grouped_by_task(client, busy):
    html = _home(client, "superuser")
    groups = re.findall(r'id="group-([a-z]+)">.*?class="section">([^<]+)</a>', html, re.S)
    assert [name for _, name in groups] == [
        "Setup",
        "Campaigns",
        "Calls",
        "AI",
        "Operations",
        "Users",
    ]
    expected = {
        "setup": ["ITNIO accounts", "ITNIO apps", "Rates", "Voice files", "SIP phone groups"],
        "campaigns": [
            "Campaigns",
            "Contact lists",
            "Contacts",
            "Contact imports",
            "Do-not-call entries",
            "Do-not-call lists",
            "Callees",
            "Callee imports",
        ],
        "calls": ["Calls", "Calls dashboard"],
        "ai": ["AI tasks", "AI customers", "AI call records"],
        "operations": ["API request log", "Push inbox", "Scheduled jobs", "Background heartbeats"],
    }
    for key, names in expected.items():
        box = html.split(f'id="group-{key}"', 1)[1].split("</table>", 1)[0]
        listed = re.findall(r'<th scope="row" id="[^"]+">\s*<a href="[^"]+"[^>]*>([^<]+)</a>', box)
        assert listed[: len(names)] == names, (key, listed)
    # The sidebar of every other page follows, and Django's app pages still answer.
    page = client.get("/admin/campaigns/campaign/").content.decode()
    assert 'id="nav-sidebar"' in page and 'id="group-setup"' in page
    assert client.get("/admin/campaigns/").status_code == 200
    assert client.get("/admin/sipphones/").status_code == 200


def test_the_home_reads_todays_figures_not_the_calls_table(
    client, busy, django_assert_max_num_queries
):
    client.force_login(_user("Admin"))
    with django_assert_max_num_queries(80):
        assert client.get("/admin/").status_code == 200


def test_a_staged_import_beyond_the_list_is_counted(client, busy):
    campaign = busy[Campaign]
    for i in range(10):
        CalleeImport.objects.create(campaign=campaign, original_name=f"f{i}.csv", state="staged")
    attention = _box(_home(client, "Operator"), "needs-attention")
    assert "6 more imports wait for confirmation" in attention  # 11 staged, 5 listed
