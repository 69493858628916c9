"""Call figures: the pre-aggregated daily figures always equal a direct aggregate of the calls,
through pushes, record syncs and late cost updates; the dashboard's charts equal its CSV; the
campaign page shows the same figures; the call list counts and totals come from them."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Call, CallDayStat, CallStatMark, Campaign, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.calls import call_send_tts, calls_sync_due
from campaigns.services.reports import (
    CallSlice,
    call_figures,
    calls_on_days,
    figures_csv_rows,
    refresh_call_stats,
    stat_totals,
)
from tests.conftest import make_staff
from tests.test_pushes import final_report, push

ACTOR = Actor.system("reports-test")


def dirty() -> set[date]:
    return set(CallStatMark.objects.values_list("day", flat=True))


def today() -> date:
    return datetime.now(UTC).date()


def slices(voice_app: ItnioApp, campaign: Campaign | None) -> list[CallSlice]:
    week = CallSlice(since=today() - timedelta(days=6), until=today())
    out = [
        CallSlice(),
        week,
        CallSlice(app_id=voice_app.pk),
        CallSlice(app_id=voice_app.pk, since=today() - timedelta(days=2), until=today()),
        CallSlice(since=today(), until=today()),
    ]
    if campaign is not None:
        out += [
            CallSlice(campaign_id=campaign.pk),
            CallSlice(campaign_id=campaign.pk, since=today()),
        ]
    return out


# What the call list asks of the figures: every filter it can combine.
LIST_SLICES = [
    CallSlice(kind=Call.Kind.TTS),
    CallSlice(state=Call.State.SUBMITTED),
    CallSlice(state=Call.State.FINAL, kind=Call.Kind.GROUP),
    CallSlice(answered=True),
    CallSlice(answered=False, final=True),
]


def assert_stored_equals_direct(voice_app: ItnioApp, campaign: Campaign | None = None) -> None:
    for slc in slices(voice_app, campaign):
        assert call_figures(slc) == call_figures(slc, direct=True), slc
    for slc in [*LIST_SLICES, *slices(voice_app, None)]:
        by = ("currency", "state")
        assert stat_totals(slc, by) == stat_totals(slc, by, direct=True), slc
        assert sum(r["calls"] for r in stat_totals(slc)) == slc.calls().count(), slc


def summary() -> dict:
    return call_figures(CallSlice())["summary"]


# ---------------------------------------------------------------------------
# The triggers: every write marks the day it touches
# ---------------------------------------------------------------------------
def test_every_kind_of_write_marks_the_utc_day_of_the_call(voice_app):
    late_evening = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)
    call = Call.objects.create(
        app=voice_app,
        kind=Call.Kind.TTS,
        state=Call.State.SUBMITTED,
        callee="919876543210",
        submit_time=late_evening,
    )
    assert date(2026, 5, 1) in dirty()
    refresh_call_stats()
    assert dirty() == set()

    # A set-based UPDATE in raw SQL, as the dispatcher writes outcomes.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE campaigns_call SET cost = %s WHERE id = %s", ["0.5", call.pk])
    assert dirty() == {date(2026, 5, 1)}
    refresh_call_stats()

    # A record that moves the call to another day dirties both days.
    Call.objects.filter(pk=call.pk).update(submit_time=late_evening + timedelta(hours=1))
    assert dirty() == {date(2026, 5, 1), date(2026, 5, 2)}
    refresh_call_stats()
    assert CallDayStat.objects.filter(day=date(2026, 5, 1)).count() == 0
    assert CallDayStat.objects.get(day=date(2026, 5, 2)).calls == 1

    # Without a submit time a call counts on the day it was created.
    unsent = Call.objects.create(
        app=voice_app, kind=Call.Kind.TTS, state=Call.State.UNKNOWN, callee="919876543211"
    )
    assert dirty() == {unsent.created_at.astimezone(UTC).date()}

    Call.objects.filter(pk=call.pk).delete()
    assert date(2026, 5, 2) in dirty()
    refresh_call_stats()
    assert not CallDayStat.objects.filter(day=date(2026, 5, 2)).exists()


def test_a_rebuild_recomputes_every_day_and_drops_days_without_calls(voice_app):
    call_command("generate_calls", "200", "--days", "4")
    refresh_call_stats()
    orphan = CallDayStat.objects.create(
        day=date(2020, 1, 1),
        app=voice_app,
        kind="tts",
        state="final",
        answered=True,
        final=True,
        currency="USD",
        calls=99,
    )
    CallDayStat.objects.filter(day=today()).update(calls=0)  # a figure gone wrong

    assert refresh_call_stats(rebuild=True) >= 4

    assert not CallDayStat.objects.filter(pk=orphan.pk).exists()
    assert_stored_equals_direct(voice_app)


# ---------------------------------------------------------------------------
# Stored figures = direct aggregates, through the life of calls
# ---------------------------------------------------------------------------
@pytest.fixture
def itnio(sandbox, sandbox_state, account):
    sandbox_state.clock_offset = -3.0
    return sandbox


def test_stored_figures_equal_direct_aggregates_through_pushes_syncs_and_late_costs(
    itnio, sandbox_state, voice_app
):
    call_command("generate_calls", "600", "--days", "6", "--campaigns", "2")
    campaign = Campaign.objects.order_by("pk").first()
    refresh_call_stats()
    assert dirty() == set()
    assert_stored_equals_direct(voice_app, campaign)
    before = summary()

    # New calls through ITNIO: submitted, no record yet. Read before and after the refresh.
    placed = [
        call_send_tts(
            app=voice_app, callee=f"91987654{i:04d}", language="EN", text="Code 1234", actor=ACTOR
        )
        for i in range(1, 6)
    ]
    assert all(c.state == Call.State.SUBMITTED for c in placed)
    assert today() in dirty()
    assert_stored_equals_direct(voice_app, campaign)
    now = summary()
    assert now["Calls"] == before["Calls"] + 5
    assert now["No final record yet"] == before["No final record yet"] + 5
    refresh_call_stats()
    assert_stored_equals_direct(voice_app, campaign)

    # A push makes one of them final, answered, with a cost.
    submit_ms = int(placed[0].submit_time.timestamp() * 1000)
    report = final_report(
        placed[0].voice_id,
        callee=placed[0].callee,
        submitTime=submit_ms,
        callTime=submit_ms + 1000,
        ringingTime=submit_ms + 2000,
        answerTime=submit_ms + 5000,
        hangupTime=submit_ms + 35_000,
        callDuration=30,
        cost="0.5",
    )
    assert push(Client(), voice_app, report).status_code == 200
    assert_stored_equals_direct(voice_app, campaign)
    refresh_call_stats()
    assert_stored_equals_direct(voice_app, campaign)
    after_push = summary()
    assert after_push["Answered"] == now["Answered"] + 1
    assert after_push["Cost USD"] == pytest.approx(now["Cost USD"] + 0.5)

    # The record sync finalises the others from recordGroup.
    assert calls_sync_due(actor=ACTOR).finalised == 4
    assert_stored_equals_direct(voice_app, campaign)
    refresh_call_stats()
    assert_stored_equals_direct(voice_app, campaign)
    assert summary()["No final record yet"] == before["No final record yet"]

    # A late cost update: the final record comes again with the billed cost.
    synced = summary()
    report["cost"] = "0.75"
    assert push(Client(), voice_app, report).status_code == 200
    assert Call.objects.get(pk=placed[0].pk).cost == Decimal("0.75")
    assert_stored_equals_direct(voice_app, campaign)
    assert summary()["Cost USD"] == pytest.approx(synced["Cost USD"] + 0.25)
    refresh_call_stats()
    assert_stored_equals_direct(voice_app, campaign)

    # A campaign call whose record came late and moved it to the previous day.
    moved = Call.objects.filter(campaign=campaign).order_by("pk").first()
    Call.objects.filter(pk=moved.pk).update(submit_time=moved.submit_time - timedelta(days=1))
    assert_stored_equals_direct(voice_app, campaign)
    refresh_call_stats()
    assert_stored_equals_direct(voice_app, campaign)


def test_figures_count_each_outcome_once(voice_app):
    base = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
    common = {"app": voice_app, "kind": Call.Kind.TTS, "callee": "919876543210"}
    Call.objects.create(
        **common,
        state=Call.State.FINAL,
        submit_time=base,
        answer_time=base,
        hangup_time=base,
        call_duration=40,
        cost=Decimal("0.2"),
        currency="EUR",
        code="India(Jio)",
        termination_reason="success",
    )
    Call.objects.create(
        **common,
        state=Call.State.FINAL,
        submit_time=base,
        hangup_time=base,
        call_duration=0,
        code="India(Jio)",
        termination_reason="no answer",
    )
    Call.objects.create(**common, state=Call.State.SUBMITTED, submit_time=base)
    day = base.astimezone(UTC).date()

    figures = call_figures(CallSlice(since=day, until=day))

    assert figures["summary"] == {
        "Calls": 3,
        "Answered": 1,
        "Not answered": 1,
        "No final record yet": 1,
        "ASR %": 50.0,
        "Average duration (s)": 40.0,
        "Cost EUR": 0.2,
    }
    assert figures["charts"]["regions"]["labels"] == ["India(Jio)", "(none)"]
    assert figures["charts"]["regions"]["series"] == {"Calls": [2, 1]}
    assert figures["charts"]["termination"]["labels"] == ["no answer", "success"]


# ---------------------------------------------------------------------------
# The dashboard page, its CSV and the campaign page
# ---------------------------------------------------------------------------
def page_figures(html: str) -> dict:
    match = re.search(
        r'<script id="call-figures-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "the page carries no chart data"
    return json.loads(match.group(1))


def csv_figures(text: str) -> dict:
    """Rebuild the charts' data from the CSV rows."""
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["chart", "series", "label", "value"]
    out: dict = {"summary": {}, "charts": {}}
    for chart, series, label, value in rows[1:]:
        number = None if value == "" else (float(value) if "." in value else int(value))
        if chart == "summary":
            out["summary"][series] = number
        else:
            data = out["charts"].setdefault(chart, {"labels": [], "series": {}})
            if label not in data["labels"]:
                data["labels"].append(label)
            data["series"].setdefault(series, []).append(number)
    return out


def without_titles(figures: dict) -> dict:
    return {
        "summary": figures["summary"],
        "charts": {
            name: {"labels": c["labels"], "series": c["series"]}
            for name, c in figures["charts"].items()
        },
    }


@pytest.fixture
def generated(voice_app):
    call_command("generate_calls", "500", "--days", "10", "--campaigns", "2")
    refresh_call_stats()
    # Some changes after the refresh, so the pages read dirty days too.
    Call.objects.filter(pk__in=Call.objects.order_by("pk").values("pk")[:20]).update(
        cost=Decimal("1.25")
    )
    return Campaign.objects.order_by("pk").first()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "since={week}&until={today}",
        "app={app}",
        "campaign={campaign}",
        "campaign={campaign}&since={week}&until={today}",
    ],
)
def test_the_dashboard_charts_equal_its_csv(generated, voice_app, query):
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))
    query = query.format(
        week=today() - timedelta(days=6), today=today(), app=voice_app.pk, campaign=generated.pk
    )

    page = client.get(reverse("admin:campaigns_call_dashboard") + "?" + query)
    download = client.get(reverse("admin:campaigns_call_dashboard_csv") + "?" + query)

    assert page.status_code == 200 and download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    charts = page_figures(page.content.decode())
    assert charts["summary"]["Calls"] > 0
    assert without_titles(charts) == csv_figures(download.content.decode())
    html = page.content.decode()
    for name in charts["charts"]:
        assert f'data-chart="{name}"' in html
    assert ("dtmf" in charts["charts"]) == ("campaign" in query)
    # Served by the portal itself, no CDN.
    assert "/static/portal/vendor/chart-4.6.1.umd.min.js" in html
    assert "cdn" not in html.lower()


def test_the_dashboard_defaults_to_the_last_30_days(generated):
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))
    charts = page_figures(client.get(reverse("admin:campaigns_call_dashboard")).content.decode())
    labels = charts["charts"]["calls_per_day"]["labels"]
    assert len(labels) == 30 and labels[-1] == today().isoformat()
    assert charts["summary"]["Calls"] == Call.objects.count()


def test_a_bad_dashboard_filter_is_explained_not_drawn(generated):
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))
    url = reverse("admin:campaigns_call_dashboard")

    page = client.get(url + "?since=2026-05-10&until=2026-05-01")
    download = client.get(
        reverse("admin:campaigns_call_dashboard_csv") + "?since=2026-05-10&until=2026-05-01"
    )
    unknown = client.get(url + "?campaign=999999")

    assert page.status_code == 200
    assert "“From” must not be after “To”." in page.content.decode()
    assert "call-figures-data" not in page.content.decode()
    assert download.status_code == 400
    assert "must not be after" in download.content.decode()
    assert "Select a valid choice" in unknown.content.decode()


def test_the_dashboard_needs_the_permission_to_view_calls(generated, db):
    client = Client()
    client.force_login(make_staff("nobody", None))
    assert client.get(reverse("admin:campaigns_call_dashboard")).status_code == 403
    assert client.get(reverse("admin:campaigns_call_dashboard_csv")).status_code == 403


def test_the_admin_index_links_the_dashboard(db):
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))
    html = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("admin:campaigns_call_dashboard")}"' in html


def test_the_campaign_page_shows_the_dashboard_figures_of_that_campaign(generated):
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))

    page = client.get(reverse("admin:campaigns_campaign_change", args=[generated.pk]))
    dashboard = client.get(reverse("admin:campaigns_call_dashboard") + f"?campaign={generated.pk}")

    assert page.status_code == 200
    on_campaign = page_figures(page.content.decode())
    assert on_campaign == page_figures(dashboard.content.decode())
    assert on_campaign["summary"]["Calls"] == generated.calls.count()
    assert "dtmf" in on_campaign["charts"]


def test_csv_cells_that_could_run_as_formulas_are_neutralised(voice_app):
    Call.objects.create(
        app=voice_app,
        kind=Call.Kind.TTS,
        state=Call.State.FINAL,
        callee="919876543210",
        submit_time=timezone.now(),
        hangup_time=timezone.now(),
        code='=HYPERLINK("http://evil")',
    )
    rows = list(figures_csv_rows(call_figures(CallSlice(since=today(), until=today()))))
    labels = [r[2] for r in rows if r[0] == "regions"]
    assert labels == ['\'=HYPERLINK("http://evil")']


# ---------------------------------------------------------------------------
# The call list: counts and totals from the figures
# ---------------------------------------------------------------------------
def list_page(client: Client, query: str = "") -> str:
    response = client.get(reverse("admin:campaigns_call_changelist") + query)
    assert response.status_code == 200
    return response.content.decode()


def test_the_call_list_counts_and_totals_match_the_calls_for_every_filter(generated, voice_app):
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))
    week_start = datetime.combine(today() - timedelta(days=6), datetime.min.time(), UTC)
    tomorrow = week_start + timedelta(days=7)
    dates = {"placed_at__gte": str(week_start), "placed_at__lt": str(tomorrow)}
    for query, calls in [
        ("", Call.objects.all()),
        ("?kind__exact=tts", Call.objects.filter(kind="tts")),
        ("?answered=yes", Call.objects.filter(answer_time__isnull=False)),
        (
            f"?app__id__exact={voice_app.pk}&answered=no",
            Call.objects.filter(app=voice_app, answer_time__isnull=True, hangup_time__isnull=False),
        ),
        (f"?campaign__id__exact={generated.pk}", Call.objects.filter(campaign=generated)),
        (
            "?" + urlencode(dates),
            Call.objects.filter(placed_at__gte=week_start, placed_at__lt=tomorrow),
        ),
    ]:
        html = list_page(client, query)
        assert f"{calls.count():,} calls" in html, query  # with thousands separators
        for currency in ("USD", "EUR"):
            total = sum((c.cost or 0 for c in calls.filter(currency=currency)), Decimal(0))
            # Rounded for reading (tests/test_formatting.py), the exact total on hover.
            assert f'title="{total.normalize():f} {currency}">' in html, (query, currency)


def test_a_search_matching_too_many_calls_is_not_counted_to_the_end(generated, voice_app, settings):
    settings.CALL_LIST_COUNT_LIMIT = 50
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))
    prefix = "91"
    assert Call.objects.filter(callee__startswith=prefix).count() > 50

    html = list_page(client, f"?q={prefix}")

    assert "More than 50 calls: narrow the search to count them" in html
    assert "not added up for more than 50 calls" in html
    one = Call.objects.order_by("pk").first()
    html = list_page(client, f"?q={one.voice_id}")
    assert "1 call" in html and one.callee in html


def test_triggers_lost_in_a_table_rebuild_come_back_after_migrate(voice_app):
    """SQLite drops a table's triggers when a migration rebuilds it; post_migrate restores them."""
    from campaigns.triggers import ensure_after_migrate

    with connection.cursor() as cursor:
        for event in ("insert", "update", "delete"):
            on = " ON campaigns_call" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER campaigns_call_dirty_{event}{on}")
    Call.objects.create(app=voice_app, kind="tts", state="unknown", callee="919876543210")
    assert dirty() == set()

    ensure_after_migrate(sender=None)
    ensure_after_migrate(sender=None)  # idempotent

    call = Call.objects.create(app=voice_app, kind="tts", state="unknown", callee="919876543211")
    assert dirty() == {call.placed_at.astimezone(UTC).date()}


def test_a_campaign_without_calls_says_so_instead_of_empty_charts(generated):
    empty = Campaign.objects.create(
        name="Not launched", app=generated.app, voice_file=generated.voice_file
    )
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))

    html = client.get(reverse("admin:campaigns_campaign_change", args=[empty.pk])).content.decode()

    assert 'id="figures-empty"' in html and "data-chart=" not in html
    assert page_figures(html)["summary"]["Calls"] == 0


def test_the_list_tells_a_zero_cost_from_no_cost_yet(voice_app):
    client = Client()
    client.force_login(make_staff("watcher", "Viewer"))
    now = timezone.now()
    common = {"app": voice_app, "kind": Call.Kind.TTS, "callee": "919876543210"}
    Call.objects.create(**common, state=Call.State.SUBMITTED, submit_time=now)  # no cost yet
    assert "none yet" in list_page(client)
    refresh_call_stats()
    assert "none yet" in list_page(client)

    Call.objects.create(
        **common, state=Call.State.FINAL, submit_time=now, hangup_time=now, cost=0, currency="EUR"
    )
    assert 'title="0 EUR">0.00 EUR</span></strong>' in list_page(client)
    refresh_call_stats()
    html = list_page(client)
    assert 'title="0 EUR">0.00 EUR</span></strong>' in html and "USD</span>" not in html
    assert call_figures(CallSlice())["summary"]["Cost EUR"] == 0.0


# ---------------------------------------------------------------------------
# The refresh: bounded runs, and writers never wait for it
# ---------------------------------------------------------------------------
def mark_days(voice_app: ItnioApp, count: int) -> list[date]:
    """One final call on each of `count` past days, figures computed, then every day marked
    again (in this order) by a cost update."""
    days = [today() - timedelta(days=i) for i in range(1, count + 1)]
    for i, day in enumerate(days):
        at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
        Call.objects.create(
            app=voice_app,
            kind=Call.Kind.TTS,
            state=Call.State.FINAL,
            callee=f"9198765400{i:02d}",
            submit_time=at,
            hangup_time=at,
            cost=Decimal("0.1"),
        )
    refresh_call_stats()
    assert dirty() == set()
    for day in days:
        calls_on_days(Call.objects.all(), [day]).update(cost=Decimal("0.2"))
    return days


def test_a_run_recomputes_each_marked_day_once_while_writes_mark_them_again(voice_app, monkeypatch):
    from campaigns.services import reports

    days = mark_days(voice_app, 3)
    recomputed: list[date] = []
    original = reports._refresh_day

    def refresh_then_write_again(day):
        done = original(day)
        recomputed.append(day)
        # A writer changes the day right after: it is marked again within the same run.
        calls_on_days(Call.objects.all(), [day]).update(synced_at=timezone.now())
        return done

    monkeypatch.setattr(reports, "_refresh_day", refresh_then_write_again)

    assert refresh_call_stats() == 3

    assert sorted(recomputed) == sorted(days)  # each once, although each was marked again
    assert dirty() == set(days)  # left for the next run, and read from the calls until then
    assert_stored_equals_direct(voice_app)
    monkeypatch.setattr(reports, "_refresh_day", original)
    assert refresh_call_stats() == 3
    assert dirty() == set()
    assert_stored_equals_direct(voice_app)


def test_a_run_starts_no_day_after_its_time_box_and_the_next_run_goes_on(
    voice_app, settings, monkeypatch
):
    from campaigns.services import reports

    days = mark_days(voice_app, 5)
    settings.CALL_STATS_REFRESH_MAX_SECONDS = 2.5
    clock = iter(range(1000))  # each look at the clock: one second later
    monkeypatch.setattr(reports, "monotonic", lambda: next(clock))

    assert refresh_call_stats() == 3  # started at 0 s; days begun at 1 s and 2 s, none at 3 s

    # The days marked last wait; until then they are read from the calls.
    assert dirty() == set(days[3:])
    assert_stored_equals_direct(voice_app)
    clock = iter(range(1000))
    assert refresh_call_stats() == 2
    assert dirty() == set()
    assert_stored_equals_direct(voice_app)


def test_the_rebuild_command_is_not_cut_short_by_the_time_box(voice_app, settings):
    call_command("generate_calls", "200", "--days", "6")
    refresh_call_stats()
    CallDayStat.objects.update(calls=0)  # figures gone wrong
    settings.CALL_STATS_REFRESH_MAX_SECONDS = 0
    out = io.StringIO()

    call_command("refresh_call_stats", "--rebuild", stdout=out)

    assert re.search(r"Recomputed [67] days", out.getvalue()), out.getvalue()
    assert dirty() == set()
    assert_stored_equals_direct(voice_app)


def pg_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: a refresh cannot overlap a write")


class PausedRefresh:
    """refresh_call_stats in a thread of its own (its own connection) that stops inside each
    day's transaction right after it read the calls: `next_pause()` waits for the next stop
    and returns the event that lets the refresh go on."""

    def __init__(self, monkeypatch):
        import queue
        import threading

        from campaigns.services import reports

        self.pauses: queue.Queue = queue.Queue()
        self.released = threading.Event()
        self.result: list[int] = []
        self.thread = threading.Thread(target=self._run)
        original = reports.stat_rows

        def stat_rows_then_pause(calls):
            rows = original(calls)
            if threading.current_thread() is self.thread and not self.released.is_set():
                go_on = threading.Event()
                self.pauses.put(go_on)
                go_on.wait(timeout=30)
            return rows

        monkeypatch.setattr(reports, "stat_rows", stat_rows_then_pause)

    def _run(self) -> None:
        try:
            self.result.append(refresh_call_stats())
        finally:
            connection.close()  # this thread's own connection

    def next_pause(self, timeout: float = 10):
        import queue

        try:
            return self.pauses.get(timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        self.released.set()
        while (go_on := self.next_pause(timeout=0)) is not None:
            go_on.set()
        if self.thread.ident is not None:
            self.thread.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_writer_committing_after_the_refresh_read_the_calls_leaves_its_mark(
    voice_app, monkeypatch
):
    """The writer's day is marked already, and its transaction is in flight when the refresh
    takes its snapshot: the refresh goes ahead without waiting, and the writer's own mark
    survives, so its change is read from the calls and recomputed next time, never lost."""
    pg_only()
    import psycopg

    from tests.procs import database_url

    call = Call.objects.create(
        app=voice_app,
        kind=Call.Kind.TTS,
        state=Call.State.FINAL,
        callee="919876543210",
        submit_time=timezone.now(),
        hangup_time=timezone.now(),
        cost=Decimal("1"),
    )
    refresh_call_stats()
    Call.objects.filter(pk=call.pk).update(synced_at=timezone.now())  # the day is marked again

    refresh = PausedRefresh(monkeypatch)
    writer = psycopg.connect(database_url())
    late = psycopg.connect(database_url(), autocommit=True)
    try:
        writer.execute("SET lock_timeout = '2s'")
        writer.execute("UPDATE campaigns_call SET cost = 5 WHERE id = %s", [call.pk])  # in flight
        refresh.thread.start()
        go_on = refresh.next_pause()
        assert go_on is not None, "the refresh waited for the writer"
        # Inside the refresh's transaction, after it read the calls: both writers go through.
        writer.commit()
        late.execute("SET lock_timeout = '2s'")
        late.execute("UPDATE campaigns_call SET call_duration = 7 WHERE id = %s", [call.pk])
        go_on.set()
    finally:
        writer.close()  # rolls back if the test failed before the commit
        late.close()
        refresh.stop()
    assert refresh.result == [1] and not refresh.thread.is_alive()

    assert dirty() == {today()}  # the writers' marks outlived the refresh
    slc = CallSlice(since=today(), until=today())
    by = ("currency",)
    assert stat_totals(slc, by) == stat_totals(slc, by, direct=True)
    assert stat_totals(slc, by)[0]["cost_sum"] == Decimal(5)
    assert refresh_call_stats() == 1
    assert dirty() == set()
    assert stat_totals(slc, by) == stat_totals(slc, by, direct=True)
    assert CallDayStat.objects.get(day=today()).cost_sum == Decimal(5)


@pytest.mark.django_db(transaction=True)
def test_writers_never_wait_for_a_refresh_and_a_run_ends_under_steady_writes(
    voice_app, settings, monkeypatch
):
    """A writer keeps changing calls (synced_at and costs) on every day, failing on any lock
    wait; the refresh of those days ends, and the writer got through while it was inside each
    day's transaction. Once the writes stop, one more run makes the figures exact."""
    pg_only()
    import threading

    import psycopg

    from tests.procs import database_url

    call_command("generate_calls", "300", "--days", "4")
    refresh_call_stats()
    settings.CALL_STATS_REFRESH_MAX_SECONDS = 1
    ids = list(Call.objects.order_by("placed_at").values_list("pk", flat=True))
    updates: list[int] = []
    errors: list[Exception] = []
    stop = threading.Event()

    def write() -> None:
        with psycopg.connect(database_url(), autocommit=True) as conn:
            conn.execute("SET lock_timeout = '200ms'")
            i = 0
            while not stop.is_set():
                try:
                    conn.execute(
                        "UPDATE campaigns_call SET synced_at = now(), "
                        "cost = COALESCE(cost, 0) + 0.01 WHERE id = %s",
                        [ids[i % len(ids)]],
                    )
                except psycopg.Error as exc:
                    errors.append(exc)
                    return
                updates.append(i)
                i += 7

    refresh = PausedRefresh(monkeypatch)
    writer = threading.Thread(target=write)
    writer.start()
    got_through: list[bool] = []
    try:
        while len(updates) < len(ids) and writer.is_alive():  # every call once (7 ⊥ 300)
            threading.Event().wait(0.01)
        marked = len(dirty())
        assert marked == len(
            {d.astimezone(UTC).date() for d in Call.objects.values_list("placed_at", flat=True)}
        )
        refresh.thread.start()
        while refresh.thread.is_alive() and len(got_through) <= marked:
            go_on = refresh.next_pause(timeout=0.1)  # a day's transaction, after reading calls
            if go_on is None:
                continue
            before = len(updates)
            while len(updates) < before + 10 and writer.is_alive():
                threading.Event().wait(0.005)
            got_through.append(len(updates) >= before + 10)
            go_on.set()
        refresh.thread.join(timeout=30)
        assert not refresh.thread.is_alive(), "the refresh never ended under steady writes"
    finally:
        stop.set()
        writer.join(timeout=10)
        refresh.stop()
    assert errors == [], "a writer waited for a lock"
    assert got_through and all(got_through), got_through
    assert 1 <= refresh.result[0] <= marked  # each day marked at the start, at most once

    monkeypatch.undo()
    refresh_call_stats()
    assert dirty() == set()
    assert_stored_equals_direct(voice_app)


def test_a_one_day_campaign_is_charted_over_its_day_and_cost_names_its_currency(generated):
    voice_app = generated.app
    campaign = Campaign.objects.create(
        name="One day", app=voice_app, voice_file=generated.voice_file, state="completed"
    )
    when = timezone.now() - timedelta(days=3)
    Call.objects.create(
        app=voice_app,
        campaign=campaign,
        kind="group",
        state="final",
        callee="6591234567",
        submit_time=when,
        cost=Decimal("0.5"),
        currency="EUR",
    )
    month = CallSlice(campaign_id=campaign.pk, since=today() - timedelta(days=29), until=today())
    charts = call_figures(month)["charts"]
    assert charts["calls_per_day"]["labels"] == [when.date().isoformat()]
    assert charts["cost_per_day"]["title"] == "Cost per day (EUR)"
    everything = call_figures(CallSlice(since=today() - timedelta(days=29), until=today()))
    assert len(everything["charts"]["calls_per_day"]["labels"]) == 30  # all calls: the range
    assert everything["charts"]["cost_per_day"]["title"].startswith("Cost per day (")
