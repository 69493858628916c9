"""Regenerating push URLs (issue 12, defect 2): Admins only, after a page showing the new URL;
the old URL keeps working for PUSH_TOKEN_GRACE_SECONDS unless revoked at once."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from campaigns import webhooks
from campaigns.models import ItnioApp, PushEvent
from tests.conftest import make_staff
from tests.test_pushes import final_report

pytestmark = pytest.mark.django_db

LIST = "/admin/campaigns/itnioapp/"


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.setattr(webhooks, "_apps", {})


def pushed(token: str) -> int:
    response = Client().post(
        f"/itnio/push/{token}/voice/",
        data=json.dumps(final_report()),
        content_type="application/json",
    )
    return response.status_code


def ask(client: Client, app: ItnioApp, **extra):
    data = {"action": "regenerate_push_token", "index": "0", "_selected_action": [app.pk]}
    return client.post(LIST, {**data, **extra})


def confirm(client: Client, app: ItnioApp, *, revoke: bool = False):
    page = ask(client, app)
    assert page.status_code == 200
    html = page.content.decode()
    tokens = re.search(r'name="tokens" value="([^"]+)"', html).group(1)
    shown = re.search(r'class="new-push-url">([^<]+)<', html).group(1)
    extra = {"post": "yes", "tokens": tokens, **({"revoke_now": "on"} if revoke else {})}
    response = ask(client, app, **extra)
    return response, shown


@pytest.mark.parametrize("role", ["Viewer", "Operator"])
def test_viewers_and_operators_cannot_regenerate_a_push_url(client, voice_app, role):
    client.force_login(make_staff("someone", role))
    token = voice_app.push_token

    assert 'value="regenerate_push_token"' not in client.get(LIST).content.decode()
    assert ask(client, voice_app).status_code == 403
    assert ask(client, voice_app, post="yes", tokens="x").status_code == 403

    voice_app.refresh_from_db()
    assert voice_app.push_token == token and pushed(token) == 200


def test_an_admin_sees_the_new_url_first_and_the_old_one_works_for_the_grace_period(
    client, voice_app, settings, monkeypatch
):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    settings.PUSH_TOKEN_GRACE_SECONDS = 7200
    client.force_login(make_staff("boss", "Admin"))
    old = voice_app.push_token

    page = ask(client, voice_app).content.decode()
    voice_app.refresh_from_db()
    assert voice_app.push_token == old  # nothing changes before the confirmation
    assert "https://portal.example.com/itnio/push/" in page and 'id="revoke-now"' in page
    assert "2\xa0hours" in page  # PUSH_TOKEN_GRACE_SECONDS

    response, shown = confirm(client, voice_app)

    assert response.status_code == 302
    voice_app.refresh_from_db()
    assert shown == voice_app.push_url  # exactly the URL the Admin was shown
    assert voice_app.previous_push_token == old
    expires = voice_app.previous_push_token_expires_at
    assert timedelta(seconds=7190) < expires - timezone.now() <= timedelta(seconds=7200)
    assert pushed(voice_app.push_token) == 200 and pushed(old) == 200  # both, during the grace
    assert PushEvent.objects.count() == 2
    assert LogEntry.objects.filter(object_id=str(voice_app.pk)).exists()
    app_page = client.get(f"/admin/campaigns/itnioapp/{voice_app.pk}/change/").content.decode()
    assert 'id="previous-push-url"' in app_page and old not in app_page

    # The grace period ends on time, even for a token the receiver has cached.
    later = expires + timedelta(seconds=1)
    monkeypatch.setattr(webhooks.timezone, "now", lambda: later)
    assert pushed(old) == 404
    assert pushed(voice_app.push_token) == 200


def test_revoke_now_stops_the_old_url_within_the_receivers_cache_time(
    client, voice_app, monkeypatch
):
    client.force_login(make_staff("boss", "Admin"))
    old = voice_app.push_token
    clock = [1000.0]
    monkeypatch.setattr(webhooks.time, "monotonic", lambda: clock[0])
    assert pushed(old) == 200  # the receiver has it cached now

    confirm(client, voice_app, revoke=True)

    voice_app.refresh_from_db()
    assert voice_app.previous_push_token is None and voice_app.push_token != old
    clock[0] += webhooks.APP_CACHE_SECONDS / 2
    assert pushed(old) == 200  # still cached: the cache saves a query per push
    clock[0] += webhooks.APP_CACHE_SECONDS / 2 + 0.1
    assert pushed(old) == 404
    assert pushed(voice_app.push_token) == 200


def test_an_altered_or_replayed_confirmation_changes_nothing(client, voice_app):
    client.force_login(make_staff("boss", "Admin"))
    old = voice_app.push_token

    response = ask(client, voice_app, post="yes", tokens="forged-token-of-my-choice")

    assert response.status_code == 302
    voice_app.refresh_from_db()
    assert voice_app.push_token == old
    page = client.get(LIST).content.decode()
    assert "nothing was changed" in page

    # The same confirmation sent twice applies once: the first old token keeps its grace.
    html = ask(client, voice_app).content.decode()
    tokens = re.search(r'name="tokens" value="([^"]+)"', html).group(1)
    ask(client, voice_app, post="yes", tokens=tokens)
    ask(client, voice_app, post="yes", tokens=tokens)
    voice_app.refresh_from_db()
    assert voice_app.previous_push_token == old and pushed(old) == 200
