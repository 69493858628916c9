"""ITNIO accounts and apps: encrypted secret, key rotation, itnio_setup, admin pages."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from campaigns.fields import UndecryptableSecret
from campaigns.models import ItnioAccount, ItnioApp
from tests.conftest import API_SECRET


def raw_secret(account: ItnioAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_secret FROM campaigns_itnioaccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_secret_is_encrypted_in_the_raw_column(account):
    stored = raw_secret(account)
    assert API_SECRET not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert ItnioAccount.objects.get(pk=account.pk).api_secret == API_SECRET


def test_field_keys_rotate_without_losing_secrets(db):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(ITNIO_FIELD_KEYS=[old]):
        account = ItnioAccount.objects.create(name="R", api_key="k", api_secret="s3cret")
        before = raw_secret(account)
    with override_settings(ITNIO_FIELD_KEYS=[new, old]):
        assert ItnioAccount.objects.get(pk=account.pk).api_secret == "s3cret"
        call_command("rotate_field_keys")
        assert raw_secret(account) != before
    with override_settings(ITNIO_FIELD_KEYS=[new]):
        assert ItnioAccount.objects.get(pk=account.pk).api_secret == "s3cret"
    with override_settings(ITNIO_FIELD_KEYS=[old]):
        # The retired key alone can no longer read it, and says so instead of passing ciphertext on.
        assert isinstance(ItnioAccount.objects.get(pk=account.pk).api_secret, UndecryptableSecret)
        with pytest.raises(CommandError, match="No configured key decrypts the secret of: R"):
            call_command("rotate_field_keys")


def test_itnio_setup_creates_then_updates(db, capsys):
    call_command(
        "itnio_setup",
        "--name",
        "Main",
        "--api-key",
        "KEY1",
        "--api-secret",
        "SECRET1",
        "--voice-app-id",
        "VOICE1",
        "--ai-app-id",
        "AI1",
    )
    out = capsys.readouterr().out
    assert "Created account Main" in out
    assert "/itnio/push/" in out
    assert "SECRET1" not in out
    account = ItnioAccount.objects.get(name="Main")
    assert account.api_secret == "SECRET1"
    assert {(a.app_id, a.kind) for a in account.apps.all()} == {("VOICE1", "voice"), ("AI1", "ai")}

    call_command(
        "itnio_setup",
        "--name",
        "Main",
        "--api-key",
        "KEY2",
        "--api-secret",
        "SECRET2",
        "--voice-app-id",
        "VOICE1",
    )
    account.refresh_from_db()
    assert (account.api_key, account.api_secret) == ("KEY2", "SECRET2")
    assert ItnioAccount.objects.count() == 1
    assert ItnioApp.objects.count() == 2


def test_itnio_setup_refuses_an_app_of_another_account(account):
    with pytest.raises(CommandError, match="already belongs to account Acme") as exc:
        call_command(
            "itnio_setup",
            "--name",
            "Other",
            "--api-key",
            "K",
            "--api-secret",
            "S",
            "--voice-app-id",
            "4luaKsL2",
        )
    assert exc.value.returncode == 1
    assert not ItnioAccount.objects.filter(name="Other").exists()


def test_itnio_setup_usage_error_exits_2(db):
    with pytest.raises(CommandError) as exc:
        call_command("itnio_setup", "--name", "X")
    assert "--api-key" in str(exc.value)


@pytest.fixture
def superuser_client(client, db):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_add_account_stores_encrypted_secret_and_never_shows_it(superuser_client):
    response = superuser_client.post(
        "/admin/campaigns/itnioaccount/add/",
        {
            "name": "Web",
            "api_key": "WEBKEY",
            "new_api_secret": "web-secret-value",
            "base_url": "",
            "apps-TOTAL_FORMS": "1",
            "apps-INITIAL_FORMS": "0",
            "apps-0-app_id": "WEBAPP",
            "apps-0-kind": "voice",
            "apps-0-label": "Web",
            "apps-0-active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ItnioAccount.objects.get(name="Web")
    assert account.api_secret == "web-secret-value"
    assert "web-secret-value" not in raw_secret(account)
    for url in (
        f"/admin/campaigns/itnioaccount/{account.pk}/change/",
        "/admin/campaigns/itnioaccount/",
        f"/admin/campaigns/itnioaccount/{account.pk}/history/",
    ):
        page = superuser_client.get(url)
        assert page.status_code == 200
        assert b"web-secret-value" not in page.content


def test_admin_blank_secret_keeps_it_and_history_records_credential_changes(
    superuser_client, account
):
    url = f"/admin/campaigns/itnioaccount/{account.pk}/change/"
    form = {
        "name": "Acme",
        "api_key": "bDqJFiq9",
        "new_api_secret": "",
        "base_url": "",
        "apps-TOTAL_FORMS": "0",
        "apps-INITIAL_FORMS": "0",
    }
    assert superuser_client.post(url, form).status_code == 302
    account.refresh_from_db()
    assert account.api_secret == API_SECRET
    assert superuser_client.post(url, {**form, "new_api_secret": "rotated"}).status_code == 302
    account.refresh_from_db()
    assert account.api_secret == "rotated"
    messages = [e.get_change_message() for e in LogEntry.objects.filter(object_id=str(account.pk))]
    assert any("API secret" in m for m in messages), messages
    assert not any("rotated" in m for m in messages)


def test_base_url_is_read_only_for_staff_who_are_not_superusers(client, account):
    staff = User.objects.create_user("ops", password="pw", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_itnioaccount", "change_itnioaccount"])
    )
    client.force_login(staff)
    page = client.get(f"/admin/campaigns/itnioaccount/{account.pk}/change/")
    assert page.status_code == 200
    assert b'name="base_url"' not in page.content
    client.post(
        f"/admin/campaigns/itnioaccount/{account.pk}/change/",
        {
            "name": "Acme",
            "api_key": "bDqJFiq9",
            "new_api_secret": "",
            "base_url": "http://evil.example",
            "apps-TOTAL_FORMS": "0",
            "apps-INITIAL_FORMS": "0",
        },
    )
    account.refresh_from_db()
    assert account.base_url == ""


def test_app_page_shows_the_full_push_url(superuser_client, voice_app, settings):
    settings.PORTAL_PUBLIC_URL = "https://portal.example.com"
    page = superuser_client.get(f"/admin/campaigns/itnioapp/{voice_app.pk}/change/")
    assert (
        f"https://portal.example.com/itnio/push/{voice_app.push_token}/voice/".encode()
        in page.content
    )


def test_push_tokens_are_unique_and_unguessable(account):
    tokens = list(ItnioApp.objects.values_list("push_token", flat=True))
    assert len(set(tokens)) == len(tokens) == 2
    assert all(len(t) >= 32 for t in tokens)
