"""Push ingestion under load: our receiver against a bare "INSERT the body" app, same gunicorn.

Everything runs on this machine against a PostgreSQL database of its own (dropped and created
anew): the ITNIO sandbox (200 ms latency), a campaign dispatching to it all along (one sender),
the figures refresh in a loop, the push apply worker, and two gunicorns with 3 sync workers each:
the portal, and beside it a bare WSGI app (bench/_bare_push_app.py) that only INSERTs the raw
body into a table, the floor for "store and answer".

1. Throughput: K closed-loop clients for D seconds, single-report bodies, a third of them repeats
   or out-of-order updates of earlier voiceIds; ours and bare interleaved, three runs each,
   medians compared. Target: ours >= 0.6x bare.
2. Latency: an open-loop load of R reports/s for D seconds (what a 1M-number campaign produces on
   average is about 300/s); p99 from the scheduled send time. Target: <= 100 ms.
3. Arrays of 100 reports, 8 closed-loop clients for 10 s. Target: >= 10,000 reports/s.
4. Lag from the answer to the Call row reflecting it (the entry's apply commit), p99. Target:
   <= 5 s (open-loop run; the closed-loop runs are printed too).
5. After the run: inbox rows = 2xx answers, calls = distinct voiceIds, every entry applied.

    python bench/pushes.py [--clients 32] [--seconds 30] [--rate 300] [--runs 3] [--features]

--features turns on what a real campaign's pushes also drive in the apply: every pushed voiceId
is a call of a second campaign (made before the load) with a budget and an opt-out key ("9",
pressed in one final report in twenty), and a webhook subscription on call.final delivers to a
local receiver through the delivery worker. Printed beside the targets: budget billed, opt-outs,
webhook messages delivered.

Exit 1 when a target is missed. Takes about 7 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _push_features import FIRST_ID, SINK, feature_facts, seed_features
from _setup import ROOT
from dispatch import free_port, running_campaign, start_sandbox

DB_NAME = "itnio_bench_pushes"
TARGETS = {"ratio": 0.6, "p99_ms": 100.0, "array_rps": 10_000.0, "lag_p99_s": 5.0}


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------
def fresh_database() -> str:
    import psycopg

    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [DB_NAME]
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return f"{base}/{DB_NAME}"


def portal_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="itnio_portal.settings.base",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="bench-only-secret-key-not-for-production-0123456789",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=db_url,
        BARE_DATABASE_URL=db_url,
        TASKS_BACKEND="immediate",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def spawn(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=sys.stderr)


def gunicorn(app: str, port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "gunicorn", app, "--workers", "3", "--bind", f"127.0.0.1:{port}"]
    return spawn([*argv, "--log-level", "warning"], env, cwd)


def django_loop(code: str, env: dict[str, str]) -> subprocess.Popen:
    """A Python process with Django set up, running `code` (a background load)."""
    script = "import django; django.setup()\n" + code
    return spawn([sys.executable, "-c", script], env)


async def wait_http(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


# ---------------------------------------------------------------------------
# Load
# ---------------------------------------------------------------------------
class Bodies:
    """Single-report bodies: two thirds new voiceIds, a third repeats or older updates."""

    def __init__(self, seed: int = 7, opt_out_key: str = "") -> None:
        self.random = random.Random(seed)
        self.next_id = FIRST_ID
        self.sent: list[str] = []
        self.opt_out_key = opt_out_key

    def report(self, voice_id: str, final: bool) -> dict:
        submit = 1_780_000_000_000 + int(voice_id[-6:]) * 10
        return {
            "voiceId": voice_id,
            "type": 1,
            "callee": "6591" + voice_id[-7:].rjust(7, "0")[-7:],
            "displayNum": "6560000000",
            "submitTime": submit,
            "callTime": submit + 2_000,
            "ringingTime": submit + 4_000,
            "answerTime": submit + 9_000 if final else None,
            "hangupTime": submit + 31_000 if final else None,
            "callDuration": 22 if final else 0,
            "chargedDuration": 60 if final else 0,
            "billPeriod": "60+60",
            "code": "Singapore(Singtel)",
            "voiceFileId": "bench",
            "rate": "0.012",
            "baseCost": "0.012" if final else "",
            "cost": "0.012" if final else "",
            "terminationCode": "200" if final else "",
            "terminationReason": "success" if final else "",
            "feedbackValue": self._feedback(final),
            "calledInfo": "bench",
            "currency": "",
        }

    def _feedback(self, final: bool) -> str:
        if final and self.opt_out_key and self.random.random() < 1 / 20:
            return self.opt_out_key
        return "-1"

    def single(self) -> tuple[str, bytes]:
        if self.sent and self.random.random() < 1 / 3:
            voice_id = self.random.choice(self.sent)
            final = self.random.random() < 0.5  # a duplicate final, or an older ringing report
        else:
            voice_id = str(self.next_id)
            self.next_id += 1
            final = True
        return voice_id, json.dumps(self.report(voice_id, final), separators=(",", ":")).encode()

    def single_ids(self) -> tuple[list[str], bytes]:
        voice_id, body = self.single()
        return [voice_id], body

    def array(self, n: int) -> tuple[list[str], bytes]:
        ids = []
        for _ in range(n):
            ids.append(str(self.next_id))
            self.next_id += 1
        body = [self.report(v, True) for v in ids]
        return ids, json.dumps(body, separators=(",", ":")).encode()


async def post(port: int, path: str, body: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    await reader.read()
    writer.close()
    return int(status_line.split()[1]) if status_line else 0


class Tally:
    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.reports = 0
        self.latencies: list[float] = []
        self.voice_ids: set[str] = set()


async def closed_loop(port, path, clients, seconds, make, tally: Tally, bodies: Bodies) -> float:
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            ids, body = make()
            started = time.perf_counter()
            try:
                status = await post(port, path, body)
            except OSError:
                status = 0
            tally.latencies.append(time.perf_counter() - started)
            if 200 <= status < 300:
                tally.ok += 1
                tally.reports += len(ids)
                tally.voice_ids.update(ids)
                bodies.sent.extend(ids)
            else:
                tally.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started


async def open_loop(port, path, rate, seconds, bodies: Bodies, tally: Tally) -> None:
    start = time.perf_counter() + 0.2
    tasks = []

    async def one(at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        voice_id, body = bodies.single()
        try:
            status = await post(port, path, body)
        except OSError:
            status = 0
        tally.latencies.append(time.perf_counter() - at)  # from the scheduled time
        if 200 <= status < 300:
            tally.ok += 1
            tally.reports += 1
            tally.voice_ids.add(voice_id)
            bodies.sent.append(voice_id)
        else:
            tally.errors += 1

    for i in range(int(rate * seconds)):
        tasks.append(asyncio.create_task(one(start + i / rate)))
    await asyncio.gather(*tasks)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# ---------------------------------------------------------------------------
def seed(
    db_url: str, sandbox_url: str, callees: int, features: bool = False, sink_url: str = ""
) -> tuple[str, int]:
    """The account, the app, an uploaded voice file and a running campaign; (push path, id)."""
    os.environ.update(
        portal_env(db_url, WEBHOOKS_ALLOW_PRIVATE_ADDRESSES="true", WEBHOOKS_ALLOW_HTTP="true")
    )
    os.environ["DJANGO_DEBUG"] = "true"  # this process only seeds; no production checks
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # seeding runs before any load starts
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    campaign = running_campaign(sandbox_url)
    app = campaign.app
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO campaigns_callee (campaign_id, number, state, voice_id, reason) "
            "SELECT %s, (630000000000 + g)::text, 'pending', '', '' FROM generate_series(1, %s) g",
            [campaign.pk, callees],
        )
        cursor.execute("CREATE TABLE bench_bare_push (id bigserial PRIMARY KEY, body text)")
    if features:
        seed_features(campaign, sink_url)
    connection.close()
    return app.push_path, campaign.pk


def verify(db_url: str, portal: Tally) -> tuple[bool, dict]:
    import psycopg

    deadline = time.monotonic() + 120
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            pending = conn.execute(
                "SELECT count(*) FROM campaigns_pushevent WHERE state = 'pending'"
            ).fetchone()[0]
            if not pending:
                break
            time.sleep(0.5)
        by_state = "SELECT state, count(*) FROM campaigns_pushevent GROUP BY state"
        rows = dict(conn.execute(by_state).fetchall())
        calls = conn.execute(
            "SELECT count(*) FROM campaigns_call WHERE created_by = 'learned:push' "
            "OR (created_by = 'bench' AND synced_at IS NOT NULL)"
        ).fetchone()[0]
    facts = {
        "2xx answers": portal.ok,
        "inbox rows": sum(rows.values()),
        "applied": rows.get("processed", 0),
        "failed": rows.get("failed", 0),
        "pending": rows.get("pending", 0),
        "distinct voiceIds": len(portal.voice_ids),
        "calls": calls,
    }
    ok = (
        facts["inbox rows"] == facts["2xx answers"] == facts["applied"]
        and facts["calls"] == facts["distinct voiceIds"]
    )
    return ok, facts


def lag_p99(db_url: str, since_id: int) -> tuple[float, int]:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM processed_at - received_at) FROM campaigns_pushevent "
            "WHERE id > %s AND state = 'processed'",
            [since_id],
        ).fetchall()
        top = conn.execute("SELECT coalesce(max(id), 0) FROM campaigns_pushevent").fetchone()[0]
    return pct([float(r[0]) for r in rows], 0.99), top


async def run(args) -> int:
    db_url = fresh_database()
    sandbox, sandbox_url = start_sandbox(200)
    procs = [sandbox]
    try:
        sink_port = free_port()
        sink_url = f"http://127.0.0.1:{sink_port}/hook"
        push_path, campaign_id = seed(db_url, sandbox_url, args.callees, args.features, sink_url)
        env = portal_env(
            db_url,
            ITNIO_DISPATCH_CONCURRENCY="1",
            WEBHOOKS_ALLOW_PRIVATE_ADDRESSES="true",
            WEBHOOKS_ALLOW_HTTP="true",
        )
        if args.features:
            procs += [
                spawn([sys.executable, "-c", SINK, str(sink_port)], env),
                django_loop(
                    "import time\n"
                    "from campaigns.management.commands.portal_worker import lower_priority\n"
                    "from campaigns.services.outbound_hooks_delivery import webhooks_deliver_due\n"
                    "lower_priority('webhooks')  # as the webhooks queue's worker does\n"
                    "while True:\n    webhooks_deliver_due(max_seconds=30)\n    time.sleep(0.5)\n",
                    env,
                ),
            ]
        ours_port, bare_port = free_port(), free_port()
        procs += [
            gunicorn("itnio_portal.wsgi", ours_port, env, ROOT),
            gunicorn("_bare_push_app:app", bare_port, env, ROOT / "bench"),
            spawn([sys.executable, "manage.py", "apply_pushes"], env),
        ]
        if not args.no_background:
            procs += [
                django_loop(
                    "from campaigns.services.dispatch import campaign_dispatch\n"
                    f"campaign_dispatch({campaign_id})\n",
                    env,
                ),
                django_loop(
                    "import time\nfrom campaigns.services.reports import refresh_call_stats\n"
                    "while True:\n    refresh_call_stats()\n    time.sleep(2)\n",
                    env,
                ),
            ]
        await wait_http(ours_port)
        await wait_http(bare_port)
        print(
            f"PostgreSQL {DB_NAME}; gunicorn 3 sync workers each; {args.clients} clients; "
            f"{args.seconds:g} s per run; campaign of {args.callees:,} dispatching; "
            "figures refresh looping; one apply worker"
            + ("; features: budget, opt-out key, call.final webhook" if args.features else "")
        )
        bodies = Bodies(opt_out_key="9" if args.features else "")
        portal = Tally()
        warm = Tally()
        await closed_loop(ours_port, push_path, 8, 3, bodies.single_ids, warm, bodies)
        portal.ok, portal.voice_ids = warm.ok, set(warm.voice_ids)

        rates: dict[str, list[float]] = {"ours": [], "bare": []}
        p99s: dict[str, list[float]] = {"ours": [], "bare": []}
        lags = []
        _lag, last_id = lag_p99(db_url, 0)
        for run_no in range(args.runs):
            for name, port, path in (
                ("ours", ours_port, push_path),
                ("bare", bare_port, "/"),
            ):
                tally = Tally()
                took = await closed_loop(
                    port, path, args.clients, args.seconds, bodies.single_ids, tally, bodies
                )
                rates[name].append(tally.ok / took)
                p99s[name].append(pct(tally.latencies, 0.99) * 1000)
                if name == "ours":
                    portal.ok += tally.ok
                    portal.voice_ids |= tally.voice_ids
                print(
                    f"  run {run_no + 1} {name}: {tally.ok / took:7.1f} pushes/s  "
                    f"p99 {p99s[name][-1]:6.1f} ms  non-2xx {tally.errors}"
                )
            lag, last_id = lag_p99(db_url, last_id)
            lags.append(lag)
        ratio = statistics.median(rates["ours"]) / statistics.median(rates["bare"])

        print(f"open loop: {args.rate} reports/s for {args.seconds:g} s")
        opened = Tally()
        await open_loop(ours_port, push_path, args.rate, args.seconds, bodies, opened)
        portal.ok += opened.ok
        portal.voice_ids |= opened.voice_ids
        open_p99 = pct(opened.latencies, 0.99) * 1000
        await asyncio.sleep(3)
        open_lag, last_id = lag_p99(db_url, last_id)

        arrays = Tally()
        took = await closed_loop(
            ours_port, push_path, 8, 10, lambda: bodies.array(100), arrays, bodies
        )
        portal.ok += arrays.ok
        portal.voice_ids |= arrays.voice_ids
        array_rps = arrays.reports / took
        consistent, facts = verify(db_url, portal)
        array_lag, last_id = lag_p99(db_url, last_id)
        if args.features:
            await asyncio.sleep(10)  # the delivery worker's last round
            features = feature_facts(db_url)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    results = [
        (
            "throughput ours/bare (medians)",
            f"{statistics.median(rates['ours']):.1f} / {statistics.median(rates['bare']):.1f} "
            f"pushes/s = {ratio:.2f}x",
            ratio >= TARGETS["ratio"],
            f">= {TARGETS['ratio']}x",
        ),
        (
            "closed-loop p99 ours / bare (medians)",
            f"{statistics.median(p99s['ours']):.1f} / {statistics.median(p99s['bare']):.1f} ms",
            True,
            "printed",
        ),
        (
            f"open-loop p99 at {args.rate}/s",
            f"{open_p99:.1f} ms (non-2xx {opened.errors})",
            open_p99 <= TARGETS["p99_ms"] and not opened.errors,
            f"<= {TARGETS['p99_ms']:g} ms",
        ),
        (
            "arrays of 100",
            f"{array_rps:,.0f} reports/s (non-2xx {arrays.errors})",
            array_rps >= TARGETS["array_rps"],
            f">= {TARGETS['array_rps']:,.0f}",
        ),
        (
            "apply lag p99, open loop",
            f"{open_lag:.2f} s",
            open_lag <= TARGETS["lag_p99_s"],
            f"<= {TARGETS['lag_p99_s']:g} s",
        ),
        (
            "apply lag p99, closed-loop runs / arrays",
            " ".join(f"{x:.2f}" for x in lags) + f" / {array_lag:.2f} s",
            True,
            "printed",
        ),
        (
            "after the run",
            ", ".join(f"{k} {v:,}" for k, v in facts.items()),
            consistent,
            "rows = 2xx = applied, calls = voiceIds",
        ),
    ]
    if args.features:
        results.append(
            (
                "features",
                ", ".join(f"{k} {v:,}" for k, v in features.items()),
                True,
                "printed",
            )
        )
    print()
    missed = 0
    for name, value, ok, target in results:
        missed += not ok
        print(f"{'OK    ' if ok else 'MISSED'} {name}: {value}   (target {target})")
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--callees", type=int, default=500_000)
    parser.add_argument(
        "--no-background",
        action="store_true",
        help="no campaign dispatch and no figures refresh beside the load (to isolate causes)",
    )
    parser.add_argument(
        "--features",
        action="store_true",
        help="pushed calls belong to a budgeted campaign with an opt-out key; call.final webhook",
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
