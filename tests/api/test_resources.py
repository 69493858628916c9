"""The API's resources through the admin's services: accounts, voice files, contact lists and
imports, do-not-call entries, campaign drafts and steering, the plan's token, calls (filters,
cursor pages, detail, export), AI tasks."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from freezegun import freeze_time

from campaigns.models import (
    AiCallRecord,
    Call,
    Campaign,
    ContactImport,
    ContactList,
    SuppressionEntry,
    VoiceFile,
)
from tests.ai.conftest import make_task
from tests.api.conftest import error_of
from tests.audio import wav_bytes
from tests.campaigns.conftest import add_callees
from tests.conftest import AI_APP_ID, VOICE_APP_ID

pytestmark = pytest.mark.django_db


# ---- accounts, apps, voice files -----------------------------------------------------------
def test_the_balance_is_read_from_itnio_on_request(operator_api, account, sandbox):
    before = operator_api.get(f"/api/v1/accounts/{account.pk}/").json()
    assert before["balance"] is None
    fresh = operator_api.post(f"/api/v1/accounts/{account.pk}/balance/")
    assert fresh.status_code == 200 and Decimal(fresh.json()["balance"]) == Decimal("500")
    apps = operator_api.get("/api/v1/apps/").json()["results"]
    assert {a["app_id"] for a in apps} == {VOICE_APP_ID, AI_APP_ID}


def test_voice_file_upload_refuses_what_is_not_audio_and_names_the_field(
    operator_api, voice_app, sandbox, sandbox_state
):
    bad = operator_api.post(
        "/api/v1/voice-files/",
        {"app": VOICE_APP_ID, "file": io.BytesIO(b"hello, not audio"), "file_name": "x.wav"},
        multipart=True,
    )
    assert bad.status_code == 400 and "file" in error_of(bad)["fields"]
    unknown_app = operator_api.post(
        "/api/v1/voice-files/",
        {"app": "nope", "file": io.BytesIO(wav_bytes()), "file_name": "promo.wav"},
        multipart=True,
    )
    assert error_of(unknown_app)["fields"] == {"app": ["No voice app with ITNIO app ID nope."]}
    assert not VoiceFile.objects.exists() and sandbox_state.requests_for("/voice/fileUpload") == []
    good = io.BytesIO(wav_bytes())
    good.name = "promo.wav"
    created = operator_api.post(
        "/api/v1/voice-files/", {"app": VOICE_APP_ID, "file": good}, multipart=True
    )
    assert created.status_code == 201 and created.json()["state"] == "uploaded"
    again = io.BytesIO(wav_bytes())
    again.name = "promo.wav"
    duplicate = operator_api.post(
        "/api/v1/voice-files/", {"app": VOICE_APP_ID, "file": again}, multipart=True
    )
    assert duplicate.status_code == 400 and "already exists" in str(error_of(duplicate)["fields"])
    listed = operator_api.get("/api/v1/voice-files/").json()["results"]
    assert [v["file_name"] for v in listed] == ["promo.wav"]


# ---- contact lists and do-not-call ---------------------------------------------------------
def test_contact_list_and_import_refusals_write_nothing(operator_api):
    created = operator_api.post("/api/v1/contact-lists/", {"name": "North"})
    assert created.status_code == 201
    pk = created.json()["id"]
    assert operator_api.post("/api/v1/contact-lists/", {"name": "North"}).status_code == 400
    url = f"/api/v1/contact-lists/{pk}/imports/"
    region = operator_api.post(
        url, {"file": io.BytesIO(b"phone\n91000001\n"), "default_region": "ZZ"}, multipart=True
    )
    assert "default_region" in error_of(region)["fields"]
    no_number = io.BytesIO(b"colour,size\nred,2\n")
    no_number.name = "odd.csv"
    refused = operator_api.post(url, {"file": no_number}, multipart=True)
    assert refused.status_code == 400 and "file" in error_of(refused)["fields"]
    assert not ContactImport.objects.exists()
    assert operator_api.get(url).json()["results"] == []
    assert operator_api.get(f"/api/v1/contact-lists/{pk}/").json()["contacts"] == 0


def test_do_not_call_add_list_and_remove(operator_api, admin_api):
    bad = operator_api.post("/api/v1/dnc/", {"numbers": ["+6591234567", "12"]})
    assert bad.status_code == 400 and "12" in error_of(bad)["fields"]["numbers"][0]
    assert not SuppressionEntry.objects.exists()
    added = operator_api.post("/api/v1/dnc/", {"numbers": ["+65 9123 4567"], "reason": "asked"})
    assert added.status_code == 201 and added.json() == {"added": 1, "updated": 0}
    found = operator_api.get("/api/v1/dnc/", {"number": "0065-9123-4567"}).json()["results"]
    assert [(e["number"], e["reason"]) for e in found] == [("6591234567", "asked")]
    refused = operator_api.post("/api/v1/dnc/remove/", {"numbers": ["+6591234567"]})
    assert error_of(refused)["permission"] == "campaigns.delete_suppressionentry"
    removed = admin_api.post("/api/v1/dnc/remove/", {"numbers": ["+6591234567"]})
    assert removed.json() == {"removed": 1} and not SuppressionEntry.objects.exists()
    unknown_list = admin_api.post("/api/v1/dnc/", {"numbers": ["+6591234567"], "list": "Nope"})
    assert unknown_list.status_code == 400


# ---- campaigns -----------------------------------------------------------------------------
@pytest.fixture
def draft(uploaded_file, voice_app):
    campaign = Campaign.objects.create(name="Draft", app=voice_app, voice_file=uploaded_file)
    add_callees(campaign, 4)
    return campaign


def test_a_draft_is_changed_with_the_admins_rules_and_only_while_a_draft(operator_api, draft):
    url = f"/api/v1/campaigns/{draft.pk}/"
    changed = operator_api.patch(url, {"display_num": "1008122211", "loop_count": 2})
    assert changed.status_code == 200, changed.content
    draft.refresh_from_db()
    assert (draft.display_num, draft.loop_count, draft.name) == ("1008122211", 2, "Draft")
    refused = operator_api.patch(url, {"loop_count": 50, "frequency_cap_calls": 1})
    assert set(error_of(refused)["fields"]) == {"loop_count", "frequency_cap_hours"}
    missing = operator_api.patch(url, {"contact_lists": ["Nope"]})
    assert "contact_lists" in error_of(missing)["fields"]
    Campaign.objects.filter(pk=draft.pk).update(state="running")
    conflict = operator_api.patch(url, {"display_num": "1008122212"})
    assert conflict.status_code == 409 and error_of(conflict)["code"] == "conflict"


def test_the_plans_token_launches_only_that_plan(operator_api, draft, voice_app, uploaded_file):
    plan_url = f"/api/v1/campaigns/{draft.pk}/plan/"
    launch_url = f"/api/v1/campaigns/{draft.pk}/launch/"
    token = operator_api.get(plan_url).json()["confirmation_token"]
    operator_api.patch(f"/api/v1/campaigns/{draft.pk}/", {"display_num": "1008122211"})
    changed = operator_api.post(launch_url, {"confirmation_token": token})
    assert changed.status_code == 409 and "plan has changed" in error_of(changed)["message"]
    other = Campaign.objects.create(name="Other", app=voice_app, voice_file=uploaded_file)
    add_callees(other, 1)
    other_token = operator_api.get(f"/api/v1/campaigns/{other.pk}/plan/").json()
    wrong = operator_api.post(launch_url, {"confirmation_token": other_token["confirmation_token"]})
    assert "another campaign" in error_of(wrong)["message"]
    with freeze_time(timezone.now() - timedelta(hours=1)):
        old = operator_api.get(plan_url).json()["confirmation_token"]
    expired = operator_api.post(launch_url, {"confirmation_token": old})
    assert "expired" in error_of(expired)["message"]
    assert operator_api.post(launch_url, {}).status_code == 400
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_a_launch_above_the_approval_threshold_is_filed_not_started(operator_api, draft, settings):
    """202: the launch waits for a second person; the API itself has no way to approve."""
    settings.LAUNCH_APPROVAL_ABOVE_CALLEES = 3
    token = operator_api.get(f"/api/v1/campaigns/{draft.pk}/plan/").json()["confirmation_token"]
    answer = operator_api.post(
        f"/api/v1/campaigns/{draft.pk}/launch/", {"confirmation_token": token}
    )
    assert answer.status_code == 202, answer.content
    assert answer.json()["approval"] == "pending" and answer.json()["state"] == "draft"
    assert "second person" in answer.json()["message"]
    assert draft.approvals.get().requested_by == "operator"
    assert operator_api.post(f"/api/v1/campaigns/{draft.pk}/approve/").status_code == 404


def test_a_plan_with_problems_gives_no_token(operator_api, voice_app, uploaded_file):
    empty = Campaign.objects.create(name="Empty", app=voice_app, voice_file=uploaded_file)
    plan = operator_api.get(f"/api/v1/campaigns/{empty.pk}/plan/").json()
    assert plan["problems"] and plan["confirmation_token"] is None


def test_steering_answers_409_for_the_wrong_state(operator_api, draft):
    base = f"/api/v1/campaigns/{draft.pk}"
    paused = operator_api.post(f"{base}/pause/")
    assert paused.status_code == 409 and "Only a running" in error_of(paused)["message"]
    Campaign.objects.filter(pk=draft.pk).update(state="scheduled")
    assert operator_api.post(f"{base}/pause/").json()["state"] == "paused"
    assert operator_api.post(f"{base}/cancel/").json()["state"] == "cancelled"
    assert operator_api.post(f"{base}/resume/").status_code == 409
    status = operator_api.get(f"{base}/status/").json()
    assert status["state"] == "cancelled" and status["progress"]["total"] == 4


def test_a_campaign_is_created_from_names(operator_api, uploaded_file):
    ContactList.objects.create(name="North")
    created = operator_api.post(
        "/api/v1/campaigns/",
        {
            "name": "Made",
            "app": VOICE_APP_ID,
            "voice_file": uploaded_file.file_name,
            "contact_lists": ["North"],
            "window_start": "09:00",
            "window_end": "18:00",
            "window_tz": "Asia/Singapore",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["contact_lists"] == ["North"] and body["window_tz"] == "Asia/Singapore"
    assert body["frequency_cap_calls"] is None  # PORTAL_FREQUENCY_CAP is not set
    assert operator_api.post("/api/v1/campaigns/", {**body, "app": VOICE_APP_ID}).status_code == 400


def test_new_campaigns_start_with_the_portal_wide_cap(operator_api, uploaded_file, settings):
    settings.PORTAL_FREQUENCY_CAP = "1/24"
    base = {"app": VOICE_APP_ID, "voice_file": uploaded_file.file_name}
    capped = operator_api.post("/api/v1/campaigns/", {**base, "name": "Capped"}).json()
    assert (capped["frequency_cap_calls"], capped["frequency_cap_hours"]) == (1, 24)
    own = operator_api.post(
        "/api/v1/campaigns/",
        {**base, "name": "Own", "frequency_cap_calls": 2, "frequency_cap_hours": 12},
    ).json()
    assert (own["frequency_cap_calls"], own["frequency_cap_hours"]) == (2, 12)


# ---- calls ---------------------------------------------------------------------------------
def _calls(voice_app, n: int) -> list[Call]:
    now = timezone.now()
    calls = [
        Call(
            app=voice_app,
            kind=Call.Kind.TTS if i % 2 else Call.Kind.GROUP,
            state=Call.State.FINAL,
            callee=f"9198000000{i:02d}",
            voice_id=f"v{i}",
            submit_time=now - timedelta(minutes=i),
            hangup_time=now,
            answer_time=now if i % 3 == 0 else None,
            cost=Decimal("0.0123"),
            currency="USD",
            charged_duration=60,
        )
        for i in range(n)
    ]
    return Call.objects.bulk_create(calls)


def test_calls_filter_like_the_list_page_in_cursor_pages(operator_api, voice_app):
    _calls(voice_app, 7)
    seen, url, params = [], "/api/v1/calls/", {"page_size": 3}
    while url:
        page = operator_api.get(url, params).json()
        seen += [c["id"] for c in page["results"]]
        url, params = page["next"], None
    assert len(seen) == len(set(seen)) == 7
    tts = operator_api.get("/api/v1/calls/", {"kind": "tts"}).json()["results"]
    assert {c["kind"] for c in tts} == {"tts"} and len(tts) == 3
    answered = operator_api.get("/api/v1/calls/", {"answered": "yes"}).json()["results"]
    assert sorted(c["voice_id"] for c in answered) == ["v0", "v3", "v6"]
    by_prefix = operator_api.get("/api/v1/calls/", {"q": "+91 980000000"}).json()["results"]
    assert len(by_prefix) == 7
    by_voice_id = operator_api.get("/api/v1/calls/", {"q": "v4"}).json()["results"]
    assert [c["voice_id"] for c in by_voice_id] == ["v4"]
    assert operator_api.get("/api/v1/calls/", {"app": "other"}).json()["results"] == []


def test_a_call_shows_its_billing_and_the_export_follows_the_filters(operator_api, voice_app):
    calls = _calls(voice_app, 4)
    detail = operator_api.get(f"/api/v1/calls/{calls[0].pk}/").json()
    assert detail["cost"] == "0.012300" and detail["charged_duration"] == 60
    assert {"rate", "bill_period", "settle_pay", "termination_code", "request"} <= set(detail)
    export = operator_api.get("/api/v1/calls/export.csv", {"kind": "group"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted(r["voice_id"] for r in rows) == ["v0", "v2"]
    assert rows[0]["cost"] == "0.0123"


# ---- AI tasks ------------------------------------------------------------------------------
def test_ai_tasks_list_start_and_records(operator_api, account, sandbox, sandbox_state):
    from campaigns.services.ai_tasks import ai_task_create
    from tests.ai.conftest import SYSTEM

    task = ai_task_create(task=make_task(account.apps.get(app_id=AI_APP_ID)), actor=SYSTEM)
    listed = operator_api.get("/api/v1/ai-tasks/").json()["results"]
    assert [t["name"] for t in listed] == ["Renewal July"]
    refused = operator_api.post(f"/api/v1/ai-tasks/{task.pk}/start/")
    assert refused.status_code == 409 and "-45" in error_of(refused)["message"]
    sandbox_state.add_ai_job(AI_APP_ID, 10886, customers=2, name="Console job")
    ready = make_task(task.app, name="Console job", remote_job_id=10886, state="created")
    started = operator_api.post(f"/api/v1/ai-tasks/{ready.pk}/start/")
    assert started.status_code == 200, started.content
    assert started.json()["started_by"] == "operator"
    assert started.json()["remote_status"] == "RUNNING"
    AiCallRecord.objects.create(call_id="c1", app=task.app, task=task, result_status="done")
    records = operator_api.get(f"/api/v1/ai-tasks/{task.pk}/records/").json()["results"]
    assert [r["call_id"] for r in records] == ["c1"]
