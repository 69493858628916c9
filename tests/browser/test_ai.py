"""Issue 6's journey in the browser against the sandbox: create an AI task, read -45 when starting
it empty, import customers (preview → confirm), push them, start the task, and watch records
arrive by push with a playable recording and a transcript that reads as a conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.models import AiCallRecord, AiCustomer, AiTask
from itnio_portal.itnio.sandbox import SandboxServer
from tests.browser.helpers import log_in, messages, submit
from tests.conftest import AI_APP_ID, API_KEY, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ai_customers_sample.csv"
FIRST = "8613800000001"


@pytest.fixture
def first_customer_answers(monkeypatch):
    """The first customer's call is answered (every life is a hash of the callId, which holds the
    time); the others keep the sandbox's own mix of results."""
    from itnio_portal.itnio.sandbox import state as sandbox_state_module
    from itnio_portal.itnio.sandbox.ai import make_ai_life

    def life(call_id, person):
        if person.phone_number != FIRST:
            return make_ai_life(call_id, person)
        for salt in range(1000):
            found = make_ai_life(f"{call_id}:{salt}", person)
            if found.answered and len(found.turns) >= 4:
                return found
        raise AssertionError("no answered life found")

    monkeypatch.setattr(sandbox_state_module, "make_ai_life", life)


@pytest.fixture
def live_sandbox(sandbox_state, account, live_server, push_worker):
    ai_app = account.apps.get(app_id=AI_APP_ID)
    sandbox_state.life_scale = 0.03  # a 40-second call lasts about a second
    sandbox_state.add_app(
        API_KEY, AI_APP_ID, kind="ai", push_url=live_server.url + ai_app.push_path
    )
    server = SandboxServer(sandbox_state, push_interval=0.2).start()
    account.base_url = server.base_url
    account.save()
    yield server
    server.stop()


def start(page) -> None:
    page.click("#start-task")
    page.wait_for_selector("#confirm-start")
    page.click("#confirm-start")
    page.wait_for_selector(".messagelist")


def test_operator_runs_an_ai_task_and_reads_its_calls(
    live_server, live_sandbox, page, screenshot, sandbox_state, first_customer_answers
):
    make_staff("ops", "Operator")
    log_in(page, live_server, "ops")

    # Create the task: the line comes from channelList.
    page.goto(f"{live_server.url}/admin/campaigns/aitask/add/")
    page.select_option("#id_app", label="Acme AI (AI voice)")
    page.fill("#id_name", "Renewal July")
    page.fill("#id_dialog_flow_id", "501")
    page.select_option("#id_line", label="+62 21 5099 0001 (Jakarta) (line 3001)")
    page.fill("#id_robot_count", "5")
    page.fill("#id_inactive_times", "12:00-13:00")
    screenshot("add-task")
    page.click("input[name=_continue]")
    submit(page, "#create-on-itnio")
    task = AiTask.objects.get()
    assert f"Created task Renewal July on ITNIO: job {task.remote_job_id}." in messages(page)
    assert "pause the task in ITNIO's console" in page.locator("#no-pause").inner_text()
    screenshot("task-created")

    # Starting it empty: ITNIO's -45, in English beside the vendor's reason.
    start(page)
    text = messages(page)
    assert "No customers have been imported, so the AI task cannot start." in text
    assert "ITNIO code -45" in text
    screenshot("start-empty")

    # Import customers: preview, then confirm.
    page.click("#import-customers")
    assert page.locator("#id_task option:checked").inner_text() == "Renewal July"
    page.set_input_files("#id_import_file", str(SAMPLE))
    page.click("input[type=submit]")
    page.wait_for_selector("#confirm-import")
    summary = page.locator("#import-summary").inner_text()
    assert "8 row(s) read for task Renewal July: 7 to import, 1 skipped" in summary
    assert "no phone number" in page.locator("#skipped-rows").inner_text()
    assert "amount=12.50 USD, plan=Gold" in page.locator("#preview-rows").inner_text()
    screenshot("import-preview")
    submit(page, "#confirm-import")
    page.wait_for_selector("#push-customers")
    assert "Imported 7 new and 0 updated customer(s)." in messages(page)
    assert AiCustomer.objects.filter(task=task, state="local").count() == 7

    # Push them to ITNIO, then start.
    submit(page, "#push-customers")
    assert "7 customer(s) pushed to ITNIO in 1 request(s), 0 rejected." in messages(page)
    assert "7 customer(s): 7 on ITNIO" in page.locator("#customer-counts").inner_text()
    screenshot("customers-pushed")
    start(page)
    assert "Started task Renewal July" in messages(page)

    # The records arrive by push, by themselves.
    for _ in range(100):
        if AiCallRecord.objects.filter(task=task, source="push").count() == 7:
            break
        page.wait_for_timeout(200)
    assert AiCallRecord.objects.filter(task=task, source="push").count() == 7
    page.click("#records-link")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 7
    screenshot("records")

    # The answered call: a recording that plays, a transcript that reads as a conversation.
    record = AiCallRecord.objects.get(called_phone_number=FIRST)
    assert record.result_status == "ANSWERED" and record.customer.name == "Ann Lee"
    page.goto(f"{live_server.url}/admin/campaigns/aicallrecord/{record.pk}/change/")
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const audio = document.querySelector('#full-audio');
            if (audio.readyState >= 1) { resolve(audio.duration); return; }
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
            audio.addEventListener('error', () => reject('audio error'));
            audio.load();
        })"""
    )
    assert 1 <= duration <= 30
    turns = page.locator("#transcript li")
    assert turns.count() == len(record.call_detail_list) >= 4
    first = turns.nth(0)
    assert "portal-turn-robot" in first.get_attribute("class")
    assert "Hello Ann Lee" in first.inner_text() and "0:00" in first.inner_text()
    assert "portal-turn-person" in turns.nth(1).get_attribute("class")
    assert "Ann Lee" in turns.nth(1).inner_text()
    robot_box = first.locator(".portal-bubble").bounding_box()
    person_box = turns.nth(1).locator(".portal-bubble").bounding_box()
    assert robot_box["x"] < person_box["x"]  # robot on the left, the person on the right
    screenshot("record")

    # The not-yet-called list is empty once every customer was called.
    page.goto(f"{live_server.url}/admin/campaigns/aitask/{task.pk}/not-called/")
    assert "ITNIO lists 0 customer(s)" in page.locator("#no-call-count").inner_text()


def test_viewer_has_no_buttons(live_server, page, screenshot, account):
    from tests.ai.conftest import add_customers, make_task

    task = make_task(account.apps.get(app_id=AI_APP_ID))
    add_customers(task, 3)
    make_staff("watcher", "Viewer")
    log_in(page, live_server, "watcher")
    page.goto(f"{live_server.url}/admin/campaigns/aitask/{task.pk}/change/")
    assert page.locator(".object-tools form").count() == 0
    assert page.locator("#import-customers, #not-called-link").count() == 0
    assert "pause the task in ITNIO's console" in page.locator("#content").inner_text()
    screenshot("viewer-task")
