"""Two-factor login (issue 17): the admin's login asks a user with a TOTP device for its code
after the password; backup codes work once; TWO_FACTOR_REQUIRED sends a user without a device
to set one up; django-axes counts wrong codes like wrong passwords; an Admin resets a user's
devices (action, command), audited; API tokens are not affected; every two-factor page says
who may use it and reads Chinese."""

from __future__ import annotations

import re
from base64 import b32decode

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from campaigns.services.api_tokens import api_token_create
from campaigns.two_factor_pages import OWN_ACCOUNT, PUBLIC
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
STEP = "portal_login_view-current_step"


@pytest.fixture(autouse=True)
def _no_code_throttle(settings):
    """django-otp makes a device wait after a wrong code (1 s, 2 s, …); the tests type fast."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def with_device(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="default", confirmed=True)


def code_of(device: TOTPDevice, *, later: int = 0) -> str:
    device.refresh_from_db()
    return (
        f"{totp(device.bin_key, device.step, device.t0 - later * device.step, device.digits):06d}"
    )


def password_step(client: Client, username: str, password: str = "pw"):
    return client.post(LOGIN, {"username": username, "password": password})


def code_step(client: Client, code: str, step: str = "token"):
    return client.post(LOGIN, {STEP: step, f"{step}-otp_token": code})


def signed_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


# --- the login ------------------------------------------------------------------------------
def test_the_password_alone_is_not_enough_for_a_user_with_a_device():
    user = make_staff("ops", "Operator")
    device = with_device(user)
    client = Client()
    page = password_step(client, "ops")
    assert page.status_code == 200
    assert 'name="token-otp_token"' in page.content.decode()
    assert "ITNIO Portal" in page.content.decode()  # the admin's branding, the same page
    assert not signed_in(client)
    # The password step again, then the code: signed in.
    password_step(client, "ops")
    done = code_step(client, code_of(device))
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert signed_in(client)


def test_a_wrong_code_is_refused_with_a_clear_message():
    user = make_staff("ops", "Operator")
    device = with_device(user)
    client = Client()
    password_step(client, "ops")
    wrong = code_step(client, "000000" if code_of(device) != "000000" else "111111")
    assert wrong.status_code == 200
    assert "That code is not right" in wrong.content.decode()
    assert not signed_in(client)
    assert code_step(client, "12ab").status_code == 200  # not digits: refused, no 500
    assert code_step(client, code_of(device)).status_code == 302
    assert signed_in(client)


def test_a_user_without_a_device_logs_in_with_the_password_as_before():
    make_staff("viewer", "Viewer")
    client = Client()
    assert password_step(client, "viewer").status_code == 302
    assert signed_in(client)
    wrong = password_step(Client(), "viewer", "nope")
    assert wrong.status_code == 200 and b"Please enter the correct" in wrong.content


def test_a_session_that_did_not_give_the_code_is_not_let_in():
    user = make_staff("ops", "Operator")
    with_device(user)
    client = Client()
    client.force_login(user)  # a session from the password alone
    response = client.get("/admin/campaigns/campaign/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_a_backup_code_works_once():
    user = make_staff("ops", "Operator")
    with_device(user)
    backup = StaticDevice.objects.create(user=user, name="backup")
    backup.token_set.create(token="k7m2p9q4")
    client = Client()
    page = password_step(client, "ops")
    assert "Use a backup code" in page.content.decode()
    client.post(LOGIN, {"wizard_goto_step": "backup"})
    assert code_step(client, "k7m2p9q4", step="backup").status_code == 302
    assert signed_in(client)

    again = Client()
    password_step(again, "ops")
    again.post(LOGIN, {"wizard_goto_step": "backup"})
    refused = code_step(again, "k7m2p9q4", step="backup")
    assert refused.status_code == 200
    assert "That backup code is not right, or it was already used." in refused.content.decode()
    assert not signed_in(again)


def test_wrong_codes_count_with_axes_and_lock_the_username_out(settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_staff("ops", "Operator")
    device = with_device(user)
    client = Client()
    password_step(client, "ops")
    statuses = [code_step(client, "000001").status_code for _ in range(3)]
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429
    # Locked: neither the password nor a right code opens the account now.
    assert password_step(client, "ops").status_code == 429
    assert password_step(Client(), "ops").status_code == 429
    assert not signed_in(client)
    assert device.user_id == user.pk


def test_a_right_code_resets_the_count_of_failures(settings):
    settings.AXES_FAILURE_LIMIT = 3
    user = make_staff("ops", "Operator")
    device = with_device(user)
    client = Client()
    password_step(client, "ops", "wrong")
    password_step(client, "ops")
    code_step(client, "000001")
    assert code_step(client, code_of(device)).status_code == 302
    client.logout()
    password_step(client, "ops", "wrong")
    password_step(client, "ops", "wrong")
    assert password_step(client, "ops").status_code == 200  # not locked: the code step


# --- required mode --------------------------------------------------------------------------
def _set_up_device(client: Client) -> str:
    """Walk the package's setup wizard; returns where it ended."""
    setup = reverse("two_factor:setup")
    assert client.get(setup).status_code == 200
    page = client.post(setup, {"setup_view-current_step": "welcome"})
    assert page.status_code == 200 and 'id="two-factor-qr"' in page.content.decode()
    secret = client.session["django_two_factor-qr_secret_key"]
    code = f"{totp(b32decode(secret), 30, 0, 6, 0):06d}"
    done = client.post(setup, {"setup_view-current_step": "generator", "generator-token": code})
    assert done.status_code == 302, done.content.decode()[:2000]
    return done["Location"]


def test_required_mode_sends_a_user_without_a_device_to_set_one_up(settings):
    settings.TWO_FACTOR_REQUIRED = "true"
    user = make_staff("viewer", "Viewer")
    client = Client()
    assert password_step(client, "viewer").status_code == 302
    for page in ("/admin/", "/admin/campaigns/campaign/"):
        response = client.get(page)
        assert response.status_code == 302 and response["Location"] == reverse("two_factor:setup")
    required = client.get(reverse("two_factor:setup")).content.decode()
    assert 'id="two-factor-required"' in required
    assert 'id="logout-form"' in required  # the way out stays
    assert client.post(reverse("admin:logout")).status_code == 200

    client = Client()
    password_step(client, "viewer")
    assert _set_up_device(client) == reverse("two_factor:setup_complete")
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    assert signed_in(client)  # the session that set it up gave its code
    # Required: it cannot be turned off by its owner.
    assert client.get(reverse("two_factor:disable")).status_code == 403


def test_privileged_mode_spares_viewers_and_not_operators(settings):
    settings.TWO_FACTOR_REQUIRED = "privileged"
    make_staff("viewer", "Viewer")
    make_staff("ops", "Operator")
    viewer, operator = Client(), Client()
    password_step(viewer, "viewer")
    password_step(operator, "ops")
    assert signed_in(viewer)
    assert operator.get("/admin/")["Location"] == reverse("two_factor:setup")


def test_backup_codes_are_made_on_the_package_page_and_listed_once_each():
    user = make_staff("ops", "Operator")
    client = Client()
    password_step(client, "ops")
    _set_up_device(client)
    page = client.post(reverse("two_factor:backup_tokens"))
    assert page.status_code == 302
    listed = client.get(reverse("two_factor:backup_tokens")).content.decode()
    codes = StaticDevice.objects.get(user=user).token_set.values_list("token", flat=True)
    assert len(codes) == 10 and all(code in listed for code in codes)


def test_the_user_menu_links_to_the_two_factor_page():
    client = Client()
    client.force_login(make_staff("viewer", "Viewer"))
    home = client.get("/admin/").content.decode()
    assert f'href="{reverse("two_factor:profile")}"' in home
    profile = client.get(reverse("two_factor:profile")).content.decode()
    assert 'id="two-factor-status"' in profile and 'href="/account/two_factor/setup/"' in profile


# --- reset ----------------------------------------------------------------------------------
def test_the_reset_command_deletes_the_devices_and_is_audited(capsys):
    admin = make_staff("boss", "Admin")
    user = make_staff("ops", "Operator")
    with_device(user)
    StaticDevice.objects.create(user=user, name="backup").token_set.create(token="a1b2c3d4")
    call_command("two_factor_reset", "ops", "--as", "boss")
    assert "reset (2 removed)" in capsys.readouterr().out
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    entry = LogEntry.objects.get(user=admin, object_id=str(user.pk))
    assert "Reset two-factor devices" in entry.change_message
    # The next login asks for the password only.
    assert password_step(Client(), "ops").status_code == 302


def test_the_reset_command_refuses_clearly():
    with pytest.raises(CommandError, match="No portal user named 'ghost'") as error:
        call_command("two_factor_reset", "ghost")
    assert error.value.returncode == 2
    make_staff("viewer", "Viewer")
    with pytest.raises(CommandError, match="may change users"):
        call_command("two_factor_reset", "viewer", "--as", "viewer")


def test_an_admin_resets_a_users_devices_from_the_user_list():
    admin = make_staff("boss", "Admin")
    user = make_staff("ops", "Operator")
    root = User.objects.create_superuser("root", password="pw")
    for owner in (user, root):
        with_device(owner)
    client = Client()
    client.force_login(admin)
    changelist = reverse("admin:auth_user_changelist")
    data = {"action": "reset_two_factor", "index": "0", "_selected_action": [user.pk, root.pk]}
    page = client.post(changelist, data, follow=True).content.decode()
    assert "Two-factor devices reset for 1 user (1 removed)." in page
    assert "Only a superuser may reset the two-factor devices of superuser root." in page
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert TOTPDevice.objects.filter(user=root).exists()
    assert LogEntry.objects.filter(user=admin, object_id=str(user.pk)).exists()

    viewer = Client()
    viewer.force_login(make_staff("viewer", "Viewer"))
    assert viewer.post(changelist, {**data, "_selected_action": [root.pk]}).status_code == 403
    assert TOTPDevice.objects.filter(user=root).exists()


# --- the API --------------------------------------------------------------------------------
def test_api_tokens_work_without_the_second_factor(settings):
    settings.TWO_FACTOR_REQUIRED = "true"
    user = make_staff("ops", "Operator")
    with_device(user)
    _token, key = api_token_create(user=user, name="ci")
    response = Client().get("/api/v1/campaigns/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200
    without = make_staff("other", "Operator")  # required, no device: the token still works
    _token, key = api_token_create(user=without, name="ci")
    response = Client().get("/api/v1/campaigns/", headers={"Authorization": f"Token {key}"})
    assert response.status_code == 200


# --- who may use each page ------------------------------------------------------------------
def two_factor_urls() -> list[tuple[str, object]]:
    found = []
    for top in get_resolver().url_patterns:
        if isinstance(top, URLResolver) and top.namespace == "two_factor":
            for entry in top.url_patterns:
                assert isinstance(entry, URLPattern)
                found.append((reverse(f"two_factor:{entry.name}"), entry.callback))
    return found


def test_every_two_factor_page_declares_who_may_use_it():
    urls = two_factor_urls()
    assert len(urls) >= 7
    undeclared = [url for url, view in urls if getattr(view, "portal_access", None) is None]
    assert undeclared == []
    outsider = User.objects.create_user("outsider", password="pw")  # not staff
    member = Client()
    member.force_login(outsider)
    for url, view in urls:
        anonymous = Client().get(url)
        assert anonymous.status_code == 302, url
        assert anonymous["Location"].startswith("/admin/login/"), url
        if view.portal_access == OWN_ACCOUNT:
            assert member.get(url).status_code == 403, url
            assert member.post(url).status_code == 403, url
        else:
            assert view.portal_access == PUBLIC


def test_each_user_sees_only_their_own_devices():
    mine = make_staff("ops", "Operator")
    other = make_staff("other", "Operator")
    StaticDevice.objects.create(user=other, name="backup").token_set.create(token="zz99yy88")
    with_device(other)
    client = Client()
    client.force_login(mine)
    for url, _view in two_factor_urls():
        assert b"zz99yy88" not in client.get(url).content


# --- Chinese --------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_two_factor_pages_read_chinese(settings):
    from tests.test_translations import _data_values, english_left

    settings.TWO_FACTOR_REQUIRED = "true"
    user = make_staff("ops", "Operator")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    password_step(client, "ops")
    pages = {"setup (welcome)": client.get(reverse("two_factor:setup"))}
    pages["setup (code)"] = client.post(
        reverse("two_factor:setup"), {"setup_view-current_step": "welcome"}
    )
    pages["setup (wrong code)"] = client.post(
        reverse("two_factor:setup"),
        {"setup_view-current_step": "generator", "generator-token": "1"},
    )
    _set_up_device(client)
    client.post(reverse("two_factor:backup_tokens"))
    for name in ("setup_complete", "backup_tokens", "profile"):
        pages[name] = client.get(reverse(f"two_factor:{name}"))
    settings.TWO_FACTOR_REQUIRED = "false"
    pages["disable"] = client.get(reverse("two_factor:disable"))
    client.post(reverse("admin:logout"))
    pages["login (code)"] = password_step(client, "ops")
    pages["login (wrong code)"] = code_step(client, "000000")
    pages["login (backup)"] = client.post(LOGIN, {"wizard_goto_step": "backup"})
    pages["login (wrong backup)"] = code_step(client, "nope", step="backup")
    data = _data_values()
    english = {}
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        assert 'lang="zh-hans"' in html, name
        left = english_left(html, [*data, user.username])
        if left:
            english[name] = left
    assert english == {}


# --- the setting ----------------------------------------------------------------------------
def test_the_setting_reads_false_privileged_true_and_refuses_anything_else():
    from tests.test_settings import run_manage

    code = "from django.conf import settings as s; print(s.TWO_FACTOR_REQUIRED)"
    for given, read in (("off", "false"), ("Privileged", "privileged")):
        result = run_manage("shell", "-c", code, env_overrides={"TWO_FACTOR_REQUIRED": given})
        assert result.stdout.strip().splitlines()[-1] == read, result.stderr
    refused = run_manage("check", env_overrides={"TWO_FACTOR_REQUIRED": "admins"})
    assert refused.returncode != 0
    assert "TWO_FACTOR_REQUIRED must be false, privileged or true (got 'admins')" in refused.stderr


def test_the_user_list_shows_who_has_a_device():
    admin = make_staff("boss", "Admin")
    with_device(make_staff("ops", "Operator"))
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "column-two_factor_on" in page
    cells = re.findall(r'<td class="field-two_factor_on"><img [^>]*alt="(True|False)"', page)
    assert sorted(cells) == ["False", "True"]  # boss has none, ops has one
