"""The /aivoice client methods (itnio-api.md §5): exact bodies, limits before sending, typed
answers, reads retried and sends never."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import responses

from itnio_portal.itnio import (
    AiCustomerRow,
    ConcurrencyLimitError,
    DialWindowError,
    ItnioClient,
    ItnioLimitError,
    ItnioOutcomeUnknownError,
    ItnioUnavailableError,
    NoCustomersError,
    TaskNameExistsError,
)

BASE = "https://api.itniotech.test"
KEY, SECRET = "bDqJFiq9", "7bz1lzh9"
APP = "LILIN888"
CST = timezone(timedelta(hours=8))


@pytest.fixture
def client():
    c = ItnioClient(BASE, KEY, SECRET, clock=lambda: 1630468800.0, sleep=lambda s: None)
    yield c
    c.close()


def sent(index: int = 0):
    request = responses.calls[index].request
    return request, (None if request.body is None else json.loads(request.body))


def ok(path: str, data=None, status: int = 200):
    responses.add(
        responses.POST,
        f"{BASE}{path}",
        json={"status": "0", "reason": "success", "data": data},
        status=status,
    )


TASK = {
    "app_id": APP,
    "name": "Renewal July",
    "dialog_flow_id": 501,
    "mode": "MANUAL",
    "daily_start": "09:30",
    "daily_end": "18:00",
    "robot_count": 3,
    "job_phone_number_id": 3001,
    "redial": False,
}


# ---- taskAdd / taskEdit ------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("data", [10886, "10886", {"jobId": 10886}, {"jobId": "10886"}])
def test_task_add_minimal_body_and_every_job_id_shape(client, data):
    ok("/aivoice/taskAdd", data)
    assert client.task_add(**TASK) == 10886
    request, body = sent()
    assert request.headers["Sign"] == "05d7a50893e22a5c4bb3216ae3396c7c"
    assert body == {
        "appId": APP,
        "name": "Renewal July",
        "dialogFlowId": 501,
        "mode": "MANUAL",
        "dailyStartDateTime": "09:30",
        "dailyEndDateTime": "18:00",
        "robotCount": 3,
        "jobPhoneNumberId": 3001,
        "redial": False,
    }


@responses.activate
def test_task_add_full_body(client):
    ok("/aivoice/taskAdd", 7)
    job_id = client.task_add(
        **{**TASK, "mode": "AUTO", "redial": True},
        start_at=datetime(2024, 7, 1, 1, 0, tzinfo=UTC),  # 09:00 in ITNIO's UTC+8
        end_at=datetime(2024, 7, 31, 20, 0, tzinfo=CST),
        inactive_times=[{"startTime": "12:00", "endTime": "13:30"}],
        inactive_dates=[{"startDate": "2024-07-04", "endDate": "2024-07-05"}],
        days_of_week=["MONDAY", "FRIDAY"],
        redial_conditions=["NO_ANSWER", "BUSY"],
    )
    assert job_id == 7
    _, body = sent()
    assert list(body) == [
        "appId",
        "name",
        "dialogFlowId",
        "mode",
        "startDateTime",
        "dailyStartDateTime",
        "dailyEndDateTime",
        "robotCount",
        "jobPhoneNumberId",
        "endDateTime",
        "inactiveTimeList",
        "inactiveDateList",
        "daysOfWeek",
        "redial",
        "redialCondition",
    ]
    assert body["startDateTime"] == "2024-07-01 09:00:00"
    assert body["endDateTime"] == "2024-07-31 20:00:00"
    assert body["inactiveTimeList"] == [{"startTime": "12:00", "endTime": "13:30"}]
    assert body["inactiveDateList"] == [{"startDate": "2024-07-04", "endDate": "2024-07-05"}]
    assert body["daysOfWeek"] == ["MONDAY", "FRIDAY"]
    assert body["redial"] is True and body["redialCondition"] == ["NO_ANSWER", "BUSY"]


@responses.activate
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"mode": "AUTO"}, "startDateTime"),
        ({"mode": "LATER"}, "mode"),
        ({"daily_start": "9:00"}, "dailyStartDateTime"),
        ({"daily_end": "24:00"}, "dailyEndDateTime"),
        ({"robot_count": 0}, "robotCount"),
        ({"job_phone_number_id": "3001"}, "jobPhoneNumberId"),
        ({"dialog_flow_id": None}, "dialogFlowId"),
        ({"name": " "}, "name"),
        ({"redial": True}, "redialCondition"),
        ({"redial": True, "redial_conditions": [""]}, "redialCondition"),
        ({"inactive_times": [{"startTime": "12:00", "endTime": "13:00"}] * 4}, "inactiveTimeList"),
        ({"inactive_times": [{"startTime": "13:00", "endTime": "12:00"}]}, "inactiveTimeList"),
        ({"inactive_dates": [{"startDate": "2024-02-30", "endDate": "2024-03-01"}]}, "startDate"),
        ({"days_of_week": ["MON"]}, "daysOfWeek"),
        ({"end_at": datetime(2024, 7, 1, 9, 0)}, "endDateTime"),
    ],
)
def test_task_add_limits_are_checked_before_sending(client, change, field):
    with pytest.raises(ItnioLimitError) as exc:
        client.task_add(**{**TASK, **change})
    assert field in exc.value.field
    assert len(responses.calls) == 0


@responses.activate
def test_task_edit_sends_job_id_first(client):
    ok("/aivoice/taskEdit")
    client.task_edit(job_id=10886, **{**TASK, "robot_count": 4})
    _, body = sent()
    assert next(iter(body)) == "jobId" and body["jobId"] == 10886
    assert body["robotCount"] == 4


@responses.activate
@pytest.mark.parametrize("data", [None, "", "abc", {"id": 1}, -3, True])
def test_task_add_without_a_readable_job_id_is_an_unknown_outcome(client, data):
    ok("/aivoice/taskAdd", data)
    with pytest.raises(ItnioOutcomeUnknownError):
        client.task_add(**TASK)


@responses.activate
@pytest.mark.parametrize(
    ("code", "error"),
    [("-33", TaskNameExistsError), ("-48", DialWindowError), ("-52", ConcurrencyLimitError)],
)
def test_task_add_business_codes_are_typed_with_an_english_message(client, code, error):
    responses.add(
        responses.POST,
        f"{BASE}/aivoice/taskAdd",
        json={"status": code, "reason": "vendor words", "data": None},
    )
    with pytest.raises(error) as exc:
        client.task_add(**TASK)
    assert exc.value.code == code and "vendor words" in str(exc.value)


@responses.activate
def test_sends_are_never_retried(client):
    responses.add(responses.POST, f"{BASE}/aivoice/taskAdd", status=502)
    with pytest.raises(ItnioOutcomeUnknownError):
        client.task_add(**TASK)
    assert len(responses.calls) == 1


# ---- taskStart ---------------------------------------------------------------------------------


@responses.activate
def test_task_start_body_matches_seed_000(client):
    ok("/aivoice/taskStart")
    client.ai_task_start(app_id=APP, job_id=10886)
    _, body = sent()
    assert body == {"appId": "LILIN888", "jobId": 10886}


@responses.activate
def test_task_start_minus_45(client):
    responses.add(
        responses.POST,
        f"{BASE}/aivoice/taskStart",
        json={"status": "-45", "reason": "未导入客户,不能启动", "data": None},
    )
    with pytest.raises(NoCustomersError) as exc:
        client.ai_task_start(app_id=APP, job_id=10886)
    assert str(exc.value).startswith("No customers have been imported")


# ---- taskList ----------------------------------------------------------------------------------


@responses.activate
def test_task_list_body_and_records(client):
    ok(
        "/aivoice/taskList",
        {
            "total": 1,
            "size": 100,
            "current": 1,
            "pages": 1,
            "records": [
                {
                    "jobId": 10886,
                    "name": "Renewal July",
                    "dialogFlowName": "Renewal script",
                    "jobPhoneNumberName": "Line 1",
                    "robotCount": 3,
                    "mode": "MANUAL",
                    "hangupSms": False,
                    "taskTotal": 250,
                    "taskCompleted": 40,
                    "status": "RUNNING",
                    "isDialogFlowUnbind": False,
                    "createTime": "2024-07-01 09:00:00",
                }
            ],
        },
    )
    page = client.task_list(app_id=APP, name="Renewal")
    _, body = sent()
    assert body == {"current": 1, "size": 100, "params": {"appId": APP, "name": "Renewal"}}
    (task,) = page.records
    assert (task.job_id, task.name, task.status) == (10886, "Renewal July", "RUNNING")
    assert (task.task_total, task.task_completed, task.robot_count) == (250, 40, 3)
    assert task.create_time == datetime(2024, 7, 1, 9, 0, tzinfo=CST)
    assert page.pages == 1


@responses.activate
def test_task_list_without_name_and_paging_limits(client):
    ok("/aivoice/taskList", {})
    assert client.task_list(app_id=APP, current=2, size=50).records == ()
    _, body = sent()
    assert body == {"current": 2, "size": 50, "params": {"appId": APP}}
    with pytest.raises(ItnioLimitError):
        client.task_list(app_id=APP, size=101)


@responses.activate
def test_reads_are_retried(client):
    responses.add(responses.POST, f"{BASE}/aivoice/taskList", status=502)
    responses.add(responses.POST, f"{BASE}/aivoice/taskList", status=502)
    ok("/aivoice/taskList", {"records": []})
    client.task_list(app_id=APP)
    assert len(responses.calls) == 3
    responses.calls.reset()
    for _ in range(5):
        responses.add(responses.POST, f"{BASE}/aivoice/channelList", status=503)
    with pytest.raises(ItnioUnavailableError):
        client.channel_list(app_id=APP)


# ---- importCustomer ----------------------------------------------------------------------------


@responses.activate
def test_import_customer_body_gender_never_empty(client):
    ok("/aivoice/importCustomer", [{"name": "Bo", "phoneNumber": ""}])
    failed = client.import_customer(
        app_id=APP,
        job_id=10886,
        call_record_dup=True,
        customers=[
            AiCustomerRow("Ann", "8613800000001", "FEMALE", {"amount": "12.50"}),
            AiCustomerRow("Bo", "8613800000002"),
        ],
    )
    assert failed == [{"name": "Bo", "phoneNumber": ""}]
    _, body = sent()
    assert body == {
        "appId": APP,
        "jobId": 10886,
        "callRecordDup": True,
        "customerPersons": [
            {
                "name": "Ann",
                "phoneNumber": "8613800000001",
                "gender": "FEMALE",
                "properties": {"amount": "12.50"},
            },
            {"name": "Bo", "phoneNumber": "8613800000002"},
        ],
    }
    assert "gender" not in body["customerPersons"][1]


@responses.activate
def test_import_customer_limits(client):
    row = AiCustomerRow("Ann", "8613800000001")
    with pytest.raises(ItnioLimitError, match="customerPersons"):
        client.import_customer(app_id=APP, job_id=1, customers=[row] * 101)
    with pytest.raises(ItnioLimitError, match="customerPersons"):
        client.import_customer(app_id=APP, job_id=1, customers=[])
    with pytest.raises(ItnioLimitError, match="gender"):
        client.import_customer(app_id=APP, job_id=1, customers=[AiCustomerRow("A", "1", "")])
    with pytest.raises(ItnioLimitError, match="phoneNumber"):
        client.import_customer(app_id=APP, job_id=1, customers=[AiCustomerRow("A", "1" * 33)])
    assert len(responses.calls) == 0
    ok("/aivoice/importCustomer", None)
    assert client.import_customer(app_id=APP, job_id=1, customers=[row] * 100) == []


@responses.activate
def test_import_customer_with_unreadable_data_is_an_unknown_outcome(client):
    ok("/aivoice/importCustomer", "3 failed")
    with pytest.raises(ItnioOutcomeUnknownError):
        client.import_customer(app_id=APP, job_id=1, customers=[AiCustomerRow("A", "1")])


# ---- importCustomer/del ------------------------------------------------------------------------


@responses.activate
def test_import_customer_del_body_and_count(client):
    ok("/aivoice/importCustomer/del", 2)
    count = client.import_customer_del(
        app_id=APP, job_id=10886, numbers=[("8613800000001", "Ann"), ("8613800000002", None)]
    )
    assert count == 2
    _, body = sent()
    assert body == {
        "appId": APP,
        "jobId": "10886",  # a String on this endpoint (§5.6)
        "jobPhoneNumberList": [
            {"phoneNumber": "8613800000001", "name": "Ann"},
            {"phoneNumber": "8613800000002"},
        ],
    }
    with pytest.raises(ItnioLimitError):
        client.import_customer_del(app_id=APP, job_id=10886, numbers=[])


# ---- taskNoCall --------------------------------------------------------------------------------


@responses.activate
def test_task_no_call_body_and_records(client):
    ok(
        "/aivoice/taskNoCall",
        {
            "total": 1,
            "pages": 1,
            "records": [
                {
                    "jobId": 10886,
                    "customerPersonId": 55,
                    "customerPersonName": "Ann",
                    "calledPhoneNumber": "8613800000001",
                    "status": "CAN_START",
                    "properties": {"amount": "12.50"},
                }
            ],
        },
    )
    page = client.task_no_call(app_id=APP, job_id=10886, task_status="CAN_START", size=20)
    _, body = sent()
    assert body == {
        "current": 1,
        "size": 20,
        "params": {"appId": APP, "taskStatus": "CAN_START", "jobId": 10886},
    }
    (row,) = page.records
    assert (row.customer_person_id, row.called_phone_number) == ("55", "8613800000001")
    assert row.properties == {"amount": "12.50"}
    with pytest.raises(ItnioLimitError):
        client.task_no_call(app_id=APP, task_status="RUNNING")


# ---- recordQuery -------------------------------------------------------------------------------

RECORD = {
    "keyId": 9,
    "appId": APP,
    "callId": "240701093000000001",
    "callRecordId": None,
    "robotCount": 3,
    "callJobId": 10886,
    "dialogFlowId": 501,
    "tenantPhoneNumberId": "3001",
    "calledPhoneNumber": "8613800000001",
    "hangupBy": "PERSON",
    "customerPersonName": "Ann",
    "analysisBasis": "asked for the price",
    "resultStatus": "ANSWERED",
    "startTime": "2024-07-01 09:30:00",
    "endTime": "2024-07-01 09:30:41",
    "chatDuration": 33,
    "chargedDuration": 60,
    "chatRound": 2,
    "attributes": ["price"],
    "customerConcern": ["price"],
    "properties": {"amount": "12.50"},
    "intentLevelDetailName": "B (interested)",
    "fullAudioUrl": "https://rec.example/240701093000000001.wav",
    "customerAudioUrl": "https://rec.example/240701093000000001-customer.wav",
    "dynamicProperties": {},
    "redialTimes": 0,
}


@responses.activate
def test_record_query_body_uses_ai_time_format(client):
    ok("/aivoice/recordQuery", {"total": 1, "pages": 1, "records": [RECORD]})
    page = client.record_query(
        app_id=APP,
        start=datetime(2024, 7, 1, 0, 0, tzinfo=UTC),
        end=datetime(2024, 7, 2, 0, 0, tzinfo=UTC),
        current=3,
    )
    _, body = sent()
    assert body == {
        "current": 3,
        "size": 100,
        "params": {
            "appId": APP,
            "startTime": "2024-07-01 08:00:00",
            "endTime": "2024-07-02 08:00:00",
        },
    }
    (record,) = page.records
    assert record.call_id == "240701093000000001" and record.job_id == 10886
    assert record.start_time == datetime(2024, 7, 1, 9, 30, tzinfo=CST)
    assert (record.chat_duration, record.charged_duration, record.chat_round) == (33, 60, 2)
    assert record.cost is None and "cost" not in record.present
    assert "call_detail_list" not in record.present  # not in §5.8's list: never blanked
    assert record.customer_concern == ["price"]


def test_push_shape_reads_epoch_seconds_and_the_push_names():
    from itnio_portal.itnio import AiRecord

    record = AiRecord.from_api(
        {
            "callId": "c1",
            "robotCallJobId": "10886",
            "startTime": 1719797400,
            "endTime": 1719797441,
            "billingTime": 60,
            "pay": "0.02",
            "callDetailList": [
                {"callDetailId": 1, "text": "Hello", "type": "ROBOT", "startOffset": 0},
                {"callDetailId": 2, "text": "Hi", "type": "PERSON", "startOffset": 2100},
            ],
        }
    )
    assert record.job_id == 10886
    assert record.start_time == datetime(2024, 7, 1, 1, 30, tzinfo=UTC)
    assert (record.charged_duration, record.cost) == (60, Decimal("0.02"))
    assert [(t.type, t.start_offset, t.is_robot) for t in record.turns] == [
        ("ROBOT", 0, True),
        ("PERSON", 2100, False),
    ]


@responses.activate
def test_record_query_limits(client):
    now = datetime(2024, 7, 1, tzinfo=UTC)
    with pytest.raises(ItnioLimitError):
        client.record_query(app_id=APP, start=now, end=now)
    with pytest.raises(ItnioLimitError):
        client.record_query(app_id=APP, start=datetime(2024, 7, 1), end=now)
    assert len(responses.calls) == 0


# ---- channelList -------------------------------------------------------------------------------


@responses.activate
def test_channel_list_converts_the_line_id(client):
    ok("/aivoice/channelList", [{"tenantPhoneNumberId": "3001", "phoneNumber": "Line 1"}])
    (line,) = client.channel_list(app_id=APP)
    assert (line.line_id, line.phone_number) == (3001, "Line 1")
    _, body = sent()
    assert body == {"appId": APP}
