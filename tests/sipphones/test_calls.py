"""Calls from a phone (sendSip) and their records: recordSip by voiceId, the sync choosing the
endpoint by kind, and the recordSipQuery backfill."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Call
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.calls import call_refresh, call_send_tts, calls_sync_due
from itnio_portal.itnio import ItnioLimitError
from sipphones.services import sip_call, sip_group_create_on_itnio, sip_records_backfill
from tests.conftest import API_KEY, VOICE_APP_ID

from .conftest import SYSTEM, make_group

pytestmark = pytest.mark.django_db
SEND = "/voice/sendSip"


def call_from(app, account="desk_002", callee="919876543210", **kwargs) -> Call:
    return sip_call(app=app, account_name=account, callee=callee, actor=SYSTEM, **kwargs)


def test_a_call_from_a_phone_is_a_sip_call_with_its_record(
    voice_app, created_group, sandbox_state, answered
):
    # A EUR app, so every settlement field of the record is filled.
    sandbox_state.add_app(API_KEY, VOICE_APP_ID, kind="voice", currency="EUR")
    call = call_from(voice_app, display_num="1008122211")
    assert (call.kind, call.state, call.created_by) == ("sip", "submitted", "system:sip-test")
    assert call.voice_id == sandbox_state.requests_for(SEND)[0].response["data"]
    assert sandbox_state.requests_for(SEND)[0].body == {
        "callee": "919876543210",
        "displayNum": "1008122211",
        "account": "desk_002",
        "appId": VOICE_APP_ID,
    }
    assert call.request == {
        "account": "desk_002",
        "callee": "919876543210",
        "display_num": "1008122211",
    }
    # Known from the local group before any record arrives.
    assert (call.sip_group_name, call.phone_name, call.recording_file_id) == ("sales", "desk", "")

    call = call_refresh(call=call, actor=SYSTEM)
    assert [r.path for r in sandbox_state.requests_for("/voice/recordSip")] == [
        f"/voice/recordSip/{call.voice_id}"
    ]
    assert sandbox_state.requests_for("/voice/recordGroup") == []
    record = sandbox_state.calls[call.voice_id].record(sandbox_state.now())
    assert (call.state, call.record_source) == ("final", "recordSip")
    assert (call.sip_group_name, call.phone_name) == ("sales", "desk")
    assert call.recording_file_id == f"rec{call.voice_id}.mp3" == record["recordingFileId"]
    assert call.answered and call.termination_code == "1000"  # seed 003's success code
    assert f"{call.cost.normalize():f}" == record["cost"]
    assert f"{call.rate.normalize():f}" == record["rate"]
    assert call.bill_period == record["billPeriod"] and call.currency == "EUR"
    assert f"{call.settle_rate.normalize():f}" == record["settleRate"]
    assert f"{call.quote_exchange.normalize():f}" == record["quoteExchange"]
    assert f"{call.settle_pay.normalize():f}" == record["settlePay"]
    assert call.charged_duration == record["chargedDuration"] > 0
    assert call.raw_record == record


def test_a_call_from_an_account_the_portal_does_not_know_is_still_placed(
    voice_app, created_group, sandbox_state
):
    # Phones created outside the portal are callable too; the record names their group.
    sandbox_state.add_app(API_KEY, VOICE_APP_ID, kind="voice")
    outside = make_group(voice_app, group_name="lobby", phone_name="lobby")
    sip_group_create_on_itnio(group=outside, actor=SYSTEM)
    outside.delete()
    call = call_from(voice_app, account="lobby_001")
    assert call.state == "submitted" and call.sip_group_name == "" and call.phone_name == ""
    call = call_refresh(call=call, actor=SYSTEM)
    assert (call.sip_group_name, call.phone_name) == ("lobby", "lobby")


def test_itnio_refuses_an_account_it_does_not_have(voice_app, created_group, sandbox_state):
    call = call_from(voice_app, account="desk_009")
    assert call.state == "rejected" and call.voice_id is None
    assert "-22" in call.state_reason and "not a phone of app" in call.state_reason


def test_limits_are_checked_before_anything_is_stored_or_sent(
    voice_app, created_group, sandbox_state
):
    for kwargs in ({"callee": "12345"}, {"display_num": "1234567890123456"}, {"account": ""}):
        with pytest.raises(ItnioLimitError):
            call_from(voice_app, **kwargs)
    assert Call.objects.count() == 0 and sandbox_state.requests_for(SEND) == []


def test_unknown_outcome_is_never_resent(voice_app, created_group, sandbox_state):
    sandbox_state.drop_next(SEND)
    call = call_from(voice_app)
    assert call.state == "unknown" and call.voice_id is None
    assert "will not resend" in call.state_reason
    assert len(sandbox_state.requests_for(SEND)) == 1


def test_not_sent_is_rejected_as_safe_to_retry(voice_app, created_group, account):
    account.base_url = "http://127.0.0.1:9"
    account.save()
    call = call_from(voice_app)
    assert call.state == "rejected" and "Nothing reached ITNIO" in call.state_reason


def test_a_viewer_may_not_call_from_a_phone(voice_app, created_group, sandbox_state, viewer):
    with pytest.raises(PermissionDeniedError):
        sip_call(
            app=voice_app,
            account_name="desk_001",
            callee="919876543210",
            actor=Actor.from_user(viewer),
        )
    assert Call.objects.count() == 0 and sandbox_state.requests_for(SEND) == []


def test_the_sync_picks_record_sip_or_record_group_by_kind(voice_app, created_group, sandbox_state):
    sip = call_from(voice_app)
    tts = call_send_tts(
        app=voice_app, callee="919876543211", language="EN", text="hi", actor=SYSTEM
    )
    result = calls_sync_due(actor=SYSTEM)
    assert (result.checked, result.updated, result.failed) == (2, 2, 0)
    paths = {r.path for r in sandbox_state.requests_for() if r.method == "GET"}
    assert paths == {f"/voice/recordSip/{sip.voice_id}", f"/voice/recordGroup/{tts.voice_id}"}
    sip.refresh_from_db()
    tts.refresh_from_db()
    assert (sip.state, sip.record_source, sip.phone_name) == ("final", "recordSip", "desk")
    assert (tts.state, tts.record_source, tts.phone_name) == ("final", "recordGroup", "")


def test_backfill_creates_sip_calls_and_resolves_unknown_ones(
    voice_app, created_group, sandbox_state, answered
):
    # The sandbox runs a few seconds behind: the query's end (now, whole seconds) covers all.
    sandbox_state.clock_offset = -5
    support = make_group(voice_app, group_name="support", phone_name="help", quantity=1)
    sip_group_create_on_itnio(group=support, actor=SYSTEM)
    known = call_from(voice_app, account="desk_001", callee="919876543201")
    sandbox_state.drop_next(SEND)
    unknown = call_from(voice_app, account="desk_002", callee="919876543202")
    helped = call_from(voice_app, account="help_001", callee="919876543203")
    Call.objects.filter(pk=helped.pk).delete()  # a call the portal does not know
    assert unknown.state == "unknown"

    result = sip_records_backfill(since=timezone.now() - timedelta(days=1), actor=SYSTEM)
    assert (result.checked, result.created, result.updated, result.resolved_unknown) == (
        3,
        1,
        2,
        1,
    )
    unknown.refresh_from_db()
    assert unknown.state == "final" and unknown.voice_id and unknown.phone_name == "desk"
    learned = Call.objects.get(callee="919876543203")
    assert (learned.kind, learned.record_source, learned.sip_group_name) == (
        "sip",
        "recordSipQuery",
        "support",
    )
    assert learned.recording_file_id == f"rec{learned.voice_id}.mp3"
    known.refresh_from_db()
    assert known.state == "final" and known.record_source == "recordSipQuery"
    (query,) = sandbox_state.requests_for("/voice/recordSipQuery")
    assert set(query.body["params"]) == {"strTime", "endTime"}


def test_backfill_filters_by_group_and_phone(voice_app, created_group, sandbox_state):
    call_from(voice_app)
    result = sip_records_backfill(
        since=timezone.now() - timedelta(days=1),
        group_name="support",
        phone_name="help",
        actor=SYSTEM,
    )
    assert result.checked == 0
    (query,) = sandbox_state.requests_for("/voice/recordSipQuery")
    assert query.body["params"]["sipGroupName"] == "support"
    assert query.body["params"]["phoneName"] == "help"


def test_backfill_splits_long_periods_and_keeps_to_the_retention(
    voice_app, created_group, sandbox_state
):
    sip_records_backfill(since=timezone.now() - timedelta(days=200), actor=SYSTEM)
    windows = [r.body["params"] for r in sandbox_state.requests_for("/voice/recordSipQuery")]
    assert len(windows) == 2  # 60 days in windows of at most 31
    assert all(
        r.business_status == "0" for r in sandbox_state.requests_for("/voice/recordSipQuery")
    )


def test_the_call_form_reads_numbers_with_the_one_normaliser(voice_app, created_group):
    from sipphones.forms import SipCallForm

    form = SipCallForm(
        {
            "app": voice_app.pk,
            "account": f"{created_group.pk}:desk_001",
            "callee": "+65 9123-4567",
            "display_num": "0065 (9123) 4567",
        }
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["callee"] == form.cleaned_data["display_num"] == "6591234567"
