"""Pacing: a campaign's rate (numbers per minute) is kept across all of its senders by the
token bucket in its row; the plan shows the expected duration from the rate, the window and the
audience."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from campaigns.models import Campaign
from campaigns.services import dispatch
from campaigns.services.campaign_plan import campaign_plan
from campaigns.services.pacing import Pacer, expected_duration

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_bucket_allows_a_burst_then_the_rate(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(rate_per_minute=120)  # 2 a second
    campaign.refresh_from_db()
    with freeze_time("2026-12-02 10:00:00") as clock:
        pacer = Pacer(campaign)
        assert pacer.take(1000) == 10  # 5 seconds' worth
        assert pacer.wait_s() == pytest.approx(0.5)
        assert Pacer(campaign).take(1000) == 1  # another sender: never 0, but in debt
        assert pacer.wait_s() == pytest.approx(1.0)
        clock.tick(timedelta(seconds=3))
        assert pacer.wait_s() == 0
        assert pacer.take(1000) == 5
        clock.tick(timedelta(minutes=10))
        assert pacer.take(1000) == 10  # the bucket holds 5 seconds, however long it waited


def test_no_rate_means_full_batches_and_no_wait(campaign):
    pacer = Pacer(campaign)
    assert pacer.take(1000) == 1000 and pacer.wait_s() == 0


def test_the_dispatcher_keeps_to_the_rate_across_its_senders(campaign, sandbox_state, settings):
    settings.ITNIO_DISPATCH_CONCURRENCY = 3
    Campaign.objects.filter(pk=campaign.pk).update(state="running", rate_per_minute=240)
    start = timezone.now()
    dispatch.campaign_dispatch(campaign.pk)
    requests = sandbox_state.requests_for("/voice/sendGroup")
    sizes = [len(r.body["callee"].split(",")) for r in requests]
    assert sum(sizes) == 35
    assert max(sizes) <= 20  # the burst: 5 seconds at 4 a second
    elapsed = (timezone.now() - start).total_seconds()
    # 35 numbers at 4 a second with a 20-number burst: at least (35 - 20) / 4 = 3.75 s.
    assert elapsed >= 3.5


def test_expected_duration_from_rate_window_and_audience():
    assert expected_duration(callees=600, rate=60, window_minutes=None) == timedelta(minutes=10)
    # 11 hours a day at 60 a minute: 90,000 callees need 1,500 minutes, two days and 180 minutes.
    assert expected_duration(callees=90000, rate=60, window_minutes=660) == timedelta(
        days=2, minutes=180
    )
    # 5 calling days a week: the 6th full day of calling falls in the next week.
    assert expected_duration(callees=60 * 660 * 6, rate=60, window_minutes=660, days_a_week=5) == (
        timedelta(days=8)
    )
    assert expected_duration(callees=100, rate=None, window_minutes=660) is None


def test_the_plan_shows_rate_and_expected_duration(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        rate_per_minute=1, window_start=time(9), window_end=time(9, 30), window_tz="UTC"
    )
    campaign.refresh_from_db()
    rows = dict(campaign_plan(campaign).rows())
    assert rows["Rate:"] == "1 numbers/min"
    # 35 callees at 1 a minute in a 30-minute window: one full day, then 5 minutes.
    assert rows["Expected duration:"] == "about 1d 0h 5min at 1 numbers/min"
    Campaign.objects.filter(pk=campaign.pk).update(rate_per_minute=None)
    campaign.refresh_from_db()
    rows = dict(campaign_plan(campaign).rows())
    assert rows["Rate:"] == "no limit"
