"""Steps several browser journeys take the same way."""

from __future__ import annotations


def log_in(page, live_server, username: str, *, password: str = "pw", then: str = "") -> None:
    """Log in on the admin's login page and wait for the page it leads to (`then`, a path, or
    the home page)."""
    page.goto(f"{live_server.url}/admin/login/" + (f"?next={then}" if then else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    # The login page has a #site-name too: wait until the browser has left it.
    page.wait_for_url(lambda url: "/admin/login/" not in url)
    page.wait_for_selector("#site-name")


def messages(page) -> str:
    """The admin's message list (successes, warnings, errors) as text."""
    return page.locator(".messagelist").inner_text()


def add_sip_group(page, live_server, group: str, phone: str, quantity: str) -> None:
    """Fill and save the SIP group form for the voice app "Acme voice"; stay on its page."""
    page.goto(f"{live_server.url}/admin/sipphones/sipgroup/add/")
    page.select_option("#id_app", label="Acme voice (Voice)")
    page.fill("#id_group_name", group)
    page.fill("#id_phone_name", phone)
    page.fill("#id_quantity", quantity)
    page.fill("#id_display_num", "+86 100 0000")
    page.click("input[name=_continue]")
    page.wait_for_selector("#create-on-itnio")


def submit(page, selector: str) -> None:
    """Click a button that posts a form and wait for the page it leads to, so what is read next
    (messages above all) comes from the new page, not the one being left."""
    with page.expect_navigation():
        page.click(selector)
