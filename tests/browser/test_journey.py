"""The whole product in one browser journey, as a person walks it, from an almost empty database.

An Admin logs in, adds the ITNIO account and its voice and AI apps, verifies the credentials,
uploads and plays a voice file, sends a TTS call, imports callees (reading why bad rows were
skipped), launches the campaign and watches a real task worker (portal_worker) send it to 100 %,
reads a campaign call's bill, exports the calls, creates a SIP group and an AI task and starts
it, reads the dashboard's charts and downloads its figures; finally a Viewer finds no way to
spend money, neither by button nor by URL.

Only the two people exist beforehand (what `createsuperuser` and an admin would have done) and
the ITNIO sandbox plays ITNIO. A screenshot is kept at every step (test-artifacts/screenshots/).

Where the account's requests go: ITNIO_BASE_URL points at the sandbox, as a deployment points
it at ITNIO with the environment variable, and the journey's user is a plain member of the
"Admin" role group, not a superuser. So every step also proves the Admin role suffices, and
the account's base-URL override stays what it is for such a user: read-only (only superusers
may redirect signed requests). The task worker gets the same ITNIO_BASE_URL.
"""

from __future__ import annotations

import csv
import io
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from campaigns.models import AiTask, Call, Campaign, ItnioAccount
from itnio_portal.itnio.sandbox import SandboxServer
from sipphones.models import SipGroup
from tests.audio import wav_bytes
from tests.browser.helpers import add_sip_group, log_in, messages, submit
from tests.conftest import API_KEY, API_SECRET, make_staff
from tests.procs import apply_worker, task_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AI_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "ai_customers_sample.csv"
VOICE_APP_ID = "4luaKsL2"
AI_APP_ID = "LILIN888"
# The sandbox's endpoints that place calls, spend or create something at ITNIO.
SPENDING = (
    "/voice/fileUpload",
    "/voice/sendCode",
    "/voice/sendGroup",
    "/voice/sipAdd",
    "/voice/sendSip",
    "/aivoice/taskAdd",
    "/aivoice/taskEdit",
    "/aivoice/taskStart",
    "/aivoice/importCustomer",
)
CALLEES = 40  # valid rows of the campaign's callee file
GROUP_MAX = "10"  # callees per sendGroup request: the campaign goes out in 4 requests


@pytest.fixture
def itnio(sandbox_state, settings, live_server):
    """The ITNIO sandbox, knowing the account's key (apps are registered as the journey adds
    them), pushing status reports within a second; the portal is configured to use it."""
    sandbox_state.life_scale = 0.02  # a call's whole life takes a second or two
    # Each request takes a second: the bar visibly moves (the page polls every 2 s).
    sandbox_state.faults.latency_by_path["/voice/sendGroup"] = 1.0
    server = SandboxServer(sandbox_state, push_interval=0.2).start()
    settings.ITNIO_BASE_URL = server.base_url
    settings.PORTAL_PUBLIC_URL = live_server.url  # the push URLs the app pages show
    settings.ITNIO_SEND_GROUP_MAX = int(GROUP_MAX)  # the plan the page shows = what the worker does
    # Production-like: work is queued in the database and a worker process runs it.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    yield server
    server.stop()


@pytest.fixture
def start_worker():
    """start_worker(base_url) starts `manage.py portal_worker` and the push apply worker beside it;
    both are stopped at the end."""
    workers = []

    def start(base_url: str):
        worker = task_worker(
            ITNIO_BASE_URL=base_url,
            ITNIO_SEND_GROUP_MAX=GROUP_MAX,
            ITNIO_DISPATCH_CONCURRENCY="1",
        )
        workers.extend([worker, apply_worker()])
        return worker

    yield start
    for worker in workers:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def log_in_from_the_root(page, live_server, username: str) -> None:
    """The site's address leads a visitor to the login page; log in there."""
    page.goto(f"{live_server.url}/")
    assert "/admin/login/" in page.url
    log_in(page, live_server, username)


def add_app(page, live_server, app_id: str, kind: str, label: str) -> str:
    """Add an app to the Acme account; return the push URL its page shows."""
    page.goto(f"{live_server.url}/admin/campaigns/itnioapp/add/")
    page.select_option("#id_account", label="Acme")
    page.fill("#id_app_id", app_id)
    page.select_option("#id_kind", label=kind)
    page.fill("#id_label", label)
    page.click("input[name=_continue]")
    page.wait_for_selector("#push-url")
    return page.locator("#push-url").inner_text()


def spending_requests(state) -> int:
    return sum(len(state.requests_for(path)) for path in SPENDING)


def wait_until(page, condition, *, tries: int = 100, pause_ms: int = 200) -> None:
    for _ in range(tries):
        if condition():
            return
        page.wait_for_timeout(pause_ms)
    assert condition()


def test_the_whole_journey(
    live_server, itnio, sandbox_state, start_worker, page, screenshot, tmp_path
):
    url = live_server.url
    make_staff("alice", "Admin")  # a member of the Admin role group, not a superuser
    make_staff("vera", "Viewer")

    # 1. Log in through the login form.
    log_in_from_the_root(page, live_server, "alice")
    assert page.locator("#site-name").inner_text() == "ITNIO Portal"
    screenshot("01-login")

    # 2. The ITNIO account and its apps, through the admin forms; verify the credentials.
    page.goto(f"{url}/admin/campaigns/itnioaccount/add/")
    assert page.locator("input#id_base_url").count() == 0  # read-only for a non-superuser
    page.fill("#id_name", "Acme")
    page.fill("#id_api_key", API_KEY)
    page.fill("#id_new_api_secret", API_SECRET)
    page.click("input[name=_continue]")
    page.wait_for_selector("#verify-credentials")
    account = ItnioAccount.objects.get()
    assert account.base_url == "" and account.effective_base_url == itnio.base_url
    voice_push = add_app(page, live_server, VOICE_APP_ID, "Voice", "Acme voice")
    ai_push = add_app(page, live_server, AI_APP_ID, "AI voice", "Acme AI")
    screenshot("02a-app-push-url")
    # What a person does next in ITNIO's console: create the apps there with these push URLs.
    assert voice_push.startswith(url + "/itnio/push/") and voice_push.endswith("/voice/")
    assert ai_push.endswith("/ai/")
    sandbox_state.add_app(API_KEY, VOICE_APP_ID, kind="voice", push_url=voice_push, currency="EUR")
    sandbox_state.add_app(API_KEY, AI_APP_ID, kind="ai", push_url=ai_push)

    page.goto(f"{url}/admin/campaigns/itnioaccount/")
    listed = page.locator("#result_list tbody tr").inner_text()
    assert "Acme" in listed and itnio.base_url in listed and "\t2\t" in listed  # two apps
    page.click("#result_list >> text=Acme")
    submit(page, "#verify-credentials")
    assert "Credentials work. Balance 500.00 USD" in messages(page)
    assert (
        "500" in page.locator("fieldset:has(h2:text('Balance (Verify credentials)'))").inner_text()
    )
    screenshot("02b-account-verified")

    # 3. A voice file: upload it, hear it in the HTML5 player, upload it to ITNIO.
    wav = tmp_path / "spring.wav"
    wav.write_bytes(wav_bytes())
    page.goto(f"{url}/admin/campaigns/voicefile/add/")
    page.select_option("#id_app", label="Acme voice (Voice)")
    page.fill("#id_file_name", "spring.wav")
    page.set_input_files("#id_audio", str(wav))
    page.click("input[name=_continue]")
    player = page.wait_for_selector("audio.portal-player", state="attached")
    assert "/audio" in player.get_attribute("src")
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const audio = document.querySelector('audio.portal-player');
            if (audio.readyState >= 1) { resolve(audio.duration); return; }
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
            audio.addEventListener('error', () => reject('audio error'));
            audio.load();
        })"""
    )
    assert 0.9 < duration < 1.1
    submit(page, "#upload-to-itnio")
    assert "Uploaded spring.wav; ITNIO file ID" in messages(page)
    assert "Uploaded" in page.locator(".portal-state").first.inner_text()
    assert page.locator("#upload-to-itnio").count() == 0
    screenshot("03-voice-file")

    # 4. A TTS call from "Send TTS call"; the call's page follows.
    page.goto(f"{url}/admin/campaigns/call/")
    page.click("#send-tts-link")
    page.select_option("#id_app", label="Acme voice (Voice)")
    page.fill("#id_callee", "+91 98765 43210")
    page.select_option("#id_language", "EN")
    page.fill("#id_text", "Your code is 4711. I repeat: 4711.")
    screenshot("04a-send-tts-form")
    submit(page, "#send-tts-submit")
    assert "This call will be placed now" in page.locator("#tts-summary").inner_text()
    submit(page, "#send-tts-confirm")
    assert "Call placed: voiceId" in messages(page)
    tts = Call.objects.get()
    content = page.locator("#content-main").inner_text()
    assert "919876543210" in content and tts.voice_id in content
    screenshot("04b-tts-call")

    # 5. A campaign, and its callees from a file with bad rows: preview, read why, confirm.
    page.goto(f"{url}/admin/campaigns/campaign/add/")
    page.fill("#id_name", "Spring promo")
    page.select_option("#id_app", label="Acme voice (Voice)")
    page.select_option("#id_voice_file", label="spring.wav")
    page.click("input[name=_continue]")
    page.wait_for_selector("#import-callees")
    page.click("#import-callees")
    # From 1: the sandbox rejects numbers ending in 0000.
    rows = ["name,phone"] + [f"c{i:02d},+91 98000 {i:05d}" for i in range(1, CALLEES + 1)]
    rows += ["Typo,98000 12ab", "Short,123", "Again,+91 98000 00001"]
    callee_file = tmp_path / "spring-callees.csv"
    callee_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page.set_input_files("#id_import_file", str(callee_file))
    page.click("#preview-import")
    summary = page.locator("#import-summary").inner_text()
    assert f"{CALLEES + 3} rows read, {CALLEES} to import, 2 rejected, 1 duplicate." in summary
    skipped = [
        [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in page.locator("#skipped-rows tbody tr").all()
    ]
    assert skipped == [
        [str(CALLEES + 2), "98000 12ab", "has letters: '98000 12ab'"],
        [str(CALLEES + 3), "123", "3 digits: must be 7–15"],
        [str(CALLEES + 4), "+91 98000 00001", "duplicate of row 2"],
    ]
    screenshot("05a-import-preview")
    submit(page, "#confirm-import")
    assert f"Imported {CALLEES} callees into Spring promo (pending)" in messages(page)
    screenshot("05b-import-confirmed")

    # 6. Launch: the plan, the confirmation, then the bar reaches 100 % while the worker sends.
    campaign = Campaign.objects.get()
    start_worker(itnio.base_url)
    page.goto(f"{url}/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.locator("#count-pending").inner_text() == str(CALLEES)
    page.click("#launch-campaign")
    plan = page.locator("#launch-plan").inner_text()
    assert f"{CALLEES} pending" in plan and "spring.wav" in plan and VOICE_APP_ID in plan
    confirm = page.locator("#confirm-launch")
    assert confirm.get_attribute("value") == f"Yes, launch: {CALLEES} callees in 4 requests"
    screenshot("06a-launch-plan")
    confirm.click()
    assert "Running" in messages(page)
    # The bar moves while the worker sends (the page polls the progress endpoint)...
    page.wait_for_function(
        "() => { const l = document.getElementById('progress-label');"
        " const p = l ? parseFloat(l.textContent) : NaN;"
        " return p > 0 && p < 100; }",
        timeout=30_000,
    )
    screenshot("06b-progress-running")
    # ... and reaches 100 %: the label says so and the green fill spans the whole bar.
    page.wait_for_function(
        "() => { const box = document.getElementById('campaign-progress');"
        " const label = document.getElementById('progress-label');"
        " return !!box && !!label && !box.dataset.reloading"
        " && document.readyState === 'complete'"
        " && label.textContent.startsWith('100.0'); }",
        timeout=60_000,
    )
    page.wait_for_function(
        "() => { const fill = document.getElementById('progress-fill');"
        " if (!fill) return false;"
        " const bar = fill.parentElement.getBoundingClientRect();"
        " return fill.getBoundingClientRect().width >= bar.width - 2; }"
    )
    # 100 % is every callee final (its record arrived by push): reached or not reached.
    final = [page.locator(f"#count-{key}").inner_text() for key in ("reached", "not_reached")]
    assert sum(int(n) for n in final) == CALLEES
    assert page.locator("#count-submitted").inner_text() == "0"
    assert page.locator("#count-pending").inner_text() == "0"
    screenshot("06c-progress-done")
    page.reload()
    assert "Completed" in page.locator("#content-main").inner_text()
    assert max(sandbox_state.accepted_callees().values()) == 1  # nobody was called twice
    assert len(sandbox_state.requests_for("/voice/sendGroup")) == 4  # as the plan said

    # 7. A campaign call whose record has arrived by push: its bill on its page.
    answered = Call.objects.filter(
        campaign=campaign, state=Call.State.FINAL, answer_time__isnull=False
    )
    wait_until(page, answered.exists)
    call = answered.order_by("callee").first()
    assert call.record_source == "push"
    page.goto(f"{url}/admin/campaigns/call/")
    page.fill("#searchbar", call.callee)
    page.press("#searchbar", "Enter")
    page.click(f"#result_list >> text={call.callee}")
    billing = page.locator("fieldset:has(h2:text('Billing'))").inner_text()
    for label in ("Charged duration", "Rate", "Cost", "Bill period"):
        assert label.lower() in billing.lower(), label
    assert f"{call.cost.normalize():f} EUR" in billing
    assert f"{call.rate.normalize():f} EUR per minute" in billing
    assert str(call.charged_duration) in billing and call.bill_period in billing
    assert call.cost > 0
    assert "Final" in page.locator("#content-main").inner_text()
    screenshot("07-campaign-call-billing")

    # 8. Export the calls as CSV from the call list; the file holds them with their bills.
    wait_until(page, lambda: not Call.objects.exclude(state=Call.State.FINAL).exists())
    page.goto(f"{url}/admin/campaigns/call/")
    totals = page.locator("#cost-totals").inner_text()
    assert "EUR" in totals
    with page.expect_download() as download:
        page.click("#export-csv")
    name = download.value.suggested_filename
    assert name.startswith("calls-") and name.endswith(".csv")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert len(exported) == CALLEES + 1
    by_callee = {row["callee"]: row for row in exported}
    assert by_callee["919876543210"]["kind"] == "tts"
    row = by_callee[call.callee]
    assert (row["voice_id"], row["state"], row["currency"]) == (call.voice_id, "final", "EUR")
    assert row["cost"] == f"{call.cost.normalize():f}"
    assert row["rate"] == f"{call.rate.normalize():f}"
    assert row["charged_duration"] == str(call.charged_duration)
    # The file's costs add up to the total the list shows (rounded; exact on hover).
    total = sum(Decimal(r["cost"]) for r in exported if r["cost"])
    assert "Cost of the calls in this list:" in totals and " EUR" in totals
    hover = page.locator("#cost-totals .portal-money", has_text="EUR").first.get_attribute("title")
    assert hover == f"{total.normalize():f} EUR"
    screenshot("08-call-list-export")

    # 9. A SIP group, created on ITNIO.
    add_sip_group(page, live_server, "sales", "desk", "3")
    submit(page, "#create-on-itnio")
    assert "Created SIP group sales on ITNIO: 3 phones, desk_001 to desk_003." in messages(page)
    assert page.locator(".portal-state-created").count() == 1
    assert page.locator("#call-from-phone-link").count() == 1
    screenshot("09-sip-group")

    # 10. An AI task: create it on ITNIO, import and push its customers, start it.
    page.goto(f"{url}/admin/campaigns/aitask/add/")
    page.select_option("#id_app", label="Acme AI (AI voice)")
    page.fill("#id_name", "Renewal July")
    page.fill("#id_dialog_flow_id", "501")
    page.select_option("#id_line", label="+62 21 5099 0001 (Jakarta) (line 3001)")
    page.fill("#id_robot_count", "5")
    page.click("input[name=_continue]")
    submit(page, "#create-on-itnio")
    task = AiTask.objects.get()
    assert f"Created task Renewal July on ITNIO: job {task.remote_job_id}." in messages(page)
    page.click("#import-customers")
    page.set_input_files("#id_import_file", str(AI_SAMPLE))
    page.click("input[type=submit]")
    page.wait_for_selector("#confirm-import")
    assert "7 to import, 1 skipped" in page.locator("#import-summary").inner_text()
    page.click("#confirm-import")
    page.wait_for_selector("#push-customers")
    submit(page, "#push-customers")
    assert "7 customer(s) pushed to ITNIO in 1 request(s), 0 rejected." in messages(page)
    page.click("#start-task")
    page.wait_for_selector("#confirm-start")
    screenshot("10a-ai-task-start-confirm")
    submit(page, "#confirm-start")
    assert f"Started task Renewal July (job {task.remote_job_id})." in messages(page)
    assert "7 customer(s): 7 on ITNIO" in page.locator("#customer-counts").inner_text()
    screenshot("10b-ai-task-started")

    # 11. The dashboard, from the admin index: the figures of today's calls as charts, then the
    # campaign's own figures with its DTMF keys, and the same numbers as a CSV download.
    page.goto(f"{url}/admin/")
    page.click("#dashboard-link")
    cards = page.locator("#figures-summary").inner_text()
    assert f"Calls\n{CALLEES + 1}" in cards and "No final record yet\n0" in cards
    drawn = (
        "() => [...document.querySelectorAll('canvas[data-chart]')]"
        ".map(c => !!Chart.getChart(c) && c.width > 0)"
    )
    for name in ("calls_per_day", "asr_per_day", "cost_per_day", "regions", "termination"):
        assert page.locator(f"#chart-{name}").count() == 1, name
    assert all(page.evaluate(drawn))
    screenshot("11a-dashboard")
    page.select_option("#id_campaign", label="Spring promo")
    submit(page, "#dashboard-filters button[type=submit]")  # the charts of the page it leads to
    page.wait_for_function("() => typeof Chart !== 'undefined'")
    assert page.locator("#chart-dtmf").count() == 1
    assert all(page.evaluate(drawn))
    cards = page.locator("#figures-summary").inner_text()
    answered = Call.objects.filter(campaign=campaign, answer_time__isnull=False).count()
    assert f"Calls\n{CALLEES}" in cards and f"Answered\n{answered}" in cards
    screenshot("11b-dashboard-campaign")
    with page.expect_download() as download:
        page.click("#dashboard-csv")
    figures = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert ["summary", "Calls", "", str(CALLEES)] in figures
    assert ["summary", "Answered", "", str(answered)] in figures

    # 12. A Viewer sees everything and can spend nothing. First the Admin prepares another SIP
    # group and sees its "Create on ITNIO" button: the Viewer will open the same page.
    add_sip_group(page, live_server, "support", "help", "2")
    support = SipGroup.objects.get(group_name="support")
    sales = SipGroup.objects.get(group_name="sales")
    spent_before = spending_requests(sandbox_state)
    assert spent_before > 0
    page.click("#logout-form button")
    log_in_from_the_root(page, live_server, "vera")
    page.goto(f"{url}/admin/campaigns/call/")
    assert page.locator("#result_list tbody tr").count() == CALLEES + 1  # sees every call
    assert page.locator("#send-tts-link").count() == 0
    assert page.locator("#export-csv").count() == 1  # reading is allowed
    screenshot("12a-viewer-calls")
    page.goto(f"{url}/admin/campaigns/campaign/")
    assert "Spring promo" in page.locator("#result_list").inner_text()
    assert page.locator("option[value=launch_selected]").count() == 0
    page.goto(f"{url}/admin/campaigns/campaign/{campaign.pk}/change/")
    assert page.locator("#progress-label").inner_text().startswith("100.0")
    assert page.locator("#launch-campaign, #import-callees").count() == 0
    page.goto(f"{url}/admin/sipphones/sipgroup/{support.pk}/change/")
    assert "Draft" in page.locator(".portal-state").first.inner_text()
    assert page.locator("#create-on-itnio").count() == 0
    screenshot("12b-viewer-sip-group-draft")
    page.goto(f"{url}/admin/sipphones/sipgroup/{sales.pk}/change/")
    assert page.locator("#call-from-phone-link").count() == 0
    page.goto(f"{url}/admin/campaigns/aitask/{task.pk}/change/")
    assert "Renewal July" in page.locator("#content-main").inner_text()
    assert page.locator("#start-task, #create-on-itnio, #import-customers").count() == 0
    screenshot("12c-viewer-ai-task")
    # Spending URLs opened directly are refused, pages and posts alike.
    for path in (
        "/admin/campaigns/call/send-tts/",
        f"/admin/campaigns/campaign/{campaign.pk}/launch/",
    ):
        response = page.goto(url + path)
        assert response.status == 403, path
    screenshot("12d-viewer-refused")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for path in (
        f"/admin/campaigns/aitask/{task.pk}/start/",
        f"/admin/sipphones/sipgroup/{support.pk}/create-on-itnio/",
    ):
        response = page.request.post(
            url + path, headers={"X-CSRFToken": token, "Referer": url + "/admin/"}
        )
        # Refused for who she is, not for a missing CSRF token (which would be a 403 too).
        assert response.status == 403 and "CSRF" not in response.text(), path
    assert spending_requests(sandbox_state) == spent_before  # nothing that spends reached ITNIO
