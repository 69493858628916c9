"""The balance guard: a running campaign pauses before it sends a batch whose worst case exceeds
the account's last known balance (balance + gift + credit), with the reason on its page and in
campaign_status, announced like any pause; resuming after a top-up continues. Only amounts in
the balance's currency are compared, and an account never read is not guarded."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command

from campaigns.models import Callee, Campaign, DispatchBatch, ItnioAccount, WebhookMessage
from campaigns.services import dispatch
from campaigns.services.actors import Actor
from campaigns.services.campaigns import campaign_resume
from tests.campaigns.test_budget import (  # noqa: F401 (_lives_by_number: an autouse fixture)
    _lives_by_number,
    import_card,
    sent,
    start,
    subscribed_and_created,
)
from tests.conftest import API_KEY

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")
REASON = (
    "Paused: the next batch could cost up to 0.12 USD, more than the account's last known "
    "balance of 0.11 USD (balance, gift and credit)."
)


def last_reading(account, *, balance, gift="0", credit="0") -> None:
    """What the balance watch last read of the account."""
    ItnioAccount.objects.filter(pk=account.pk).update(
        balance=Decimal(balance), gift=Decimal(gift), credit=Decimal(credit)
    )


def launch(campaign: Campaign) -> None:
    """Launched with a max duration of 30 s: one answered call bills 60 s, 0.012 USD, so a batch
    of 10 could cost up to 0.12 USD."""
    Campaign.objects.filter(pk=campaign.pk).update(max_duration=30)
    call_command("launch_campaign", campaign.name, "--for-real", stdout=io.StringIO())
    campaign.refresh_from_db()


def test_a_batch_over_the_last_known_balance_pauses_before_it_is_sent(
    campaign, sandbox_state, voice_app, account, client
):
    creator = subscribed_and_created(campaign, ["campaign.state_changed"])
    import_card(voice_app)
    last_reading(account, balance="0.10", credit="0.01")
    launch(campaign)

    assert sent(sandbox_state) == []  # ITNIO never got the chance to answer -10
    assert campaign.state == "paused" and campaign.state_reason == REASON
    assert Callee.objects.filter(campaign=campaign, state="pending").count() == 35
    assert campaign.budget_reserved == 0  # the batch gave its worst case back
    batch = DispatchBatch.objects.get(campaign=campaign)
    assert batch.state == "pending" and batch.reason == REASON
    # Announced like any pause: the webhook event and the e-mail to the creator.
    changed = [
        json.loads(m.payload)["data"]
        for m in WebhookMessage.objects.filter(event_type="campaign.state_changed")
    ]
    assert any(c["state"] == "paused" and c["previous_state"] == "running" for c in changed)
    assert [m.to for m in mail.outbox if "paused" in m.subject] == [["maker@example.com"]]
    # The reason on the campaign's page and in campaign_status.
    out = io.StringIO()
    call_command("campaign_status", campaign.name, stdout=out)
    assert REASON in out.getvalue()
    client.force_login(creator)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Paused: the next batch could cost up to 0.12 USD" in page

    # Topped up on ITNIO: resuming reads the balance first and sends everything.
    sandbox_state.add_account(API_KEY, account.api_secret, balance="100.00")
    campaign_resume(campaign=campaign, actor=SYSTEM)
    campaign.refresh_from_db()
    account.refresh_from_db()
    assert account.balance == Decimal("100.00")
    assert sorted(sent(sandbox_state)) == sorted(
        Callee.objects.filter(campaign=campaign).values_list("number", flat=True)
    )
    assert campaign.state == "completed"


def test_resuming_without_a_top_up_pauses_again_before_sending(
    campaign, sandbox_state, voice_app, account
):
    import_card(voice_app)
    sandbox_state.add_account(API_KEY, account.api_secret, balance="0.11")
    last_reading(account, balance="0.11")
    launch(campaign)
    assert campaign.state == "paused"
    campaign_resume(campaign=campaign, actor=SYSTEM)
    campaign.refresh_from_db()
    assert campaign.state == "paused" and campaign.state_reason == REASON
    assert sent(sandbox_state) == []


def test_a_balance_that_covers_each_batch_lets_it_go(campaign, sandbox_state, voice_app, account):
    import_card(voice_app)
    last_reading(account, balance="0.12")  # exactly one batch's worst case
    launch(campaign)
    assert len(sent(sandbox_state)) == 35
    assert campaign.state == "completed"


def test_without_a_reading_or_a_rate_nothing_is_guarded(
    campaign, sandbox_state, voice_app, account
):
    """No balance read yet: nothing to compare with. No known rate: no worst case to compare."""
    import_card(voice_app)
    launch(campaign)  # the account was never read
    assert len(sent(sandbox_state)) == 35

    other = Campaign.objects.create(
        name="Unknown rates", app=voice_app, voice_file=campaign.voice_file
    )
    Callee.objects.create(campaign=other, number="6591234567")  # Singapore: no rate
    last_reading(account, balance="0.00")
    launch(other)
    assert "6591234567" in sent(sandbox_state)


def test_costs_in_another_currency_than_the_balance_are_not_compared(
    campaign, sandbox_state, voice_app, account
):
    """A budget in EUR, rates in EUR: the balance (USD) says nothing about them."""
    import_card(voice_app, "prefix,rate,currency,bill_period\n91,0.0120,EUR,60+60\n")
    last_reading(account, balance="0.01")
    start(campaign, "5.00 EUR")
    dispatch.campaign_dispatch(campaign.pk)
    campaign.refresh_from_db()
    assert len(sent(sandbox_state)) == 35
    assert campaign.budget_reserved == 35 * Decimal("0.012")
