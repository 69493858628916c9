"""The bill check: each final call's billed time follows its duration under its billPeriod and
its cost is rate × billed time; the sandbox bills some calls wrongly on request, and the check
flags exactly those, once, on the page, in the CSV and from the command."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from campaigns.models import BillMismatch, Call, PushEvent
from campaigns.services.bill_check import bill_check_due, expected_charge
from tests.conftest import apply_pushes, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


def row(**fields):
    base = {
        "pk": 1,
        "app_id": 1,
        "campaign_id": None,
        "placed_at": datetime(2026, 12, 1, 10, tzinfo=UTC),
        "call_duration": 45,
        "charged_duration": 60,
        "bill_period": "20+20",
        "rate": Decimal("0.060000"),
        "cost": Decimal("0.060000"),
        "currency": "EUR",
    }
    return {**base, **fields}


def test_the_rule_per_bill_period_and_unit():
    assert expected_charge(row(), "minute") is None  # 45 s → 20 + 2 × 20 = 60 s, 0.06
    assert expected_charge(row(call_duration=0, charged_duration=0, cost=0), "minute") is None
    short = expected_charge(row(charged_duration=40, cost=Decimal("0.04")), "minute")
    assert short.kind == "duration" and short.expected_seconds == 60
    assert expected_charge(row(cost=Decimal("0.0603")), "minute") is None  # within 0.5 %
    wrong = expected_charge(row(cost=Decimal("0.0700")), "minute")
    assert wrong.kind == "cost" and wrong.expected_cost == Decimal("0.06")
    per_second = expected_charge(row(cost=Decimal("3.60")), "second")
    assert per_second is None  # 0.06 per billed second × 60 s
    assert expected_charge(row(bill_period="30/6"), "minute").kind == "period"
    assert expected_charge(row(call_duration=61, charged_duration=120, bill_period="60+60",
                               cost=Decimal("0.12")), "minute") is None  # fmt: skip


def test_the_check_flags_the_calls_the_sandbox_billed_wrongly_and_only_those(
    campaign, sandbox_state, voice_app, client
):
    sandbox_state.misbill_next(3, kind="cost")
    sandbox_state.misbill_next(2, kind="duration")
    call_command("launch_campaign", campaign.name, "--for-real")
    sandbox_state.advance()
    bodies = [c.push_body() for c in sandbox_state.calls.values()]
    PushEvent.objects.create(app=voice_app, kind="voice", body=json.dumps(bodies))
    apply_pushes()
    wrong = set(sandbox_state.misbilled)
    assert len(wrong) == 5
    out = io.StringIO()
    call_command("bill_check", stdout=out)
    lines = out.getvalue().splitlines()
    flagged = {line.split()[0] for line in lines if "kind=" in line}
    priced = Call.objects.filter(campaign=campaign, hangup_time__isnull=False, cost__isnull=False)
    assert flagged == wrong
    assert lines[-1] == f"mismatches=5 checked={priced.count()}"
    kinds = dict(BillMismatch.objects.values_list("call__voice_id", "kind"))
    assert sorted(kinds.values()) == ["cost", "cost", "cost", "duration", "duration"]
    assert any(line.startswith("billed=") and "recomputed=" in line for line in lines)
    # Checked once: a second run finds nothing new.
    assert bill_check_due().checked == 0 and BillMismatch.objects.count() == 5
    client.force_login(make_staff("watcher", "Viewer"))
    page = client.get("/admin/campaigns/billmismatch/").content.decode()
    assert 'id="bill-totals"' in page and all(v in page for v in wrong)
    chosen = list(BillMismatch.objects.values_list("pk", flat=True))
    export = client.post(
        "/admin/campaigns/billmismatch/", {"action": "export_csv", "_selected_action": chosen}
    )
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("voice_id,campaign,app,day,kind")
    assert len(text.splitlines()) == 6


def push(voice_app, bodies) -> None:
    PushEvent.objects.create(app=voice_app, kind="voice", body=json.dumps(bodies))
    apply_pushes()


def test_a_later_record_that_changes_the_charge_is_checked_again(
    campaign, sandbox_state, voice_app
):
    """A push (or a sync) that corrects a wrongly billed call clears its mismatch at the next
    check; one that bills a checked call differently flags it; the same record again changes
    nothing."""
    from campaigns.services.calls import call_upsert_record
    from itnio_portal.itnio import VoiceRecord

    sandbox_state.misbill_next(2, kind="cost")
    call_command("launch_campaign", campaign.name, "--for-real")
    sandbox_state.advance()
    bodies = {c.voice_id: c.push_body() for c in sandbox_state.calls.values()}
    push(voice_app, list(bodies.values()))
    bill_check_due()
    first, second = sorted(sandbox_state.misbilled)
    assert set(BillMismatch.objects.values_list("call__voice_id", flat=True)) == {first, second}

    # The same records again (ITNIO retries pushes): nothing is due for the check.
    push(voice_app, list(bodies.values()))
    assert bill_check_due().checked == 0

    # ITNIO corrects the first call's cost; the second is corrected through a record sync.
    fixed = {
        **bodies[first],
        "cost": str(BillMismatch.objects.get(call__voice_id=first).expected_cost),
    }
    push(voice_app, [fixed])
    again = {
        **bodies[second],
        "cost": str(BillMismatch.objects.get(call__voice_id=second).expected_cost),
    }
    call_upsert_record(app=voice_app, record=VoiceRecord.from_api(again), source="sync")
    # And a call that was billed right is billed again at double its cost.
    answered = next(
        v
        for v, b in bodies.items()
        if v not in (first, second) and Decimal(str(b["cost"] or 0)) > 0
    )
    doubled = {**bodies[answered], "cost": str(Decimal(str(bodies[answered]["cost"])) * 2)}
    push(voice_app, [doubled])

    assert bill_check_due().checked == 3
    assert list(BillMismatch.objects.values_list("call__voice_id", "kind")) == [(answered, "cost")]
    mismatch = BillMismatch.objects.get()
    assert mismatch.cost == Decimal(str(doubled["cost"]))
    assert mismatch.expected_cost == Decimal(str(bodies[answered]["cost"]))
    assert not Call.objects.filter(bill_checked_at__isnull=True, cost__isnull=False).exists()
