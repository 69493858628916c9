"""generate_calls: realistic records for load tests, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Call

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
