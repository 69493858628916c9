"""POST /api/v1/calls/tts/: 201 with the call once ITNIO answered or as unknown; the
Idempotency-Key is committed before the request goes out and honoured for 24 hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from campaigns.models import ApiIdempotencyKey, Call
from tests.api.conftest import client_for, error_of
from tests.conftest import VOICE_APP_ID

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/calls/tts/"


def body(**over):
    return {
        "app": VOICE_APP_ID,
        "callee": "+91 98765-43210",
        "language": "EN",
        "text": "Code 4711",
        **over,
    }


def sends(sandbox_state) -> int:
    return len(sandbox_state.requests_for("/voice/sendCode"))


def test_a_call_is_placed_and_answered_201_with_its_billing_fields(
    operator_api, sandbox, sandbox_state
):
    response = operator_api.post(URL, body())
    assert response.status_code == 201, response.content
    call = response.json()
    assert call["state"] == "submitted" and call["voice_id"]
    assert call["callee"] == "919876543210" and call["app"] == VOICE_APP_ID
    assert {"cost", "rate", "charged_duration", "bill_period", "currency"} <= set(call)
    assert Call.objects.get().created_by == "operator"
    assert sends(sandbox_state) == 1


def test_a_lost_answer_is_201_with_the_call_unknown(operator_api, sandbox, sandbox_state):
    sandbox_state.drop_next("/voice/sendCode")
    response = operator_api.post(URL, body())
    assert response.status_code == 201
    assert response.json()["state"] == "unknown"
    assert "will not resend" in response.json()["state_reason"]


def test_limits_and_refusals_are_400_before_anything_is_sent(operator_api, sandbox, sandbox_state):
    response = operator_api.post(URL, body(text="x" * 900))
    assert response.status_code == 400
    assert error_of(response)["fields"]
    response = operator_api.post(URL, body(app="nope"))
    assert error_of(response)["fields"]["app"]
    response = operator_api.post(URL, body(language="XX"))
    assert "language" in error_of(response)["fields"]
    assert sends(sandbox_state) == 0 and not Call.objects.exists()


def test_same_key_same_body_gives_the_first_answer_and_sends_once(
    operator_api, sandbox, sandbox_state
):
    first = operator_api.post(URL, body(), headers={"Idempotency-Key": "order-1"})
    again = operator_api.post(URL, body(), headers={"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert sends(sandbox_state) == 1 and Call.objects.count() == 1


def test_same_key_another_body_is_422(operator_api, sandbox, sandbox_state):
    operator_api.post(URL, body(), headers={"Idempotency-Key": "order-2"})
    response = operator_api.post(
        URL, body(text="Code 9999"), headers={"Idempotency-Key": "order-2"}
    )
    assert response.status_code == 422
    assert error_of(response)["code"] == "unprocessable"
    assert sends(sandbox_state) == 1


def test_the_key_is_committed_before_the_request_and_a_repeat_meanwhile_is_409(
    operator_api, sandbox, sandbox_state
):
    seen = {}

    def while_itnio_holds_the_send(record):
        # Another connection (the sandbox's thread): the reservation is already committed.
        seen["rows"] = list(ApiIdempotencyKey.objects.values_list("key", "state"))
        seen["repeat"] = operator_api.post(URL, body(), headers={"Idempotency-Key": "order-3"})
        connections.close_all()

    sandbox_state.on_send_held = while_itnio_holds_the_send
    first = operator_api.post(URL, body(), headers={"Idempotency-Key": "order-3"})
    sandbox_state.on_send_held = None
    assert first.status_code == 201
    assert seen["rows"] == [("order-3", "in_flight")]
    assert seen["repeat"].status_code == 409
    assert error_of(seen["repeat"])["code"] == "conflict"
    assert sends(sandbox_state) == 1
    assert ApiIdempotencyKey.objects.get().state == "done"


def test_keys_are_per_token_and_last_24_hours(operator, sandbox, sandbox_state):
    one, two = client_for(operator, "one"), client_for(operator, "two")
    assert one.post(URL, body(), headers={"Idempotency-Key": "k"}).status_code == 201
    assert two.post(URL, body(), headers={"Idempotency-Key": "k"}).status_code == 201
    assert sends(sandbox_state) == 2
    ApiIdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    again = one.post(URL, body(text="Another"), headers={"Idempotency-Key": "k"})
    assert again.status_code == 201  # an expired key is a new key
    assert sends(sandbox_state) == 3


def test_a_refusal_is_the_keys_first_answer_too(operator_api, sandbox, sandbox_state):
    operator_api.post("/api/v1/dnc/", {"numbers": ["919876543210"]})
    first = operator_api.post(URL, body(), headers={"Idempotency-Key": "dnc"})
    again = operator_api.post(URL, body(), headers={"Idempotency-Key": "dnc"})
    assert first.status_code == again.status_code == 400
    assert "do-not-call" in error_of(first)["message"]
    assert again.json() == first.json() and sends(sandbox_state) == 0


@pytest.mark.parametrize("key", ["", "a" * 256, "naïve", "with space"])
def test_a_malformed_key_is_400(operator_api, sandbox, sandbox_state, key):
    response = operator_api.post(URL, body(), headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert sends(sandbox_state) == 0


def test_a_repeat_after_the_first_process_died_gets_its_call_as_it_is_now(
    operator, sandbox, sandbox_state, voice_app
):
    from campaigns.services.api_idempotency import idempotency_link, idempotency_reserve

    api = client_for(operator, "crashy")
    token = operator.api_tokens.get(name="crashy")
    given = {"app": VOICE_APP_ID, "callee": "919876543210", "language": "EN", "text": "Code 4711"}
    # What a request leaves when its process is killed between the intent and the answer.
    row = idempotency_reserve(token=token, key="crash", endpoint="calls.tts", body=given).row
    call = Call.objects.create(
        app=voice_app, kind="tts", state="sending", callee="919876543210", request=given
    )
    idempotency_link(row, call)
    assert api.post(URL, given, headers={"Idempotency-Key": "crash"}).status_code == 409
    ApiIdempotencyKey.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(minutes=15)
    )
    assert api.post(URL, given, headers={"Idempotency-Key": "crash"}).status_code == 409
    Call.objects.filter(pk=call.pk).update(state="unknown")  # the stale-send sweep's verdict
    answer = api.post(URL, given, headers={"Idempotency-Key": "crash"})
    assert answer.status_code == 201 and answer.json()["id"] == call.pk
    assert answer.json()["state"] == "unknown"
    assert sends(sandbox_state) == 0  # never sent again
    again = api.post(URL, given, headers={"Idempotency-Key": "crash"})
    assert again.json() == answer.json() and again["Idempotent-Replayed"] == "true"


def test_the_key_is_linked_to_its_call_before_itnio_answers(operator_api, sandbox, sandbox_state):
    seen = {}

    def held(record):
        seen["linked"] = list(ApiIdempotencyKey.objects.values_list("call__state", flat=True))
        connections.close_all()

    sandbox_state.on_send_held = held
    operator_api.post(URL, body(), headers={"Idempotency-Key": "linked"})
    sandbox_state.on_send_held = None
    assert seen["linked"] == ["sending"]
