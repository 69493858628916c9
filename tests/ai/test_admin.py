"""The AI task pages: the form with lines from channelList, the buttons, every state error's
English message on the page, the customer import (preview → confirm), the call record page,
and what a Viewer can (not) do."""

from __future__ import annotations

import html
import io
from typing import Any

import openpyxl
import pytest

from campaigns.models import AiCallRecord, AiCustomer, AiTask, ItnioApp
from campaigns.services.ai_customers import ai_customers_push
from campaigns.services.ai_records import ai_record_upsert
from itnio_portal.itnio import AiRecord

from .conftest import SYSTEM, add_customers, make_task, requests_to

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/campaigns/aitask/add/"


def change_url(task: AiTask) -> str:
    return f"/admin/campaigns/aitask/{task.pk}/change/"


def form_data(app: ItnioApp, **overrides: Any) -> dict[str, Any]:
    data = {
        "app": app.pk,
        "name": "Renewal July",
        "dialog_flow_id": "501",
        "line": f"{app.pk}:3001",
        "mode": "MANUAL",
        "start_at_0": "",
        "start_at_1": "",
        "daily_start": "09:00",
        "daily_end": "20:00",
        "robot_count": "2",
        "end_at_0": "",
        "end_at_1": "",
        "inactive_times": "12:00-13:30",
        "inactive_dates": "",
        "days_of_week": ["MONDAY", "FRIDAY"],
        "redial_conditions": [],
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def text(response) -> str:
    return html.unescape(response.content.decode())


def post(client, task: AiTask, action: str, **data: Any):
    return client.post(f"/admin/campaigns/aitask/{task.pk}/{action}/", data, follow=True)


# ---- the form ------------------------------------------------------------------------------------


def test_the_add_form_lists_the_lines_from_channel_list(client, operator, ai_app, sandbox):
    client.force_login(operator)
    page = text(client.get(ADD_URL))
    assert f'value="{ai_app.pk}:3001"' in page and "+62 21 5099 0001 (Jakarta) (line 3001)" in page
    assert f'value="{ai_app.pk}:3002"' in page
    assert "09:00–20:00 by default and refuses a task outside" in page
    assert "time zone" in page  # which clock the window is read on


def test_the_form_says_clearly_when_the_lines_cannot_be_loaded(
    client, operator, ai_app, sandbox, sandbox_state
):
    sandbox_state.business_code_next("/aivoice/channelList", "-1", "auth failed")
    client.force_login(operator)
    page = text(client.get(ADD_URL))
    assert "Could not load the lines of app LILIN888 from ITNIO (channelList)" in page
    assert "Authentication failed" in page and "auth failed" in page


def test_adding_a_task_then_creating_it_on_itnio(client, operator, ai_app, sandbox, sandbox_state):
    client.force_login(operator)
    response = client.post(ADD_URL, form_data(ai_app))
    assert response.status_code == 302, text(response)
    task = AiTask.objects.get()
    assert (task.line_id, task.line_name) == (3001, "+62 21 5099 0001 (Jakarta)")
    assert task.inactive_times == [{"startTime": "12:00", "endTime": "13:30"}]
    assert task.days_of_week == ["MONDAY", "FRIDAY"]
    assert task.state == AiTask.State.DRAFT and task.created_by == "operator"
    page = text(client.get(change_url(task)))
    assert 'id="create-on-itnio"' in page and 'id="start-task"' not in page
    assert "ITNIO's API cannot pause a task: pause the task in ITNIO's console." in page
    page = text(post(client, task, "create"))
    task.refresh_from_db()
    assert f"Created task Renewal July on ITNIO: job {task.remote_job_id}." in page
    for tool in ("start-task", "push-customers", "remove-uncalled", "update-on-itnio", "sync-task"):
        assert f'id="{tool}"' in page
    assert 'id="not-called-link"' in page and 'id="import-customers"' in page
    assert "push its customers, then start it" in page

    # Once ITNIO says it runs, the page stops offering Start and says what is happening.
    AiTask.objects.filter(pk=task.pk).update(remote_status="RUNNING", remote_total=4)
    page = text(client.get(change_url(task)))
    assert 'id="start-task"' not in page and 'id="sync-task"' in page
    assert "Running on ITNIO: it calls its customers" in page
    assert "push its customers, then start it" not in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"mode": "AUTO"}, "start_at", "needs a start time"),
        ({"daily_start": "18:00", "daily_end": "10:00"}, "daily_end", "must end after"),
        ({"inactive_times": "noon"}, "inactive_times", "is not a range"),
        ({"inactive_times": "10:00-11:00, 12:00-13:00, 14:00-15:00, 16:00-17:00"}, "", "at most 3"),
        ({"inactive_dates": "2030-02-30..2030-03-01"}, "", "must be a real date"),
        ({"redial": "on"}, "redial_conditions", "at least one condition"),
        ({"dialog_flow_id": ""}, "dialog_flow_id", "required"),
        ({"line": ""}, "line", "required"),
    ],
)
def test_form_checks_before_anything_is_sent(
    client, operator, ai_app, sandbox, sandbox_state, changes, field, message
):
    client.force_login(operator)
    page = text(client.post(ADD_URL, form_data(ai_app, **changes)))
    assert message in page
    assert AiTask.objects.count() == 0
    assert requests_to(sandbox_state, "/aivoice/taskAdd") == []


# ---- every state error, in English beside the vendor's reason ------------------------------------


def test_start_without_customers_shows_minus_45(client, operator, created_task):
    client.force_login(operator)
    confirm = text(post(client, created_task, "start"))
    assert "Starting the task makes ITNIO's robots call its customers" in confirm
    assert 'id="confirm-start"' in confirm
    page = text(post(client, created_task, "start", post="yes"))
    assert "No customers have been imported, so the AI task cannot start." in page
    assert "Import customers and press “Push customers to ITNIO” first" in page
    assert "(ITNIO code -45: “no customers imported, the task cannot start”)" in page


def test_start_twice_shows_minus_39(client, operator, created_task):
    add_customers(created_task, 2)
    ai_customers_push(task=created_task, actor=SYSTEM)
    client.force_login(operator)
    page = text(post(client, created_task, "start", post="yes"))
    assert (
        f"Started task Renewal July (job {created_task.remote_job_id}). ITNIO status: RUNNING."
        in page
    )
    page = text(post(client, created_task, "start", post="yes"))
    assert "The AI task cannot be started in its current state." in page
    assert "ITNIO code -39" in page and "RUNNING" in page


@pytest.mark.parametrize(
    ("changes", "code", "english"),
    [
        ({"daily_start": "08:00"}, "-48", "The daily dialling window must be within 09:00-20:00."),
        ({"robot_count": 6}, "-52", "The requested concurrency exceeds the account maximum."),
    ],
)
def test_create_refusals(client, operator, ai_app, sandbox, changes, code, english):
    from datetime import time

    if "daily_start" in changes:
        changes = {"daily_start": time(8, 0)}
    task = make_task(ai_app, **changes)
    client.force_login(operator)
    page = text(post(client, task, "create"))
    assert english in page and f"ITNIO code {code}" in page
    task.refresh_from_db()
    assert task.state == AiTask.State.FAILED and f"ITNIO code {code}" in task.last_error
    assert 'id="task-error"' in page and 'id="create-on-itnio"' in page


def test_a_taken_name_is_minus_33(client, operator, ai_app, sandbox, sandbox_state):
    sandbox_state.add_ai_job("LILIN888", 555, name="Renewal July")
    task = make_task(ai_app)
    client.force_login(operator)
    page = text(post(client, task, "create"))
    assert "An AI outbound task with this name already exists." in page
    assert "Choose another name" in page and "ITNIO code -33" in page


def test_an_app_itnio_does_not_know_is_minus_37(client, operator, account, sandbox):
    ghost = ItnioApp.objects.create(account=account, app_id="GHOST001", kind=ItnioApp.Kind.AI)
    task = make_task(ghost)
    client.force_login(operator)
    page = text(post(client, task, "create"))
    assert "The ITNIO application does not exist." in page and "ITNIO code -37" in page


def test_a_job_itnio_no_longer_knows_is_minus_32(client, operator, created_task, sandbox_state):
    del sandbox_state.ai_jobs[("LILIN888", created_task.remote_job_id)]
    client.force_login(operator)
    page = text(post(client, created_task, "start", post="yes"))
    assert "The AI outbound task does not exist." in page and "ITNIO code -32" in page
    assert "press “Sync from ITNIO”" in page


def test_an_unbound_script_is_minus_55(client, operator, created_task, sandbox_state):
    add_customers(created_task, 1)
    ai_customers_push(task=created_task, actor=SYSTEM)
    sandbox_state.unbound_dialog_flows.add(501)
    client.force_login(operator)
    page = text(post(client, created_task, "start", post="yes"))
    assert "The script is unbound: this operation is not allowed." in page
    assert "ITNIO code -55" in page


def test_no_balance_is_minus_3(client, operator, created_task, sandbox_state):
    add_customers(created_task, 1)
    ai_customers_push(task=created_task, actor=SYSTEM)
    sandbox_state.add_account("bDqJFiq9", "7bz1lzh9-test-secret", balance="0")
    client.force_login(operator)
    page = text(post(client, created_task, "start", post="yes"))
    assert "The ITNIO account balance is insufficient." in page and "ITNIO code -3" in page


def test_missing_script_variables_is_minus_51_on_push(
    client, operator, created_task, sandbox_state
):
    add_customers(created_task, 3)
    sandbox_state.script_variables[501] = ("due_date",)
    client.force_login(operator)
    page = text(post(client, created_task, "push"))
    assert "A customer's custom properties are incomplete." in page and "ITNIO code -51" in page
    assert "due_date" in page


@pytest.mark.parametrize(
    ("code", "english"),
    [
        ("-38", "The AI task cannot be paused in its current state."),
        ("-49", "The ITNIO account is not verified."),
        ("-46", "ITNIO reported a network error or a bad parameter."),
        ("-4", "ITNIO rejected the request timestamp as expired"),
    ],
)
def test_other_seed_codes_forced_by_the_sandbox(
    client, operator, created_task, sandbox_state, code, english
):
    sandbox_state.business_code_next("/aivoice/taskStart", code, "vendor reason")
    client.force_login(operator)
    page = text(post(client, created_task, "start", post="yes"))
    assert english in page and f"(ITNIO code {code}: “vendor reason”)" in page


def test_update_sends_the_edited_settings(client, operator, created_task, sandbox_state):
    client.force_login(operator)
    data = form_data(created_task.app, robot_count="3", inactive_times="")
    data.pop("app")
    response = client.post(change_url(created_task), data)
    assert response.status_code == 302, text(response)
    page = text(client.get(change_url(created_task)))
    assert "Saved here but not on ITNIO yet" in page
    page = text(post(client, created_task, "update"))
    assert "Sent task Renewal July's settings to ITNIO." in page
    assert "Saved here but not on ITNIO yet" not in page
    assert requests_to(sandbox_state, "/aivoice/taskEdit")[0].body["robotCount"] == 3


def test_push_shows_the_rejected_rows(client, operator, created_task):
    add_customers(created_task, 3)
    AiCustomer.objects.filter(name="Customer 2").update(phone_number="8613800000000")
    client.force_login(operator)
    page = text(post(client, created_task, "push"))
    assert "2 customer(s) pushed to ITNIO in 1 request(s), 1 rejected." in page
    assert "Rejected by ITNIO: Customer 2 (8613800000000): ITNIO listed this row" in page
    assert 'class="customer-rejected"' in page


def test_not_yet_called_and_remove(client, operator, created_task, sandbox_state):
    add_customers(created_task, 2)
    ai_customers_push(task=created_task, actor=SYSTEM)
    client.force_login(operator)
    page = text(client.get(f"/admin/campaigns/aitask/{created_task.pk}/not-called/"))
    assert "ITNIO lists 2 customer(s)" in page and "8613800000002" in page
    page = text(post(client, created_task, "remove"))
    assert "ITNIO removed 2 uncalled customer(s) of the 2 asked for." in page
    assert AiCustomer.objects.filter(state=AiCustomer.State.REMOVED).count() == 2


def test_sync_buttons(client, operator, created_task, sandbox_state):
    sandbox_state.add_ai_job("LILIN888", 777, name="Console task")
    client.force_login(operator)
    page = text(post(client, created_task, "sync"))
    assert "Synced from ITNIO: 2 task(s)" in page and "1 task(s) created in ITNIO's console" in page
    response = client.post(
        "/admin/campaigns/aitask/sync/", {"next": "/admin/campaigns/aicallrecord/"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/admin/campaigns/aicallrecord/"
    response = client.post("/admin/campaigns/aitask/sync/", {"next": "https://evil.example/"})
    assert response["Location"] == "/admin/campaigns/aitask/"


# ---- customer import ---------------------------------------------------------------------------

CSV = (
    "Name;Phone Number;Gender;amount;due_date\n"
    "Ann Lee;+86 138-0000-0001;female;12.50;2030-07-01\n"
    "Bo Chen;8613800000002;M;3.00;2030-07-02\n"
    ";8613800000003;;1;\n"
    "Cy;8613800000002;MALE;2;\n"
    "Di;not a number at all;;;\n"
)


def import_file(client, task, content: bytes, name: str):
    upload = io.BytesIO(content)
    upload.name = name
    return client.post(
        "/admin/campaigns/aicustomer/import/",
        {"task": task.pk, "resource": "0", "import_file": upload},
    )


def confirm(client, preview):
    form = preview.context["confirm_form"]
    data = {name: form[name].value() for name in form.fields}
    return client.post("/admin/campaigns/aicustomer/process_import/", data, follow=True)


def test_import_preview_then_confirm(client, operator, task, sandbox):
    client.force_login(operator)
    page = text(client.get(f"/admin/campaigns/aicustomer/import/?task={task.pk}"))
    assert f'<option value="{task.pk}" selected>' in page
    preview = import_file(client, task, CSV.encode(), "customers.csv")
    page = text(preview)
    assert "5 row(s) read for task <strong>Renewal July</strong>: 2 to import, 3 skipped" in page
    assert "no name (ITNIO requires a name for every customer)" in page
    assert "duplicate of row 3" in page and "not a phone number: not a number at all" in page
    assert "amount=12.50, due_date=2030-07-01" in page
    assert AiCustomer.objects.count() == 0  # the preview writes nothing
    page = text(confirm(client, preview))
    assert "Imported 2 new and 0 updated customer(s)." in page
    assert "3 row(s) were skipped" in page and "Push customers to ITNIO" in page
    ann = AiCustomer.objects.get(name="Ann Lee")
    assert (ann.phone_number, ann.gender, ann.state) == ("8613800000001", "FEMALE", "local")
    assert ann.properties == {"amount": "12.50", "due_date": "2030-07-01"}
    assert AiCustomer.objects.get(name="Bo Chen").gender == ""  # "M" is not MALE: unknown


def test_import_xlsx_and_header_variants(client, operator, task, sandbox):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["customer name", "mobile", "sex", "plan"])
    sheet.append(["Ann", 8613800000001, "MALE", "gold"])
    sheet.append(["Bo", "8613800000002", None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    client.force_login(operator)
    preview = import_file(client, task, buffer.getvalue(), "customers.xlsx")
    assert "2 to import, 0 skipped" in text(preview)
    confirm(client, preview)
    assert sorted(AiCustomer.objects.values_list("phone_number", "gender")) == [
        ("8613800000001", "MALE"),
        ("8613800000002", ""),
    ]
    assert AiCustomer.objects.get(name="Ann").properties == {"plan": "gold"}


@pytest.mark.parametrize("header", ["phone", "phoneNumber", "phone_number", "mobile", "number"])
def test_phone_header_variants(client, operator, task, sandbox, header):
    client.force_login(operator)
    preview = import_file(client, task, f"name,{header}\nAnn,8613800000001\n".encode(), "c.csv")
    assert "1 to import, 0 skipped" in text(preview)


def test_import_without_a_phone_column_is_refused(client, operator, task, sandbox):
    client.force_login(operator)
    page = text(import_file(client, task, b"name,email\nAnn,a@b.c\n", "c.csv"))
    assert "No phone number column" in page and "'email'" in page


def test_reimport_updates_local_rows_and_skips_pushed_ones(client, operator, created_task):
    AiCustomer.objects.create(task=created_task, name="Old", phone_number="8613800000001")
    AiCustomer.objects.create(
        task=created_task, name="Sent", phone_number="8613800000002", state="pushed"
    )
    client.force_login(operator)
    content = b"name,phone\nNew name,8613800000001\nAgain,8613800000002\n"
    preview = import_file(client, created_task, content, "c.csv")
    assert "already pushed to ITNIO for this task" in text(preview)
    confirm(client, preview)
    assert AiCustomer.objects.get(phone_number="8613800000001").name == "New name"
    assert AiCustomer.objects.get(phone_number="8613800000002").name == "Sent"


def test_hostile_customer_files_are_refused_with_the_reason(
    client, operator, task, sandbox, tmp_path
):
    """The customer page reads files with the callee import's reader and its guards: a ZIP bomb
    and a line over a megabyte are refused on the form with the reason, and nothing is stored."""
    from tests import hostile

    client.force_login(operator)
    bomb = hostile.shared_string_bomb(tmp_path / "customers.xlsx").read_bytes()
    page = text(import_file(client, task, bomb, "customers.xlsx"))
    assert 'class="errorlist' in page
    assert "This XLSX workbook is refused: its part xl/sharedStrings.xml expands" in page
    assert "IMPORT_XLSX_MAX_RATIO" in page
    line = b"name,phone,note\nAnn,8613800000001," + b"n" * (1 << 20) + b"\n"
    page = text(import_file(client, task, line, "customers.csv"))
    assert 'class="errorlist' in page
    assert "Line 2 is longer than 1,048,576 characters (IMPORT_MAX_LINE_CHARS)" in page
    assert "encountered while trying to read file" not in page
    assert not AiCustomer.objects.exists()


# ---- the call record page ----------------------------------------------------------------------

PUSH = {
    "callId": "2207011230000000001",
    "appId": "LILIN888",
    "robotCallJobId": 20001,
    "calledPhoneNumber": "8613800000001",
    "startTime": 1656649800,
    "endTime": 1656649841,
    "resultStatus": "ANSWERED",
    "hangupBy": "PERSON",
    "customerConcern": ["price"],
    "chatDuration": 33,
    "billingTime": 60,
    "pay": "0.02",
    "chatRound": 2,
    "properties": {"amount": "12.50"},
    "intentLevelDetailName": "B (interested)",
    "fullAudioUrl": "http://127.0.0.1:9/_sandbox/recordings/2207011230000000001.wav",
    "customerAudioUrl": "http://127.0.0.1:9/_sandbox/recordings/2207011230000000001-customer.wav",
    "callDetailList": [
        {
            "callDetailId": 1,
            "text": "Hello Ann, do you have a minute?",
            "type": "ROBOT",
            "startOffset": 400,
            "endOffset": 3100,
        },
        {
            "callDetailId": 2,
            "text": "Yes, go ahead.",
            "type": "PERSON",
            "startOffset": 3900,
            "endOffset": 5000,
        },
        {
            "callDetailId": 3,
            "text": "It is 12.50 per month.",
            "type": "ROBOT",
            "startOffset": 65000,
            "endOffset": 67000,
        },
    ],
}


def test_record_page_plays_and_reads_as_a_conversation(client, viewer, ai_app):
    record, _ = ai_record_upsert(app=ai_app, record=AiRecord.from_api(PUSH), source="push")
    client.force_login(viewer)
    page = text(client.get(f"/admin/campaigns/aicallrecord/{record.pk}/change/"))
    player = 'id="full-audio" controls preload="metadata" src="{}"'.format(PUSH["fullAudioUrl"])
    assert player in page
    assert 'id="customer-audio"' in page
    transcript = page[page.index('id="transcript"') :]
    robot = transcript.index("Hello Ann, do you have a minute?")
    person = transcript.index("Yes, go ahead.")
    assert robot < person < transcript.index("It is 12.50 per month.")
    assert (
        transcript.count("portal-turn-robot") == 2 and transcript.count("portal-turn-person") == 1
    )
    for offset in (">0:00<", ">0:03<", ">1:05<"):
        assert offset in transcript
    for value in ("ANSWERED", "B (interested)", "PERSON", "price", "amount=12.50", "0.02"):
        assert value in page
    assert 'id="sync-ai-records"' not in text(client.get("/admin/campaigns/aicallrecord/"))


def test_record_without_transcript(client, operator, ai_app):
    record, _ = ai_record_upsert(
        app=ai_app,
        record=AiRecord.from_api({"callId": "x1", "resultStatus": "NO_ANSWER"}),
        source="recordQuery",
    )
    client.force_login(operator)
    page = text(client.get(f"/admin/campaigns/aicallrecord/{record.pk}/change/"))
    assert 'id="no-transcript"' in page and "No recording" in page
    assert 'id="sync-ai-records"' in text(client.get("/admin/campaigns/aicallrecord/"))


# ---- a Viewer ------------------------------------------------------------------------------------


def test_viewer_sees_no_buttons_and_forged_posts_do_nothing(
    client, viewer, created_task, sandbox_state
):
    add_customers(created_task, 2)
    before = len(sandbox_state.requests_for())
    client.force_login(viewer)
    page = text(client.get(change_url(created_task)))
    assert "Renewal July" in page and "+62 21 5099 0001 (Jakarta) (line 3001)" in page
    for tool in (
        "create-on-itnio",
        "start-task",
        "push-customers",
        "remove-uncalled",
        "update-on-itnio",
        "sync-task",
        "import-customers",
        "not-called-link",
    ):
        assert f'id="{tool}"' not in page
    assert "pause the task in ITNIO's console" in page
    assert 'id="sync-all"' not in text(client.get("/admin/campaigns/aitask/"))
    for action in ("create", "update", "start", "push", "remove", "sync"):
        response = client.post(
            f"/admin/campaigns/aitask/{created_task.pk}/{action}/", {"post": "yes"}
        )
        assert response.status_code == 403, action
    assert client.post("/admin/campaigns/aitask/sync/").status_code == 403
    assert client.get("/admin/campaigns/aicustomer/import/").status_code == 403
    assert client.post(change_url(created_task), {"name": "x"}).status_code == 403
    assert len(sandbox_state.requests_for()) == before
    assert AiCustomer.objects.filter(state="local").count() == 2


def test_operator_cannot_delete_a_task_on_itnio(client, operator, admin_user, created_task, ai_app):
    client.force_login(admin_user)
    assert client.get(f"/admin/campaigns/aitask/{created_task.pk}/delete/").status_code == 403
    draft = make_task(ai_app, name="Draft")
    assert client.get(f"/admin/campaigns/aitask/{draft.pk}/delete/").status_code == 200


def test_lists_render(client, admin_user, created_task, ai_app):
    add_customers(created_task, 2)
    ai_record_upsert(app=ai_app, record=AiRecord.from_api(PUSH), source="push")
    client.force_login(admin_user)
    for url in (
        "/admin/campaigns/aitask/",
        "/admin/campaigns/aicustomer/",
        "/admin/campaigns/aicallrecord/",
        f"/admin/campaigns/aicustomer/?task__id__exact={created_task.pk}",
    ):
        assert client.get(url).status_code == 200, url
    assert AiCallRecord.objects.count() == 1


def test_registering_the_ai_admin_keeps_every_other_admin():
    from django.apps import apps
    from django.contrib import admin

    unregistered = {
        model.__name__
        for model in apps.get_app_config("campaigns").get_models()
        if model not in admin.site._registry
    }
    # Batches and A/B variants show inline on campaigns; the daily figures show on the
    # dashboard; the API's idempotency keys are its own bookkeeping; approvals show inline.
    internal = {"DispatchBatch", "CampaignVariant", "CallDayStat", "CallDayValue", "CallStatMark"}
    charted = {"BalanceReading"}  # on the account page
    zones = {"ZoneSet"}  # the callees' time zones, shown on their campaign
    assert unregistered <= internal | charted | zones | {"ApiIdempotencyKey", "LaunchApproval"}, (
        unregistered
    )
