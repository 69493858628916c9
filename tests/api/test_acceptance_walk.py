"""Issue 17's acceptance, the API part, over HTTP as `curl` would do it: a new user's token
from `api_token create`, a contact list from a CSV, a campaign, its plan, the launch with the
plan's token, status polled to completion, the calls' CSV. The portal runs as a live server;
the sandbox places the calls and pushes their records to it (the push worker applies them)."""

from __future__ import annotations

import csv
import io
import time
from io import StringIO

import pytest
import requests
from django.core.management import call_command

from campaigns.models import Callee, Campaign
from tests.audio import wav_bytes
from tests.conftest import API_KEY, VOICE_APP_ID, apply_pushes, make_staff

pytestmark = pytest.mark.django_db(transaction=True)

NUMBERS = [f"9100 {i:04d}" for i in range(1, 13)]  # Singapore, written nationally


def test_a_new_user_runs_a_campaign_with_the_api_only(
    live_server, sandbox, sandbox_state, voice_app, settings
):
    settings.ITNIO_SEND_GROUP_MAX = 5
    sandbox_state.add_app(
        API_KEY, VOICE_APP_ID, kind="voice", push_url=live_server.url + voice_app.push_path
    )
    make_staff("newbie", "Operator")
    out = StringIO()
    call_command("api_token", "create", "newbie", "--name", "walk", stdout=out)
    key = out.getvalue().splitlines()[-1]
    api = live_server.url + "/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Token {key}"

    # The reference: every step below is in the schema.
    schema = requests.get(api + "/schema/", params={"format": "json"}, timeout=10).json()
    for path in (
        "/api/v1/contact-lists/",
        "/api/v1/contact-lists/{id}/imports/",
        "/api/v1/contact-imports/{id}/",
        "/api/v1/campaigns/",
        "/api/v1/campaigns/{id}/plan/",
        "/api/v1/campaigns/{id}/launch/",
        "/api/v1/campaigns/{id}/status/",
        "/api/v1/calls/export.csv",
    ):
        assert path in schema["paths"], path

    voice = http.post(
        api + "/voice-files/",
        data={"app": VOICE_APP_ID},
        files={"file": ("promo.wav", wav_bytes(), "audio/wav")},
        timeout=30,
    )
    assert voice.status_code == 201, voice.text
    assert voice.json()["state"] == "uploaded" and voice.json()["remote_file_id"]

    contact_list = http.post(api + "/contact-lists/", json={"name": "Walk"}, timeout=10).json()
    rows = "phone,name\n" + "".join(f"{n},P{i}\n" for i, n in enumerate(NUMBERS)) + "1234,Bad\n"
    started = http.post(
        f"{api}/contact-lists/{contact_list['id']}/imports/",
        data={"default_region": "SG"},
        files={"file": ("walk.csv", rows.encode(), "text/csv")},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    imported = poll(http, f"{api}/contact-imports/{started.json()['id']}/", "state", {"done"})
    assert (imported["imported"], imported["rejected"]) == (12, 1)

    campaign = http.post(
        api + "/campaigns/",
        json={
            "name": "Walk",
            "app": VOICE_APP_ID,
            "voice_file": "promo.wav",
            "contact_lists": ["Walk"],
        },
        timeout=10,
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    assert campaign.json()["state"] == "draft" and campaign.json()["created_by"] == "newbie"

    plan = http.get(f"{api}/campaigns/{campaign_id}/plan/", timeout=10).json()
    assert plan["problems"] == [] and plan["will_call"] == 12 and plan["requests"] == 3
    assert plan["skipped"]["dnc"] == 0 and plan["confirmation_token"]

    launch = f"{api}/campaigns/{campaign_id}/launch/"
    refused = http.post(launch, json={"confirmation_token": plan["confirmation_token"] + "x"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert Campaign.objects.get(pk=campaign_id).state == "draft"
    assert sandbox_state.requests_for("/voice/sendGroup") == []

    launched = http.post(launch, json={"confirmation_token": plan["confirmation_token"]})
    assert launched.status_code == 200, launched.text
    assert launched.json()["state"] in ("running", "completed")

    def workers_meanwhile() -> None:  # what the portal's push worker does between polls
        sandbox_state.flush_pushes()
        apply_pushes()

    status = poll(
        http,
        f"{api}/campaigns/{campaign_id}/status/",
        "finished",
        {True},
        between=workers_meanwhile,
    )
    assert status["state"] == "completed" and status["progress"]["percent"] == 100.0
    assert len(sandbox_state.requests_for("/voice/sendGroup")) == 3

    # The token was for that plan: used once, it launches nothing more.
    again = http.post(launch, json={"confirmation_token": plan["confirmation_token"]})
    assert again.status_code == 409

    export = http.get(f"{api}/calls/export.csv", params={"campaign": campaign_id}, timeout=30)
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert sorted(r["callee"] for r in table) == sorted("65" + n.replace(" ", "") for n in NUMBERS)
    assert all(r["state"] == "final" and r["hangup_time"] for r in table)
    assert {"cost", "rate", "charged_duration", "currency"} <= set(table[0])
    assert Callee.objects.filter(campaign_id=campaign_id).count() == 12


def poll(http, url: str, key: str, wanted: set, *, between=None, tries: int = 50) -> dict:
    for _ in range(tries):
        body = http.get(url, timeout=10).json()
        if body[key] in wanted:
            return body
        if between:
            between()
        time.sleep(0.1)
    raise AssertionError(f"{url}: {key} never became {wanted}: {body}")
