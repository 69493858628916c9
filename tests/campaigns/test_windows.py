"""Calling windows in the callee's local time: New York, London and Singapore numbers with a
frozen clock, +1 800 skipped (no window), daylight saving, the fallback zone, the command's
flags and the form's errors; the fixed-zone window of existing campaigns is unchanged."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone
from freezegun import freeze_time

from campaigns.admin.campaigns import CampaignForm
from campaigns.models import Callee, Campaign, ZoneSet
from campaigns.services import dispatch, windows
from campaigns.services.actors import Actor
from campaigns.services.campaign_plan import campaign_plan
from campaigns.services.campaign_state import in_calling_window
from campaigns.services.campaigns import campaign_launch, campaigns_tick
from campaigns.services.claim_rules import sendable_callees
from campaigns.services.windows import (
    Window,
    WindowError,
    never_open,
    parse_days,
    parse_skip_dates,
    waiting_for_window,
    zones_for_number,
)
from tests.pg import postgresql_only

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")
NEW_YORK, LONDON, SINGAPORE, TOLL_FREE, UNKNOWN = (
    "12125550123",
    "442079460018",
    "6561234567",
    "18005550199",
    "15555550123",
)
# 2026-12-02 14:00 UTC: 09:00 in New York, 14:00 in London, 22:00 in Singapore.
AFTERNOON_UTC = "2026-12-02 14:00:00"


@pytest.fixture
def local_campaign(campaign):
    Callee.objects.filter(campaign=campaign).delete()
    for number in (NEW_YORK, LONDON, SINGAPORE, TOLL_FREE):
        Callee.objects.create(campaign=campaign, number=number)
    Campaign.objects.filter(pk=campaign.pk).update(
        window_start=time(9), window_end=time(20), window_callee_local=True
    )
    campaign.refresh_from_db()
    windows.zone_sets_assign(campaign)
    return campaign


def claimable(campaign: Campaign) -> set[str]:
    campaign.refresh_from_db()
    return set(sendable_callees(campaign).values_list("number", flat=True))


def test_zones_come_from_the_number_or_the_timezone_column():
    assert zones_for_number(NEW_YORK) == ("America/New_York",)
    assert zones_for_number(SINGAPORE) == ("Asia/Singapore",)
    assert "Europe/London" in zones_for_number("447911123456")
    assert zones_for_number(UNKNOWN) == ()  # Etc/Unknown: the fallback zone
    assert zones_for_number(NEW_YORK, "America/Los_Angeles") == ("America/Los_Angeles",)
    assert zones_for_number(NEW_YORK, "Mars/Olympus") == ("America/New_York",)


def test_zone_sets_are_shared_and_assigned_in_bulk(local_campaign, django_assert_max_num_queries):
    Callee.objects.create(campaign=local_campaign, number="12125550124")
    with django_assert_max_num_queries(8):  # not a query per callee
        assert windows.zone_sets_assign(local_campaign) == 1
    ny = Callee.objects.filter(number__startswith="1212").values_list("zone_set__key", flat=True)
    assert set(ny) == {"America/New_York"}
    assert ZoneSet.objects.filter(key="America/New_York").count() == 1


def test_only_the_callees_inside_their_local_window_are_claimed(local_campaign):
    with freeze_time(AFTERNOON_UTC):
        assert claimable(local_campaign) == {NEW_YORK, LONDON}
    with freeze_time("2026-12-02 02:00:00"):  # 21:00 NY, 02:00 London, 10:00 Singapore
        assert claimable(local_campaign) == {SINGAPORE}
    with freeze_time("2026-12-02 12:00:00"):  # 07:00 NY, 12:00 London, 20:00 Singapore
        assert claimable(local_campaign) == {LONDON}


def test_toll_free_zones_share_a_half_hour_in_winter_and_none_in_summer(local_campaign):
    zones = zones_for_number(TOLL_FREE)  # Guam to Pago Pago
    window = Window(time(9), time(20))
    assert not never_open(window, zones, date(2026, 12, 2))
    assert windows.next_opening(window, zones, datetime(2026, 12, 2, 14, tzinfo=UTC)) == (
        datetime(
            2026, 12, 2, 23, 0, tzinfo=UTC
        )  # 09:00 in Guam, 12:00 in Pago Pago … 19:30 St John's
    )
    with freeze_time("2026-12-02 23:15:00"):
        assert TOLL_FREE in claimable(local_campaign)
    with freeze_time("2026-12-02 23:30:00"):
        assert TOLL_FREE not in claimable(local_campaign)  # 20:00 in St John's
    assert never_open(window, zones, date(2026, 7, 1))  # St John's is half an hour ahead


@freeze_time("2026-07-01 14:00:00")
def test_toll_free_numbers_have_no_window_and_are_skipped_at_launch(local_campaign):
    plan = campaign_plan(local_campaign)
    assert plan.preflight.skipped["no_window"] == 1
    assert plan.preflight.will_call == 3
    assert any("no window" in str(label) and n == 1 for _k, label, n in plan.preflight.rows())
    Campaign.objects.filter(pk=local_campaign.pk).update(
        scheduled_start=datetime(2030, 1, 1, tzinfo=UTC)
    )
    local_campaign.refresh_from_db()
    campaign_launch(campaign=local_campaign, actor=SYSTEM)
    toll_free = Callee.objects.get(number=TOLL_FREE)
    assert (toll_free.state, toll_free.skip_reason) == ("skipped", "no-window")
    out = io.StringIO()
    call_command("campaign_status", local_campaign.name, stdout=out)
    assert "skipped_no_window=1" in out.getvalue()


def test_waiting_callees_are_shown_per_zone_group_with_the_next_opening(local_campaign):
    Campaign.objects.filter(pk=local_campaign.pk).update(state="running")
    windows.skip_no_window(local_campaign)
    local_campaign.refresh_from_db()
    with freeze_time(AFTERNOON_UTC):
        groups = waiting_for_window(local_campaign)
        assert [(g.zones, g.count) for g in groups] == [
            ("America/Adak, America/Anchorage, America/Anguilla (+39)", 1),  # +1 800
            ("Asia/Singapore", 1),
        ]
        assert groups[0].next_open == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
        assert groups[1].next_open == datetime(2026, 12, 3, 1, 0, tzinfo=UTC)  # 09:00 SGT
        out = io.StringIO()
        call_command("campaign_status", local_campaign.name, stdout=out)
    assert "Asia/Singapore: waiting for their window: 1, next opens 01:00 UTC" in out.getvalue()
    assert "waiting_window=2" in out.getvalue().splitlines()


def test_the_estimated_finish_waits_for_the_windows_still_closed(local_campaign):
    from campaigns.models import DispatchBatch
    from campaigns.services.campaign_plan import campaign_progress

    Campaign.objects.filter(pk=local_campaign.pk).update(state="running")
    windows.skip_no_window(local_campaign)
    local_campaign.refresh_from_db()
    with freeze_time(AFTERNOON_UTC):
        started = timezone.now() - timedelta(minutes=1)  # one callee a minute, just now
        DispatchBatch.objects.create(
            campaign=local_campaign,
            sequence=1,
            state="sent",
            size=1,
            request_started_at=started,
            request_finished_at=timezone.now(),
        )
        progress = campaign_progress(local_campaign)
    # +1 800 opens at 23:00 UTC, Singapore at 01:00: the last one a minute after that.
    assert progress.eta == datetime(2026, 12, 3, 1, 1, tzinfo=UTC)


def test_a_dispatch_sends_only_the_open_windows_and_the_campaign_waits(
    local_campaign, sandbox_state, monkeypatch
):
    Campaign.objects.filter(pk=local_campaign.pk).update(state="running")
    windows.skip_no_window(local_campaign)
    afternoon = datetime(2026, 12, 2, 14, tzinfo=UTC)
    monkeypatch.setattr(windows, "timezone", SimpleNamespace(now=lambda: afternoon))
    dispatch.campaign_dispatch(local_campaign.pk)
    sent = [
        n
        for r in sandbox_state.requests_for("/voice/sendGroup")
        for n in r.body["callee"].split(",")
    ]
    assert sorted(sent) == sorted([NEW_YORK, LONDON])
    local_campaign.refresh_from_db()
    assert local_campaign.state == "running"  # Singapore still waits for its window
    assert Callee.objects.get(number=SINGAPORE).state == "pending"
    with freeze_time(AFTERNOON_UTC):
        assert not windows.any_window_open(local_campaign, afternoon)
        report = campaigns_tick(now=afternoon)
    assert (
        local_campaign.name not in report.enqueued and local_campaign.name not in report.completed
    )


def test_daylight_saving_moves_the_window_with_the_local_clock(local_campaign):
    # New York leaves daylight saving on 2026-11-01: 09:00 local is 13:00 UTC before, 14:00 after.
    with freeze_time("2026-10-30 13:30:00"):
        assert NEW_YORK in claimable(local_campaign)
    with freeze_time("2026-11-02 13:30:00"):
        assert NEW_YORK not in claimable(local_campaign)  # 08:30 EST
    with freeze_time("2026-11-02 14:00:00"):
        assert NEW_YORK in claimable(local_campaign)
    # London leaves it on 2026-10-25: 20:00 local is 19:00 UTC before, 20:00 after.
    with freeze_time("2026-10-24 19:30:00"):
        assert LONDON not in claimable(local_campaign)
    with freeze_time("2026-10-26 19:30:00"):
        assert LONDON in claimable(local_campaign)


def test_numbers_without_a_zone_use_the_fallback_zone(local_campaign, settings):
    Callee.objects.create(campaign=local_campaign, number=UNKNOWN)
    windows.zone_sets_assign(local_campaign)
    assert Callee.objects.get(number=UNKNOWN).zone_set.key == ""
    settings.TIME_ZONE = "UTC"
    with freeze_time("2026-12-02 08:30:00"):
        assert UNKNOWN not in claimable(local_campaign)  # 08:30 UTC
    Campaign.objects.filter(pk=local_campaign.pk).update(fallback_zone="Asia/Tokyo")
    with freeze_time("2026-12-02 08:30:00"):
        assert UNKNOWN in claimable(local_campaign)  # 17:30 in Tokyo


def test_days_and_excluded_dates_apply_in_local_time(local_campaign):
    Campaign.objects.filter(pk=local_campaign.pk).update(
        window_days=parse_days("mon-fri"), skip_dates=["2026-12-25"]
    )
    with freeze_time("2026-12-05 14:00:00"):  # a Saturday everywhere
        assert claimable(local_campaign) == set()
    with freeze_time("2026-12-25 14:00:00"):  # Christmas: excluded
        assert claimable(local_campaign) == set()
    with freeze_time("2026-12-24 14:00:00"):
        assert claimable(local_campaign) == {NEW_YORK, LONDON}


def test_a_fixed_zone_window_behaves_as_before(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        window_start=time(9), window_end=time(17), window_tz="Asia/Singapore"
    )
    campaign.refresh_from_db()
    assert in_calling_window(campaign, datetime(2026, 12, 2, 2, tzinfo=UTC))  # 10:00 SGT
    assert not in_calling_window(campaign, datetime(2026, 12, 2, 10, tzinfo=UTC))  # 18:00
    assert len(claimable(campaign)) == 35  # no per-callee filter
    Campaign.objects.filter(pk=campaign.pk).update(window_start=time(22), window_end=time(2))
    campaign.refresh_from_db()
    assert in_calling_window(campaign, datetime(2026, 12, 2, 17, tzinfo=UTC))  # 01:00 SGT


def test_create_campaign_takes_the_window_flags(uploaded_file, voice_app):
    out = io.StringIO()
    call_command(
        "create_campaign",
        "Local",
        "--app",
        voice_app.app_id,
        "--voice-file",
        "promo.wav",
        "--window",
        "09:00-20:00",
        "--window-zone",
        "callee",
        "--fallback-zone",
        "Europe/London",
        "--days",
        "mon-fri",
        "--skip-dates",
        "2026-12-25,2027-01-01",
        "--rate",
        "120",
        stdout=out,
    )
    c = Campaign.objects.get(name="Local")
    assert (c.window_start, c.window_end, c.window_callee_local) == (time(9), time(20), True)
    assert (c.fallback_zone, c.window_days, c.skip_dates) == (
        "Europe/London",
        0b11111,
        ["2026-12-25", "2027-01-01"],
    )
    assert c.rate_per_minute == 120
    assert (
        "09:00–20:00 callee-local (fallback Europe/London), mon,tue,wed,thu,fri" in out.getvalue()
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--window", "9-20:00"], "--window: A window is written HH:MM-HH:MM"),
        (
            ["--window", "09:00-20:00", "--window-zone", "Mars/Base"],
            "--window-zone: Unknown time zone 'Mars/Base'",
        ),
        (
            ["--window", "09:00-20:00", "--fallback-zone", "Nowhere"],
            "--fallback-zone: Unknown time zone",
        ),
        (["--window-zone", "callee"], "--window-zone callee needs --window"),
        (["--days", "mon-funday"], "--days: Days are written mon-fri"),
        (["--skip-dates", "2026-13-01"], "--skip-dates: Excluded dates are written YYYY-MM-DD"),
        (["--rate", "0"], "--rate: 1 to 100000"),
    ],
)
def test_create_campaign_refuses_bad_window_flags(uploaded_file, voice_app, flags, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        call_command(
            "create_campaign", "Bad", "--app", voice_app.app_id, "--voice-file", "promo.wav", *flags
        )
    assert not Campaign.objects.filter(name="Bad").exists()


def test_skip_dates_are_capped_at_50():
    with pytest.raises(WindowError, match="At most 50"):
        parse_skip_dates(
            ",".join(f"2027-01-{d:02d}" for d in range(1, 32))
            + ","
            + ",".join(f"2027-02-{d:02d}" for d in range(1, 25))
        )


def form_data(campaign, **extra):
    data = {
        "name": "Form campaign",
        "app": campaign.app_id,
        "voice_file": campaign.voice_file_id,
        "called_info": "",
        "window_start": "09:00",
        "window_end": "20:00",
        "window_tz": "UTC",
        "window_callee_local": "on",
        "fallback_zone": "",
        "excluded_dates": "",
        "retries": 0,
        "retry_after_minutes": 60,
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def test_the_form_names_a_bad_zone_and_a_bad_date(campaign):
    form = CampaignForm(
        data=form_data(campaign, fallback_zone="Europe/Lodnon", excluded_dates="25/12/2026")
    )
    assert not form.is_valid()
    assert "Unknown time zone 'Europe/Lodnon'" in form.errors["fallback_zone"][0]
    assert "YYYY-MM-DD" in form.errors["excluded_dates"][0]
    form = CampaignForm(data=form_data(campaign, window_start="", window_end=""))
    assert not form.is_valid()
    assert "needs its two ends" in form.errors["window_callee_local"][0]
    form = CampaignForm(data=form_data(campaign, window_tz="Asia/Jakarta ", rate_per_minute="0"))
    assert not form.is_valid() and "At least 1" in form.errors["rate_per_minute"][0]


def test_the_form_stores_days_and_dates(campaign):
    data = form_data(
        campaign,
        excluded_dates="2026-12-25, 2027-01-01",
        fallback_zone="Asia/Singapore",
        rate_per_minute="30",
    )
    data["calling_days"] = ["mon", "wed"]
    form = CampaignForm(data=data)
    assert form.is_valid(), form.errors
    saved = form.save()
    assert saved.window_days == 0b101 and saved.skip_dates == ["2026-12-25", "2027-01-01"]
    assert saved.fallback_zone == "Asia/Singapore" and saved.rate_per_minute == 30
    assert CampaignForm(instance=saved).initial["calling_days"] == ["mon", "wed"]


def test_the_campaign_page_shows_who_waits_for_their_window(client, operator, local_campaign):
    Campaign.objects.filter(pk=local_campaign.pk).update(state="running")
    client.force_login(operator)
    with freeze_time(AFTERNOON_UTC):
        page = client.get(f"/admin/campaigns/campaign/{local_campaign.pk}/change/").content.decode()
    assert 'id="window-waiting"' in page
    assert "Asia/Singapore: waiting for their window: 1, next opens 01:00 UTC" in page


def test_a_contacts_timezone_column_comes_before_its_number(local_campaign):
    from campaigns.models import Contact, ContactList

    contacts = ContactList.objects.create(name="West coast")
    Contact.objects.create(
        contact_list=contacts,
        number="12125550999",  # a New York number of someone living in Los Angeles
        country="US",
        fields={"Timezone": "America/Los_Angeles"},
    )
    Contact.objects.create(
        contact_list=contacts, number="12125550998", country="US", fields={"timezone": "Bad/Zone"}
    )
    local_campaign.contact_lists.add(contacts)
    Campaign.objects.filter(pk=local_campaign.pk).update(
        scheduled_start=datetime(2030, 1, 1, tzinfo=UTC)
    )
    local_campaign.refresh_from_db()
    campaign_launch(campaign=local_campaign, actor=SYSTEM)
    zones = dict(Callee.objects.values_list("number", "zone_set__key"))
    assert zones["12125550999"] == "America/Los_Angeles"
    assert zones["12125550998"] == "America/New_York"  # not a zone name: from the number
    with freeze_time("2026-12-02 15:30:00"):  # 10:30 in New York, 07:30 in Los Angeles
        names = claimable(local_campaign)
    assert "12125550998" in names and "12125550999" not in names


@postgresql_only
def test_the_claim_keeps_its_ordered_index_scan_on_postgresql(campaign, voice_app, uploaded_file):
    """The window filter must not turn the claim into a read and sort of every pending callee
    (EXPLAIN: the (campaign, state, id) index scanned in order, stopped by the LIMIT)."""
    other = Campaign.objects.create(name="Other", app=voice_app, voice_file=uploaded_file)
    numbers = [f"1212555{i:04d}" for i in range(5000)] + [f"6561{i:06d}" for i in range(10000)]
    for owner in (other, campaign):
        Callee.objects.bulk_create(
            [Callee(campaign=owner, number=n) for n in numbers], batch_size=5000
        )
    Campaign.objects.filter(pk=campaign.pk).update(
        window_start=time(9), window_end=time(20), window_callee_local=True
    )
    campaign.refresh_from_db()
    windows.zone_sets_assign(campaign)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE campaigns_callee")
    with freeze_time("2026-12-02 02:00:00"):  # Singapore open, New York closed
        picked = (
            sendable_callees(campaign)
            .filter(batch__isnull=True, id__gt=0)
            .order_by("id")
            .values("id")[:10]
        )
        sql, params = picked.query.get_compiler(connection=connection).as_sql()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        assert len(picked) == 10
    assert "Index Scan using callee_campaign_state" in plan[1], plan
    assert not any(line.lstrip().startswith(("->  Sort", "Sort")) for line in plan[:3]), plan


def test_acceptance_local_window_with_a_retry(campaign, sandbox_state, voice_app, monkeypatch):
    """Singapore, New York and London numbers, a 09:00–20:00 callee-local window, retries 1
    after 0 minutes: only the callees inside their window are called now; once the records
    arrive, exactly the not-answered ones among them are called once more, still inside their
    window; Singapore's are called when its morning comes."""
    from tests.campaigns.test_retries import (
        dispatch_later,
        not_answered,
        push_every_record,
        run,
        sent_numbers,
    )

    Callee.objects.filter(campaign=campaign).delete()
    ny = [f"1212555{i:04d}" for i in range(10)]
    london = [f"4420794{i:05d}" for i in range(10)]
    singapore = [f"6561{i:06d}" for i in range(10)]
    Callee.objects.bulk_create(
        [Callee(campaign=campaign, number=n) for n in ny + london + singapore]
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        window_start=time(9), window_end=time(20), window_callee_local=True
    )
    campaign.refresh_from_db()
    windows.windows_prepare(campaign)
    clock = {"now": datetime(2026, 12, 2, 14, tzinfo=UTC)}
    monkeypatch.setattr(windows, "timezone", SimpleNamespace(now=lambda: clock["now"]))
    run(campaign)
    first = sent_numbers(sandbox_state)
    assert sorted(first) == sorted(ny + london)
    push_every_record(sandbox_state, voice_app)
    missed = not_answered(sandbox_state)
    assert 0 < len(missed) < 20
    dispatch_later(campaign, monkeypatch)
    assert sorted(sent_numbers(sandbox_state)[20:]) == sorted(missed)
    campaign.refresh_from_db()
    assert campaign.state == "running"  # Singapore waits for its window
    clock["now"] = datetime(2026, 12, 3, 2, tzinfo=UTC)  # 10:00 in Singapore
    dispatch.campaign_dispatch(campaign.pk)
    assert sorted(sent_numbers(sandbox_state)[20 + len(missed) :]) == sorted(singapore)
