"""The voice status-report receiver (itnio-api.md §6.1, §6.4) and the push inbox.

POST /itnio/push/<app push token>/voice/: one report or an array, idempotent on voiceId, a
final record only replaced by a final one, every body kept in the inbox (even malformed ones).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client

from campaigns.models import Call, PushEvent
from campaigns.services.actors import Actor
from campaigns.services.calls import call_send_tts
from tests.conftest import API_KEY, VOICE_APP_ID, apply_pushes

VOICE_ID = "2203031113381000002"
SUBMIT_MS = 1_700_000_000_000  # 2023-11-14T22:13:20Z


def at_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def final_report(voice_id: str = VOICE_ID, **overrides) -> dict:
    """A §6.1 status report of an answered call, times as millisecond epoch."""
    report = {
        "voiceId": voice_id,
        "type": 2,
        "callee": "919876543210",
        "displayNum": "1008122211",
        "submitTime": SUBMIT_MS,
        "callTime": SUBMIT_MS + 2_000,
        "ringingTime": SUBMIT_MS + 4_000,
        "answerTime": SUBMIT_MS + 9_000,
        "hangupTime": SUBMIT_MS + 31_000,
        "callDuration": 22,
        "chargedDuration": 60,
        "billPeriod": "60+60",
        "code": "India(Jio)",
        "voiceFileId": "",
        "rate": "0.012",
        "baseCost": "0.012",
        "cost": "0.012",
        "terminationCode": "200",
        "terminationReason": "success",
        "feedbackValue": "-1",
        "calledInfo": "order 42",
        "currency": "",
        "settleRate": "",
        "quoteExchange": "",
        "settlePay": "",
    }
    report.update(overrides)
    return report


def ringing_report(voice_id: str = VOICE_ID, **overrides) -> dict:
    """An older, not final report of the same call: no answer, no hangup, no cost yet."""
    report = final_report(
        voice_id,
        answerTime=None,
        hangupTime=None,
        callDuration=0,
        chargedDuration=0,
        cost="",
        baseCost="",
        terminationCode="",
        terminationReason="",
        feedbackValue="",
    )
    report.update(overrides)
    return report


def push(client: Client, app, body, *, token: str | None = None, apply: bool = True):
    """POST a push as ITNIO does; then (unless apply=False) let the apply worker apply it."""
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    url = f"/itnio/push/{token}/voice/" if token is not None else app.push_path
    response = client.post(url, data=data, content_type="application/json;charset=UTF-8")
    if apply:
        apply_pushes()
    return response


@pytest.fixture
def web(db) -> Client:
    return Client()


@pytest.fixture
def superuser_client(db) -> Client:
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


# ---------------------------------------------------------------------------
# Accepting reports
# ---------------------------------------------------------------------------
def test_one_report_object_creates_a_final_call_with_every_field(web, voice_app):
    response = push(web, voice_app, final_report())

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    event = PushEvent.objects.get()
    assert response.json() == {"status": "0", "reason": "success", "event": event.pk}
    assert event.state == PushEvent.State.PROCESSED and event.reports == 1
    assert event.app == voice_app and event.kind == PushEvent.Kind.VOICE
    call = Call.objects.get(voice_id=VOICE_ID)
    assert call.app == voice_app
    assert call.state == Call.State.FINAL
    assert call.callee == "919876543210"
    assert call.display_num == "1008122211"
    assert call.called_info == "order 42"
    assert call.submit_time == at_ms(SUBMIT_MS)
    assert call.answer_time == at_ms(SUBMIT_MS + 9_000)
    assert call.hangup_time == at_ms(SUBMIT_MS + 31_000)
    assert (call.call_duration, call.charged_duration) == (22, 60)
    assert call.cost == Decimal("0.012") and call.rate == Decimal("0.012")
    assert call.base_cost == Decimal("0.012")
    assert call.bill_period == "60+60"
    assert call.currency == "USD"  # blank in the report means USD (itnio-api.md §3.5)
    assert call.settle_rate is None and call.settle_pay is None
    assert call.termination_code == "200" and call.feedback_value == "-1"
    assert call.record_source == "push"
    assert call.raw_record["voiceId"] == VOICE_ID


def test_an_array_of_reports_is_applied_report_by_report(web, voice_app):
    body = [final_report("1001"), ringing_report("1002"), final_report("1003", type=1)]

    response = push(web, voice_app, body)

    assert response.status_code == 200
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.PROCESSED and event.reports == 3
    states = dict(Call.objects.values_list("voice_id", "state"))
    assert states == {
        "1001": Call.State.FINAL,
        "1002": Call.State.SUBMITTED,
        "1003": Call.State.FINAL,
    }


def test_a_duplicate_push_leaves_one_call_and_two_inbox_rows(web, voice_app):
    body = json.dumps(final_report())

    first = push(web, voice_app, body)
    second = push(web, voice_app, body)

    assert first.status_code == second.status_code == 200
    assert Call.objects.count() == 1
    assert PushEvent.objects.count() == 2
    assert set(PushEvent.objects.values_list("state", flat=True)) == {PushEvent.State.PROCESSED}
    call = Call.objects.get()
    assert call.state == Call.State.FINAL and call.cost == Decimal("0.012")


def test_an_older_non_final_report_after_the_final_one_changes_nothing(web, voice_app):
    push(web, voice_app, final_report())

    response = push(web, voice_app, ringing_report(cost="", terminationReason="ringing"))

    assert response.status_code == 200
    call = Call.objects.get()
    assert call.state == Call.State.FINAL
    assert call.hangup_time == at_ms(SUBMIT_MS + 31_000)
    assert call.answer_time == at_ms(SUBMIT_MS + 9_000)
    assert call.cost == Decimal("0.012")
    assert call.termination_reason == "success"
    assert call.raw_record["hangupTime"] == SUBMIT_MS + 31_000


def test_a_non_final_report_first_then_the_final_one(web, voice_app):
    push(web, voice_app, ringing_report())
    assert Call.objects.get().state == Call.State.SUBMITTED
    assert Call.objects.get().cost is None

    push(web, voice_app, final_report())

    call = Call.objects.get()
    assert call.state == Call.State.FINAL and call.cost == Decimal("0.012")


def test_a_final_report_is_replaced_by_a_newer_final_one(web, voice_app):
    push(web, voice_app, final_report())

    newer = final_report(
        hangupTime=SUBMIT_MS + 95_000,
        callDuration=86,
        chargedDuration=120,
        cost="0.024",
        baseCost="0.024",
        feedbackValue="3",
    )
    push(web, voice_app, newer)

    call = Call.objects.get()
    assert call.state == Call.State.FINAL
    assert call.hangup_time == at_ms(SUBMIT_MS + 95_000)
    assert (call.call_duration, call.charged_duration) == (86, 120)
    assert call.cost == Decimal("0.024") and call.feedback_value == "3"


@pytest.mark.parametrize(
    ("submit", "hangup", "expected_submit", "expected_hangup"),
    [
        pytest.param(
            SUBMIT_MS, SUBMIT_MS + 31_000, at_ms(SUBMIT_MS), at_ms(SUBMIT_MS + 31_000), id="ms-int"
        ),
        pytest.param(
            str(SUBMIT_MS),
            str(SUBMIT_MS + 31_000),
            at_ms(SUBMIT_MS),
            at_ms(SUBMIT_MS + 31_000),
            id="ms-digit-string",
        ),
        pytest.param(
            "2023-11-15T06:13:20+08:00",
            "2023-11-15T06:13:51+08:00",
            datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            datetime(2023, 11, 14, 22, 13, 51, tzinfo=UTC),
            id="iso-with-offset",
        ),
        pytest.param(
            "2023-11-14T20:13:20-02:00",
            "2023-11-14T22:13:51Z",
            datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
            datetime(2023, 11, 14, 22, 13, 51, tzinfo=UTC),
            id="iso-negative-offset-and-z",
        ),
    ],
)
def test_time_formats(web, voice_app, submit, hangup, expected_submit, expected_hangup):
    body = final_report(
        submitTime=submit, callTime=None, ringingTime=None, answerTime=None, hangupTime=hangup
    )

    assert push(web, voice_app, body).status_code == 200

    call = Call.objects.get()
    assert call.submit_time == expected_submit
    assert call.hangup_time == expected_hangup
    assert call.state == Call.State.FINAL


def test_an_iso_time_keeps_its_offset_not_the_server_zone(web, voice_app):
    body = final_report(hangupTime="2024-03-01T10:00:00+05:30")
    push(web, voice_app, body)
    expected = datetime(2024, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert Call.objects.get().hangup_time == expected


# ---------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------
def test_an_unknown_token_is_404_and_nothing_is_stored(web, voice_app):
    response = push(web, voice_app, final_report(), token="not-a-real-token")

    assert response.status_code == 404
    assert PushEvent.objects.count() == 0
    assert Call.objects.count() == 0


def test_a_token_of_another_app_does_not_match_by_prefix(web, voice_app):
    response = push(web, voice_app, final_report(), token=voice_app.push_token[:-1])
    assert response.status_code == 404
    assert PushEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("this is not json", "not JSON", id="not-json"),
        pytest.param(json.dumps([final_report(), 5]), "report 2 is not a JSON object", id="list"),
        pytest.param(
            json.dumps({k: v for k, v in final_report().items() if k != "voiceId"}),
            "the report has no voiceId",
            id="no-voice-id",
        ),
        pytest.param(json.dumps(final_report(voiceId="  ")), "no voiceId", id="blank-voice-id"),
        pytest.param("[]", "empty list", id="empty-list"),
    ],
)
def test_a_malformed_body_is_400_with_a_reason_and_kept_as_failed(web, voice_app, body, reason):
    response = push(web, voice_app, body)

    assert response.status_code == 400
    answer = response.json()
    assert answer["status"] == "error"
    assert reason in answer["reason"]
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.FAILED
    assert event.error.startswith("Malformed: ") and reason in event.error
    assert event.body == body
    assert Call.objects.count() == 0


def test_a_report_list_stops_at_the_bad_report_and_applies_none(web, voice_app):
    body = [final_report("1001"), {"type": 2}]
    response = push(web, voice_app, body)
    assert response.status_code == 400
    assert "report 2 has no voiceId" in response.json()["reason"]
    assert Call.objects.count() == 0


def test_a_non_utf8_body_is_400_and_kept_as_failed(web, voice_app):
    raw = b'{"voiceId": "1001", "calledInfo": "caf\xe9"}'

    response = push(web, voice_app, raw)

    assert response.status_code == 400
    assert "UTF-8" in response.json()["reason"]
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.FAILED
    assert "UTF-8" in event.error
    assert "caf" in event.body  # the bytes are kept (read as latin-1) for a person to inspect
    assert Call.objects.count() == 0


def test_no_csrf_token_is_needed(voice_app):
    strict = Client(enforce_csrf_checks=True)
    response = push(strict, voice_app, final_report())
    assert response.status_code == 200
    assert Call.objects.filter(voice_id=VOICE_ID, state=Call.State.FINAL).exists()


def test_get_is_405(web, voice_app):
    response = web.get(voice_app.push_path)
    assert response.status_code == 405
    assert PushEvent.objects.count() == 0


def test_the_sender_address_is_kept(web, voice_app):
    web.post(
        voice_app.push_path,
        data=json.dumps(final_report()),
        content_type="application/json",
        REMOTE_ADDR="203.0.113.7",
    )
    assert PushEvent.objects.get().remote_addr == "203.0.113.7"


# ---------------------------------------------------------------------------
# Calls the portal did not know, and calls it did
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("push_type", "kind"),
    [(1, Call.Kind.GROUP), (2, Call.Kind.TTS), ("1", Call.Kind.GROUP), ("2", Call.Kind.TTS)],
)
def test_an_unknown_voice_id_creates_a_call_of_the_pushed_type(web, voice_app, push_type, kind):
    # voiceFileId set on a TTS push and blank on a group push: the type decides, not the file.
    file_id = "" if str(push_type) == "1" else "1202202254d4c.mp3"
    push(web, voice_app, final_report(type=push_type, voiceFileId=file_id))

    call = Call.objects.get()
    assert call.kind == kind
    assert call.app == voice_app
    assert call.created_by == "learned:push"


def test_a_push_completes_a_call_the_portal_placed(web, voice_app):
    placed = Call.objects.create(
        app=voice_app,
        kind=Call.Kind.TTS,
        state=Call.State.SUBMITTED,
        callee="919876543210",
        voice_id=VOICE_ID,
        created_by="alice",
        request={"text": "hello"},
    )

    push(web, voice_app, final_report(type=1))

    assert Call.objects.count() == 1
    placed.refresh_from_db()
    assert placed.state == Call.State.FINAL
    assert placed.kind == Call.Kind.TTS  # what the portal knew is kept
    assert placed.created_by == "alice" and placed.request == {"text": "hello"}
    assert placed.cost == Decimal("0.012")


# ---------------------------------------------------------------------------
# Re-processing from the admin
# ---------------------------------------------------------------------------
def reprocess(client: Client, *events: PushEvent):
    return client.post(
        "/admin/campaigns/pushevent/",
        {
            "action": "reprocess",
            "index": 0,
            "_selected_action": [str(e.pk) for e in events],
        },
        follow=True,
    )


def test_reprocess_recreates_a_deleted_call_and_is_idempotent(web, superuser_client, voice_app):
    push(web, voice_app, final_report())
    event = PushEvent.objects.get()
    Call.objects.all().delete()

    response = reprocess(superuser_client, event)

    assert response.status_code == 200
    assert "Re-processed 1 push(es); 0 failed" in response.content.decode()
    call = Call.objects.get()
    assert call.voice_id == VOICE_ID and call.state == Call.State.FINAL
    assert call.cost == Decimal("0.012")

    reprocess(superuser_client, event)
    reprocess(superuser_client, event)

    assert Call.objects.count() == 1
    again = Call.objects.get()
    assert (again.pk, again.cost, again.hangup_time) == (call.pk, call.cost, call.hangup_time)
    event.refresh_from_db()
    assert event.state == PushEvent.State.PROCESSED and event.error == ""
    assert PushEvent.objects.count() == 1  # re-processing adds no inbox rows


def test_a_push_failing_on_a_bug_is_kept_answered_200_and_reprocessable(
    web, superuser_client, voice_app, monkeypatch
):
    import campaigns.services.push_apply as push_apply

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    with monkeypatch.context() as patch:
        patch.setattr(push_apply, "record_onto_call", broken)
        response = push(web, voice_app, final_report())

    # ITNIO retries on HTTP errors only (§6.4); the body is safe in the inbox, so answer 200.
    assert response.status_code == 200
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.FAILED
    assert event.error == "RuntimeError: simulated bug"
    assert Call.objects.count() == 0

    response = reprocess(superuser_client, event)

    assert "Re-processed 1 push(es); 0 failed" in response.content.decode()
    event.refresh_from_db()
    assert event.state == PushEvent.State.PROCESSED and event.error == ""
    assert event.reports == 1
    assert Call.objects.get().state == Call.State.FINAL


def test_reprocessing_a_malformed_push_keeps_it_failed(web, superuser_client, voice_app):
    push(web, voice_app, "not json")
    event = PushEvent.objects.get()

    response = reprocess(superuser_client, event)

    assert "Re-processed 0 push(es); 1 failed" in response.content.decode()
    event.refresh_from_db()
    assert event.state == PushEvent.State.FAILED and event.error.startswith("Malformed: ")


def test_reprocess_needs_a_permission(web, voice_app):
    push(web, voice_app, final_report())
    event = PushEvent.objects.get()
    Call.objects.all().delete()
    viewer = User.objects.create_user("peek", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_pushevent"))
    client = Client()
    client.force_login(viewer)

    response = reprocess(client, event)

    assert response.status_code == 403  # an action the list does not offer is refused
    assert Call.objects.count() == 0


# ---------------------------------------------------------------------------
# End to end: the sandbox pushes to a live server
# ---------------------------------------------------------------------------
def _expected_time(body: dict, key: str) -> datetime | None:
    value = body[key]
    return None if value is None else at_ms(value)


def _place_and_push(live_server, sandbox_state, voice_app, currency: str) -> tuple[Call, dict]:
    sandbox_state.add_app(
        API_KEY,
        VOICE_APP_ID,
        kind="voice",
        push_url=live_server.url + voice_app.push_path,
        currency=currency,
    )
    call = call_send_tts(
        app=voice_app,
        callee="919812345678",
        language="EN",
        text="Your code is 1234",
        called_info="e2e",
        actor=Actor.system("test"),
    )
    assert call.state == Call.State.SUBMITTED and call.voice_id
    attempts = sandbox_state.flush_pushes()
    assert [(a.voice_ids, a.status, a.ok) for a in attempts] == [([call.voice_id], 200, True)]
    apply_pushes()
    sent = sandbox_state.calls[call.voice_id].push_body()
    call.refresh_from_db()
    return call, sent


def _assert_matches_push(call: Call, sent: dict) -> None:
    assert call.state == Call.State.FINAL
    assert call.record_source == "push"
    for field, key in [
        ("submit_time", "submitTime"),
        ("call_time", "callTime"),
        ("ringing_time", "ringingTime"),
        ("answer_time", "answerTime"),
        ("hangup_time", "hangupTime"),
    ]:
        assert getattr(call, field) == _expected_time(sent, key), field
    assert call.hangup_time is not None and call.call_time is not None
    assert call.charged_duration == sent["chargedDuration"]
    assert call.call_duration == sent["callDuration"]
    assert call.bill_period == sent["billPeriod"] != ""
    assert call.cost == Decimal(sent["cost"])
    assert call.rate == Decimal(sent["rate"])
    assert call.base_cost == Decimal(sent["baseCost"])
    assert call.termination_code == sent["terminationCode"] != ""
    assert call.code == sent["code"] != ""
    assert call.called_info == "e2e"
    assert Call.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_end_to_end_push_from_the_sandbox_eur_app(live_server, sandbox, sandbox_state, voice_app):
    call, sent = _place_and_push(live_server, sandbox_state, voice_app, "EUR")

    _assert_matches_push(call, sent)
    assert call.currency == "EUR"
    assert call.quote_exchange == Decimal("0.92")
    assert call.settle_rate == Decimal(sent["settleRate"])
    assert call.settle_pay == Decimal(sent["settlePay"])
    assert call.settle_rate == call.rate and call.settle_pay == call.cost
    # The cost is in EUR; the base cost stays in USD (x 0.92 EUR per USD).
    assert call.base_cost * Decimal("0.92") == call.cost
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.PROCESSED and event.reports == 1
    assert event.remote_addr == "127.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_end_to_end_push_from_the_sandbox_usd_app(live_server, sandbox, sandbox_state, voice_app):
    call, sent = _place_and_push(live_server, sandbox_state, voice_app, "USD")

    _assert_matches_push(call, sent)
    assert sent["currency"] == ""  # the record leaves it blank...
    assert call.currency == "USD"  # ...which means USD
    assert call.settle_rate is None and call.quote_exchange is None and call.settle_pay is None
    assert call.base_cost == call.cost
