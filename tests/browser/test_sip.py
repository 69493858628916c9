"""Issue journey in the browser: create a SIP group, see -20 when creating again, call from a
phone and open the call's record with the SIP fields."""

from __future__ import annotations

import pytest

from campaigns.models import Call
from itnio_portal.itnio.sandbox import SandboxServer
from itnio_portal.itnio.sandbox.state import SipGroup as SandboxSipGroup
from sipphones.models import SipGroup
from tests.browser.helpers import add_sip_group, log_in, messages, submit
from tests.conftest import VOICE_APP_ID, make_staff
from tests.sipphones.conftest import answered  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_sandbox(sandbox_state, account, voice_app, live_server):
    sandbox_state.add_app(account.api_key, VOICE_APP_ID, kind="voice", currency="EUR")
    server = SandboxServer(sandbox_state, push_interval=None).start()
    account.base_url = server.base_url
    account.save()
    yield server
    server.stop()


def test_operator_creates_a_group_calls_from_a_phone_and_reads_the_record(
    live_server,
    live_sandbox,
    page,
    screenshot,
    sandbox_state,
    answered,  # noqa: F811
):
    make_staff("ops", "Operator")
    log_in(page, live_server, "ops")

    # The form refuses what ITNIO would, with the rule, before anything is sent.
    page.goto(f"{live_server.url}/admin/sipphones/sipgroup/add/")
    page.select_option("#id_app", label="Acme voice (Voice)")
    page.fill("#id_group_name", "abc")
    page.fill("#id_phone_name", "desk")
    page.fill("#id_quantity", "51")
    page.fill("#id_display_num", "123456")
    page.click("input[name=_continue]")
    page.wait_for_selector(".errornote")
    errors = page.locator(".errorlist").all_inner_texts()
    assert "The group name must be 4–32 characters (got 3 characters)." in errors
    assert "The quantity must be an integer from 1 to 50 (got 51)." in errors
    screenshot("group-rules")

    # A group of five phones; the page lists the accounts it should contain.
    add_sip_group(page, live_server, "sales", "desk", "5")
    accounts = page.locator("#phone-accounts code").all_inner_texts()
    assert accounts == ["desk_001", "desk_002", "desk_003", "desk_004", "desk_005"]
    assert "Derived, not confirmed by ITNIO" in page.locator("#phone-accounts").inner_text()
    screenshot("group-draft")

    # The answer is lost: the outcome is unknown and the page says what -20 would mean.
    sandbox_state.drop_next("/voice/sipAdd")
    submit(page, "#create-on-itnio")
    assert "answers -20 (already exists)" in messages(page)
    assert page.locator(".portal-state-unknown").count() == 1
    screenshot("group-unknown")
    # Creating it again: ITNIO answers -20, so the first request created it.
    submit(page, "#create-on-itnio")
    text = messages(page)
    assert "ITNIO answered -20 (already exists) to a retry" in text
    assert "first request created the group" in text
    assert page.locator(".portal-state-created").count() == 1
    assert page.locator("#create-on-itnio").count() == 0
    assert page.locator("#id_group_name").count() == 0  # read-only now
    screenshot("group-created")

    # A group whose phone name ITNIO already has (created outside the portal): -20 fails it.
    sandbox_state.sip_groups.append(
        SandboxSipGroup(VOICE_APP_ID, "lobby", "help", 1, "861000000", ["help_001"], 0.0)
    )
    add_sip_group(page, live_server, "support", "help", "2")
    submit(page, "#create-on-itnio")
    text = messages(page)
    assert "ITNIO already has a phone group or phones with this name in this app" in text
    assert "ITNIO code -20: “data already exists: phoneName 'help'”" in text
    assert page.locator("#id_phone_name").count() == 1  # still editable
    screenshot("group-minus-20")
    assert dict(SipGroup.objects.values_list("group_name", "state")) == {
        "sales": "created",
        "support": "failed",
    }

    # Call from a phone of the created group.
    page.goto(f"{live_server.url}/admin/sipphones/sipgroup/")
    assert page.locator("#sip-call-link").count() == 1
    screenshot("group-list")
    page.click("text=sales")
    page.click("#call-from-phone-link")
    assert page.locator("#id_account option:checked").inner_text() == "desk_001"
    page.select_option("#id_account", label="desk_003")
    page.fill("#id_callee", "+91 98765 43210")
    screenshot("call-from-phone")
    submit(page, "#sip-call-submit")
    assert "Call placed from desk_003: voiceId" in messages(page)
    call = Call.objects.get()
    assert (call.kind, call.state) == ("sip", "submitted")

    # Its record, through recordSip: group, phone, recording and the billing fields.
    submit(page, "#refresh-from-itnio")
    assert "refreshed: Final" in messages(page)
    call.refresh_from_db()
    assert call.record_source == "recordSip"
    sip = page.locator("fieldset:has(h2:text('SIP phone'))").inner_text()
    assert "sales" in sip and "desk" in sip and call.recording_file_id in sip
    assert "desk_003" in sip  # the phone it was placed from, not only the group's phone name
    assert call.recording_file_id == f"rec{call.voice_id}.mp3"
    billing = page.locator("fieldset:has(h2:text('Billing'))").inner_text()
    assert f"{call.cost.normalize():f} EUR" in billing and call.bill_period in billing
    screenshot("call-record")
