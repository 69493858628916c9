"""The launch plan's cost estimate: per currency the worst case (everyone answers and talks
maxDuration, billed by the billPeriod) and the expected cost (the app's recent answer ratio and
billed time per destination, else the worst case), and the callees without a known rate;
`launch_campaign` prints them as plain key lines."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from django.core.management import call_command
from django.utils import timezone

from campaigns.models import Call, Callee, Campaign, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.campaign_plan import campaign_plan
from campaigns.services.estimate import campaign_estimate
from campaigns.services.rates import rate_card_import

SYSTEM = Actor.system("test")


def import_card(app, rows: str) -> None:
    text = "prefix,rate,currency,bill_period\n" + rows
    rate_card_import(app=app, source=io.BytesIO(text.encode()), name="c.csv", actor=SYSTEM)


def plan_output(campaign: Campaign) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command("launch_campaign", campaign.name, stdout=out, stderr=err)
    return out.getvalue()


def with_max_duration(campaign: Campaign, seconds: int) -> Campaign:
    Campaign.objects.filter(pk=campaign.pk).update(max_duration=seconds)
    campaign.refresh_from_db()
    return campaign


def test_without_history_the_expected_cost_is_the_worst_case(campaign, voice_app):
    import_card(voice_app, "91,0.0120,USD,60+60\n")
    with_max_duration(campaign, 30)  # 30 s talk, billed 60 s: 0.012 per callee
    out = plan_output(campaign)
    assert "worst_case=0.42 USD expected=0.42 USD\n" in out
    assert "unknown_rate=0\n" in out


def test_the_expected_cost_follows_the_apps_recent_records(campaign, voice_app):
    import_card(voice_app, "91,0.0120,USD,60+60\n")
    with_max_duration(campaign, 30)
    now = timezone.now()
    for i, charged in enumerate([60, 60, 0, 0]):  # half answered, 60 s billed each
        Call.objects.create(
            app=voice_app,
            kind=Call.Kind.GROUP,
            state=Call.State.FINAL,
            callee=f"9190000000{i:02d}",
            voice_id=f"h{i}",
            submit_time=now - timedelta(days=1),
            hangup_time=now - timedelta(days=1),
            charged_duration=charged,
        )
    # An old record is no recent history.
    Call.objects.create(
        app=voice_app,
        kind=Call.Kind.GROUP,
        state=Call.State.FINAL,
        callee="919000000099",
        voice_id="old",
        submit_time=now - timedelta(days=90),
        hangup_time=now - timedelta(days=90),
        charged_duration=60,
    )
    estimate = campaign_estimate(campaign)
    assert estimate.worst == {"USD": Decimal("0.42")}
    assert estimate.expected == {"USD": Decimal("0.21")}  # 35 × 0.012 × 30 s / 60 s
    assert "worst_case=0.42 USD expected=0.21 USD" in plan_output(campaign)


def test_bill_period_steps_and_the_per_second_unit(campaign, voice_app):
    import_card(voice_app, "91,0.60,EUR,20+20\n")
    with_max_duration(campaign, 50)  # billed 20 + 20 + 20 = 60 s: 0.60 EUR per callee
    assert campaign_estimate(campaign).worst == {"EUR": Decimal("21.00")}
    ItnioApp.objects.filter(pk=voice_app.pk).update(rate_unit=ItnioApp.RateUnit.PER_SECOND)
    campaign.app.refresh_from_db()
    assert campaign_estimate(campaign).worst == {"EUR": Decimal("1260.00")}  # 0.60 × 60 s × 35
    assert "worst_case=1260.00 EUR expected=1260.00 EUR" in plan_output(campaign)


def test_one_line_per_currency_and_the_callees_without_a_rate(campaign, voice_app):
    import_card(voice_app, "91,0.0120,USD,60+60\n65,0.30,EUR,60+60\n")
    with_max_duration(campaign, 60)
    Callee.objects.create(campaign=campaign, number="6591234567")
    Callee.objects.create(campaign=campaign, number="8613800138000")  # China: no rate
    Callee.objects.create(campaign=campaign, number="8613800138001")
    out = plan_output(campaign)
    lines = [line for line in out.splitlines() if line.startswith("worst_case=")]
    assert lines == [
        "worst_case=0.30 EUR expected=0.30 EUR",
        "worst_case=0.42 USD expected=0.42 USD",
    ]
    assert "unknown_rate=2\n" in out
    rows = dict(campaign_plan(campaign).rows())
    assert rows["No known rate:"] == "2 callees (+86)"
    assert rows["Cost (USD):"] == "worst case 0.42, expected 0.42"


def test_big_amounts_have_no_thousands_separator(campaign, voice_app):
    import_card(voice_app, "91,1000,USD,60+60\n")
    with_max_duration(campaign, 60)
    assert "worst_case=35000.00 USD expected=35000.00 USD" in plan_output(campaign)


def test_the_longest_card_prefix_wins(campaign, voice_app):
    import_card(voice_app, "91,0.0120,USD,60+60\n9198,0.0600,USD,60+60\n")
    with_max_duration(campaign, 60)
    Callee.objects.create(campaign=campaign, number="919100000001")
    assert campaign_estimate(campaign).worst == {"USD": Decimal("2.112")}  # 35 × 0.06 + 0.012
