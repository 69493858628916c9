"""Running in production: login throttling, CSRF on everything but the push receivers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_repeated_failed_logins_lock_that_username_out(settings):
    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_superuser("ops", "ops@example.com", "right-password")
    User.objects.create_superuser("other", "o@example.com", "other-password")
    client = Client()
    for _ in range(2):
        response = login(client, "ops", "wrong")
        assert response.status_code == 200 and b"Please enter the correct" in response.content
    blocked = login(client, "ops", "wrong")
    assert blocked.status_code == 429 and b'id="locked-out"' in blocked.content
    # Even the right password is refused now; another account from the same address is not.
    assert login(client, "ops", "right-password").status_code == 429
    assert login(Client(), "other", "other-password").status_code == 302


def test_a_successful_login_resets_the_count(settings):
    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_superuser("ops", "ops@example.com", "right-password")
    client = Client()
    login(client, "ops", "wrong")
    login(client, "ops", "wrong")
    assert login(client, "ops", "right-password").status_code == 302
    client.logout()
    login(client, "ops", "wrong")
    login(client, "ops", "wrong")
    assert login(client, "ops", "right-password").status_code == 302


def test_csrf_is_enforced_on_admin_posts_but_not_on_push_receivers(voice_app):
    client = Client(enforce_csrf_checks=True)
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    assert client.post("/admin/login/", {"username": "ops", "password": "pw"}).status_code == 403
    client.force_login(User.objects.get(username="ops"))
    assert client.post("/admin/campaigns/call/send-tts/", {}).status_code == 403
    push = client.post(
        f"/itnio/push/{voice_app.push_token}/voice/",
        data='{"voiceId": "1"}',
        content_type="application/json",
    )
    assert push.status_code == 200
