"""Personal data (issue 12): `erase_number NUMBER --as USER` and the calls' admin action remove one
person's number and name from every table and keep only a salted digest; retention settings
(off by default) delete or blank old personal data from a periodic job on the "sync" queue."""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from campaigns.models import (
    AiCallRecord,
    AiCustomer,
    ApiRequestLog,
    Call,
    Callee,
    CalleeImport,
    Campaign,
    ErasedNumber,
    PushEvent,
    VoiceFile,
)
from campaigns.scheduler import registered_jobs
from campaigns.services.personal_data import erased_digest, number_is_erased
from campaigns.services.retention import retention_apply
from tests.ai.conftest import make_task
from tests.conftest import AI_APP_ID, apply_pushes

pytestmark = pytest.mark.django_db

NUMBER = "6281234567890"  # Ada's
OTHER = "6281299999999"  # Bob's: never touched
VOICE_ID = "2203031113381000777"


@pytest.fixture
def world(voice_app, account, settings, tmp_path):
    """Ada and Bob in every table that holds a number or a name."""
    ai_app = account.apps.get(app_id=AI_APP_ID)
    voice_file = VoiceFile.objects.create(
        app=voice_app, file_name="hello.wav", audio="voice/hello.wav", state="uploaded"
    )
    campaign = Campaign.objects.create(name="Spring", app=voice_app, voice_file=voice_file)
    source = CalleeImport(
        campaign=campaign, original_name="list.csv", state=CalleeImport.State.CONFIRMED
    )
    source.file.save("list.csv", ContentFile(f"phone\n{NUMBER}\n{OTHER}\n".encode()), save=False)
    source.rejected_file.save("rej.csv", ContentFile(b"row,value,reason\n"), save=False)
    source.save()
    for number in (NUMBER, OTHER):
        Callee.objects.create(campaign=campaign, number=number, state="submitted", source=source)
    calls = {
        number: Call.objects.create(
            app=voice_app,
            campaign=campaign,
            kind=Call.Kind.GROUP,
            state=Call.State.FINAL,
            callee=number,
            called_info=f"for {name}",
            voice_id=voice_id,
            request={"callee": number, "calledInfo": f"for {name}"},
            raw_record={"callee": number, "cost": "0.012"},
            cost=Decimal("0.012"),
            recording_file_id="rec-1",
        )
        for number, name, voice_id in ((NUMBER, "Ada", VOICE_ID), (OTHER, "Bob", "v-bob"))
    }
    task = make_task(ai_app)
    customers = {
        number: AiCustomer.objects.create(task=task, name=name, phone_number=number)
        for number, name in ((NUMBER, "Ada Lovelace"), (OTHER, "Bob Brown"))
    }
    records = {
        number: AiCallRecord.objects.create(
            call_id=f"ai-{number}",
            app=ai_app,
            task=task,
            customer=customers[number],
            called_phone_number=number,
            customer_name=customers[number].name,
            call_detail_list=[{"text": "Hello, this is " + customers[number].name}],
            raw={"push": {"calledPhoneNumber": number}},
            full_audio_url="https://rec.example/a.wav",
            cost=Decimal("0.02"),
            source="push",
        )
        for number in (NUMBER, OTHER)
    }
    voice_body = json.dumps(
        [{"voiceId": VOICE_ID, "callee": NUMBER}, {"voiceId": "v-bob", "callee": OTHER}]
    )
    ai_body = json.dumps(
        {
            "callId": f"ai-{NUMBER}",
            "calledPhoneNumber": int(NUMBER),
            "customerPersonName": "Ada Lovelace",
        }
    )
    pushes = {
        "voice": PushEvent.objects.create(
            app=voice_app, kind="voice", body=voice_body, state="processed"
        ),
        "ai": PushEvent.objects.create(app=ai_app, kind="ai", body=ai_body, state="processed"),
        "bytes": PushEvent.objects.create(
            app=voice_app,
            kind="voice",
            body="(latin-1)",
            body_bytes=f'{{"callee": "{NUMBER}", "x": "\xe9"}}'.encode("latin-1"),
            state="failed",
        ),
        "bob": PushEvent.objects.create(
            app=voice_app, kind="voice", body=json.dumps({"callee": OTHER}), state="processed"
        ),
    }
    log = ApiRequestLog.objects.create(
        endpoint="/voice/sendGroup",
        method="POST",
        path="/voice/sendGroup",
        started_at=timezone.now(),
        outcome="ok",
        reason=f"callee {NUMBER} accepted",
        summary={"callee": [NUMBER, OTHER], "calledInfo": "order 42"},
    )
    return {
        "campaign": campaign,
        "source": source,
        "calls": calls,
        "customers": customers,
        "records": records,
        "pushes": pushes,
        "log": log,
    }


def _every_text() -> str:
    """Everything the database holds where a number could hide, as one text."""
    rows = [
        *Callee.objects.values_list("number", flat=True),
        *Call.objects.values_list("callee", "called_info", "request", "raw_record"),
        *AiCustomer.objects.values_list("name", "phone_number"),
        *AiCallRecord.objects.values_list(
            "called_phone_number", "customer_name", "call_detail_list", "raw"
        ),
        *PushEvent.objects.values_list("body", "body_bytes"),
        *ApiRequestLog.objects.values_list("reason", "summary"),
        *LogEntry.objects.values_list("object_repr", "change_message"),
        *ErasedNumber.objects.values_list("digest", "erased_by"),
    ]
    return repr(rows)


def test_erase_number_removes_one_person_from_every_table(world, admin_user, caplog):
    media_file = world["source"].file.path
    caplog.set_level(logging.INFO, logger="campaigns.services.personal_data")
    call_command("erase_number", "+62 812-3456-7890", "--as", admin_user.username)

    everything = _every_text()
    assert NUMBER not in everything and "Ada" not in everything
    assert OTHER in everything and "Bob Brown" in everything  # the others stay
    assert list(Callee.objects.values_list("number", flat=True)) == [OTHER]
    ada = Call.objects.get(voice_id=VOICE_ID)
    assert (ada.callee, ada.raw_record, ada.called_info) == ("", None, "")
    assert ada.cost == Decimal("0.012") and ada.erased_at is not None  # the figures stay
    assert ada.request == {"callee": "", "calledInfo": ""}
    record = AiCallRecord.objects.get(call_id=f"ai-{NUMBER}")
    assert (record.called_phone_number, record.customer_name, record.call_detail_list) == (
        "",
        "",
        [],
    )
    assert (record.customer_id, record.full_audio_url, record.cost) == (None, "", Decimal("0.02"))
    assert list(AiCustomer.objects.values_list("name", flat=True)) == ["Bob Brown"]
    voice = PushEvent.objects.get(pk=world["pushes"]["voice"].pk)
    assert json.loads(voice.body) == [
        {"voiceId": VOICE_ID, "callee": ""},
        {"voiceId": "v-bob", "callee": OTHER},
    ]
    ai = json.loads(PushEvent.objects.get(pk=world["pushes"]["ai"].pk).body)
    assert (ai["calledPhoneNumber"], ai["customerPersonName"]) == ("", "")
    raw = PushEvent.objects.get(pk=world["pushes"]["bytes"].pk)
    assert (raw.body, raw.body_bytes) == ("", None)
    log = ApiRequestLog.objects.get(pk=world["log"].pk)
    assert log.summary["callee"] == ["", OTHER] and NUMBER not in log.reason
    source = CalleeImport.objects.get(pk=world["source"].pk)
    assert not source.file and not source.rejected_file  # the list it came from is gone
    assert not os.path.exists(media_file)

    erased = ErasedNumber.objects.get()
    assert erased.digest == erased_digest(NUMBER) and NUMBER not in erased.digest
    assert erased.erased_by == admin_user.username
    assert number_is_erased(NUMBER) and number_is_erased("+62 (812) 3456-7890")
    assert not number_is_erased(OTHER)
    entry = LogEntry.objects.get(user=admin_user)  # the admin's history names who and when
    assert entry.object_repr == f"erased number #{erased.pk}"
    assert "1 callee(s) and 1 AI customer(s) deleted; 1 call(s)" in entry.change_message
    assert NUMBER not in caplog.text and f"by {admin_user.username}" in caplog.text


def test_only_an_admin_may_erase(world, operator):
    with pytest.raises(CommandError, match="may not erase personal data") as refused:
        call_command("erase_number", NUMBER, "--as", operator.username)
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="the following arguments are required: --as"):
        call_command("erase_number", NUMBER)
    assert Callee.objects.filter(number=NUMBER).exists()
    assert not ErasedNumber.objects.exists()


def test_a_number_that_is_no_number_is_a_usage_error(world, admin_user):
    with pytest.raises(CommandError, match="not a phone number") as refused:
        call_command("erase_number", "12", "--as", admin_user.username)
    assert refused.value.returncode == 2
    assert Callee.objects.count() == 2


def test_a_later_push_or_record_does_not_bring_the_number_back(world, admin_user, voice_app):
    call_command("erase_number", NUMBER, "--as", admin_user.username)
    final = {
        "voiceId": VOICE_ID,
        "type": 2,
        "callee": NUMBER,
        "calledInfo": "for Ada",
        "submitTime": 1_700_000_000_000,
        "hangupTime": 1_700_000_031_000,
        "callDuration": 22,
        "terminationReason": "success",
    }
    Client().post(voice_app.push_path, json.dumps(final), content_type="application/json")
    apply_pushes()
    ada = Call.objects.get(voice_id=VOICE_ID)
    assert ada.call_duration == 22  # the report was applied …
    assert (ada.callee, ada.raw_record, ada.called_info) == ("", None, "")  # … without Ada

    from campaigns.services.ai_records import ai_record_upsert
    from itnio_portal.itnio.types import AiRecord

    ai_app = world["records"][NUMBER].app
    for call_id in (f"ai-{NUMBER}", "ai-new-call-of-ada"):
        report = {"callId": call_id, "calledPhoneNumber": NUMBER, "chatDuration": 40}
        row, _ = ai_record_upsert(app=ai_app, record=AiRecord.from_api(report), source="push")
        assert (row.called_phone_number, row.chat_duration, row.raw) == ("", 40, {})
        assert row.erased_at is not None


def test_the_calls_admin_action_is_for_admins_after_a_confirmation(world, admin_user, operator):
    url = "/admin/campaigns/call/"
    ada = world["calls"][NUMBER]
    selection = {"action": "erase_numbers", "_selected_action": [ada.pk]}
    client = Client()
    client.force_login(operator)
    assert "erase_numbers" not in client.get(url).content.decode()
    client.post(url, selection)
    assert Call.objects.get(pk=ada.pk).callee == NUMBER

    client.force_login(admin_user)
    assert "erase_numbers" in client.get(url).content.decode()
    confirm = client.post(url, selection)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "This erases 1 number from every table" in page and NUMBER in page
    assert Call.objects.get(pk=ada.pk).callee == NUMBER  # nothing yet
    done = client.post(url, {**selection, "post": "yes"}, follow=True)
    assert "Erased 1 number from every table" in done.content.decode()
    assert NUMBER not in _every_text()
    assert LogEntry.objects.filter(user=admin_user).count() == 1


# ---------------------------------------------------------------------------
# Retention
# ---------------------------------------------------------------------------
def test_retention_is_a_periodic_job_on_the_sync_queue():
    job = {job.name: job for job in registered_jobs()}["apply_retention"]
    assert job.task.queue_name == "sync"
    assert job.every == timedelta(hours=1)


def test_retention_is_off_by_default(world):
    before = _every_text()
    ago = timezone.now() - timedelta(days=3650)
    Call.objects.update(created_at=ago, submit_time=ago)
    PushEvent.objects.update(received_at=ago)
    assert not retention_apply()
    assert _every_text() == before


def test_retention_removes_what_is_older_than_the_settings(world, settings):
    settings.CALLEE_RETENTION_DAYS = 90
    settings.CALL_NUMBER_RETENTION_DAYS = 30
    settings.RECORDING_LINK_RETENTION_DAYS = 7
    settings.PUSH_BODY_RETENTION_DAYS = 14
    now = timezone.now()
    old, recent = now - timedelta(days=100), now - timedelta(days=2)
    campaign = world["campaign"]
    Campaign.objects.filter(pk=campaign.pk).update(state="completed", completed_at=old)
    CalleeImport.objects.update(created_at=old)
    AiCustomer.objects.filter(phone_number=NUMBER).update(created_at=old)
    Call.objects.filter(callee=NUMBER).update(created_at=old, submit_time=old)
    Call.objects.filter(callee=OTHER).update(created_at=recent, submit_time=recent)
    AiCallRecord.objects.filter(called_phone_number=NUMBER).update(start_time=old)
    AiCallRecord.objects.filter(called_phone_number=OTHER).update(start_time=recent)
    PushEvent.objects.update(received_at=old)
    pending = PushEvent.objects.create(
        app=campaign.app, kind="voice", body='{"voiceId": "x"}', received_at=old
    )

    result = retention_apply(now=now)
    assert (result.callees, result.ai_customers, result.import_files) == (2, 1, 2)
    assert (result.calls, result.ai_records, result.push_bodies) == (1, 1, 4)
    assert result.recordings == 1  # the AI record's links went with its number
    assert not Callee.objects.exists()
    assert list(AiCustomer.objects.values_list("name", flat=True)) == ["Bob Brown"]
    ada = Call.objects.get(voice_id=VOICE_ID)
    assert (ada.callee, ada.raw_record, ada.request, ada.recording_file_id) == ("", None, {}, "")
    assert ada.cost == Decimal("0.012")
    bob = Call.objects.get(voice_id="v-bob")
    assert (bob.callee, bob.recording_file_id) == (OTHER, "rec-1")  # two days old: kept
    record = AiCallRecord.objects.get(call_id=f"ai-{NUMBER}")
    assert (record.called_phone_number, record.full_audio_url) == ("", "")
    assert AiCallRecord.objects.get(call_id=f"ai-{OTHER}").called_phone_number == OTHER
    assert set(PushEvent.objects.exclude(pk=pending.pk).values_list("body", flat=True)) == {""}
    assert PushEvent.objects.get(pk=pending.pk).body == '{"voiceId": "x"}'  # not applied yet
    assert retention_apply(now=now).calls == 0  # done once
