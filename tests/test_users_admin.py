"""Who manages whom (issue 12, defect 3): Admins manage Viewers, Operators and Admins; only a
superuser grants superuser status or touches a superuser; base URLs are https:// only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import ItnioAccount
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


def user_form(user: User, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "is_staff": "on",
        "groups": [g.pk for g in user.groups.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def change(client, user: User, **changes):
    return client.post(f"/admin/auth/user/{user.pk}/change/", user_form(user, **changes))


def test_an_admin_cannot_make_themselves_superuser(client):
    boss = make_staff("boss", "Admin")
    client.force_login(boss)
    page = client.get(f"/admin/auth/user/{boss.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page and 'name="user_permissions"' not in page

    response = change(
        client,
        boss,
        is_superuser="on",
        user_permissions=[Permission.objects.get(codename="view_accessattempt").pk],
    )

    assert response.status_code == 302
    boss.refresh_from_db()
    assert not boss.is_superuser and not boss.user_permissions.exists()


def test_an_admin_manages_viewers_operators_and_admins(client):
    client.force_login(make_staff("boss", "Admin"))
    viewer = make_staff("v", "Viewer")

    response = change(client, viewer, groups=[Group.objects.get(name="Admin").pk])

    assert response.status_code == 302
    assert list(viewer.groups.values_list("name", flat=True)) == ["Admin"]


def test_an_admin_cannot_edit_delete_or_reset_a_superuser(client):
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(make_staff("boss", "Admin"))

    page = client.get(f"/admin/auth/user/{root.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert change(client, root, is_active=None, is_superuser="on").status_code == 403
    assert client.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    reset = {
        "password1": "Another-pw-123",
        "password2": "Another-pw-123",
        "usable_password": "true",
    }
    assert client.post(f"/admin/auth/user/{root.pk}/password/", reset).status_code == 403
    bulk = {"action": "delete_selected", "index": "0", "_selected_action": [root.pk], "post": "yes"}
    client.post("/admin/auth/user/", bulk)

    root.refresh_from_db()
    assert root.is_active and root.is_superuser and root.check_password("pw")


def test_a_superuser_grants_superuser_status(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    boss = make_staff("boss", "Admin")

    assert change(client, boss, is_superuser="on").status_code == 302

    boss.refresh_from_db()
    assert boss.is_superuser


def test_only_a_superuser_changes_what_a_role_may_do(client):
    admins = Group.objects.get(name="Admin")
    client.force_login(make_staff("boss", "Admin"))
    before = set(admins.permissions.values_list("pk", flat=True))

    assert client.get(f"/admin/auth/group/{admins.pk}/change/").status_code == 200  # sees it
    every = list(Permission.objects.values_list("pk", flat=True))
    form = {"name": "Admin", "permissions": every}
    assert client.post(f"/admin/auth/group/{admins.pk}/change/", form).status_code == 403

    assert set(admins.permissions.values_list("pk", flat=True)) == before


def _account_form(base_url: str) -> dict:
    return {
        "name": "Acme",
        "api_key": "bDqJFiq9",
        "new_api_secret": "",
        "base_url": base_url,
        "apps-TOTAL_FORMS": "0",
        "apps-INITIAL_FORMS": "0",
    }


@pytest.mark.parametrize(
    ("base_url", "local_allowed", "accepted"),
    [
        ("https://api.itniotech.com", False, True),
        ("http://evil.example", True, False),
        ("ftp://evil.example", True, False),
        ("http://127.0.0.1:8765", True, True),
        ("http://localhost:8765", True, True),
        ("http://127.0.0.1:8765", False, False),
        ("http://127.0.0.1.evil.example", True, False),
    ],
)
def test_the_base_url_override_is_https_or_the_local_sandbox(
    client, account, settings, base_url, local_allowed, accepted
):
    settings.ITNIO_ALLOW_LOCAL_BASE_URL = local_allowed
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    response = client.post(
        f"/admin/campaigns/itnioaccount/{account.pk}/change/", _account_form(base_url)
    )

    account.refresh_from_db()
    if accepted:
        assert response.status_code == 302 and account.base_url == base_url
    else:
        assert response.status_code == 200 and account.base_url == ""
        assert "https://" in response.content.decode()


def test_itnio_setup_refuses_a_plain_http_base_url(db, settings):
    settings.ITNIO_ALLOW_LOCAL_BASE_URL = False
    with pytest.raises(CommandError, match="https://"):
        call_command(
            "itnio_setup",
            "--name",
            "Acme",
            "--api-key",
            "K",
            "--api-secret",
            "S",
            "--voice-app-id",
            "APP1",
            "--base-url",
            "http://evil.example",
        )
    assert not ItnioAccount.objects.exists()


def test_a_user_put_in_a_role_may_log_in_without_ticking_staff_status(client):
    """Through the admin's user form (staff status left unticked) and from code alike."""
    client.force_login(make_staff("boss", "Admin"))
    newcomer = User.objects.create_user("newcomer", password="pw-12345-long")
    assert not newcomer.is_staff

    response = change(
        client, newcomer, is_staff=None, groups=[Group.objects.get(name="Operator").pk]
    )

    assert response.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.is_staff
    other = User.objects.create_user("other", password="pw-12345-long")
    Group.objects.get(name="Viewer").user_set.add(other)
    other.refresh_from_db()
    assert other.is_staff
    client.logout()
    client.post("/admin/login/", {"username": "other", "password": "pw-12345-long"})
    assert client.get("/admin/").status_code == 200  # logged in, not sent to the login page
    outsider = User.objects.create_user("outsider")
    outsider.groups.add(Group.objects.create(name="Book club"))
    outsider.refresh_from_db()
    assert not outsider.is_staff  # only the portal's roles grant it
