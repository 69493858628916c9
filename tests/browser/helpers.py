"""Steps several browser journeys take the same way."""

from __future__ import annotations


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
