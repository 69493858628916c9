"""A portal with something in every box of the operations home, for the tests of the home."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from campaigns.models import AiTask, Call, Callee, Campaign, ItnioAccount, PushEvent
from campaigns.services.reports import refresh_call_stats
from tests.admin_objects import one_of_each


def busy_portal(account: ItnioAccount) -> dict:
    """A portal with something in every box of the home: campaigns in each state, calls today,
    a low balance, trouble in the push inbox and an AI task ITNIO refused; returns one_of_each's
    rows."""
    rows = one_of_each(account)
    campaign = rows[Campaign]
    now = timezone.now()
    Campaign.objects.filter(pk=campaign.pk).update(state="running", launched_at=now)
    voice_file, app = campaign.voice_file, campaign.app
    paused = Campaign.objects.create(
        name="Autumn sale",
        app=app,
        voice_file=voice_file,
        state="paused",
        state_reason="Paused by ops: wrong voice file",
        state_changed_at=now,
    )
    Callee.objects.bulk_create(
        Callee(campaign=paused, number=f"9198000010{i:02}", state=s)
        for i, s in enumerate(["rejected", "rejected", "pending", "unknown"])
    )
    Campaign.objects.create(
        name="Winter wishes",
        app=app,
        voice_file=voice_file,
        state="scheduled",
        scheduled_start=now + timedelta(days=1),
    )
    Campaign.objects.create(
        name="Summer done",
        app=app,
        voice_file=voice_file,
        state="completed",
        state_changed_at=now - timedelta(hours=2),
        completed_at=now - timedelta(hours=2),
    )
    Campaign.objects.create(
        name="Long gone",
        app=app,
        voice_file=voice_file,
        state="completed",
        state_changed_at=now - timedelta(days=30),
    )
    Call.objects.create(
        app=app,
        kind=Call.Kind.TTS,
        state=Call.State.FINAL,
        callee="919800000077",
        voice_id="V77",
        cost=Decimal("1234.5"),
        currency="EUR",
        submit_time=now,
        answer_time=now,
        hangup_time=now,
    )
    # one_of_each's call was placed five minutes ago: yesterday, just after midnight UTC.
    Call.objects.filter(pk=rows[Call].pk).update(submit_time=now, hangup_time=now)
    refresh_call_stats()
    ItnioAccount.objects.filter(pk=account.pk).update(balance=Decimal("3.5"), verified_at=now)
    PushEvent.objects.create(app=app, kind=PushEvent.Kind.VOICE, body="[]", state="failed")
    AiTask.objects.filter(pk=rows[AiTask].pk).update(state=AiTask.State.FAILED)
    return rows
