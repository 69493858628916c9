"""The AI push receiver (itnio-api.md §6.2): POST /itnio/push/<AI app token>/ai/, the same
inbox and idempotency rules as the voice push."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.models import AiCallRecord, AiCustomer, PushEvent
from campaigns.services.ai_customers import ai_customers_push
from campaigns.services.ai_records import ai_records_sync
from campaigns.services.ai_tasks import ai_task_start
from campaigns.services.pushes import pushes_reprocess
from itnio_portal.itnio.sandbox import SandboxServer
from tests.conftest import AI_APP_ID, API_KEY, apply_pushes

from .conftest import SYSTEM, add_customers

pytestmark = pytest.mark.django_db


def record(call_id: str = "2207011230000000001", **overrides) -> dict:
    body = {
        "callId": call_id,
        "appId": AI_APP_ID,
        "robotCallJobId": 20001,
        "dialogFlowId": 501,
        "tenantPhoneNumberId": "3001",
        "calledPhoneNumber": "8613800000001",
        "startTime": 1656649800,
        "endTime": 1656649841,
        "resultStatus": "ANSWERED",
        "hangupBy": "PERSON",
        "customerConcern": ["price"],
        "analysisBasis": "asked for the price",
        "chatDuration": 33,
        "billingTime": 60,
        "pay": "0.02",
        "chatRound": 1,
        "attributes": ["price"],
        "properties": {"amount": "1.00"},
        "intentLevelDetailName": "B (interested)",
        "callRecordTagIds": [2],
        "callRecordTagNames": ["Interested"],
        "fullAudioUrl": "https://rec.example/a.wav",
        "customerAudioUrl": "https://rec.example/a-customer.wav",
        "dynamicProperties": {},
        "callDetailList": [
            {
                "callDetailId": 1,
                "text": "Hello",
                "type": "ROBOT",
                "startOffset": 0,
                "endOffset": 900,
            },
            {
                "callDetailId": 2,
                "text": "Hi",
                "type": "PERSON",
                "startOffset": 1500,
                "endOffset": 2000,
            },
        ],
        "callCount": 1,
        "redialTimes": 0,
    }
    body.update(overrides)
    return body


def url(app) -> str:
    return f"/itnio/push/{app.push_token}/ai/"


def push(client, app, body, **kwargs):
    """POST as ITNIO does, then let the apply worker apply what was stored."""
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    response = client.post(url(app), data, content_type="application/json;charset=UTF-8", **kwargs)
    apply_pushes()
    return response


def test_a_push_becomes_a_typed_record(client, ai_app, created_task):
    add_customers(created_task, 1)
    AiCallRecord.objects.all().delete()
    body = record(robotCallJobId=created_task.remote_job_id)
    response = push(client, ai_app, body)
    assert response.status_code == 200 and response.json()["status"] == "0"
    event = PushEvent.objects.get()
    assert (event.kind, event.state, event.reports, event.app) == ("ai", "processed", 1, ai_app)
    row = AiCallRecord.objects.get()
    assert row.task == created_task
    assert row.customer == AiCustomer.objects.get(phone_number="8613800000001")
    assert row.customer_name == "Customer 1"
    assert row.start_time == datetime(2022, 7, 1, 4, 30, tzinfo=UTC)  # epoch SECONDS
    assert row.end_time - row.start_time == timedelta(seconds=41)
    assert (row.chat_duration, row.charged_duration, row.chat_round) == (33, 60, 1)
    assert row.cost == Decimal("0.02")
    assert row.customer_concern == ["price"] and row.call_record_tags == ["Interested"]
    assert row.properties == {"amount": "1.00"}
    assert [t["type"] for t in row.call_detail_list] == ["ROBOT", "PERSON"]
    assert row.source == "push" and row.raw == {"push": body}


def test_duplicates_are_harmless(client, ai_app):
    for _ in range(3):
        assert push(client, ai_app, record()).status_code == 200
    assert AiCallRecord.objects.count() == 1
    assert PushEvent.objects.filter(state="processed").count() == 3


def test_an_array_of_records(client, ai_app):
    response = push(client, ai_app, [record("c1"), record("c2"), record("c1")])
    assert response.status_code == 200
    assert sorted(AiCallRecord.objects.values_list("call_id", flat=True)) == ["c1", "c2"]
    assert PushEvent.objects.get().reports == 3


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "The body is not JSON"),
        ("[]", "empty list"),
        (json.dumps({"resultStatus": "ANSWERED"}), "has no callId"),
        (json.dumps([record(), 5]), "report 2 is not a JSON object"),
        (json.dumps({"voiceId": "2203031113381000002"}), "has no callId"),
    ],
)
def test_malformed_bodies_are_400_and_kept(client, ai_app, body, reason):
    response = push(client, ai_app, body)
    assert response.status_code == 400 and reason in response.json()["reason"]
    event = PushEvent.objects.get()
    assert event.state == "failed" and event.error.startswith("Malformed: ") and event.body == body
    assert AiCallRecord.objects.count() == 0


def test_not_utf8_is_400_and_kept(client, ai_app):
    response = client.post(url(ai_app), b"\xff\xfe{", content_type="application/json")
    assert response.status_code == 400
    assert PushEvent.objects.get().kind == "ai"


def test_tokens_only_work_on_their_own_kind(client, ai_app, voice_app):
    assert (
        client.post("/itnio/push/nope/ai/", "{}", content_type="application/json").status_code
        == 404
    )
    voice_on_ai = client.post(url(voice_app), json.dumps(record()), content_type="application/json")
    assert voice_on_ai.status_code == 404
    ai_on_voice = client.post(
        f"/itnio/push/{ai_app.push_token}/voice/",
        json.dumps(record()),
        content_type="application/json",
    )
    assert ai_on_voice.status_code == 404
    assert PushEvent.objects.count() == 0
    assert client.get(url(ai_app)).status_code == 405
    assert ai_app.push_path == url(ai_app)


def test_push_and_record_query_complete_each_other(client, ai_app, created_task, sandbox_state):
    """recordQuery carries no transcript and no cost (§5.8): it never blanks what the push gave,
    and adds what only it has (keyId, customer name)."""
    add_customers(created_task, 1)
    ai_customers_push(task=created_task, actor=SYSTEM)
    ai_task_start(task=created_task, actor=SYSTEM)
    (call,) = sandbox_state.ai_calls.values()
    body = call.push_body(sandbox_state.public_url)
    push(client, ai_app, body)
    ai_records_sync(actor=SYSTEM, since=timezone.now() - timedelta(hours=1))
    row = AiCallRecord.objects.get()
    assert row.source == "recordQuery" and set(row.raw) == {"push", "recordQuery"}
    assert row.key_id == str(call.key_id) and row.customer_name == "Customer 1"
    assert row.call_detail_list == body["callDetailList"]
    assert row.cost == Decimal(body["pay"])


def test_inbox_reprocessing(client, ai_app):
    push(client, ai_app, record())
    AiCallRecord.objects.all().delete()
    ok, failed = pushes_reprocess(PushEvent.objects.all())
    assert (ok, failed) == (1, 0)
    assert AiCallRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_pushes_to_the_portal(live_server, sandbox_state, account, ai_app):
    """End to end: the sandbox's pusher POSTs each finished AI call to the app's push URL."""
    sandbox_state.add_app(
        API_KEY, AI_APP_ID, kind="ai", push_url=live_server.url + ai_app.push_path
    )
    server = SandboxServer(sandbox_state, push_interval=None).start()
    try:
        account.base_url = server.base_url
        account.save(update_fields=["base_url"])
        from campaigns.services.ai_tasks import ai_task_create

        from .conftest import make_task

        task = ai_task_create(task=make_task(ai_app), actor=SYSTEM)
        add_customers(task, 4)
        ai_customers_push(task=task, actor=SYSTEM)
        ai_task_start(task=task, actor=SYSTEM)
        attempts = sandbox_state.flush_pushes()
        assert len(attempts) == 4 and all(a.status == 200 for a in attempts)
    finally:
        server.stop()
    apply_pushes()
    assert AiCallRecord.objects.filter(task=task, source="push").count() == 4
    assert PushEvent.objects.filter(kind="ai", state="processed").count() == 4
