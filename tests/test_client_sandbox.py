"""The client against the sandbox, an independent strict implementation of the documented
contract: every request the client sends is accepted, and send faults are never retried."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from campaigns.services.itnio import itnio_client_for
from itnio_portal.itnio import (
    AuthenticationError,
    ItnioOutcomeUnknownError,
    NoCustomersError,
)
from tests.conftest import AI_APP_ID, VOICE_APP_ID

WAV = (
    b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00D\xac\x00\x00"
    b"\x88X\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00"
)


@pytest.fixture
def client(sandbox, account):
    account.refresh_from_db()
    return itnio_client_for(account)


def test_every_client_request_is_accepted_by_the_strict_sandbox(client, sandbox, sandbox_state):
    sandbox_state.add_ai_job(AI_APP_ID, 10886, customers=3)
    file_id = client.file_upload(file_name="welcome.wav", content=WAV)
    assert file_id.endswith(".wav")
    voice_id = client.send_code(
        app_id=VOICE_APP_ID,
        callee="932111111111",
        language="EN",
        text="hello world",
        display_num="1008122211",
        loop_count=2,
        called_info="calledInfo",
        recall_count=0,
        max_duration=120,
        max_ringing_time=60,
    )
    results = client.send_group(
        app_id=VOICE_APP_ID,
        file_id=file_id,
        callees=["91856321412", "91856320000"],
        display_num="1008122211",
        max_duration=50,
        max_ringing_time=60,
        loop_count=2,
        called_info="calledInfo",
    )
    assert [r.accepted for r in results] == [True, False]  # ...0000 is the sandbox's bad number
    record = client.record_group(voice_id)
    assert record.voice_id == voice_id and record.is_final and record.cost is not None
    now = timezone.now()
    page = client.record_group_query(start=now - timedelta(days=1), end=now + timedelta(minutes=1))
    assert {r.voice_id for r in page.records} >= {voice_id, results[0].voice_id}
    client.sip_add(
        app_id=VOICE_APP_ID,
        group_name="sipGroup",
        phone_name="sipphone",
        quantity=30,
        display_num="861000000",
    )
    balance = client.get_balance()
    # The sandbox takes each final call's USD base cost from the balance (unanswered: 0).
    spent = sum((r.base_cost or 0) for r in page.records)
    assert balance.balance == Decimal("500") - spent
    client.ai_task_start(app_id=AI_APP_ID, job_id=10886)

    answered = [r for r in sandbox_state.requests_for() if not r.path.startswith("/_sandbox")]
    assert len(answered) == 8
    assert all(r.response["status"] == "0" for r in answered), [r.response for r in answered]


def test_business_errors_come_back_typed(client, sandbox_state):
    sandbox_state.add_ai_job(AI_APP_ID, 5, customers=0)
    with pytest.raises(NoCustomersError) as exc:
        client.ai_task_start(app_id=AI_APP_ID, job_id=5)
    assert exc.value.code == "-45"


def test_wrong_secret_is_an_authentication_error_without_the_secret(account, sandbox):
    account.refresh_from_db()
    account.api_secret = "not-the-secret"
    with pytest.raises(AuthenticationError) as exc:
        itnio_client_for(account).get_balance()
    assert "not-the-secret" not in str(exc.value)


@pytest.mark.parametrize("fault", ["502", "drop", "read-timeout"])
def test_send_group_is_never_retried_after_an_unknown_outcome(
    client, sandbox_state, settings, fault, account
):
    path = "/voice/sendGroup"
    file_id = client.file_upload(file_name="promo.wav", content=WAV)
    if fault == "502":
        sandbox_state.fail_next(path)
    elif fault == "drop":
        sandbox_state.drop_next(path)
    else:
        sandbox_state.faults.latency_by_path[path] = 1.5
        settings.ITNIO_READ_TIMEOUT = 0.5
        client = itnio_client_for(account)
    with pytest.raises(ItnioOutcomeUnknownError):
        client.send_group(app_id=VOICE_APP_ID, file_id=file_id, callees=["91856321412"])
    deadline = time.monotonic() + 5
    while (
        fault == "read-timeout"
        and not sandbox_state.accepted_callees()
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)  # the sandbox is still holding the slow request
    assert len(sandbox_state.requests_for(path)) == 1
    accepted = sandbox_state.accepted_callees()["91856321412"]
    # A 502 comes before processing; a drop or a slow answer happens after the call was placed.
    assert accepted == (0 if fault == "502" else 1)


def test_a_read_is_retried_after_a_502(client, sandbox_state):
    voice_id = client.send_code(
        app_id=VOICE_APP_ID, callee="932111111111", language="EN", text="hi"
    )
    sandbox_state.fail_next("/voice/recordGroup")
    assert client.record_group(voice_id).voice_id == voice_id
    assert len(sandbox_state.requests_for("/voice/recordGroup")) == 2
