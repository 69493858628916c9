"""E-mail reports: a user's daily report carries the dashboard's numbers for the same day and
its CSV; sent once per period at the user's hour (a missed hour is caught up); a campaign's
creator and subscribers hear of its pause and completion; each user manages their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from campaigns.models import Call, Campaign, ReportSubscription
from campaigns.services.actors import Actor
from campaigns.services.campaigns import campaign_pause
from campaigns.services.email_reports import reports_send_due
from campaigns.services.reports import refresh_call_stats
from tests.campaigns.conftest import campaign, uploaded_file  # noqa: F401  (fixtures)
from tests.conftest import make_staff
from tests.test_reports import csv_figures, page_figures

pytestmark = pytest.mark.django_db


@pytest.fixture
def watcher(db):
    user = make_staff("watcher", "Viewer")
    user.email = "watcher@example.com"
    user.save()
    return user


@pytest.fixture
def calls(voice_app):
    call_command("generate_calls", "400", "--days", "6", "--campaigns", "2")
    refresh_call_stats()
    Call.objects.filter(pk__in=Call.objects.order_by("pk").values("pk")[:15]).update(
        cost=Decimal("1.25")
    )


def busiest_day():
    """A day with calls, not today (a report covers finished days)."""
    today = datetime.now(UTC).date()
    placed = Call.objects.exclude(placed_at__date=today).order_by("-placed_at").first().placed_at
    return placed.astimezone(UTC).date()


def test_the_daily_report_carries_the_dashboards_numbers_for_that_day(calls, watcher):
    day = busiest_day()
    ReportSubscription.objects.create(user=watcher, hour=6)
    sent_at = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    assert reports_send_due(now=sent_at.replace(hour=5)) == 0  # not its hour yet
    assert reports_send_due(now=sent_at.replace(hour=6, minute=3)) == 1
    assert reports_send_due(now=sent_at.replace(hour=7)) == 0  # once per period
    [message] = mail.outbox
    assert message.to == ["watcher@example.com"] and day.isoformat() in message.subject
    client = Client()
    client.force_login(watcher)
    query = f"?since={day}&until={day}"
    dashboard = page_figures(client.get(reverse("admin:campaigns_call_dashboard") + query).text)
    summary = dashboard["summary"]
    assert f"Calls: {summary['Calls']:,}" in message.body
    assert f"Answered: {summary['Answered']:,}" in message.body
    assert f"ASR %: {summary['ASR %']}" in message.body
    name, attachment, mimetype = message.attachments[0]
    assert name == f"calls-{day}-{day}.csv" and mimetype.startswith("text/csv")
    assert csv_figures(attachment)["summary"] == summary
    busy = Campaign.objects.filter(calls__placed_at__date=day).first()
    assert busy is not None
    assert f"{busy.name}: " in message.body and "Per campaign:" in message.body


def test_a_missed_hour_is_caught_up_and_weekly_reports_cover_monday_to_sunday(calls, watcher):
    weekly = ReportSubscription.objects.create(user=watcher, frequency="weekly", hour=8)
    wednesday = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # after the Monday it was due
    assert reports_send_due(now=wednesday) == 1
    weekly.refresh_from_db()
    assert str(weekly.last_period) == "2026-11-23"
    assert "2026-11-23 – 2026-11-29" in mail.outbox[0].subject


def test_a_report_that_cannot_be_sent_is_tried_again(calls, watcher, monkeypatch):
    ReportSubscription.objects.create(user=watcher, hour=0)
    now = datetime.now(UTC)

    def broken(self, fail_silently=False):
        raise OSError("SMTP server down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", broken)
    assert reports_send_due(now=now) == 0
    assert ReportSubscription.objects.get().last_period is None
    monkeypatch.undo()
    assert reports_send_due(now=now) == 1


def test_the_creator_and_subscribers_hear_of_a_pause(
    campaign,  # noqa: F811  (the fixture)
    watcher,
    operator,
    django_capture_on_commit_callbacks,
):
    operator.email = "op@example.com"
    operator.save()
    Campaign.objects.filter(pk=campaign.pk).update(state="running", created_by="operator")
    ReportSubscription.objects.create(user=watcher, campaign=campaign)
    campaign.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        campaign_pause(campaign=campaign, actor=Actor.from_user(operator), reason="Lunch break")
    [message] = mail.outbox
    assert sorted(message.to) == ["op@example.com", "watcher@example.com"]
    assert message.subject == "Campaign Spring promo: paused"
    assert "Lunch break" in message.body


def test_each_user_sees_and_subscribes_only_their_own(client, watcher, admin_user, voice_app):
    other = ReportSubscription.objects.create(user=admin_user)
    client.force_login(watcher)
    page = client.get("/admin/campaigns/reportsubscription/").content.decode()
    assert f"/reportsubscription/{other.pk}/change/" not in page
    assert client.get(f"/admin/campaigns/reportsubscription/{other.pk}/change/").status_code in (
        302,
        404,
    )
    response = client.post(
        "/admin/campaigns/reportsubscription/add/",
        {"frequency": "daily", "hour": "9", "active": "on", "user": admin_user.pk},
    )
    assert response.status_code == 302
    mine = ReportSubscription.objects.exclude(pk=other.pk).get()
    assert mine.user == watcher and mine.hour == 9
    bad = client.post(
        "/admin/campaigns/reportsubscription/add/", {"frequency": "daily", "hour": "24"}
    )
    assert bad.status_code == 200 and "less than or equal to 23" in bad.content.decode()
