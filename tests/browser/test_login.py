"""The first browser test: an operator logs into the admin and sees the portal."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_logs_in_and_sees_accounts_and_background_status(
    live_server, page, screenshot, account
):
    User.objects.create_superuser("operator", "op@example.com", "correct horse battery")
    page.goto(f"{live_server.url}/")
    assert "/admin/login/" in page.url
    screenshot("login")

    page.fill("#id_username", "operator")
    page.fill("#id_password", "wrong password")
    page.click("input[type=submit]")
    assert page.locator(".errornote").is_visible()

    page.fill("#id_username", "operator")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    # The login page has a #site-name too: wait for the home page's own box.
    page.wait_for_selector("#background-status")
    assert page.locator("#site-name").inner_text() == "ITNIO Portal"
    assert page.locator("#background-status").is_visible()
    assert "never seen" in page.locator("#background-status").inner_text()
    screenshot("index")

    page.click("text=ITNIO accounts")
    page.click("text=Acme")
    assert page.locator("input[name=new_api_secret]").input_value() == ""
    assert "7bz1lzh9-test-secret" not in page.content()
    screenshot("account")
