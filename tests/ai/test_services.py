"""Every /aivoice endpoint through the services, against the strict sandbox: what is sent, what
is stored, chunking by 100 with the rows ITNIO rejected, recordQuery sync."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from campaigns.models import AiCallRecord, AiCustomer, AiTask, ApiRequestLog, ItnioApp
from campaigns.services.ai_customers import (
    ai_customers_push,
    ai_customers_remove_uncalled,
    ai_task_no_call,
)
from campaigns.services.ai_errors import AiTaskError
from campaigns.services.ai_records import ai_records_sync, ai_sync
from campaigns.services.ai_tasks import (
    ai_channels,
    ai_task_create,
    ai_task_start,
    ai_task_start_job,
    ai_task_update,
    ai_tasks_sync,
)
from itnio_portal.itnio.sandbox import REJECTED_SUFFIX

from .conftest import SYSTEM, add_customers, make_task, requests_to

pytestmark = pytest.mark.django_db


def test_channel_list(ai_app, sandbox, sandbox_state):
    assert ai_channels(app=ai_app, actor=SYSTEM) == [
        (3001, "+62 21 5099 0001 (Jakarta)"),
        (3002, "+63 2 8123 0002 (Manila)"),
    ]
    (request,) = requests_to(sandbox_state, "/aivoice/channelList")
    assert request.body == {"appId": "LILIN888"}


def test_channel_list_failure_is_a_clear_sentence(ai_app, sandbox, sandbox_state):
    sandbox_state.business_code_next("/aivoice/channelList", "-6", "ip restricted")
    with pytest.raises(AiTaskError) as exc:
        ai_channels(app=ai_app, actor=SYSTEM)
    text = str(exc.value)
    assert text.startswith("Could not load the lines of app LILIN888 from ITNIO (channelList)")
    assert "IP allow-list" in text and "ip restricted" in text


def test_create_maps_every_field_to_task_add(ai_app, sandbox, sandbox_state):
    task = make_task(
        ai_app,
        mode=AiTask.Mode.AUTO,
        start_at=datetime(2030, 7, 1, 1, 0, tzinfo=UTC),
        end_at=datetime(2030, 7, 31, 12, 0, tzinfo=UTC),
        daily_start=time(9, 30),
        daily_end=time(18, 0),
        inactive_times=[{"startTime": "12:00", "endTime": "13:00"}],
        inactive_dates=[{"startDate": "2030-07-04", "endDate": "2030-07-05"}],
        days_of_week=["MONDAY", "TUESDAY"],
        redial=True,
        redial_conditions=["NO_ANSWER", "BUSY"],
    )
    created = ai_task_create(task=task, actor=SYSTEM)
    assert created.state == AiTask.State.CREATED and created.last_error == ""
    (request,) = requests_to(sandbox_state, "/aivoice/taskAdd")
    assert request.body == {
        "appId": "LILIN888",
        "name": "Renewal July",
        "dialogFlowId": 501,
        "mode": "AUTO",
        "startDateTime": "2030-07-01 09:00:00",
        "dailyStartDateTime": "09:30",
        "dailyEndDateTime": "18:00",
        "robotCount": 2,
        "jobPhoneNumberId": 3001,
        "endDateTime": "2030-07-31 20:00:00",
        "inactiveTimeList": [{"startTime": "12:00", "endTime": "13:00"}],
        "inactiveDateList": [{"startDate": "2030-07-04", "endDate": "2030-07-05"}],
        "daysOfWeek": ["MONDAY", "TUESDAY"],
        "redial": True,
        "redialCondition": ["NO_ANSWER", "BUSY"],
    }
    assert created.remote_job_id == request.response["data"]
    assert (ai_app.app_id, created.remote_job_id) in sandbox_state.ai_jobs
    log = ApiRequestLog.objects.get(endpoint="/aivoice/taskAdd")
    assert log.outcome == "ok" and log.object_id == str(task.pk)


def test_update_sends_task_edit_with_the_job_id(created_task, sandbox_state):
    AiTask.objects.filter(pk=created_task.pk).update(robot_count=3, name="Renewal August")
    ai_task_update(task=created_task, actor=SYSTEM)
    (request,) = requests_to(sandbox_state, "/aivoice/taskEdit")
    assert request.body["jobId"] == created_task.remote_job_id
    assert request.body["robotCount"] == 3 and request.body["name"] == "Renewal August"
    job = sandbox_state.ai_jobs[("LILIN888", created_task.remote_job_id)]
    assert (job.name, job.robot_count) == ("Renewal August", 3)
    created_task.refresh_from_db()
    assert created_task.pushed_at is not None


def test_push_chunks_250_customers_into_100_100_50_and_shows_the_rejected_rows(
    created_task, sandbox_state
):
    add_customers(created_task, 250)
    # Three numbers the sandbox refuses (ending in 0000): they come back as failed rows.
    bad = ["8613800000000", "8613811110000", "8613822220000"]
    for index, number in zip((7, 150, 249), bad, strict=True):
        AiCustomer.objects.filter(task=created_task, name=f"Customer {index}").update(
            phone_number=number
        )
    result = ai_customers_push(task=created_task, actor=SYSTEM)
    sizes = [
        len(r.body["customerPersons"])
        for r in requests_to(sandbox_state, "/aivoice/importCustomer")
    ]
    assert sizes == [100, 100, 50]
    assert (result.chunks, result.pushed, result.rejected) == (3, 247, 3)
    assert {name for name, _, _ in result.rejected_rows} == {
        "Customer 7",
        "Customer 150",
        "Customer 249",
    }
    assert all("gave no reason" in why for _, _, why in result.rejected_rows)
    rejected = AiCustomer.objects.filter(task=created_task, state=AiCustomer.State.REJECTED)
    assert sorted(rejected.values_list("phone_number", flat=True)) == sorted(bad)
    assert all(number.endswith(REJECTED_SUFFIX) for number in bad)
    assert AiCustomer.objects.filter(state=AiCustomer.State.PUSHED).count() == 247
    first = requests_to(sandbox_state, "/aivoice/importCustomer")[0].body
    assert first["customerPersons"][0] == {
        "name": "Customer 1",
        "phoneNumber": "8613800000001",
        "properties": {"amount": "1.00"},
    }
    assert "callRecordDup" not in first
    assert sandbox_state.ai_jobs[("LILIN888", created_task.remote_job_id)].customers == 247
    assert str(result) == "247 customer(s) pushed to ITNIO in 3 request(s), 3 rejected."
    # Nothing left: a second push says so and sends nothing.
    with pytest.raises(AiTaskError, match="no customers waiting"):
        ai_customers_push(task=created_task, actor=SYSTEM)
    assert len(requests_to(sandbox_state, "/aivoice/importCustomer")) == 3


def test_push_sends_gender_and_call_record_dup(created_task, sandbox_state):
    AiTask.objects.filter(pk=created_task.pk).update(call_record_dup=True)
    AiCustomer.objects.create(
        task=created_task, name="Ann", phone_number="8613800000001", gender="FEMALE"
    )
    AiCustomer.objects.create(task=created_task, name="Bo", phone_number="8613800000002", gender="")
    ai_customers_push(task=created_task, actor=SYSTEM)
    (request,) = requests_to(sandbox_state, "/aivoice/importCustomer")
    assert request.body["callRecordDup"] is True
    assert request.body["customerPersons"] == [
        {"name": "Ann", "phoneNumber": "8613800000001", "gender": "FEMALE"},
        {"name": "Bo", "phoneNumber": "8613800000002"},
    ]


def test_a_refused_chunk_stops_the_push_and_stays_local(created_task, sandbox_state):
    add_customers(created_task, 150)
    sandbox_state.script_variables[501] = ("missing_variable",)
    result = ai_customers_push(task=created_task, actor=SYSTEM)
    assert result.pushed == 0 and result.chunks == 1
    assert "custom properties are incomplete" in result.error and "-51" in result.error
    assert AiCustomer.objects.filter(state=AiCustomer.State.LOCAL).count() == 150
    assert AiCustomer.objects.filter(reason__contains="-51").count() == 100


def test_an_unknown_push_outcome_is_never_resent(created_task, sandbox_state):
    add_customers(created_task, 120)
    sandbox_state.drop_next("/aivoice/importCustomer")
    result = ai_customers_push(task=created_task, actor=SYSTEM)
    assert result.unknown == 100 and result.pushed == 0
    assert AiCustomer.objects.filter(state=AiCustomer.State.UNKNOWN).count() == 100
    assert AiCustomer.objects.filter(state=AiCustomer.State.LOCAL).count() == 20
    # The next push sends only the 20 never sent; the unknown ones are resolved by taskNoCall.
    result = ai_customers_push(task=created_task, actor=SYSTEM)
    assert result.pushed == 20
    rows, total = ai_task_no_call(task=created_task, actor=SYSTEM)
    assert total == 120 and len(rows) == 120
    assert AiCustomer.objects.filter(state=AiCustomer.State.PUSHED).count() == 120


def test_start_then_sync_reads_task_list(created_task, sandbox_state):
    add_customers(created_task, 3)
    ai_customers_push(task=created_task, actor=SYSTEM)
    started = ai_task_start(task=created_task, actor=SYSTEM)
    (request,) = requests_to(sandbox_state, "/aivoice/taskStart")
    assert request.body == {"appId": "LILIN888", "jobId": created_task.remote_job_id}
    assert started.started_by == "system:ai-test" and started.started_at is not None
    assert started.remote_status == "RUNNING"
    assert (started.remote_total, started.remote_completed) == (3, 3)
    assert started.remote_script_name == "Script 501"
    assert started.remote_line_name == "+62 21 5099 0001 (Jakarta)"
    assert started.remote_created_at is not None and started.synced_at is not None


def test_task_sync_learns_console_tasks_and_keeps_drafts_apart(ai_app, sandbox, sandbox_state):
    sandbox_state.add_ai_job("LILIN888", 777, customers=4, name="Made in the console")
    draft = make_task(ai_app, name="Job 10886")
    sandbox_state.add_ai_job("LILIN888", 10886, name="Job 10886")  # same name as the draft
    result = ai_tasks_sync(actor=SYSTEM)
    assert (result.tasks_seen, result.tasks_learned) == (2, 1)
    learned = AiTask.objects.get(remote_job_id=777)
    assert learned.name == "Made in the console" and learned.state == AiTask.State.CREATED
    assert learned.remote_total == 4 and learned.created_by == "learned:taskList"
    draft.refresh_from_db()
    assert draft.remote_job_id is None and draft.state == AiTask.State.DRAFT
    (request,) = requests_to(sandbox_state, "/aivoice/taskList")
    assert request.body == {"current": 1, "size": 100, "params": {"appId": "LILIN888"}}


def test_an_unknown_create_is_resolved_by_name_never_created_twice(task, sandbox, sandbox_state):
    sandbox_state.drop_next("/aivoice/taskAdd")
    unknown = ai_task_create(task=task, actor=SYSTEM)
    assert (
        unknown.state == AiTask.State.UNKNOWN
        and "looks the task up by its name" in unknown.last_error
    )
    # Pressing "Create" again checks taskList by name first: no second taskAdd.
    AiTask.objects.filter(pk=task.pk).update(create_started_at=timezone.now() - timedelta(hours=1))
    created = ai_task_create(task=task, actor=SYSTEM)
    assert created.state == AiTask.State.CREATED and created.remote_job_id is not None
    assert len(requests_to(sandbox_state, "/aivoice/taskAdd")) == 1
    named = requests_to(sandbox_state, "/aivoice/taskList")[0].body
    assert named["params"] == {"appId": "LILIN888", "name": "Renewal July"}


def test_an_unknown_create_is_resolved_by_the_sync(task, sandbox, sandbox_state):
    sandbox_state.drop_next("/aivoice/taskAdd")
    ai_task_create(task=task, actor=SYSTEM)
    result = ai_tasks_sync(actor=SYSTEM)
    assert result.tasks_resolved == 1
    task.refresh_from_db()
    assert task.state == AiTask.State.CREATED and task.remote_job_id


def test_a_create_in_flight_is_not_sent_again(task, sandbox, sandbox_state):
    sandbox_state.drop_next("/aivoice/taskAdd")
    ai_task_create(task=task, actor=SYSTEM)
    AiTask.objects.filter(pk=task.pk).update(
        state=AiTask.State.SENDING, last_error="Create request in flight (started x)."
    )
    with pytest.raises(AiTaskError, match="still in flight"):
        ai_task_create(task=task, actor=SYSTEM)


def test_remove_uncalled_uses_task_no_call_and_del(created_task, sandbox_state):
    add_customers(created_task, 3)
    ai_customers_push(task=created_task, actor=SYSTEM)
    result = ai_customers_remove_uncalled(task=created_task, actor=SYSTEM)
    assert (result.requested, result.removed) == (3, 3)
    (request,) = requests_to(sandbox_state, "/aivoice/importCustomer/del")
    assert request.body == {
        "appId": "LILIN888",
        "jobId": str(created_task.remote_job_id),
        "jobPhoneNumberList": [
            {"phoneNumber": f"86138{i:08d}", "name": f"Customer {i}"} for i in (1, 2, 3)
        ],
    }
    assert AiCustomer.objects.filter(state=AiCustomer.State.REMOVED).count() == 3
    assert sandbox_state.ai_jobs[("LILIN888", created_task.remote_job_id)].customers == 0
    with pytest.raises(AiTaskError, match="lists no uncalled customers"):
        ai_customers_remove_uncalled(task=created_task, actor=SYSTEM)


def test_no_call_lists_what_itnio_has_not_called(created_task, sandbox_state):
    add_customers(created_task, 2)
    ai_customers_push(task=created_task, actor=SYSTEM)
    rows, total = ai_task_no_call(task=created_task, actor=SYSTEM)
    assert total == 2
    assert [(r.customer_person_name, r.called_phone_number) for r in rows] == [
        ("Customer 1", "8613800000001"),
        ("Customer 2", "8613800000002"),
    ]
    request = requests_to(sandbox_state, "/aivoice/taskNoCall")[0]
    assert request.body == {
        "current": 1,
        "size": 100,
        "params": {"appId": "LILIN888", "jobId": created_task.remote_job_id},
    }


def test_record_query_sync_upserts_by_call_id(created_task, sandbox_state):
    add_customers(created_task, 5)
    ai_customers_push(task=created_task, actor=SYSTEM)
    ai_task_start(task=created_task, actor=SYSTEM)
    since = timezone.now() - timedelta(hours=1)
    result = ai_records_sync(actor=SYSTEM, since=since)
    assert (result.records_checked, result.records_created) == (5, 5)
    request = requests_to(sandbox_state, "/aivoice/recordQuery")[0]
    params = request.body["params"]
    assert params["appId"] == "LILIN888"
    datetime.strptime(params["startTime"], "%Y-%m-%d %H:%M:%S")
    records = AiCallRecord.objects.order_by("called_phone_number")
    assert records.count() == 5
    first = records.first()
    assert first.task == created_task
    assert first.customer == AiCustomer.objects.get(phone_number=first.called_phone_number)
    assert first.source == "recordQuery" and first.start_time is not None
    assert first.properties == first.customer.properties
    answered = records.filter(result_status="ANSWERED").first()
    assert answered is not None and answered.charged_duration % 60 == 0
    assert answered.cost is None and answered.call_detail_list == []  # not in recordQuery
    again = ai_records_sync(actor=SYSTEM, since=since)
    assert (again.records_created, again.records_updated) == (0, 5)
    assert AiCallRecord.objects.count() == 5


def test_ai_sync_runs_every_ai_app_and_reports_failures(created_task, sandbox_state, account):
    ItnioApp.objects.create(account=account, app_id="GHOST001", kind=ItnioApp.Kind.AI)
    result = ai_sync(actor=SYSTEM)
    assert result.tasks_seen == 1
    assert len(result.errors) == 1 and result.errors[0].startswith("GHOST001: ")
    assert "application does not exist" in result.errors[0]


def test_start_any_job_by_id_creates_the_local_task(ai_app, sandbox, sandbox_state):
    sandbox_state.add_ai_job("LILIN888", 10886, customers=2, name="Console job")
    task = ai_task_start_job(app=ai_app, job_id=10886, actor=SYSTEM)
    assert task.name == "Console job" and task.remote_job_id == 10886
    assert task.remote_status == "RUNNING" and task.started_at is not None
    assert AiTask.objects.count() == 1
    with pytest.raises(AiTaskError, match="-39"):
        ai_task_start_job(app=ai_app, job_id=10886, actor=SYSTEM)
    assert AiTask.objects.count() == 1
    with pytest.raises(AiTaskError, match="-32"):
        ai_task_start_job(app=ai_app, job_id=5, actor=SYSTEM)
    assert AiTask.objects.count() == 1


SEED_000_CODES = (
    "-1", "-3", "-4", "-6", "-27", "-32", "-33", "-37", "-38", "-39", "-45", "-46", "-48", "-49",
    "-51", "-52", "-55", "-57", "-58", "-59",
)  # fmt: skip


@pytest.mark.parametrize("code", SEED_000_CODES)
def test_every_seed_000_code_reads_in_english_beside_the_vendor_reason(code):
    from campaigns.services.ai_errors import AI_CODE_ADVICE, ai_error_message
    from itnio_portal.itnio import AIVOICE_CODES, api_error_for

    message = ai_error_message(api_error_for("aivoice", code, "原因", "/aivoice/taskStart"))
    assert message.startswith(AIVOICE_CODES[code][1])
    assert AI_CODE_ADVICE[code] in message
    assert message.endswith(f"(ITNIO code {code}: “原因”)")


def test_an_undocumented_code_still_reads_in_english():
    from campaigns.services.ai_errors import ai_error_message
    from itnio_portal.itnio import api_error_for

    message = ai_error_message(api_error_for("aivoice", "-99", "", "/aivoice/taskAdd"))
    assert message == (
        "ITNIO rejected the request with an undocumented code. (ITNIO code -99: no reason given)"
    )


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("+65 9123-4567", "6591234567"),
        ("0065 (9123) 4567", "6591234567"),
        ("0812 345 678", "0812345678"),  # a local form stays as the file gave it
        ("12345", "12345"),  # short: the customer row's own rules decide
        ("a1b2c3d4", "a1b2c3d4"),  # an ID (ITNIO's encryption scenarios)
        ("call me later", None),
        ("   ", None),
    ],
)
def test_customer_phones_are_read_with_the_one_normaliser(raw, kept):
    from campaigns.services.ai_customer_import import clean_phone

    assert clean_phone(raw) == kept
