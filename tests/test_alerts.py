"""Alerts: each condition fires on what it watches and only then; a banner on every admin page
while it fires; one e-mail per crossing to its recipients, none again within the quiet period."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import AlertRule, Call, Campaign, Heartbeat, PushEvent
from campaigns.services.alerts import check_alerts
from tests.campaigns.conftest import campaign, uploaded_file  # noqa: F401  (fixtures)
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(db):
    user = make_staff("ops", "Admin")
    user.email = "ops@example.com"
    user.save()
    return user


def rule(ops, kind: str, **fields) -> AlertRule:
    alert = AlertRule.objects.create(name=kind.replace("_", " "), kind=kind, **fields)
    alert.recipients.add(ops)
    return alert


def failed_pushes(app, n: int) -> None:
    PushEvent.objects.bulk_create(
        [PushEvent(app=app, kind="voice", body="{}", state="failed") for _ in range(n)]
    )


def test_failed_pushes_fire_once_per_crossing_with_a_quiet_period(ops, voice_app, client):
    alert = rule(ops, "pushes_failed", threshold=2, quiet_minutes=30)
    failed_pushes(voice_app, 2)
    assert check_alerts() == 0 and AlertRule.objects.get().firing_since is None
    failed_pushes(voice_app, 1)
    assert check_alerts() == 1
    assert check_alerts() == 0  # still firing: no second e-mail
    [message] = mail.outbox
    assert message.to == ["ops@example.com"] and "pushes failed" in message.subject
    assert "3 pushes failed in the last hour (more than 2)" in message.body
    client.force_login(make_staff("viewer", "Viewer"))
    page = client.get("/admin/campaigns/campaign/").content.decode()
    assert 'id="alerts-banner"' in page and "3 pushes failed in the last hour" in page
    # Cleared, then firing again within the quiet period: banner yes, e-mail no.
    PushEvent.objects.filter(state="failed").update(received_at=timezone.now() - timedelta(hours=2))
    check_alerts()
    assert 'id="alerts-banner"' not in client.get("/admin/").content.decode()
    failed_pushes(voice_app, 3)
    assert check_alerts() == 0 and len(mail.outbox) == 1
    assert AlertRule.objects.get(pk=alert.pk).firing_since is not None
    # After the quiet period a new crossing e-mails again.
    AlertRule.objects.filter(pk=alert.pk).update(
        firing_since=None, notified_at=timezone.now() - timedelta(minutes=31)
    )
    assert check_alerts() == 1 and len(mail.outbox) == 2


def test_a_running_campaigns_low_answer_ratio_over_its_last_calls(ops, campaign):  # noqa: F811
    rule(ops, "asr_low", threshold=50, window=10)
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    now = timezone.now()

    def calls(answered: int, missed: int, start: int) -> None:
        rows = [
            Call(
                app=campaign.app,
                campaign=campaign,
                callee=str(919800100000 + start + i),
                state="submitted",
                hangup_time=now + timedelta(seconds=start + i),
                answer_time=now if i < answered else None,
            )
            for i in range(answered + missed)
        ]
        Call.objects.bulk_create(rows)

    calls(answered=2, missed=3, start=0)
    assert check_alerts() == 0  # 5 final calls: too few to judge
    calls(answered=1, missed=4, start=100)
    assert check_alerts() == 1
    assert "Spring promo 30.0 %" in mail.outbox[0].body
    calls(answered=10, missed=0, start=200)  # the last 10 are all answered
    check_alerts()
    assert AlertRule.objects.get().firing_since is None


def test_spend_unknown_calls_and_silent_workers(ops, voice_app):
    spend = rule(ops, "spend_high", threshold=Decimal("5.00"))
    unknown = rule(ops, "unknown_waiting", threshold=0, window=2)
    silent = rule(ops, "worker_silent", window=5)
    now = timezone.now()
    Call.objects.create(app=voice_app, callee="6591234567", cost=Decimal("7.50"), currency="EUR")
    old = Call.objects.create(app=voice_app, callee="6591234568", state="unknown")
    Call.objects.filter(pk=old.pk).update(created_at=now - timedelta(hours=3))
    Heartbeat.objects.create(name="scheduler", last_seen_at=now)
    Heartbeat.objects.create(name="worker", last_seen_at=now - timedelta(minutes=9))
    assert check_alerts() == 3
    bodies = {m.subject: m.body for m in mail.outbox}
    assert "4luaKsL2 7.50 EUR" in bodies[f"ITNIO Portal alert: {spend.name}"]
    assert (
        "1 calls have been unknown for more than 2 hours"
        in bodies[f"ITNIO Portal alert: {unknown.name}"]
    )
    assert "Not seen for 5 minutes: Task worker" in bodies[f"ITNIO Portal alert: {silent.name}"]
    assert "Scheduler" not in bodies[f"ITNIO Portal alert: {silent.name}"]
