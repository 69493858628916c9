"""Issue 14's acceptance in the browser: import two contact lists with a default region, put
part of them on the do-not-call list through its import page, create two campaigns on
overlapping lists with cap 1/24 in the campaign form, read each preflight on the launch plan,
launch, and find in the sandbox's record that no suppressed or capped number was called and
none twice."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from campaigns.models import Callee, Campaign, ContactList
from campaigns.services.suppression import portal_wide_list
from tests.browser.helpers import log_in, messages, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def import_list(page, live_server, name: str, path) -> str:
    page.goto(f"{live_server.url}/admin/campaigns/contactlist/import/")
    page.fill("input[name=list_name]", name)
    page.set_input_files("input[name=import_file]", str(path))
    page.fill("input[name=default_region]", "SG")
    submit(page, "#preview-import")
    preview = page.locator("#content-main").inner_text()
    submit(page, "#confirm-import")
    return preview


def plan_rows(page) -> list[tuple[str, str]]:
    rows = page.locator("#launch-plan tr")
    return [
        (rows.nth(i).locator("th").inner_text().strip(), rows.nth(i).locator("td").inner_text())
        for i in range(rows.count())
    ]


def test_two_campaigns_on_overlapping_lists_with_dnc_and_cap_in_the_browser(
    live_server, page, screenshot, uploaded_file, voice_app, sandbox_state, settings, tmp_path
):
    settings.ITNIO_SEND_GROUP_MAX = 7
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    north = tmp_path / "north.csv"
    north.write_text(
        "phone,name\n" + "".join(f"9100 {i:04d},N{i}\n" for i in range(1, 21)) + "1234 5678,Bad\n"
    )
    south = tmp_path / "south.csv"
    south.write_text("phone,name\n" + "".join(f"9100 {i:04d},S{i}\n" for i in range(11, 31)))
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("number\n+65 9100 0001\n+65 9100 0012\n+65 9100 0025\nnot a number\n")
    log_in(page, live_server, "ops")

    preview = import_list(page, live_server, "North", north)
    assert "not a valid Singapore number" in preview, preview
    import_list(page, live_server, "South", south)
    assert ContactList.objects.get(name="North").contacts.count() == 20
    assert ContactList.objects.get(name="South").contacts.count() == 20

    # The portal-wide list a migration makes (a transactional test's flush may have removed it).
    everyone = portal_wide_list()
    page.goto(f"{live_server.url}/admin/campaigns/suppressionentry/import/")
    page.select_option("select[name=suppression_list]", value=str(everyone.pk))
    page.set_input_files("input[name=import_file]", str(dnc))
    page.fill("input[name=reason]", "asked")
    submit(page, "#preview-import")
    summary = page.locator("#import-summary").inner_text()
    assert "4 rows read" in summary and "3 to add" in summary and "1 rejected" in summary
    submit(page, "#confirm-import")
    assert "3" in messages(page)

    for name, lists in (("Alpha", ["North", "South"]), ("Beta", ["South"])):
        page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
        page.fill("#id_name", name)
        page.select_option("#id_app", value=str(voice_app.pk))
        page.select_option("#id_voice_file", value=str(uploaded_file.pk))
        page.select_option("#id_contact_lists", label=lists)
        page.fill("#id_frequency_cap_calls", "1")
        page.fill("#id_frequency_cap_hours", "24")
        submit(page, "input[name=_continue]")
        assert "was added successfully" in messages(page), page.content()[:2000]

    alpha = Campaign.objects.get(name="Alpha")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{alpha.pk}/change/")
    submit(page, "#launch-campaign")
    screenshot("alpha-plan")
    # 40 contact rows, 10 numbers in both lists, 3 suppressed: 27 to call.
    rows = plan_rows(page)
    assert ("Audience:", "40") in rows and ("Will be called:", "27") in rows, rows
    assert ("Skipped:", "3 on a do-not-call list") in rows, rows
    assert ("Skipped:", "10 duplicate (in several lists, or already a callee)") in rows, rows
    submit(page, "#confirm-launch")
    assert "Running" in messages(page) or "Completed" in messages(page)

    beta = Campaign.objects.get(name="Beta")
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{beta.pk}/change/")
    submit(page, "#launch-campaign")
    screenshot("beta-plan")
    # South's 20: 2 suppressed, the other 18 called by Alpha within the day: none to call, and
    # the page says so instead of offering the launch.
    rows = plan_rows(page)
    assert ("Will be called:", "0") in rows and ("Skipped:", "18 over the frequency cap") in rows
    assert ("Skipped:", "2 on a do-not-call list") in rows, rows
    assert (
        "every number of the audience is skipped" in page.locator("#launch-problems").inner_text()
    )
    assert page.locator("#confirm-launch").count() == 0
    assert Callee.objects.filter(campaign=alpha, state="submitted").count() == 27

    accepted = sandbox_state.accepted_callees()
    assert len(accepted) == 27 and max(accepted.values()) == 1
    assert not {"6591000001", "6591000012", "6591000025"} & set(accepted)
