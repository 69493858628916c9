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


# ---------------------------------------------------------------------------
# Behind a TLS proxy: client addresses from X-Forwarded-For, as far as our proxies vouch
# ---------------------------------------------------------------------------
def proxied_login(username: str, password: str, forwarded_for: str):
    """A login through one proxy of ours on this machine: it appends the address it saw."""
    return Client(REMOTE_ADDR="127.0.0.1").post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


@pytest.fixture
def behind_one_proxy(settings):
    from itnio_portal.settings.base import axes_client_ip_settings

    for name, value in axes_client_ip_settings(1).items():
        setattr(settings, name, value)
    settings.AXES_FAILURE_LIMIT = 3


def test_behind_a_proxy_two_clients_are_counted_apart(behind_one_proxy):
    User.objects.create_superuser("ops", "ops@example.com", "right-password")
    for _ in range(3):
        proxied_login("ops", "wrong", "198.51.100.7")  # someone guessing, from one address
    assert proxied_login("ops", "right-password", "198.51.100.7").status_code == 429
    # The real operator, from another address behind the same proxy, is not locked out.
    assert proxied_login("ops", "right-password", "203.0.113.20").status_code == 302


def test_a_spoofed_forwarded_for_is_ignored(behind_one_proxy):
    User.objects.create_superuser("ops", "ops@example.com", "right-password")
    # The guesser writes a new address of their own each time; the proxy appends the real one.
    for fake in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        proxied_login("ops", "wrong", f"{fake}, 198.51.100.7")
    assert proxied_login("ops", "right-password", "10.9.9.9, 198.51.100.7").status_code == 429
    assert proxied_login("ops", "right-password", "203.0.113.20").status_code == 302


def test_without_a_trusted_proxy_the_header_is_not_read(settings):
    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_superuser("ops", "ops@example.com", "right-password")
    for fake in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        proxied_login("ops", "wrong", fake)
    # Every attempt came from REMOTE_ADDR: a header cannot spread them over many addresses.
    assert proxied_login("ops", "right-password", "203.0.113.20").status_code == 429
