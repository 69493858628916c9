"""The API request log: one redacted ApiRequestLog row per ITNIO request, saying who asked,
about what, and how it ended (ok, business error, unknown outcome, not sent)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from campaigns.models import ApiRequestLog, Call
from campaigns.services.actors import Actor
from campaigns.services.calls import call_send_tts
from campaigns.services.itnio import itnio_client_for
from campaigns.services.request_log import RequestLogBuffer, logged_client, request_logger
from itnio_portal.itnio import ItnioApiError, ItnioOutcomeUnknownError
from tests.audio import wav_bytes
from tests.conftest import API_SECRET, VOICE_APP_ID

ACTOR = Actor.system("log-test")


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    import itnio_portal.itnio.transport as transport

    monkeypatch.setattr(transport, "backoff_delay", lambda *args, **kwargs: 0.0)


@pytest.fixture
def on_sandbox(sandbox, account):
    account.refresh_from_db()
    return account


def send_tts(voice_app, *, actor: Actor = ACTOR, **kwargs) -> Call:
    arguments = {"callee": "919876543210", "language": "EN", "text": "Your code is 4321"}
    arguments.update(kwargs)
    return call_send_tts(app=voice_app, actor=actor, **arguments)


def every_column(row: ApiRequestLog) -> str:
    values = ApiRequestLog.objects.filter(pk=row.pk).values().get()
    return json.dumps(values, default=str, ensure_ascii=False)


def test_a_tts_call_writes_one_log_row_about_the_call(on_sandbox, voice_app):
    user = User.objects.create_superuser("alice", "alice@example.com", "pw")
    before = timezone.now()

    call = send_tts(voice_app, actor=Actor.from_user(user), called_info="order 42")

    assert call.state == Call.State.SUBMITTED
    log = ApiRequestLog.objects.get()
    assert log.account == on_sandbox
    assert (log.endpoint, log.method, log.path) == ("/voice/sendCode", "POST", "/voice/sendCode")
    assert (log.outcome, log.code, log.http_status, log.attempts) == ("ok", "0", 200, 1)
    assert log.triggered_by == "alice"
    assert (log.object_type, log.object_id) == ("campaigns.Call", str(call.pk))
    assert before - timedelta(seconds=1) <= log.started_at <= timezone.now()
    assert log.duration_ms >= 0
    assert log.summary == {
        "callee": "919876543210",
        "language": "EN",
        "text": "Your code is 4321",
        "appId": VOICE_APP_ID,
        "calledInfo": "order 42",
    }
    assert API_SECRET not in every_column(log)


def test_the_log_rows_of_an_object_can_be_found_from_it(on_sandbox, voice_app):
    first = send_tts(voice_app)
    second = send_tts(voice_app, callee="919876543211")

    rows = ApiRequestLog.objects.filter(object_type="campaigns.Call", object_id=str(second.pk))

    assert rows.count() == 1
    assert rows.get().summary["callee"] == "919876543211"
    assert first.pk != second.pk


def test_a_send_group_of_250_numbers_is_shortened_in_the_summary(
    on_sandbox, sandbox_state, settings
):
    settings.ITNIO_SEND_GROUP_MAX = 1000  # the newest docs allow 1000 (itnio-api.md §3.2)
    callees = [f"9198765{i:05d}" for i in range(1, 251)]
    client = itnio_client_for(
        on_sandbox, on_request=request_logger(on_sandbox, actor=Actor.system("bulk"))
    )
    file_id = client.file_upload(file_name="bulk.wav", content=wav_bytes())

    results = client.send_group(app_id=VOICE_APP_ID, file_id=file_id, callees=callees)

    assert len(results) == 250
    sent = sandbox_state.requests_for("/voice/sendGroup")[0].body
    assert sent["callee"] == ",".join(callees)  # ITNIO got all of them...
    log = ApiRequestLog.objects.get(endpoint="/voice/sendGroup")
    assert log.outcome == "ok" and log.triggered_by == "system:bulk"
    summary = log.summary["callee"]  # ...the log keeps a recognisable head and a count
    assert summary.startswith(callees[0])
    assert summary.endswith("(+247 more)")
    assert len(summary) < 60
    text = every_column(log)
    assert callees[3] not in text and callees[-1] not in text
    assert log.summary["fileId"] == file_id and log.summary["appId"] == VOICE_APP_ID
    upload = ApiRequestLog.objects.get(endpoint="/voice/fileUpload")
    size = len(wav_bytes())
    assert upload.summary == {"fileName": "bulk.wav", "file": f"<{size} bytes base64>"}


def test_an_api_error_is_logged_with_its_code_and_reason(on_sandbox, sandbox_state, voice_app):
    sandbox_state.business_code_next("/voice/sendCode", -10, "insufficient balance")

    call = send_tts(voice_app)

    assert call.state == Call.State.REJECTED
    log = ApiRequestLog.objects.get()
    assert (log.outcome, log.code, log.reason) == ("api_error", "-10", "insufficient balance")
    assert log.http_status == 200
    assert log.object_id == str(call.pk)


def test_an_api_error_of_a_direct_client_call_is_logged_too(on_sandbox, sandbox_state):
    sandbox_state.business_code_next("/voice/sendCode", "-22", "parameter error")
    client = logged_client(on_sandbox, actor=ACTOR)

    with pytest.raises(ItnioApiError):
        client.send_code(app_id=VOICE_APP_ID, callee="919876543210", language="EN", text="x")

    log = ApiRequestLog.objects.get()
    assert (log.outcome, log.code, log.reason) == ("api_error", "-22", "parameter error")
    assert (log.object_type, log.object_id) == ("", "")


def test_a_dropped_answer_is_logged_as_unknown(on_sandbox, sandbox_state, voice_app):
    sandbox_state.drop_next("/voice/sendCode")

    call = send_tts(voice_app)

    assert call.state == Call.State.UNKNOWN
    log = ApiRequestLog.objects.get()
    assert log.outcome == "unknown"
    assert log.code == "" and log.http_status is None
    assert "unknown" in log.reason
    assert log.object_id == str(call.pk)
    assert len(sandbox_state.requests_for("/voice/sendCode")) == 1  # never resent


def test_a_502_to_a_send_is_logged_as_unknown(on_sandbox, sandbox_state):
    sandbox_state.fail_next("/voice/sendCode", status=502)
    client = logged_client(on_sandbox, actor=ACTOR)

    with pytest.raises(ItnioOutcomeUnknownError):
        client.send_code(app_id=VOICE_APP_ID, callee="919876543210", language="EN", text="x")

    log = ApiRequestLog.objects.get()
    assert (log.outcome, log.http_status, log.attempts) == ("unknown", 502, 1)


def test_a_request_that_could_not_connect_is_logged_as_not_sent(db, account, voice_app):
    account.base_url = "http://127.0.0.1:9"  # nothing listens there
    account.save()
    voice_app.refresh_from_db()

    call = send_tts(voice_app)

    assert call.state == Call.State.REJECTED
    log = ApiRequestLog.objects.get()
    assert log.outcome == "not_sent"
    assert log.http_status is None and log.code == ""
    assert log.reason


def test_the_api_secret_appears_in_no_column(on_sandbox, sandbox_state, voice_app):
    # The vendor echoing the secret in a reason, a person typing it into the text: both scrubbed.
    sandbox_state.business_code_next("/voice/sendCode", -18, f"system error near {API_SECRET}")
    send_tts(voice_app)
    send_tts(voice_app, text=f"secret {API_SECRET} here", called_info=API_SECRET)
    sandbox_state.drop_next("/voice/sendCode")
    send_tts(voice_app)
    sandbox_state.fail_next("/voice/recordGroup", count=1)
    client = logged_client(on_sandbox, actor=ACTOR)
    voice_id = Call.objects.exclude(voice_id=None).values_list("voice_id", flat=True).first()
    client.record_group(voice_id)
    client.get_balance()

    rows = list(ApiRequestLog.objects.all())

    assert len(rows) == 5
    assert {r.outcome for r in rows} == {"ok", "api_error", "unknown"}
    for row in rows:
        assert API_SECRET not in every_column(row), row.endpoint
    error = ApiRequestLog.objects.get(code="-18")
    assert error.reason == "system error near ***"
    scrubbed = ApiRequestLog.objects.get(summary__calledInfo="***")
    assert scrubbed.summary["text"] == "secret *** here"


def test_the_buffer_writes_rows_only_when_flushed(on_sandbox):
    buffer = RequestLogBuffer(actor=Actor.system("buffered"))
    client = buffer.client(on_sandbox)

    client.get_balance()
    client.get_balance()

    assert ApiRequestLog.objects.count() == 0
    assert buffer.flush() == 2
    rows = ApiRequestLog.objects.all()
    assert [(r.endpoint, r.outcome, r.triggered_by) for r in rows] == [
        ("/sms/getBalance", "ok", "system:buffered")
    ] * 2
    assert buffer.flush() == 0
    assert ApiRequestLog.objects.count() == 2


def test_a_failing_log_write_does_not_turn_a_placed_call_into_an_error(
    on_sandbox, voice_app, monkeypatch
):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("log table is gone")

    monkeypatch.setattr(ApiRequestLog, "save", broken_save)

    call = send_tts(voice_app)

    assert call.state == Call.State.SUBMITTED and call.voice_id
