"""Dispatch throughput: our campaign dispatcher against a bare 4-thread pool.

100,000 callees are dispatched to the ITNIO sandbox (a separate process, 50 ms added latency
per request) by `campaign_dispatch` (ITNIO_DISPATCH_CONCURRENCY=4, 200 numbers per request:
500 sendGroup requests, each committed before and after, every call stored). The baseline, in
the same run, posts the very same 500 request bodies to the same sandbox from a bare
ThreadPoolExecutor(4) with requests, doing nothing else. Target: ours ≤ 1.25× the bare pool.

With `--dnc N`, N do-not-call entries are in the portal-wide list first (every 100th callee
among them, the rest other numbers): the claim checks them for every batch, and the target
stays the same (the bare pool posts the very same, smaller, bodies).

With `--window-zone callee`, the campaign's window is in each callee's local time and the
callees are spread over eight zone sets (whole-hour zones, one a callee in turn): every claim
filters them by the zone sets open now, in SQL. The window is open in all of them for the run
(23 h 59 min, its closed minute half an hour away in every zone), so all are sent and the
target stays the same. With `--retries K` the campaign retries the not reached (after 0
minutes): every claim first releases the due retries (none are due before the records come,
so the bodies are the same), and the campaign stays running, waiting for its records, instead
of completing.

With `--budget "1000000 USD"` the campaign has that budget and a rate card for prefix 62 (0.05
USD a minute, 60+60, at most 60 s a call: 0.05 USD worst case a callee, so a million dollars
leaves room for every callee): every claim prices its batch against the room left, reserves
the batch's worst case and checks the account's balance before the request is sent.

    python bench/dispatch.py [--callees 100000] [--latency-ms 50] [--dnc 1000000]
        [--window-zone callee] [--retries 2] [--budget "1000000 USD"]

SQLite (a small size, to check it works): BENCH_DATABASE_URL=sqlite:////tmp/bench.sqlite3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, setup_django

KEY, SECRET, APP = "benchKey", "benchSecret", "BENCHAPP"
TARGET = 1.25
#: The zones of `--window-zone callee`, whole hours from UTC: the same minute everywhere.
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Tokyo",
    "America/New_York",
    "America/Los_Angeles",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(latency_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "itnio_portal.itnio.sandbox",
            "--port",
            str(port),
            "--account",
            f"{KEY}:{SECRET}",
            "--app",
            f"{KEY}:{APP}",
            "--balance",
            "1000000000",
            "--latency-ms",
            str(latency_ms),
            "--life-scale",
            "100000",
            "--push-interval",
            "3600",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the sandbox did not start")


def running_campaign(base_url: str):
    """The bench account and app (on the sandbox at base_url), a voice file uploaded to it, and
    a running campaign without callees (the caller adds them its own way)."""
    from campaigns.models import Campaign, ItnioAccount, ItnioApp, VoiceFile
    from campaigns.services.itnio import itnio_client_for

    account = ItnioAccount.objects.create(
        name="bench", api_key=KEY, api_secret=SECRET, base_url=base_url
    )
    app = ItnioApp.objects.create(account=account, app_id=APP)
    wav = (ROOT / "tests" / "data" / "beep.wav").read_bytes()
    file_id = itnio_client_for(account).file_upload(file_name="bench.wav", content=wav)
    voice_file = VoiceFile.objects.create(
        app=app,
        file_name="bench.wav",
        audio="voice/bench.wav",
        state="uploaded",
        remote_file_id=file_id,
    )
    return Campaign.objects.create(
        name="bench", app=app, voice_file=voice_file, state="running", called_info="bench"
    )


def timing_settings(campaign, window_zone: str, retries: int) -> list[int]:
    """The campaign's callee-local window (open in every zone of ZONES for the next half hour)
    and its retries; the zone set ids the callees are spread over ([] for no window)."""
    from datetime import UTC, datetime, timedelta

    from campaigns.services.windows import zone_set_ids

    fields: dict[str, object] = {"retries": retries, "retry_after_minutes": 0}
    ids: list[int] = []
    if window_zone == "callee":
        # Closed only from 00:MM to 00:MM+1 local, MM half an hour from now's minute.
        soon = datetime.now(UTC) + timedelta(minutes=30)
        closed = soon.replace(hour=0, second=0, microsecond=0)
        fields.update(
            window_callee_local=True,
            window_start=(closed + timedelta(minutes=1)).time(),
            window_end=closed.time(),
        )
        found = zone_set_ids(set(ZONES))
        ids = [found[zone] for zone in ZONES]
    elif window_zone:
        raise SystemExit("--window-zone: only 'callee' is benched")
    type(campaign).objects.filter(pk=campaign.pk).update(**fields)
    campaign.refresh_from_db()
    return ids


def budget_settings(campaign, budget: str) -> None:
    """The campaign's budget and a rate card for prefix 62 (every callee); its callees priced
    and its totals counted, as `budget_set` does for a campaign not running."""
    from decimal import Decimal

    from campaigns.models import AppRate
    from campaigns.services.budgets import parse_budget, price_callees, recount

    if not budget:
        return
    amount, currency = parse_budget(budget)
    AppRate.objects.create(
        app=campaign.app,
        prefix="62",
        rate=Decimal("0.05"),
        currency=currency,
        bill_period="60+60",
        source=AppRate.Source.CARD,
    )
    type(campaign).objects.filter(pk=campaign.pk).update(
        budget_amount=amount, budget_currency=currency, max_duration=60
    )
    campaign.refresh_from_db()
    price_callees(campaign)
    recount(campaign)


def add_rows(connection, table: str, columns: tuple[str, ...], rows) -> None:
    """COPY on PostgreSQL; executemany in chunks on SQLite."""
    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    rows = iter(rows)
    with connection.cursor() as cursor:
        while chunk := [row for _i, row in zip(range(10_000), rows, strict=False)]:
            cursor.executemany(sql, chunk)


def bare_pool(url: str, bodies: list[dict], threads: int) -> float:
    import requests

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=threads, pool_maxsize=threads)
    session.mount("http://", adapter)

    def post(body: dict) -> None:
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            "Api-Key": KEY,
            "Timestamp": ts,
            "Sign": hashlib.md5((KEY + SECRET + ts).encode()).hexdigest(),
        }
        data = json.dumps(body, separators=(",", ":")).encode()
        response = session.post(url + "/voice/sendGroup", data=data, headers=headers, timeout=30)
        assert response.json()["status"] == "0", response.text

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(post, bodies))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callees", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--dnc", type=int, default=0, help="do-not-call entries to add first")
    parser.add_argument("--window-zone", default="", help="callee: a callee-local window")
    parser.add_argument("--retries", type=int, default=0, help="retries of the not reached")
    parser.add_argument("--budget", default="", help='a campaign budget: "1000000 USD"')
    args = parser.parse_args()

    db_url = setup_django("itnio_bench_dispatch")
    from django.conf import settings
    from django.db import connection

    settings.ITNIO_DISPATCH_CONCURRENCY = args.concurrency
    settings.ITNIO_SEND_GROUP_MAX = 200
    from campaigns.models import (
        ApiRequestLog,
        AppRate,
        Call,
        Callee,
        Campaign,
        ItnioAccount,
        ItnioApp,
        SuppressionEntry,
        VoiceFile,
        ZoneSet,
    )
    from campaigns.services.dispatch import campaign_dispatch
    from campaigns.services.suppression import portal_wide_list

    sandbox, url = start_sandbox(args.latency_ms)
    try:
        # A clean slate each run.
        Callee.objects.all().delete()
        SuppressionEntry.objects.all().delete()
        Call.objects.all().delete()
        Campaign.objects.all().delete()
        VoiceFile.objects.all().delete()
        ApiRequestLog.objects.all().delete()
        AppRate.objects.all().delete()
        ItnioApp.objects.all().delete()
        ItnioAccount.objects.all().delete()
        ZoneSet.objects.all().delete()
        campaign = running_campaign(url)
        zone_sets = timing_settings(campaign, args.window_zone, args.retries)
        add_rows(
            connection,
            "campaigns_callee",
            ("campaign_id", "number", "state", "voice_id", "reason", "zone_set_id"),
            (
                (
                    campaign.pk,
                    str(620000000001 + i),
                    "pending",
                    "",
                    "",
                    zone_sets[i % len(zone_sets)] if zone_sets else None,
                )
                for i in range(args.callees)
            ),
        )
        suppressed_callees = 0
        if args.dnc:
            list_id = portal_wide_list().pk
            now = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime())
            entries = []
            for i in range(args.dnc):
                if i % 100 == 0 and i < args.callees:
                    number = str(620000000001 + i)  # one callee in a hundred
                    suppressed_callees += 1
                else:
                    number = str(630000000001 + i)
                entries.append((list_id, number, "bench", "manual", "bench", now))
            add_rows(
                connection,
                "campaigns_suppressionentry",
                ("suppression_list_id", "number", "reason", "source", "added_by", "created_at"),
                entries,
            )
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE campaigns_suppressionentry")
        budget_settings(campaign, args.budget)
        print(
            f"database: {db_url.rsplit('@', 1)[-1]}  sandbox latency: {args.latency_ms:.0f} ms  "
            f"callees: {args.callees:,}  concurrency: {args.concurrency}  "
            f"do-not-call entries: {args.dnc:,} ({suppressed_callees:,} of them callees)"
        )
        from campaigns.services.budgets import budget_text
        from campaigns.services.windows import window_text

        print(
            f"window: {window_text(campaign)} ({len(zone_sets) or 'no'} zone sets)  "
            f"retries: {campaign.retries}  budget: {budget_text(campaign) or 'none'}"
        )

        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            report = profiler.runcall(campaign_dispatch, campaign.pk)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        else:
            report = campaign_dispatch(campaign.pk)
        ours = time.perf_counter() - started
        requests_sent = report.batches_sent
        sent = args.callees - suppressed_callees
        assert report.accepted + report.rejected == sent and not report.unknown, report
        skipped = Callee.objects.filter(campaign=campaign, state="skipped").count()
        assert skipped == suppressed_callees, (skipped, suppressed_callees)
        campaign.refresh_from_db()
        # With retries the campaign waits for its records (a retry may follow), sent all the same.
        assert campaign.state == ("running" if args.retries else "completed"), campaign.state
        assert not Callee.objects.filter(campaign=campaign, state="pending").exists()
        if args.budget:
            print(
                f"budget {budget_text(campaign)}: reserved {campaign.budget_reserved} "
                f"billed {campaign.budget_billed} {campaign.budget_currency}"
            )
            assert campaign.budget_reserved > 0, "the claims reserved nothing"

        import urllib.request

        with urllib.request.urlopen(url + "/_sandbox/requests?path=/voice/sendGroup") as response:
            recorded = json.load(response)
        records = recorded["requests"] if isinstance(recorded, dict) else recorded
        bodies = [r["body"] for r in records]
        assert len(bodies) == requests_sent, (len(bodies), requests_sent)
        bare = bare_pool(url, bodies, args.concurrency)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    ratio = ours / bare
    print(f"requests: {requests_sent}  ({settings.ITNIO_SEND_GROUP_MAX} numbers each)")
    print(
        f"ours (campaign_dispatch, every state committed):  {ours:7.2f} s  "
        f"{args.callees / ours:9,.0f} callees/s"
    )
    print(f"bare ThreadPoolExecutor({args.concurrency}) + requests, same bodies: {bare:7.2f} s")
    print(
        f"ratio ours / bare: {ratio:.2f}  (target <= {TARGET})  "
        f"{'OK' if ratio <= TARGET else 'MISSED'}"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
