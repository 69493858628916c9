"""Budget caps that hold: the dispatcher never claims a batch whose worst case, added to what is
billed and the worst case of the calls not final yet, would exceed the budget; it waits while
open calls may free room, pauses at the budget when nothing is open, and continues when the
budget is raised. The proof pushes the sandbox's costs late and out of order and checks the
billed total after every step."""

from __future__ import annotations

import io
import json
import random
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from campaigns.models import Call, Callee, Campaign, PushEvent
from campaigns.services import dispatch
from campaigns.services.actors import Actor
from campaigns.services.budgets import BudgetError, budget_set, parse_budget
from campaigns.services.campaigns import CampaignError
from campaigns.services.rates import rate_card_import
from tests.conftest import apply_pushes

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")
SEND = "/voice/sendGroup"
# The sandbox bills India 0.0120 USD per minute, 60+60 (itnio_portal/itnio/sandbox/calls.py).
CARD = "prefix,rate,currency,bill_period\n91,0.0120,USD,60+60\n"
WORST = Decimal("0.012")  # one answered call of at most 30 s: 60 s billed


@pytest.fixture(autouse=True)
def _lives_by_number(monkeypatch):
    """Who answers follows the number alone (the sandbox hashes the voiceId too, which holds the
    clock): the same callees answer in every run, so the budget is reached in every run."""
    from itnio_portal.itnio.sandbox import calls as sandbox_calls

    hashed = sandbox_calls._fractions
    monkeypatch.setattr(sandbox_calls, "_fractions", lambda _voice_id, callee: hashed("", callee))


def import_card(app, text: str = CARD) -> None:
    rate_card_import(app=app, source=io.BytesIO(text.encode()), name="card.csv", actor=SYSTEM)


def sent(sandbox_state) -> list[str]:
    return [n for r in sandbox_state.requests_for(SEND) for n in r.body["callee"].split(",")]


def billed_for_real(campaign: Campaign) -> Decimal:
    """What the campaign's final records cost, summed from the calls (not the running total)."""
    total = Call.objects.filter(campaign=campaign, hangup_time__isnull=False).aggregate(
        s=Sum("cost")
    )["s"]
    return total or Decimal(0)


def check_invariant(campaign: Campaign) -> None:
    campaign.refresh_from_db()
    real = billed_for_real(campaign)
    assert real <= campaign.budget_amount
    assert campaign.budget_billed == real
    assert campaign.budget_billed + campaign.budget_reserved <= campaign.budget_amount
    assert campaign.budget_reserved >= 0


def start(campaign: Campaign, budget: str) -> None:
    amount, currency = parse_budget(budget)
    Campaign.objects.filter(pk=campaign.pk).update(max_duration=30)
    campaign.refresh_from_db()
    budget_set(campaign=campaign, amount=amount, currency=currency, actor=SYSTEM)
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign.refresh_from_db()


def push_late_and_out_of_order(sandbox_state, voice_app, pushed: set[str], rng, campaign):
    """Every final record not pushed yet, shuffled, three per push entry (some twice), with the
    invariant checked after each entry is applied."""
    sandbox_state.advance()
    finals = [c for c in sandbox_state.calls.values() if c.final and c.voice_id not in pushed]
    rng.shuffle(finals)
    for start_at in range(0, len(finals), 3):
        chunk = finals[start_at : start_at + 3]
        bodies = [c.push_body() for c in chunk]
        if rng.random() < 0.5:
            bodies.append(bodies[0])  # ITNIO retries pushes: the same final record again
        PushEvent.objects.create(app=voice_app, kind=PushEvent.Kind.VOICE, body=json.dumps(bodies))
        apply_pushes()
        pushed.update(c.voice_id for c in chunk)
        check_invariant(campaign)


def test_billed_never_exceeds_a_budget_of_about_half_the_audience(
    campaign, sandbox_state, voice_app
):
    import_card(voice_app)
    start(campaign, "0.21 USD")  # 17 of the 35 callees' worst case
    assert set(Callee.objects.filter(campaign=campaign).values_list("worst_cost", flat=True)) == {
        WORST
    }

    dispatch.campaign_dispatch(campaign.pk)
    assert len(sent(sandbox_state)) == 17  # 10, then the 7 that fit
    check_invariant(campaign)
    assert campaign.state == "running" and campaign.budget_waiting
    assert "Waiting for budget room" in campaign.state_reason
    assert campaign.budget_reserved == 17 * WORST

    rng = random.Random(16)
    pushed: set[str] = set()
    for _round in range(20):
        push_late_and_out_of_order(sandbox_state, voice_app, pushed, rng, campaign)
        dispatch.campaign_dispatch(campaign.pk)  # as the tick would, as records free room
        check_invariant(campaign)
        if campaign.state != "running":
            break
    assert campaign.state == "paused"
    assert campaign.state_reason == (
        f"Budget reached: spent {campaign.budget_billed.quantize(Decimal('0.01'))} USD of 0.21 USD."
    )
    # Every call is final, and not one more callee's worst case fits.
    assert campaign.budget_reserved == 0
    assert campaign.budget_billed + WORST > campaign.budget_amount
    left = Callee.objects.filter(campaign=campaign, state="pending").count()
    assert 0 < left < 35 - 17
    numbers = sent(sandbox_state)
    assert len(numbers) == len(set(numbers)) == 35 - left

    # Raising the budget continues it (set_budget), and the rest is sent.
    out = io.StringIO()
    call_command("set_budget", campaign.name, "1.00 USD", stdout=out)
    campaign.refresh_from_db()
    assert len(set(sent(sandbox_state))) == 35
    push_late_and_out_of_order(sandbox_state, voice_app, pushed, rng, campaign)
    dispatch.campaign_dispatch(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.state == "completed"
    assert campaign.budget_reserved == 0
    assert campaign.budget_billed == billed_for_real(campaign) <= Decimal("1.00")


def test_a_smaller_batch_that_fits_is_claimed(campaign, sandbox_state, voice_app):
    import_card(voice_app)
    start(campaign, "0.05 USD")  # 4 callees' worst case, less than a batch of 10
    dispatch.campaign_dispatch(campaign.pk)
    assert len(sent(sandbox_state)) == 4
    campaign.refresh_from_db()
    assert campaign.budget_reserved == 4 * WORST


def test_a_budget_that_fits_nobody_pauses_at_once(campaign, sandbox_state, voice_app):
    import_card(voice_app)
    start(campaign, "0.01 USD")
    dispatch.campaign_dispatch(campaign.pk)
    campaign.refresh_from_db()
    assert sent(sandbox_state) == []
    assert campaign.state == "paused"
    assert campaign.state_reason == "Budget reached: spent 0.00 USD of 0.01 USD."


def subscribed_and_created(campaign: Campaign, events: list[str]):
    """A webhook subscriber to `events`, and the campaign's creator (an Operator with an
    e-mail address), who hear of its pauses."""
    from campaigns.models import WebhookSubscription
    from tests.conftest import make_staff

    WebhookSubscription.objects.create(
        url="https://hooks.example.com/itnio", events=events, secret="whsec_" + "A" * 43
    )
    creator = make_staff("maker", "Operator")
    creator.email = "maker@example.com"
    creator.save()
    Campaign.objects.filter(pk=campaign.pk).update(created_by="maker")
    return creator


def test_reaching_the_budget_is_announced_like_any_pause(campaign, sandbox_state, voice_app):
    """campaign.budget_reached and campaign.state_changed for webhook subscribers, and the pause
    e-mail to the campaign's creator."""
    from django.core import mail

    from campaigns.models import WebhookMessage

    subscribed_and_created(campaign, ["campaign.budget_reached", "campaign.state_changed"])
    import_card(voice_app)
    start(campaign, "0.01 USD")
    dispatch.campaign_dispatch(campaign.pk)
    reached = WebhookMessage.objects.get(event_type="campaign.budget_reached")
    body = json.loads(reached.payload)["data"]
    assert body["name"] == campaign.name and body["budget"]["amount"].startswith("0.01")
    changed = [
        json.loads(m.payload)["data"]
        for m in WebhookMessage.objects.filter(event_type="campaign.state_changed")
    ]
    assert any(c["state"] == "paused" and c["previous_state"] == "running" for c in changed)
    assert [m.to for m in mail.outbox if "paused" in m.subject] == [["maker@example.com"]]


def test_a_budgeted_campaign_with_callees_of_unknown_rate_cannot_launch(
    campaign, sandbox_state, voice_app
):
    import_card(voice_app)
    Callee.objects.create(campaign=campaign, number="6591234567")  # Singapore: no rate
    amount, currency = parse_budget("6.00 USD")
    budget_set(campaign=campaign, amount=amount, currency=currency, actor=SYSTEM)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("launch_campaign", campaign.name, "--for-real", stdout=out, stderr=err)
    assert "1 callees have no known rate (+65)" in err.getvalue()
    assert "unknown_rate=1" in out.getvalue()
    assert sent(sandbox_state) == []
    campaign.refresh_from_db()
    assert campaign.state == "draft"


def test_costs_in_another_currency_are_not_netted(campaign, sandbox_state, voice_app):
    import_card(voice_app, "prefix,rate,currency,bill_period\n91,0.0120,EUR,60+60\n")
    amount, currency = parse_budget("6.00 USD")
    budget_set(campaign=campaign, amount=amount, currency=currency, actor=SYSTEM)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("launch_campaign", campaign.name, stdout=out, stderr=err)
    assert "35 callees have a rate in another currency than the budget's USD" in err.getvalue()
    assert not Callee.objects.filter(campaign=campaign, worst_cost__isnull=False).exists()


def test_create_campaign_and_set_budget_read_the_budget(campaign, voice_app):
    out = io.StringIO()
    call_command("set_budget", campaign.name, "8.00 EUR", stdout=out)
    campaign.refresh_from_db()
    assert (campaign.budget_amount, campaign.budget_currency) == (Decimal("8.00"), "EUR")
    assert "budget=8.00 EUR" in out.getvalue()
    for bad in ("8", "EUR 8", "-1 EUR", "0 EUR", "1.1234567 EUR", "lots"):
        with pytest.raises(BudgetError):
            parse_budget(bad)
    with pytest.raises(CommandError, match="A budget is an amount and a currency"):
        call_command("set_budget", campaign.name, "eight euros")
    call_command("set_budget", campaign.name, "none", stdout=out)
    campaign.refresh_from_db()
    assert campaign.budget_amount is None


def test_a_running_campaign_is_not_given_a_budget_behind_its_dispatcher(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign.refresh_from_db()
    with pytest.raises(CampaignError, match="Pause the campaign first"):
        budget_set(campaign=campaign, amount=Decimal(5), currency="USD", actor=SYSTEM)


def test_the_launch_page_shows_the_estimate_and_the_budget(client, operator, campaign, voice_app):
    import_card(voice_app)
    Campaign.objects.filter(pk=campaign.pk).update(max_duration=30)
    amount, currency = parse_budget("0.21 USD")
    budget_set(campaign=campaign, amount=amount, currency=currency, actor=SYSTEM)
    client.force_login(operator)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/launch/").content.decode()
    assert "worst case 0.42, expected 0.42" in page
    assert "0.21 USD" in page and 'id="confirm-launch"' in page


def test_the_campaign_form_takes_a_budget_in_draft_only(client, operator, campaign):
    client.force_login(operator)
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="budget_amount"' in page and 'name="budget_currency"' in page
    Campaign.objects.filter(pk=campaign.pk).update(state="paused")
    page = client.get(url).content.decode()
    assert 'name="budget_amount"' not in page  # after launch: set_budget


def test_the_budget_form_check(campaign):
    from campaigns.admin.campaigns import CampaignForm

    data = {
        "name": "X",
        "app": campaign.app_id,
        "voice_file": campaign.voice_file_id,
        "window_tz": "UTC",
        "retries": 0,
        "retry_after_minutes": 60,
    }

    class Form(CampaignForm):
        class Meta(CampaignForm.Meta):
            fields = [*CampaignForm.Meta.fields, "budget_amount", "budget_currency"]

    form = Form(data={**data, "budget_amount": "6", "budget_currency": ""})
    assert not form.is_valid() and "Give both parts of the budget" in str(form.errors)
    form = Form(data={**data, "budget_amount": "6", "budget_currency": "euro"})
    assert not form.is_valid() and "three-letter code" in str(form.errors)
    form = Form(data={**data, "budget_amount": "6", "budget_currency": "eur"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["budget_currency"] == "EUR"


def recounted(campaign: Campaign) -> tuple[Decimal, Decimal]:
    """The totals summed from scratch (what the running totals must always equal)."""
    from campaigns.services.budgets import recount

    campaign.refresh_from_db()
    kept = (campaign.budget_billed, campaign.budget_reserved)
    recount(campaign)
    campaign.refresh_from_db()
    assert (campaign.budget_billed, campaign.budget_reserved) == kept
    return kept


def test_rejected_numbers_and_released_unknowns_give_their_reservation_back(
    campaign, sandbox_state, voice_app
):
    from campaigns.services.campaigns import campaign_release_unknown

    import_card(voice_app)
    Callee.objects.create(campaign=campaign, number="919800000000")  # the sandbox refuses it
    start(campaign, "1.00 USD")
    sandbox_state.faults.drop_next(SEND)  # the first batch's outcome is unknown
    dispatch.campaign_dispatch(campaign.pk)
    assert Callee.objects.filter(campaign=campaign, state="rejected").count() == 1
    assert Callee.objects.filter(campaign=campaign, state="unknown").count() == 10
    # 35 claimed and not final (10 of them unknown: they may have been placed), 1 refused.
    assert recounted(campaign) == (Decimal(0), 35 * WORST)

    campaign_release_unknown(campaign=campaign, actor=SYSTEM)  # sent again at once
    assert Callee.objects.filter(campaign=campaign, state="submitted").count() == 35
    assert recounted(campaign) == (Decimal(0), 35 * WORST)

    pushed: set[str] = set()
    push_late_and_out_of_order(sandbox_state, voice_app, pushed, random.Random(1), campaign)
    billed, reserved = recounted(campaign)
    assert reserved == 0  # every call of the campaign is final
    assert billed == billed_for_real(campaign) > 0


def test_create_campaign_takes_a_budget(uploaded_file, voice_app, operator):
    from django.contrib.admin.models import LogEntry

    from tests.conftest import VOICE_APP_ID

    out = io.StringIO()
    call_command(
        "create_campaign",
        "Budgeted",
        "--app",
        VOICE_APP_ID,
        "--voice-file",
        uploaded_file.file_name,
        "--budget",
        "6.00 EUR",
        "--frequency-cap",
        "none",
        stdout=out,
    )
    assert "budget=6.00 EUR" in out.getvalue()
    campaign = Campaign.objects.get(name="Budgeted")
    assert (campaign.budget_amount, campaign.budget_currency) == (Decimal("6.00"), "EUR")
    with pytest.raises(CommandError, match="--budget: A budget is an amount and a currency"):
        call_command(
            "create_campaign",
            "Other",
            "--app",
            VOICE_APP_ID,
            "--voice-file",
            uploaded_file.file_name,
            "--budget",
            "6 euros",
        )
    call_command("set_budget", "Budgeted", "7.50 EUR", "--as", "operator", stdout=out)
    entry = LogEntry.objects.get(object_id=str(campaign.pk))
    assert entry.user == operator and entry.change_message == "Budget set to 7.50 EUR"


def test_a_refused_batch_gives_its_reservation_back_and_is_claimed_again_within_budget(
    campaign, sandbox_state, voice_app
):
    from campaigns.services.campaigns import campaign_resume

    import_card(voice_app)
    start(campaign, "0.21 USD")
    sandbox_state.faults.business_code_next(SEND, "-10", "insufficient balance")
    dispatch.campaign_dispatch(campaign.pk)
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    # The refused batch reserved nothing any more; the other batch claimed before the refusal
    # (10 + 7 fit the budget) may have gone out, whichever of the two was refused; nothing
    # claimed after the refusal (from the room it gave back) is sent.
    placed = sum(sandbox_state.accepted_callees().values())
    assert placed in (0, 7, 10)
    assert recounted(campaign) == (Decimal(0), placed * WORST)

    campaign_resume(campaign=campaign, actor=SYSTEM)  # the immediate backend dispatches
    assert sum(sandbox_state.accepted_callees().values()) == 17
    assert recounted(campaign) == (Decimal(0), 17 * WORST)
    check_invariant(campaign)


def test_the_apps_daily_cap_holds_across_its_campaigns(campaign, sandbox_state, voice_app):
    from campaigns.models import ItnioApp

    import_card(voice_app)
    ItnioApp.objects.filter(pk=voice_app.pk).update(
        daily_cap_amount=Decimal("0.12"), daily_cap_currency="USD"
    )
    start(campaign, "1.00 USD")  # the budget allows all 35: the cap allows 10 today
    dispatch.campaign_dispatch(campaign.pk)
    assert len(sent(sandbox_state)) == 10
    campaign.refresh_from_db()
    assert campaign.state == "running" and campaign.budget_waiting

    pushed: set[str] = set()
    push_late_and_out_of_order(sandbox_state, voice_app, pushed, random.Random(3), campaign)
    voice_app.refresh_from_db()
    billed_today = billed_for_real(campaign)
    assert voice_app.daily_billed == billed_today > 0
    dispatch.campaign_dispatch(campaign.pk)  # the unanswered calls' worst case came back
    voice_app.refresh_from_db()
    campaign.refresh_from_db()
    assert billed_today + campaign.budget_reserved <= Decimal("0.12")
    assert campaign.state == "running"
    assert campaign.state_reason == "Waiting for the app's daily cap (billed today and reserved)."


def test_the_app_form_checks_the_daily_cap(client, admin_user, voice_app):
    client.force_login(admin_user)
    url = f"/admin/campaigns/itnioapp/{voice_app.pk}/change/"
    base = {
        "account": voice_app.account_id,
        "app_id": voice_app.app_id,
        "kind": "voice",
        "label": "Acme voice",
        "active": "on",
        "rate_unit": "minute",
    }
    page = client.post(url, {**base, "daily_cap_amount": "5", "daily_cap_currency": ""})
    assert "Give both parts of the daily cap, or neither." in page.content.decode()
    response = client.post(url, {**base, "daily_cap_amount": "5", "daily_cap_currency": "eur"})
    assert response.status_code == 302
    voice_app.refresh_from_db()
    assert (voice_app.daily_cap_amount, voice_app.daily_cap_currency) == (Decimal(5), "EUR")


def test_the_daily_cap_counts_every_campaign_of_the_app_with_a_budget_or_not(
    campaign, sandbox_state, voice_app, uploaded_file
):
    """Two campaigns on one capped app, one without a budget: the app's billed total of the day
    never exceeds the cap, whichever campaign sends, as records arrive late and out of order."""
    from campaigns.models import ItnioApp
    from tests.campaigns.conftest import add_callees

    import_card(voice_app)
    ItnioApp.objects.filter(pk=voice_app.pk).update(
        daily_cap_amount=Decimal("0.24"),
        daily_cap_currency="USD",  # 20 callees' worst case
    )
    start(campaign, "1.00 USD")  # its budget allows all 35: the cap does not
    plain = Campaign.objects.create(
        name="No budget", app=voice_app, voice_file=uploaded_file, max_duration=30
    )
    add_callees(plain, 35, start=919800000101)
    call_command("launch_campaign", plain.name, "--for-real", stdout=io.StringIO())
    plain.refresh_from_db()
    assert set(Callee.objects.filter(campaign=plain).values_list("worst_cost", flat=True)) == {
        WORST
    }

    def check_cap() -> None:
        voice_app.refresh_from_db()
        calls = Call.objects.filter(app=voice_app, hangup_time__isnull=False)
        real = calls.aggregate(s=Sum("cost"))["s"] or Decimal(0)
        reserved = Campaign.objects.filter(app=voice_app).aggregate(s=Sum("budget_reserved"))["s"]
        assert real <= Decimal("0.24")
        assert voice_app.daily_billed == real
        assert real + reserved <= Decimal("0.24")

    # The launch dispatched the campaign without a budget: it took all the cap's room.
    assert len(sent(sandbox_state)) == 20
    assert Callee.objects.filter(campaign=plain, state="pending").count() == 15
    plain.refresh_from_db()
    assert plain.state == "running" and plain.budget_reserved == 20 * WORST
    dispatch.campaign_dispatch(campaign.pk)
    assert len(sent(sandbox_state)) == 20
    for each in (campaign, plain):
        dispatch.campaign_dispatch(each.pk)
        each.refresh_from_db()
        assert each.state == "running" and each.budget_waiting
        assert each.state_reason == "Waiting for the app's daily cap (billed today and reserved)."
    check_cap()

    rng = random.Random(5)
    pushed: set[str] = set()
    for _round in range(12):
        push_late_and_out_of_order(sandbox_state, voice_app, pushed, rng, campaign)
        check_cap()
        for each in rng.sample([campaign, plain], 2):  # as the tick would, in any order
            dispatch.campaign_dispatch(each.pk)
            check_cap()
    plain.refresh_from_db()
    # Both sent as records freed room; the one without a budget was charged for its calls.
    assert Callee.objects.filter(campaign=campaign).exclude(state="pending").exists()
    assert plain.budget_billed == billed_for_real(plain) > 0
    assert 20 < len(sent(sandbox_state)) < 70


def test_without_a_budget_on_a_capped_app_every_callee_needs_a_known_rate(
    campaign, sandbox_state, voice_app
):
    from campaigns.models import ItnioApp

    import_card(voice_app)
    Callee.objects.create(campaign=campaign, number="6591234567")  # Singapore: no rate
    ItnioApp.objects.filter(pk=voice_app.pk).update(
        daily_cap_amount=Decimal("5"), daily_cap_currency="USD"
    )
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("launch_campaign", campaign.name, "--for-real", stdout=out, stderr=err)
    assert "1 callees have no known rate in USD: the app's daily cap of 5.00 USD" in err.getvalue()
    assert sent(sandbox_state) == []
    ItnioApp.objects.filter(pk=voice_app.pk).update(daily_cap_amount=None, daily_cap_currency="")
    call_command("launch_campaign", campaign.name, "--for-real", stdout=out, stderr=err)
    assert len(sent(sandbox_state)) == 36  # no cap: a number of unknown rate is called
