"""Rates: learned from an app's final records (the newest per calling code, one upsert per
applied batch, and a backfill of the calls from before), imported as a rate card through the
one import pipeline (Admins only, in the app's history); the card wins."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from campaigns.models import AppRate, Call, PushEvent
from campaigns.services import dispatch
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.rates import (
    RateError,
    RateTable,
    billed_seconds,
    rate_card_import,
    rates_backfill,
)
from campaigns.services.tabular import ImportFileError
from tests.conftest import apply_pushes

SYSTEM = Actor.system("test")


def card(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode())


@pytest.mark.parametrize(
    ("duration", "period", "billed"),
    [
        (0, "20+20", 0),
        (5, "20+20", 20),
        (20, "20+20", 20),
        (21, "20+20", 40),
        (41, "20+20", 60),
        (61, "60+60", 120),
        (7, "1+1", 7),
        (31, "30+6", 36),
    ],
)
def test_billed_time_follows_the_bill_period(duration, period, billed):
    assert billed_seconds(duration, period) == billed


@pytest.mark.parametrize("period", ["", "20", "20-20", "0+20", "20+0", "a+b", "20+20+20"])
def test_an_unknown_bill_period_is_refused(period):
    with pytest.raises(RateError, match="is not a bill period"):
        billed_seconds(10, period)


def test_a_rate_card_goes_through_the_import_pipeline(voice_app, admin_user):
    counts = rate_card_import(
        app=voice_app,
        source=card(
            "prefix,rate,currency,bill_period\n"
            "86,0.0240,usd,60+60\n"
            "+65,0.03,USD,60+60\n"
            "0044,0.05,GBP,1+1\n"
            "86,0.0300,USD,60+60\n"
            "x1,0.1,USD,60+60\n"
            "91,-1,USD,60+60\n"
            "92,0.1,US,60+60\n"
            "93,0.1,USD,sixty\n"
            "94,0.12345678,USD,60+60\n"
        ),
        name="card.csv",
        actor=Actor.from_user(admin_user),
    )
    assert (counts.imported, counts.rejected, counts.duplicates) == (3, 5, 1)
    reasons = {r.row: r.reason for r in counts.sample}
    assert reasons[5] == "duplicate of row 2"
    assert reasons[6] == "the prefix must be 1–15 digits"
    assert reasons[7] == "the rate must be 0 or more"
    assert reasons[8] == "the currency must be a three-letter code such as EUR"
    assert "is not a bill period" in reasons[9]
    assert reasons[10] == "the rate has more than 6 decimals"
    rows = {
        r.prefix: (r.rate, r.currency, r.bill_period, r.source)
        for r in AppRate.objects.filter(app=voice_app)
    }
    assert rows == {
        "86": (Decimal("0.024"), "USD", "60+60", "card"),
        "65": (Decimal("0.03"), "USD", "60+60", "card"),
        "44": (Decimal("0.05"), "GBP", "1+1", "card"),
    }
    entry = LogEntry.objects.get(object_id=str(voice_app.pk))
    assert entry.user == admin_user and "card.csv" in entry.change_message


def test_a_rate_card_needs_its_columns_and_an_admin(voice_app, operator):
    with pytest.raises(ImportFileError, match="missing: bill_period"):
        rate_card_import(
            app=voice_app,
            source=card("prefix,rate,currency\n86,1,USD\n"),
            name="c.csv",
            actor=SYSTEM,
        )
    with pytest.raises(PermissionDeniedError, match="Admins only"):
        rate_card_import(
            app=voice_app,
            source=card("prefix,rate,currency,bill_period\n86,1,USD,60+60\n"),
            name="c.csv",
            actor=Actor.from_user(operator),
        )
    assert not AppRate.objects.exists()


def test_import_rates_command(voice_app, tmp_path):
    path = tmp_path / "card.csv"
    path.write_text("prefix,rate,currency,bill_period\n86,0.024,USD,60+60\n", encoding="utf-8")
    out = io.StringIO()
    call_command("import_rates", voice_app.app_id, str(path), stdout=out)
    assert "imported=1 rejected=0 duplicates=0" in out.getvalue()
    with pytest.raises(CommandError, match="No app with ITNIO app ID"):
        call_command("import_rates", "nope", str(path))
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_rates", voice_app.app_id, str(tmp_path / "missing.csv"))


@pytest.mark.django_db(transaction=True)
def test_rates_are_learned_from_pushed_final_records_and_the_card_wins(
    campaign, sandbox_state, voice_app
):
    from campaigns.models import Campaign

    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    sandbox_state.advance()
    bodies = [c.push_body() for c in sandbox_state.calls.values() if c.final]
    PushEvent.objects.create(app=voice_app, kind=PushEvent.Kind.VOICE, body=json.dumps(bodies))
    apply_pushes()
    learned = AppRate.objects.get(app=voice_app, prefix="91")
    # The sandbox's India tariff (itnio_portal/itnio/sandbox/calls.py).
    assert (learned.rate, learned.bill_period, learned.source) == (
        Decimal("0.012"),
        "60+60",
        "learned",
    )
    assert learned.currency in ("", "USD")

    rate_card_import(
        app=voice_app,
        source=card("prefix,rate,currency,bill_period\n91,0.02,USD,20+20\n"),
        name="card.csv",
        actor=SYSTEM,
    )
    assert RateTable.of(voice_app).lookup("919800000001").rate == Decimal("0.02")


def test_the_newest_learned_rate_wins_whatever_the_order(voice_app):
    now = timezone.now()

    def final(voice_id: str, rate: str, minutes_ago: int) -> Call:
        return Call.objects.create(
            app=voice_app,
            kind=Call.Kind.GROUP,
            state=Call.State.FINAL,
            callee="8613800138000",
            voice_id=voice_id,
            hangup_time=now - timedelta(minutes=minutes_ago),
            rate=Decimal(rate),
            currency="USD",
            bill_period="60+60",
        )

    final("new", "0.03", 1)
    final("old", "0.01", 60)
    assert rates_backfill(app=voice_app) == 1
    assert AppRate.objects.get(app=voice_app, prefix="86").rate == Decimal("0.03")
    # An older record applied later does not replace the newer rate.
    from campaigns.services.rates import learn_from_calls

    learn_from_calls([Call.objects.get(voice_id="old")])
    assert AppRate.objects.get(app=voice_app, prefix="86").rate == Decimal("0.03")


def test_the_rate_page_lists_each_rows_source_and_only_admins_change_rates(
    client, voice_app, viewer, operator, admin_user
):
    from django.utils import timezone as tz

    AppRate.objects.create(
        app=voice_app,
        prefix="86",
        rate=Decimal("0.024"),
        currency="USD",
        bill_period="60+60",
        source=AppRate.Source.LEARNED,
        seen_at=tz.now(),
    )
    AppRate.objects.create(
        app=voice_app,
        prefix="65",
        rate=Decimal("0.03"),
        currency="USD",
        bill_period="60+60",
        source=AppRate.Source.CARD,
        seen_at=tz.now(),
    )
    client.force_login(viewer)
    page = client.get("/admin/campaigns/apprate/").content.decode()
    assert "learned from records" in page and "rate card" in page
    assert client.get("/admin/campaigns/apprate/add/").status_code == 403
    client.force_login(operator)
    assert client.get("/admin/campaigns/apprate/add/").status_code == 403
    client.force_login(admin_user)
    rate = AppRate.objects.get(prefix="65")
    response = client.post(
        f"/admin/campaigns/apprate/{rate.pk}/change/",
        {
            "app": voice_app.pk,
            "prefix": "65",
            "rate": "0.04",
            "currency": "USD",
            "bill_period": "60+60",
            "source": "card",
        },
    )
    assert response.status_code == 302
    rate.refresh_from_db()
    assert rate.rate == Decimal("0.04")
    assert LogEntry.objects.filter(object_id=str(rate.pk), user=admin_user).exists()


def test_the_rate_page_says_how_the_apps_records_read_its_rates(client, voice_app, viewer):
    now = timezone.now()
    for i, cost in enumerate(["0.012", "0.012", "0.72"]):  # two per minute, one per second
        Call.objects.create(
            app=voice_app,
            kind=Call.Kind.GROUP,
            state=Call.State.FINAL,
            callee=f"91980000000{i}",
            voice_id=f"u{i}",
            submit_time=now,
            hangup_time=now,
            charged_duration=60,
            rate=Decimal("0.012"),
            cost=Decimal(cost),
        )
    from campaigns.services.rates import unit_check

    assert unit_check(voice_app) == {"calls": 3, "minute": 66.7, "second": 33.3}
    client.force_login(viewer)
    page = client.get("/admin/campaigns/apprate/").content.decode()
    assert "of 3 calls, 66.7 % cost rate × billed time / 60, 33.3 % rate × billed seconds" in page
