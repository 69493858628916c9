"""The balance watch: each account's balance read on a schedule and kept for a chart; under the
account's threshold (balance + gift + credit) a banner on every admin page and one e-mail to the
Admins per crossing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core import mail

from campaigns.models import BalanceReading, ItnioAccount
from campaigns.scheduler import registered_jobs
from campaigns.services.balance_watch import balances_watch
from tests.conftest import API_KEY, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins(db):
    boss = make_staff("boss", "Admin")
    boss.email = "boss@example.com"
    boss.save()
    operator = make_staff("op", "Operator")
    operator.email = "op@example.com"
    operator.save()
    return boss, operator


def test_a_crossing_under_the_threshold_warns_once_and_clears_when_topped_up(
    sandbox, sandbox_state, account, admins, client
):
    _boss, operator = admins
    account.low_balance_threshold = Decimal("50.00")
    account.save()
    sandbox_state.add_account(API_KEY, "x", balance="30.00", gift="5.00", credit="10.00")
    sandbox_state.accounts[API_KEY].api_secret = account.api_secret
    report = balances_watch()
    assert str(report) == "read=1 failed=0 crossed=1"
    reading = BalanceReading.objects.get()
    assert reading.total == Decimal("45.00") and reading.error == ""
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["boss@example.com"]
    assert "low balance on Acme" in mail.outbox[0].subject
    assert "45.00 USD" in mail.outbox[0].body and "50.00 USD" in mail.outbox[0].body
    # Still low at the next reading: no second e-mail; the banner shows on every page.
    assert str(balances_watch()) == "read=1 failed=0 crossed=0"
    assert len(mail.outbox) == 1
    client.force_login(operator)
    for url in ("/admin/", "/admin/campaigns/campaign/", "/admin/campaigns/call/"):
        page = client.get(url).content.decode()
        assert 'id="low-balance-banner"' in page and "Low balance on Acme: 45.00 USD" in page
    # Topped up: the warning clears; the next fall warns again.
    sandbox_state.add_account(API_KEY, account.api_secret, balance="80.00")
    balances_watch()
    account.refresh_from_db()
    assert account.low_balance_since is None
    assert 'id="low-balance-banner"' not in client.get("/admin/").content.decode()
    sandbox_state.add_account(API_KEY, account.api_secret, balance="10.00")
    balances_watch()
    assert len(mail.outbox) == 2


def test_without_a_threshold_of_its_own_the_portal_default_applies(
    sandbox, sandbox_state, account, admins, settings
):
    from campaigns.models import WebhookMessage, WebhookSubscription

    WebhookSubscription.objects.create(
        url="https://hooks.example.com/itnio", events=["balance.low"], secret="whsec_" + "A" * 43
    )
    settings.PORTAL_LOW_BALANCE = 600
    balances_watch()  # the sandbox account has 500.00
    account.refresh_from_db()
    assert account.low_balance_since is not None and len(mail.outbox) == 1
    [event] = WebhookMessage.objects.filter(event_type="balance.low")
    assert json.loads(event.payload)["data"] == {
        "account": "Acme",
        "total": "500.000000",
        "threshold": "600",
        "currency": "USD",
    }
    balances_watch()  # still low: no second event
    assert WebhookMessage.objects.filter(event_type="balance.low").count() == 1


def test_a_failed_reading_is_kept_with_its_reason_and_the_others_are_read(
    sandbox, sandbox_state, account, admins
):
    other = ItnioAccount.objects.create(name="Other", api_key="nope", api_secret="wrong")
    other.base_url = account.base_url
    other.save()
    report = balances_watch()
    assert (report.read, report.failed) == (1, 1)
    failed = BalanceReading.objects.get(account=other)
    assert failed.balance is None and failed.error
    assert BalanceReading.objects.get(account=account).balance == Decimal("500.00")
    assert mail.outbox == []


def test_the_account_page_charts_the_readings(sandbox, sandbox_state, account, admins, client):
    boss, _operator = admins
    client.force_login(boss)
    url = f"/admin/campaigns/itnioaccount/{account.pk}/change/"
    assert 'id="balance-history-empty"' in client.get(url).content.decode()
    balances_watch()
    sandbox_state.add_account(API_KEY, account.api_secret, balance="420.00", gift="3.00")
    balances_watch()
    page = client.get(url).content.decode()
    start = page.index('id="balance-history-data"')
    data = json.loads(page[page.index(">", start) + 1 : page.index("</script>", start)])
    assert data["series"]["balance + gift + credit"] == [500.0, 423.0]
    assert data["series"]["balance"] == [500.0, 420.0] and data["currency"] == "USD"
    assert 'id="balance-chart"' in page


def test_the_watch_is_a_periodic_job(settings):
    job = next(j for j in registered_jobs() if j.name.endswith("watch_balances"))
    assert str(job.label) == "Balance watch"
