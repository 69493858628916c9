"""Keeping call records in step with ITNIO: recordGroup refresh (itnio-api.md §3.5),
recordGroupQuery backfill (§3.6: ≤ 31-day windows, last two months, pages of ≤ 100), expiry,
stale sends and unknown sends, and the `sync_records` command."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

import itnio_portal.itnio.transport as transport
from campaigns.models import ApiRequestLog, Call
from campaigns.services.actors import Actor
from campaigns.services.calls import (
    call_refresh,
    call_send_tts,
    calls_backfill,
    calls_expire,
    calls_sweep_stale_sends,
    calls_sync_due,
)
from campaigns.services.itnio import itnio_client_for
from tests.audio import wav_bytes
from tests.conftest import VOICE_APP_ID

ACTOR = Actor.system("sync-test")


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    """Read retries without their backoff sleeps, so exhausting them stays fast."""
    monkeypatch.setattr(transport, "backoff_delay", lambda *args, **kwargs: 0.0)


@pytest.fixture
def itnio(sandbox, sandbox_state, account):
    """A client on the sandbox; the sandbox clock runs 3 s behind the portal's so every call
    placed during the test lies strictly inside a backfill window ending "now" (ISO times are
    sent with whole seconds)."""
    sandbox_state.clock_offset = -3.0
    account.refresh_from_db()
    return itnio_client_for(account)


def send_tts(voice_app, callee: str) -> Call:
    return call_send_tts(
        app=voice_app, callee=callee, language="EN", text="Your code is 4321", actor=ACTOR
    )


def make_call(voice_app, *, state, age: timedelta = timedelta(0), **fields) -> Call:
    fields.setdefault("callee", "919876543210")
    call = Call.objects.create(app=voice_app, kind=Call.Kind.TTS, state=state, **fields)
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - age)
    call.refresh_from_db()
    return call


def query_bodies(sandbox_state) -> list[dict]:
    return [r.body for r in sandbox_state.requests_for("/voice/recordGroupQuery")]


def parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.utcoffset() is not None, f"{text!r} has no offset"
    return value


# ---------------------------------------------------------------------------
# calls_sync_due: recordGroup for calls that are not final
# ---------------------------------------------------------------------------
def test_sync_due_finalises_submitted_calls_through_record_group(itnio, sandbox_state, voice_app):
    calls = [send_tts(voice_app, "919876543211"), send_tts(voice_app, "628123456789")]
    assert all(c.state == Call.State.SUBMITTED and c.cost is None for c in calls)
    sends = ApiRequestLog.objects.count()

    result = calls_sync_due(actor=ACTOR)

    assert (result.checked, result.updated, result.finalised, result.failed) == (2, 2, 2, 0)
    asked = sorted(r.path for r in sandbox_state.requests_for("/voice/recordGroup"))
    assert asked == sorted(f"/voice/recordGroup/{c.voice_id}" for c in calls)
    for call in calls:
        call.refresh_from_db()
        record = sandbox_state.calls[call.voice_id].record(sandbox_state.now())
        assert call.state == Call.State.FINAL
        assert call.record_source == "recordGroup"
        assert call.hangup_time == datetime.fromisoformat(record["hangupTime"])
        assert call.cost == Decimal(record["cost"])
        assert call.base_cost == Decimal(record["baseCost"])
        assert call.charged_duration == record["chargedDuration"]
        assert call.termination_code == record["terminationCode"]
        assert call.code == record["code"] and call.bill_period == record["billPeriod"]
        assert call.synced_at is not None
    logs = ApiRequestLog.objects.filter(endpoint="/voice/recordGroup")
    assert logs.count() == 2 == ApiRequestLog.objects.count() - sends
    assert {(log.outcome, log.code, log.method, log.triggered_by) for log in logs} == {
        ("ok", "0", "GET", "system:sync-test")
    }
    assert sorted(log.path for log in logs) == asked


def test_sync_due_skips_final_unknown_and_voiceless_calls(itnio, sandbox_state, voice_app):
    make_call(voice_app, state=Call.State.FINAL, voice_id="111")
    make_call(voice_app, state=Call.State.UNKNOWN)
    make_call(voice_app, state=Call.State.REJECTED)

    result = calls_sync_due(actor=ACTOR)

    assert result.checked == 0
    assert sandbox_state.requests_for("/voice/recordGroup") == []
    assert ApiRequestLog.objects.count() == 0


def test_sync_due_honours_the_limit_oldest_sync_first(itnio, sandbox_state, voice_app):
    calls = [send_tts(voice_app, f"91987654321{i}") for i in range(3)]
    Call.objects.filter(pk=calls[0].pk).update(synced_at=timezone.now())

    result = calls_sync_due(actor=ACTOR, limit=2)

    assert result.checked == 2
    asked = {r.path.rsplit("/", 1)[1] for r in sandbox_state.requests_for("/voice/recordGroup")}
    assert asked == {calls[1].voice_id, calls[2].voice_id}
    assert Call.objects.get(pk=calls[0].pk).state == Call.State.SUBMITTED


def test_a_record_group_failing_with_502s_counts_as_failed(
    itnio, sandbox_state, voice_app, settings
):
    call = send_tts(voice_app, "919876543211")
    sandbox_state.fail_next("/voice/recordGroup", count=1 + settings.ITNIO_MAX_READ_RETRIES)

    result = calls_sync_due(actor=ACTOR)

    assert (result.checked, result.failed, result.updated, result.finalised) == (1, 1, 0, 0)
    # every attempt reached the sandbox: the read was retried, then given up
    assert len(sandbox_state.requests_for("/voice/recordGroup")) == 4
    call.refresh_from_db()
    assert call.state == Call.State.SUBMITTED and call.hangup_time is None and call.cost is None
    log = ApiRequestLog.objects.get(endpoint="/voice/recordGroup")
    assert log.outcome == "unavailable" and log.http_status == 502 and log.attempts == 4


def test_a_record_group_retry_that_succeeds_is_not_a_failure(itnio, sandbox_state, voice_app):
    call = send_tts(voice_app, "919876543211")
    sandbox_state.fail_next("/voice/recordGroup", count=2)

    result = calls_sync_due(actor=ACTOR)

    assert (result.failed, result.finalised) == (0, 1)
    call.refresh_from_db()
    assert call.state == Call.State.FINAL
    log = ApiRequestLog.objects.get(endpoint="/voice/recordGroup")
    assert (log.outcome, log.attempts) == ("ok", 3)


def test_a_record_group_business_error_counts_as_failed(itnio, sandbox_state, voice_app):
    call = send_tts(voice_app, "919876543211")
    sandbox_state.business_code_next("/voice/recordGroup", -22, "parameter error")

    result = calls_sync_due(actor=ACTOR)

    assert (result.checked, result.failed, result.finalised) == (1, 1, 0)
    call.refresh_from_db()
    assert call.state == Call.State.SUBMITTED and call.hangup_time is None
    log = ApiRequestLog.objects.get(endpoint="/voice/recordGroup")
    assert (log.outcome, log.code, log.reason) == ("api_error", "-22", "parameter error")


def test_one_failing_call_does_not_stop_the_others(itnio, sandbox_state, voice_app, settings):
    settings.ITNIO_SYNC_CONCURRENCY = 1  # deterministic order: the fault hits the first call
    first = send_tts(voice_app, "919876543211")
    second = send_tts(voice_app, "919876543212")
    sandbox_state.business_code_next("/voice/recordGroup", -18, "system error")

    result = calls_sync_due(actor=ACTOR)

    assert (result.checked, result.failed, result.finalised) == (2, 1, 1)
    states = dict(Call.objects.values_list("pk", "state"))
    assert sorted(states.values()) == [Call.State.FINAL, Call.State.SUBMITTED]
    assert set(states) == {first.pk, second.pk}


def test_call_refresh_applies_the_record_and_logs_it_against_the_call(
    itnio, sandbox_state, voice_app
):
    call = send_tts(voice_app, "919876543211")

    refreshed = call_refresh(call=call, actor=ACTOR)

    assert refreshed.state == Call.State.FINAL and refreshed.hangup_time is not None
    log = ApiRequestLog.objects.get(endpoint="/voice/recordGroup")
    assert (log.object_type, log.object_id, log.outcome) == ("campaigns.Call", str(call.pk), "ok")


# ---------------------------------------------------------------------------
# Expiry and stale sends
# ---------------------------------------------------------------------------
def test_calls_older_than_the_retention_expire(db, voice_app, settings):
    days = settings.ITNIO_RECORD_RETENTION_DAYS
    old = make_call(voice_app, state=Call.State.SUBMITTED, voice_id="1", age=timedelta(days + 1))
    young = make_call(voice_app, state=Call.State.SUBMITTED, voice_id="2", age=timedelta(days - 1))
    old_final = make_call(voice_app, state=Call.State.FINAL, voice_id="3", age=timedelta(days + 5))

    assert calls_expire() == 1

    old.refresh_from_db()
    assert old.state == Call.State.EXPIRED and "retention" in old.state_reason
    assert Call.objects.get(pk=young.pk).state == Call.State.SUBMITTED
    assert Call.objects.get(pk=old_final.pk).state == Call.State.FINAL


def test_sync_due_expires_old_calls_instead_of_asking_itnio(itnio, sandbox_state, voice_app):
    old = make_call(
        voice_app, state=Call.State.SUBMITTED, voice_id="2203031113381000002", age=timedelta(61)
    )

    result = calls_sync_due(actor=ACTOR)

    assert (result.expired, result.checked) == (1, 0)
    assert Call.objects.get(pk=old.pk).state == Call.State.EXPIRED
    assert sandbox_state.requests_for("/voice/recordGroup") == []


def test_stale_sends_become_unknown_and_fresh_ones_stay(db, voice_app, settings):
    minutes = settings.ITNIO_STALE_SEND_MINUTES
    stale = make_call(voice_app, state=Call.State.SENDING, age=timedelta(minutes=minutes + 1))
    fresh = make_call(voice_app, state=Call.State.SENDING, age=timedelta(minutes=minutes - 2))
    old_submitted = make_call(
        voice_app, state=Call.State.SUBMITTED, voice_id="9", age=timedelta(hours=2)
    )

    assert calls_sweep_stale_sends() == 1

    stale.refresh_from_db()
    assert stale.state == Call.State.UNKNOWN
    assert "will not resend" in stale.state_reason
    assert Call.objects.get(pk=fresh.pk).state == Call.State.SENDING
    assert Call.objects.get(pk=old_submitted.pk).state == Call.State.SUBMITTED


# ---------------------------------------------------------------------------
# calls_backfill: recordGroupQuery
# ---------------------------------------------------------------------------
def test_backfill_creates_calls_the_portal_did_not_know(itnio, sandbox_state, voice_app):
    voice_ids = [
        itnio.send_code(app_id=VOICE_APP_ID, callee=callee, language="EN", text="hi")
        for callee in ("919876543211", "628123456789", "84912345678")
    ]
    assert Call.objects.count() == 0

    result = calls_backfill(since=timezone.now() - timedelta(hours=1), actor=ACTOR)

    assert (result.checked, result.created, result.updated) == (3, 3, 0)
    calls = {c.voice_id: c for c in Call.objects.all()}
    assert set(calls) == set(voice_ids)
    for voice_id, call in calls.items():
        record = sandbox_state.calls[voice_id].record(sandbox_state.now())
        assert call.state == Call.State.FINAL
        assert call.app == voice_app and call.kind == Call.Kind.TTS
        assert call.callee == record["callee"]
        assert call.cost == Decimal(record["cost"])
        assert call.created_by == "learned:recordGroupQuery"
    body = query_bodies(sandbox_state)[0]
    assert body["size"] == 100 and body["current"] == 1
    log = ApiRequestLog.objects.get(endpoint="/voice/recordGroupQuery")
    assert (log.outcome, log.triggered_by) == ("ok", "system:sync-test")

    again = calls_backfill(since=timezone.now() - timedelta(hours=1), actor=ACTOR)

    assert (again.created, again.updated) == (0, 3)
    assert Call.objects.count() == 3


def test_backfill_splits_a_long_span_into_31_day_windows(itnio, sandbox_state):
    now = timezone.now()
    since = now - timedelta(days=50)

    calls_backfill(since=since, until=now, actor=ACTOR)

    bodies = query_bodies(sandbox_state)
    assert len(bodies) == 2
    windows = [(parse(b["params"]["strTime"]), parse(b["params"]["endTime"])) for b in bodies]
    assert windows[0][0] == since.replace(microsecond=0)
    assert windows[-1][1] == now.replace(microsecond=0)
    assert windows[0][1] == windows[1][0]  # contiguous: no gap between windows
    assert all(end - start <= timedelta(days=31) for start, end in windows)
    assert windows[0][1] - windows[0][0] == timedelta(days=31)
    assert all(b["size"] == 100 and b["current"] == 1 for b in bodies)
    for body in bodies:  # the exact ISO shape ITNIO documents, e.g. 2022-01-01T00:00:00+08:00
        for key in ("strTime", "endTime"):
            assert len(body["params"][key]) == 25 and body["params"][key][19] in "+-"


def test_backfill_never_asks_for_more_than_60_days_back(itnio, sandbox_state, settings):
    now = timezone.now()

    calls_backfill(since=now - timedelta(days=200), actor=ACTOR)

    bodies = query_bodies(sandbox_state)
    assert len(bodies) == 2  # 60 days = one 31-day window + one 29-day window
    starts = [parse(b["params"]["strTime"]) for b in bodies]
    floor = now - timedelta(days=settings.ITNIO_RECORD_RETENTION_DAYS)
    assert min(starts) >= floor
    assert min(starts) - floor < timedelta(hours=1)
    # the sandbox, as strict as ITNIO, accepted every window (it refuses starts > 60 days back)
    assert all(
        r.business_status == "0" for r in sandbox_state.requests_for("/voice/recordGroupQuery")
    )


def test_backfill_with_nothing_in_range_asks_nothing(itnio, sandbox_state):
    now = timezone.now()
    result = calls_backfill(
        since=now - timedelta(days=100), until=now - timedelta(days=70), actor=ACTOR
    )
    assert result.checked == 0
    assert query_bodies(sandbox_state) == []


def test_backfill_pages_through_more_than_100_records(itnio, sandbox_state, voice_app):
    file_id = itnio.file_upload(file_name="backfill.wav", content=wav_bytes())
    callees = [f"9198765{i:05d}" for i in range(1, 151)]
    results = itnio.send_group(app_id=VOICE_APP_ID, file_id=file_id, callees=callees)
    assert len([r for r in results if r.accepted]) == 150

    result = calls_backfill(since=timezone.now() - timedelta(hours=1), actor=ACTOR)

    bodies = query_bodies(sandbox_state)
    assert [b["current"] for b in bodies] == [1, 2]
    assert {b["size"] for b in bodies} == {100}
    assert bodies[0]["params"] == bodies[1]["params"]
    assert (result.checked, result.created) == (150, 150)
    assert set(Call.objects.values_list("voice_id", flat=True)) == {r.voice_id for r in results}
    assert set(Call.objects.values_list("kind", flat=True)) == {Call.Kind.GROUP}
    assert set(Call.objects.values_list("voice_file_id", flat=True)) == {file_id}


def test_backfill_resolves_an_unknown_tts_send(itnio, sandbox_state, voice_app):
    sandbox_state.drop_next("/voice/sendCode")
    call = send_tts(voice_app, "919876543219")
    assert call.state == Call.State.UNKNOWN and call.voice_id is None
    [placed] = sandbox_state.calls.values()  # the sandbox did place it

    result = calls_backfill(since=timezone.now() - timedelta(hours=1), actor=ACTOR)

    assert (result.resolved_unknown, result.created, result.updated) == (1, 0, 1)
    assert Call.objects.count() == 1
    call.refresh_from_db()
    assert call.voice_id == placed.voice_id
    assert call.state == Call.State.FINAL
    assert call.cost == Decimal(placed.pricing.cost)
    assert call.created_by == "system:sync-test"  # the portal's own row, not a learned copy


def test_backfill_leaves_an_unknown_send_of_another_callee_alone(itnio, sandbox_state, voice_app):
    # An UNKNOWN send that never reached ITNIO, and a call ITNIO placed for another number.
    unknown = make_call(voice_app, state=Call.State.UNKNOWN, callee="919876543219")
    itnio.send_code(app_id=VOICE_APP_ID, callee="919876543218", language="EN", text="hi")

    result = calls_backfill(since=timezone.now() - timedelta(hours=1), actor=ACTOR)

    assert (result.resolved_unknown, result.created) == (0, 1)
    unknown.refresh_from_db()
    assert unknown.state == Call.State.UNKNOWN and unknown.voice_id is None


def test_backfill_leaves_an_unknown_send_from_long_before_alone(itnio, sandbox_state, voice_app):
    unknown = make_call(
        voice_app, state=Call.State.UNKNOWN, callee="919876543218", age=timedelta(hours=3)
    )
    itnio.send_code(app_id=VOICE_APP_ID, callee="919876543218", language="EN", text="hi")

    result = calls_backfill(since=timezone.now() - timedelta(hours=1), actor=ACTOR)

    assert (result.resolved_unknown, result.created) == (0, 1)
    unknown.refresh_from_db()
    assert unknown.state == Call.State.UNKNOWN and unknown.voice_id is None


# ---------------------------------------------------------------------------
# manage.py sync_records
# ---------------------------------------------------------------------------
def test_sync_records_without_dates_refreshes_and_prints_the_counters(itnio, voice_app):
    call = send_tts(voice_app, "919876543211")
    out = StringIO()

    call_command("sync_records", stdout=out)

    text = out.getvalue()
    assert "checked=1" in text and "finalised=1" in text and "failed=0" in text
    assert Call.objects.get(pk=call.pk).state == Call.State.FINAL


def test_sync_records_with_since_backfills(itnio, sandbox_state):
    itnio.send_code(app_id=VOICE_APP_ID, callee="919876543211", language="EN", text="hi")
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    out = StringIO()

    call_command("sync_records", "--since", since, stdout=out)

    assert "created=1" in out.getvalue()
    assert Call.objects.count() == 1
    body = query_bodies(sandbox_state)[0]
    assert parse(body["params"]["strTime"]).date().isoformat() == since


def test_sync_records_until_is_the_end_of_that_day(itnio, sandbox_state):
    today = timezone.localdate()
    since = (today - timedelta(days=2)).isoformat()
    until = (today - timedelta(days=1)).isoformat()

    call_command("sync_records", "--since", since, "--until", until, stdout=StringIO())

    [body] = query_bodies(sandbox_state)
    end = parse(body["params"]["endTime"])
    assert end.date().isoformat() == until and end.strftime("%H:%M:%S") == "23:59:59"


def test_sync_records_since_and_until_the_same_day_cover_that_day(itnio, sandbox_state):
    day = (timezone.localdate() - timedelta(days=1)).isoformat()

    call_command("sync_records", "--since", day, "--until", day, stdout=StringIO())

    [body] = query_bodies(sandbox_state)
    start, end = parse(body["params"]["strTime"]), parse(body["params"]["endTime"])
    assert start.isoformat().startswith(f"{day}T00:00:00")
    assert end.isoformat().startswith(f"{day}T23:59:59")


def test_sync_records_takes_a_date_time(itnio, sandbox_state):
    moment = (timezone.now() - timedelta(hours=5)).replace(microsecond=0)

    call_command("sync_records", "--since", moment.isoformat(), stdout=StringIO())

    [body] = query_bodies(sandbox_state)
    assert parse(body["params"]["strTime"]) == moment


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--until", "2024-01-01"], id="until-without-since"),
        pytest.param(["--since", "yesterday"], id="not-a-date"),
        pytest.param(["--since", "2024-02-30"], id="impossible-date"),
        pytest.param(["--since", "2024-01-01T25:00:00"], id="impossible-time"),
        pytest.param(["--since", "2024-01-05", "--until", "2024-01-01"], id="until-before-since"),
    ],
)
def test_sync_records_usage_errors_exit_2(db, args):
    with pytest.raises(CommandError) as caught:
        call_command("sync_records", *args, stdout=StringIO())
    assert caught.value.returncode == 2


def test_a_call_itnio_keeps_refusing_goes_to_the_back_of_the_queue(itnio, sandbox_state, voice_app):
    stuck = send_tts(voice_app, "919876543211")
    other = send_tts(voice_app, "919876543212")
    Call.objects.filter(pk=other.pk).update(synced_at=timezone.now())
    sandbox_state.business_code_next("/voice/recordGroup", -22, "parameter error")
    calls_sync_due(actor=ACTOR, limit=1)  # the never-synced one is first, and fails
    sandbox_state.reset_faults()
    result = calls_sync_due(actor=ACTOR, limit=1)  # now the other one gets its turn
    asked = [r.path.rsplit("/", 1)[1] for r in sandbox_state.requests_for("/voice/recordGroup")]
    assert asked == [stuck.voice_id, other.voice_id]
    assert result.finalised == 1
