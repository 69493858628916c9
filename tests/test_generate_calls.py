"""generate_calls: realistic records for load tests, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Call, Campaign, ItnioApp

pytestmark = pytest.mark.django_db


def test_generates_realistic_final_calls(voice_app, capsys):
    call_command("generate_calls", "400", "--days", "7")
    assert "Created 400 calls" in capsys.readouterr().out
    calls = list(Call.objects.all())
    assert len(calls) == 400 and len({c.voice_id for c in calls}) == 400
    assert {c.state for c in calls} == {"final"} and all(c.hangup_time for c in calls)
    answered = [c for c in calls if c.answer_time]
    assert 0.5 < len(answered) / 400 < 0.8
    assert all(c.charged_duration >= c.call_duration for c in answered)
    eur = [c for c in calls if c.currency == "EUR"]
    assert eur and all(c.quote_exchange == Decimal("0.92") and c.settle_pay == c.cost for c in eur)
    assert all(isinstance(c.cost, Decimal) for c in calls)
    assert {c.kind for c in calls} == {"group", "tts", "sip"}


def test_needs_a_voice_app(db):
    with pytest.raises(CommandError) as exc:
        call_command("generate_calls", "10")
    assert exc.value.returncode == 2


def test_spreads_group_calls_over_generated_campaigns(account, voice_app, capsys):
    second = ItnioApp.objects.create(account=account, app_id="SECONDAPP", label="Second")
    call_command("generate_calls", "600", "--campaigns", "5")
    assert "group calls spread over 5 campaigns" in capsys.readouterr().out
    campaigns = list(Campaign.objects.order_by("name"))
    assert [c.name for c in campaigns] == [f"Generated campaign {i}" for i in range(1, 6)]
    assert {c.state for c in campaigns} == {Campaign.State.COMPLETED}
    assert {c.app_id for c in campaigns} == {voice_app.pk, second.pk}
    assert all(c.voice_file.app_id == c.app_id for c in campaigns)
    # Each generated voice file has audio behind its player (the list plays it).
    for voice_file in {c.voice_file for c in campaigns}:
        with voice_file.audio.open("rb") as audio:
            assert audio.read(4) == b"RIFF"
    calls = list(Call.objects.all())
    group = [c for c in calls if c.kind == Call.Kind.GROUP]
    others = [c for c in calls if c.kind != Call.Kind.GROUP]
    assert group and others
    assert all(c.campaign_id is None for c in others)
    per_campaign = Counter(c.campaign_id for c in group)
    assert set(per_campaign) == {c.pk for c in campaigns}
    assert min(per_campaign.values()) > len(group) / 5 / 2  # spread, not piled on one
    app_of = {c.pk: c.app_id for c in campaigns}
    assert all(c.app_id == app_of[c.campaign_id] for c in group)

    # A second run reuses the same campaigns instead of failing on their names.
    call_command("generate_calls", "100", "--campaigns", "5", "--seed", "2")
    assert Campaign.objects.count() == 5
    assert Call.objects.filter(kind=Call.Kind.GROUP, campaign__isnull=True).count() == 0
