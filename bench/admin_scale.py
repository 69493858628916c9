"""Admin at scale: our call admin against a plain Django ModelAdmin over 1,000,000 calls.

The bench database gets --calls calls (3 voice apps, 20 finished campaigns, 60 days; made once
by generate_calls and reused), then `refresh_call_stats` and ANALYZE; finally one call of the
newest day is updated as a push would, so every page reads that day live from the calls table.
In the same process a PLAIN admin site (bench/_admin_scale_urls.py) shows calls with the same
list_display, list_filter, search_fields and list_per_page as the portal's CallAdmin and
nothing else. Both are requested through django.test.Client as a superuser, every cache
cleared before every request and a different filter value each time (apps, kinds, states,
answered, date ranges, existing voiceIds, callee prefixes, call ids, page numbers); each page
--requests times after 2 warm-ups, ours and plain interleaved, DEBUG off.

Targets: (a) the unfiltered call list: ours median ≤ 0.3 × plain median; (b) no page of ours
(dashboard included) has a p95 above 300 ms. Exit 1 when one is missed.

While it measures, pushes arrive at --push-rate reports/s (default 100) through the real
receiver (gunicorn) and the apply worker, updating the newest day's calls, so today's figures
are read live from a table that is being written.

    python bench/admin_scale.py [--calls 1000000] [--requests 30] [--seed 7] [--push-rate 100]
                                [--reuse] [--prepare-only]

The generated database is dropped at the end unless --reuse keeps it for later runs (ten
million calls take about 15 GB and half an hour to generate); --prepare-only generates and
exits.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import sys
import time
import traceback
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _push_load import PushLoad
from _setup import setup_django

LIST_RATIO_TARGET = 0.3
P95_TARGET_MS = 300.0
WARMUPS = 2
APPS = 3
CAMPAIGNS = 20
DAYS = 60


def ensure_data(calls: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from campaigns.models import Call, ItnioAccount, ItnioApp

    account, _ = ItnioAccount.objects.get_or_create(
        name="bench-admin", defaults={"api_key": "benchKey", "api_secret": "benchSecret"}
    )
    for i in range(1, APPS + 1):
        ItnioApp.objects.get_or_create(
            app_id=f"BENCHADM{i}", defaults={"account": account, "label": f"Bench app {i}"}
        )
    have = Call.objects.count()
    if have < calls:
        print(f"generating {calls - have:,} calls (the database holds {have:,}) ...", flush=True)
        started = time.perf_counter()
        call_command(
            "generate_calls",
            str(calls - have),
            "--campaigns",
            str(CAMPAIGNS),
            "--days",
            str(DAYS),
            "--seed",
            str(have + 1),
        )
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    else:
        print(f"the database holds {have:,} calls (wanted {calls:,}): reused")
    started = time.perf_counter()
    call_command("refresh_call_stats")
    print(f"refresh_call_stats: {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # As in production, where pushes keep arriving: one call of today changes, so today's
    # figures are not stored yet and every page adds today's calls straight from the table.
    from django.utils import timezone

    latest = Call.objects.order_by("-placed_at").first()
    Call.objects.filter(pk=latest.pk).update(synced_at=timezone.now())
    print(f"today marked changed (as after a push): {latest.placed_at:%Y-%m-%d} is aggregated live")


def production_like() -> None:
    """DEBUG off (no query log, no template debug), the test client's host allowed, and the
    tracebacks Django logs for failing requests left out (fetch() reports them in one line)."""
    from django.conf import settings
    from django.template import engines

    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise, no collectstatic

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    for engine in engines.all():
        if hasattr(engine, "engine"):
            engine.engine.debug = False


def use_bench_urls() -> None:
    from django.conf import settings
    from django.urls import clear_url_caches, set_urlconf

    settings.ROOT_URLCONF = "_admin_scale_urls"
    clear_url_caches()
    set_urlconf(None)
    import _admin_scale_urls  # noqa: F401  (fails loudly here if CallAdmin cannot be copied)


def day(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def build_pages(rng: random.Random, n: int) -> tuple[list[tuple[str, list[str], bool]], str]:
    """(label, query strings or paths, is a list page) for every page; and the dashboard note."""
    from django.db.models import Max, Min
    from django.urls import NoReverseMatch, reverse

    from campaigns.models import Call, Campaign, ItnioApp

    app_pks = list(ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE).values_list("pk", flat=True))
    campaigns = list(Campaign.objects.values_list("pk", "app_id"))
    bounds = Call.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    sample: list[tuple[int, str, str]] = []
    while len(sample) < 3 * n:
        ids = {rng.randint(bounds["lo"], bounds["hi"]) for _ in range(6 * n)}
        sample += list(Call.objects.filter(pk__in=ids).values_list("pk", "voice_id", "callee"))
    rng.shuffle(sample)

    def cycle(values: list[Any]) -> list[Any]:
        values = list(values)
        rng.shuffle(values)
        return [values[i % len(values)] for i in range(n)]

    today = day(datetime.now(UTC))
    tomorrow = today + timedelta(days=1)
    ranges = [
        (today, tomorrow),  # the filter's own links: today, past 7 days, this month, this year
        (today - timedelta(days=7), tomorrow),
        (today.replace(day=1), (today.replace(day=28) + timedelta(days=4)).replace(day=1)),
        (today.replace(month=1, day=1), today.replace(year=today.year + 1, month=1, day=1)),
    ]
    while len(ranges) < n:
        length = rng.choice([1, 2, 3, 7, 14, 30])
        start = today - timedelta(days=rng.randint(length, DAYS + 5))
        ranges.append((start, start + timedelta(days=length)))

    def q(**params: Any) -> str:
        return "?" + urlencode(params)

    pages: list[tuple[str, list[str], bool]] = [
        ("list, unfiltered", [q(p=1 + i % 5) for i in range(n)], True),
        ("filter app", [q(app__id__exact=pk) for pk in cycle(app_pks)], True),
        ("filter kind", [q(kind__exact=k) for k in cycle(Call.Kind.values)], True),
        ("filter state", [q(state__exact=s) for s in cycle(Call.State.values)], True),
        ("filter answered", [q(answered=a) for a in cycle(["yes", "no"])], True),
        (
            "filter placed date",
            [q(placed_at__gte=str(a), placed_at__lt=str(b)) for a, b in ranges[:n]],
            True,
        ),
        ("search voiceId", [q(q=voice_id) for _, voice_id, _ in sample[:n]], True),
        (
            "search callee prefix",
            [q(q=callee[: rng.randint(4, 6)]) for _, _, callee in sample[n : 2 * n]],
            True,
        ),
        ("call page", [f"{pk}/change/" for pk, _, _ in sample[2 * n : 3 * n]], False),
    ]
    try:
        dashboard = reverse("admin:campaigns_call_dashboard")
    except NoReverseMatch:
        return pages, "dashboard: not available"
    urls = []
    for i in range(n):
        length = rng.choice([1, 7, 14, 30, 60])
        until = today - timedelta(days=rng.randint(0, 5))
        params: dict[str, Any] = {}
        campaign, campaign_app = rng.choice(campaigns) if campaigns else (None, None)
        shape = i % 4  # nothing, an app, a campaign, a campaign with its app
        if shape in (1, 3) and app_pks:
            params["app"] = campaign_app if shape == 3 and campaign_app else rng.choice(app_pks)
        if shape in (2, 3) and campaign:
            params["campaign"] = campaign
        params["since"] = f"{until - timedelta(days=length):%Y-%m-%d}"
        params["until"] = f"{until:%Y-%m-%d}"
        urls.append(dashboard + q(**params))
    pages.append(("dashboard", urls, False))
    return pages, ""


def short_sql(sql: str, width: int = 260) -> str:
    """One line; a long column list is cut so that FROM, WHERE and ORDER BY stay visible."""
    sql = " ".join(sql.split())
    if len(sql) > width and sql.startswith("SELECT") and " FROM " in sql:
        sql = sql[:40] + " …" + sql[sql.index(" FROM ") :]
    return sql[:width]


class Side:
    """One admin's timings for one page, or the error that stopped them."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.urls: list[str] = []  # the path + query of each timed request, in step with times
        self.error = ""

    def median(self) -> float:
        return statistics.median(self.times) * 1000

    def slowest(self, count: int) -> list[tuple[float, str]]:
        return sorted(zip(self.times, self.urls, strict=True), reverse=True)[:count]

    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000


def fetch(client: Any, url: str, clear: Any) -> tuple[float, str]:
    """Seconds for one GET with every cache cleared before it; an error text unless 200."""
    clear()
    started = time.perf_counter()
    try:
        response = client.get(url)
    except Exception as exc:  # the test client re-raises view errors: report them, go on
        ours = [
            frame
            for frame in traceback.extract_tb(exc.__traceback__)
            if "site-packages" not in frame.filename
        ]
        where = f" ({Path(ours[-1].filename).name}:{ours[-1].lineno})" if ours else ""
        return 0.0, f"raised {type(exc).__name__}: {exc}{where}"
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        where = response.get("Location", "")
        return elapsed, f"HTTP {response.status_code} {where}".strip()
    return elapsed, ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--push-rate", type=float, default=100.0)
    parser.add_argument("--reuse", action="store_true", help="keep the generated database")
    parser.add_argument("--prepare-only", action="store_true", help="generate the data, exit")
    args = parser.parse_args()
    if args.calls < 1 or args.requests < 1:
        parser.error("--calls and --requests must be positive")

    db_url = setup_django(BENCH_DB)
    try:
        return measure(args, db_url)
    finally:
        if not args.reuse:
            drop_database(db_url)


BENCH_DB = "itnio_portal_bench_admin"


def drop_database(db_url: str) -> None:
    from django.db import connections

    connections.close_all()
    if not db_url.startswith("postgres"):
        return
    import psycopg

    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(db_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped the bench database {name} (--reuse keeps it)")


def measure(args: argparse.Namespace, db_url: str) -> int:
    ensure_data(args.calls)
    if args.prepare_only:
        return 0
    pushes = PushLoad(db_url, args.push_rate).start() if args.push_rate > 0 else None
    try:
        return measure_pages(args, pushes)
    finally:
        if pushes is not None:
            pushes.stop()


def measure_pages(args: argparse.Namespace, pushes: PushLoad | None) -> int:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    production_like()
    use_bench_urls()

    user, _ = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    sessions_in_cache = settings.SESSION_ENGINE == "django.contrib.sessions.backends.cache"

    def clear() -> None:
        for cache in caches.all():
            cache.clear()
        if sessions_in_cache:  # clearing the cache would log the client out
            client.force_login(user)

    rng = random.Random(args.seed)
    pages, dashboard_note = build_pages(rng, args.requests + WARMUPS)
    bases = {"ours": "/admin/campaigns/call/", "plain": "/plain/campaigns/call/"}
    results: dict[str, dict[str, Side]] = {}
    profile: dict[str, dict[str, tuple[int, float, float, str]]] = {}
    started_all = time.perf_counter()
    for label, urls, _ in pages:
        sides = ["ours"] if label == "dashboard" else ["ours", "plain"]
        results[label] = {side: Side() for side in sides}
        started = time.perf_counter()
        for i, url in enumerate(urls):
            for side in sides if i % 2 == 0 else sides[::-1]:  # alternate who goes first
                record = results[label][side]
                if record.error:
                    continue
                full = url if label == "dashboard" else bases[side] + url
                elapsed, error = fetch(client, full, clear)
                if error:
                    record.error = error
                    print(f"FAIL {side} {label}: {full} -> {error}", flush=True)
                elif i >= WARMUPS:
                    record.times.append(elapsed)
                    record.urls.append(url)
        # One more request each, not timed, to see which SQL the time goes to: the value that
        # was slowest for ours, the same value for plain.
        ours = results[label]["ours"]
        worst = ours.slowest(1)[0][1] if ours.times else urls[-1]
        profile[label] = {}
        for side in sides:
            if results[label][side].error:
                continue
            full = worst if label == "dashboard" else bases[side] + worst
            clear()
            with CaptureQueriesContext(connection) as ctx:
                client.get(full)
            timed = [(float(qr["time"]) * 1000, qr["sql"]) for qr in ctx.captured_queries]
            slowest = max(timed, default=(0.0, ""))
            profile[label][side] = (len(timed), sum(t for t, _ in timed), *slowest)
        print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)
    print(f"measured in {time.perf_counter() - started_all:.0f} s")
    if pushes is not None:
        print(pushes.summary())
    print()

    def ms(side: Side | None, what: str) -> str:
        if side is None:
            return "–"
        if side.error:
            return "ERROR"
        return f"{getattr(side, what)():.1f}"

    head = f"{'page':<22} {'ours med':>9} {'ours p95':>9} {'plain med':>9} {'plain p95':>9}"
    print(f"{head} {'ours/plain':>10}   (ms; {args.requests} requests each, caches cleared)")
    ratios: dict[str, float] = {}
    for label, _, _ in pages:
        ours, plain = results[label]["ours"], results[label].get("plain")
        ratio = ""
        if plain is not None and not ours.error and not plain.error:
            ratios[label] = ours.median() / plain.median()
            ratio = f"{ratios[label]:.2f}"
        print(
            f"{label:<22} {ms(ours, 'median'):>9} {ms(ours, 'p95'):>9} "
            f"{ms(plain, 'median'):>9} {ms(plain, 'p95'):>9} {ratio:>10}"
        )
    if dashboard_note:
        print(f"{dashboard_note:<22} {'–':>9} {'–':>9} {'–':>9} {'–':>9}")

    print(
        "\nSQL of one more request per page, with the value that was slowest for ours "
        "(queries, total SQL ms, slowest query):"
    )
    for label, sides in profile.items():
        for side, (count, total, worst, sql) in sides.items():
            print(
                f"  {label:<22} {side:<5} {count:>3} q {total:>8.1f} ms  slowest {worst:>7.1f} ms:"
            )
            print(f"      {short_sql(sql)}")

    failed = False
    print(
        f"\nList pages, ours/plain median (target for the unfiltered list: ≤ {LIST_RATIO_TARGET}):"
    )
    for label, _, is_list in pages:
        if is_list:
            shown = f"{ratios[label]:.2f}" if label in ratios else "n/a (error)"
            print(f"  {label:<22} {shown}")
    unfiltered = ratios.get("list, unfiltered")
    ok_a = unfiltered is not None and unfiltered <= LIST_RATIO_TARGET
    failed |= not ok_a
    shown = "n/a (error)" if unfiltered is None else f"{unfiltered:.2f}"
    print(
        f"(a) unfiltered list ours/plain median {shown} ≤ {LIST_RATIO_TARGET}: "
        f"{'PASS' if ok_a else 'FAIL'}"
    )
    over = [
        f"{label} ({'error' if s.error else f'{s.p95():.0f} ms'})"
        for label, r in results.items()
        for s in [r["ours"]]
        if s.error or s.p95() > P95_TARGET_MS
    ]
    if dashboard_note:
        over.append("dashboard (not available)")
    ok_b = not over
    failed |= not ok_b
    print(
        f"(b) every page of ours p95 ≤ {P95_TARGET_MS:.0f} ms: {'PASS' if ok_b else 'FAIL'}"
        + (f" — over: {', '.join(over)}" if over else "")
    )
    for label, r in results.items():
        ours = r["ours"]
        if not ours.error and ours.times and ours.p95() > P95_TARGET_MS:
            print(f"    slowest {label} requests of ours:")
            for elapsed, url in ours.slowest(3):
                print(f"      {elapsed * 1000:7.1f} ms  {url}")
    errors = [f"{label} {side}" for label, r in results.items() for side, s in r.items() if s.error]
    if errors:
        print(f"requests that did not answer 200: {', '.join(errors)}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
