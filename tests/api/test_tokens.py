"""API tokens: shown once, stored as a digest, several per user, expiry and revocation, the
command and the admin pages (own tokens for every role, all of them for Admins)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from campaigns.models import ApiToken
from campaigns.services.api_tokens import api_token_create
from tests.api.conftest import ApiClient
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("api_token", *args, stdout=out)
    return out.getvalue()


def test_the_command_prints_the_token_last_and_keeps_only_its_digest(operator):
    out = run("create", "operator", "--name", "crm", "--expires", "2099-12-31")
    key = out.splitlines()[-1]
    token = ApiToken.objects.get(name="crm")
    assert token.key_digest == hashlib.sha256(key.encode()).hexdigest()
    assert token.prefix == key[:12] and key not in str(ApiToken.objects.values().get())
    assert token.expires_at.date().isoformat() == "2099-12-31"
    response = ApiClient(key).get("/api/v1/campaigns/")
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_several_tokens_per_user_and_revoke_one_or_all(operator):
    keys = {name: run("create", "operator", "--name", name).splitlines()[-1] for name in "abc"}
    assert run("revoke", "operator", "b").strip() == "revoked=1"
    assert ApiClient(keys["a"]).get("/api/v1/calls/").status_code == 200
    assert ApiClient(keys["b"]).get("/api/v1/calls/").status_code == 401
    assert run("revoke", "operator").strip() == "revoked=2"
    assert ApiClient(keys["a"]).get("/api/v1/calls/").status_code == 401
    # A revoked name may be used again.
    assert run("create", "operator", "--name", "a").splitlines()[-1]


def test_command_refusals(operator):
    run("create", "operator", "--name", "x")
    for args in (
        ("create", "nobody"),
        ("create", "operator", "--name", "x"),  # taken
        ("create", "operator", "--expires", "2001-01-01"),
        ("create", "operator", "--expires", "soon"),
        ("revoke", "operator", "nope"),
    ):
        with pytest.raises(CommandError):
            run(*args)


def test_expired_tokens_and_inactive_users_are_refused(operator):
    token, key = api_token_create(user=operator, name="short")
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert ApiClient(key).get("/api/v1/calls/").status_code == 401
    _token, key = api_token_create(user=operator, name="long")
    operator.is_active = False
    operator.save()
    assert ApiClient(key).get("/api/v1/calls/").status_code == 401


def test_a_token_may_do_what_its_user_may(operator):
    _token, key = api_token_create(user=operator, name="t")
    assert ApiClient(key).get("/api/v1/campaigns/").status_code == 200
    operator.groups.clear()
    assert ApiClient(key).get("/api/v1/campaigns/").status_code == 403


def test_admin_page_shows_the_key_once_and_never_the_digest(client, operator):
    client.force_login(operator)
    page = client.post(
        "/admin/campaigns/apitoken/add/", {"name": "crm", "expires_at_0": "", "expires_at_1": ""}
    )
    assert page.status_code == 200
    token = ApiToken.objects.get(name="crm")
    assert token.user == operator  # not an Admin: always their own
    html = page.content.decode()
    start = html.index('id="api-token-key">') + len('id="api-token-key">')
    key = html[start : html.index("<", start)]
    assert hashlib.sha256(key.encode()).hexdigest() == token.key_digest
    assert "no-store" in page["Cache-Control"]
    listing = client.get("/admin/campaigns/apitoken/").content.decode()
    detail = client.get(f"/admin/campaigns/apitoken/{token.pk}/change/").content.decode()
    for html in (listing, detail):
        assert key not in html and token.key_digest not in html
        assert token.prefix in html
    assert client.get("/admin/campaigns/apitoken/", {"q": token.key_digest}).status_code == 200
    assert (
        token.key_digest
        not in client.get("/admin/campaigns/apitoken/", {"o": "3"}).content.decode()
    )


def test_users_see_their_own_tokens_admins_every_ones(client, operator, admin_user):
    mine, _ = api_token_create(user=operator, name="mine")
    theirs, _ = api_token_create(user=make_staff("other", "Viewer"), name="theirs")
    client.force_login(operator)
    listing = client.get("/admin/campaigns/apitoken/").content.decode()
    assert "mine" in listing and "theirs" not in listing
    # Revoking through the list action touches only their own.
    client.post(
        "/admin/campaigns/apitoken/",
        {"action": "revoke_selected", "_selected_action": [mine.pk, theirs.pk]},
    )
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    client.force_login(admin_user)
    listing = client.get("/admin/campaigns/apitoken/").content.decode()
    assert "mine" in listing and "theirs" in listing
    page = client.post(
        "/admin/campaigns/apitoken/add/",
        {"user": operator.pk, "name": "for-op", "expires_at_0": "", "expires_at_1": ""},
    )
    assert page.status_code == 200 and ApiToken.objects.get(name="for-op").user == operator
