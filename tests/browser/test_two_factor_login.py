"""Two-factor login in the browser (issue 17): the password, then the authenticator's code, on
the admin's own login page; then the account security page from the user menu."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_with_a_device_logs_in_with_the_code(live_server, page, screenshot, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = User.objects.create_superuser("operator", "op@example.com", "correct horse battery")
    device = TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#two-factor-prompt")
    right = f"{totp(device.bin_key):06d}"
    page.fill("#id_token-otp_token", "000000" if right != "000000" else "111111")
    page.click("#login-form input[type=submit]")
    assert "That code is not right" in page.locator(".errornote").inner_text()
    screenshot("two-factor-wrong-code")

    page.fill("#id_token-otp_token", f"{totp(device.bin_key):06d}")
    page.click("#login-form input[type=submit]")
    page.wait_for_selector("#background-status")
    page.click("#two-factor-link")
    assert "Two-factor authentication is on" in page.locator("#two-factor-status").inner_text()
    screenshot("two-factor-profile")
