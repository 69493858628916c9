#!/usr/bin/env python
"""Benchmark of the callee import on PostgreSQL, against baselines measured in the same run.

    .venv/bin/python bench/import_callees.py [--rows 1000000] [--sample 20000]
        [--default-region ID] [--keep-db]

Creates its own database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/itnio_bench),
migrates it, generates a CSV of --rows rows (mixed formatting, 0.2 % invalid, 0.2 % duplicates)
in a temporary folder, and runs each measured step in its own process on an empty callee table:

  baseline  the portal's normaliser (numbers.normaliser, with --default-region if given) over
            the CSV's number column in a plain loop (csv module, a set for duplicates), then a
            bare COPY of its output into the indexed table: the work no import can skip
  copy      a bare COPY of the same (valid, unique, normalised) numbers, without the normaliser
  ours      the portal's import of the CSV, as `import_callees` runs it: store the file, read,
            validate, COPY each chunk into a temporary table, INSERT … ON CONFLICT DO NOTHING,
            rejected-rows CSV, all in one transaction (pending at once)
  rowbyrow  django-import-export's default ModelResource import of a --sample-row sample, scaled
  job       (for information) the admin's background job: staged in short transactions, then
            the confirm UPDATE a person triggers later

Targets: ours ≤ 1.5 × baseline, ours ≥ 10 × faster than row-by-row, peak RSS of ours ≤ 150 MB
(ours / bare COPY, the former target, is printed for information). The import names a default
region, ID by default (the file's numbers are Indonesian), so every number is checked by
libphonenumber, in the baseline and in ours alike; --default-region "" measures the import
without one (numbers must carry their country code, no libphonenumber call). Prints the figures
and ratios; exits 1 when a target is missed.
Temporary files are removed; the database is dropped unless --keep-db.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/itnio_bench"
TARGET_BASELINE_RATIO = 1.5
TARGET_ROW_BY_ROW_SPEEDUP = 10.0
TARGET_PEAK_RSS_MB = 150.0


# ---------------------------------------------------------------------------
# Parent: database, files, steps, report
# ---------------------------------------------------------------------------
def child_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "itnio_portal.settings.base",
            # Production mode: no SQL logging in connection.queries, as on a real server.
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "bench-only-not-a-secret-" + "x" * 40,
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "TASKS_BACKEND": "immediate",
            "DJANGO_MEDIA_ROOT": env.get("BENCH_MEDIA_ROOT", ""),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def formatted(number: str, style: int) -> str:
    # number: "62" + 10 digits
    cc, rest = number[:2], number[2:]
    if style == 0:
        return f"+{cc} {rest[:3]} {rest[3:7]} {rest[7:]}"
    if style == 1:
        return number
    if style == 2:
        return f"00{cc}-{rest[:3]}-{rest[3:7]}-{rest[7:]}"
    return f"+{cc} ({rest[:3]}) {rest[3:6]}.{rest[6:]}"


def generate(folder: Path, rows: int, sample: int) -> dict[str, Path]:
    """The CSV to import, the COPY file of its valid unique numbers, and the row-by-row sample."""
    rng = random.Random(20_26)
    csv_path = folder / "callees.csv"
    copy_path = folder / "numbers.copy"
    sample_path = folder / "sample.csv"
    seen: list[str] = []
    with (
        csv_path.open("w", encoding="utf-8", newline="") as out,
        copy_path.open("w", encoding="utf-8") as numbers,
        sample_path.open("w", encoding="utf-8", newline="") as small,
    ):
        out.write("name,phone,city\n")
        small.write("number,state\n")
        base = 6281100000000
        for i in range(rows):
            roll = rng.random()
            if roll < 0.002:
                value = rng.choice(["12ab", "123", "0812#4567", ""])
            elif roll < 0.004 and seen:
                value = formatted(rng.choice(seen[-5000:]), rng.randrange(4))  # a duplicate
            else:
                number = str(base + i * 7)
                value = formatted(number, rng.randrange(4))
                numbers.write(number + "\n")
                if len(seen) < 1_000_000:
                    seen.append(number)
                if i < sample * 2 and i % 2 == 0:
                    small.write(f"{number},pending\n")
            out.write(f"n{i},{value},Jakarta\n")
    return {"csv": csv_path, "copy": copy_path, "sample": sample_path}


def run_step(step: str, files: dict[str, Path], url: str, sample: int, region: str) -> dict:
    cmd = [sys.executable, __file__, "--step", step, "--sample", str(sample)]
    cmd += [f"--default-region={region}"]
    cmd += [f"--{k}-file={v}" for k, v in files.items()]
    done = subprocess.run(
        cmd, env=child_env(url), capture_output=True, text=True, cwd=ROOT, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"step {step} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--default-region",
        default="ID",
        metavar="CC",
        help="the import's default region (default ID; '' for none)",
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    for name in ("csv", "copy", "sample"):
        parser.add_argument(f"--{name}-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(measure(args)))
        return 0

    url = os.environ.get("DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("This benchmark needs PostgreSQL (DATABASE_URL=postgres://…).")
    print(f"database: {url}; default region: {args.default_region or '(none)'}")
    recreate_database(url)
    try:
        with tempfile.TemporaryDirectory(prefix="itnio-bench-") as tmp:
            folder = Path(tmp)
            os.environ["BENCH_MEDIA_ROOT"] = str(folder / "media")
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                env=child_env(url),
                cwd=ROOT,
                check=True,
            )
            started = time.perf_counter()
            files = generate(folder, args.rows, args.sample)
            size = files["csv"].stat().st_size
            print(
                f"generated {args.rows:,} rows ({size / 1e6:,.1f} MB) "
                f"in {time.perf_counter() - started:,.1f} s"
            )
            results = {}
            for step in ("baseline", "copy", "ours", "rowbyrow", "job"):
                results[step] = run_step(step, files, url, args.sample, args.default_region)
                print(f"  {step:9s} {json.dumps(results[step])}")
    finally:
        if not args.keep_db:
            drop_database(url)
    return report(results, args.rows)


def report(results: dict, rows: int) -> int:
    ours, copy, rbr, job = (results[k] for k in ("ours", "copy", "rowbyrow", "job"))
    base = results["baseline"]
    rbr_scaled = rbr["seconds"] * rows / rbr["rows"]
    copy_ratio = ours["seconds"] / copy["seconds"]
    base_ratio = ours["seconds"] / base["seconds"]
    speedup = rbr_scaled / ours["seconds"]
    print()
    print(f"rows in the file                       {rows:>12,}")
    print(f"our import (import_callees)            {ours['seconds']:>10.2f} s   {ours['summary']}")
    print(f"  rows per second                      {rows / ours['seconds']:>12,.0f}")
    print(f"  peak RSS                             {ours['peak_rss_mb']:>10.1f} MB")
    print(
        f"baseline: normaliser loop + bare COPY   {base['seconds']:>10.2f} s   "
        f"(loop {base['loop_seconds']:.2f} s, COPY {base['copy_seconds']:.2f} s, "
        f"{base['rows']:,} numbers)"
    )
    print(f"bare COPY of {copy['rows']:,} numbers       {copy['seconds']:>10.2f} s")
    print(
        f"django-import-export row by row        {rbr['seconds']:>10.2f} s for {rbr['rows']:,} rows"
        f" → {rbr_scaled:,.0f} s scaled to {rows:,}"
    )
    print(
        f"(background job, for information: staged in {job['seconds']:.2f} s, "
        f"peak RSS {job['peak_rss_mb']:.1f} MB; its confirm UPDATE {job['confirm_seconds']:.2f} s)"
    )
    print()
    checks = [
        (
            f"ours / baseline = {base_ratio:.2f} (target ≤ {TARGET_BASELINE_RATIO:g})",
            base_ratio <= TARGET_BASELINE_RATIO,
        ),
        (
            f"row-by-row / ours = {speedup:,.1f}× (target ≥ {TARGET_ROW_BY_ROW_SPEEDUP:g}×)",
            speedup >= TARGET_ROW_BY_ROW_SPEEDUP,
        ),
        (
            f"peak RSS = {ours['peak_rss_mb']:.1f} MB (target ≤ {TARGET_PEAK_RSS_MB:g} MB)",
            ours["peak_rss_mb"] <= TARGET_PEAK_RSS_MB,
        ),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    print(f"info  ours / bare COPY = {copy_ratio:.2f} (the former measure; it was 2.06–2.27)")
    return 0 if all(ok for _, ok in checks) else 1


# ---------------------------------------------------------------------------
# Child: one measured step, in a fresh process
# ---------------------------------------------------------------------------
def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def fresh_campaign(name: str):
    from django.db import connection

    from campaigns.models import Campaign, ItnioAccount, ItnioApp, VoiceFile

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE campaigns_callee, campaigns_calleeimport")
        cursor.execute("CHECKPOINT")
    account, _ = ItnioAccount.objects.get_or_create(
        name="bench", defaults={"api_key": "k", "api_secret": "s"}
    )
    app, _ = ItnioApp.objects.get_or_create(app_id="bench", defaults={"account": account})
    voice, _ = VoiceFile.objects.get_or_create(
        app=app, file_name="bench.wav", defaults={"audio": "voice/bench.wav", "state": "uploaded"}
    )
    campaign, _ = Campaign.objects.get_or_create(
        name=name, defaults={"app": app, "voice_file": voice}
    )
    return campaign


def copy_numbers(campaign, path: Path) -> int:
    """A bare COPY of a file of numbers (one a line) into the indexed callee table."""
    from django.db import connection

    count = 0
    with connection.cursor() as cursor, path.open(encoding="utf-8") as numbers:
        sql = "COPY campaigns_callee (campaign_id, number, state, voice_id, reason) FROM STDIN"
        with cursor.copy(sql) as copy:
            prefix = f"{campaign.pk}\t"
            for number in numbers:
                copy.write(prefix + number[:-1] + "\tpending\t\t\n")
                count += 1
    return count


def measure(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    if args.step == "baseline":
        import csv

        from campaigns.services.numbers import InvalidNumber, normaliser

        campaign = fresh_campaign("bench-baseline")
        normalise = normaliser(args.default_region)
        out_path = Path(args.copy_file).with_name("baseline.copy")
        started = time.perf_counter()
        seen: set[str] = set()
        with (
            open(args.csv_file, encoding="utf-8", newline="") as fh,
            out_path.open("w", encoding="utf-8") as out,
        ):
            reader = csv.reader(fh)
            next(reader)
            for cells in reader:
                try:
                    number = normalise(cells[1])
                except InvalidNumber:
                    continue
                if number not in seen:
                    seen.add(number)
                    out.write(number + "\n")
        loop = time.perf_counter() - started
        del seen
        started = time.perf_counter()
        count = copy_numbers(campaign, out_path)
        copied = time.perf_counter() - started
        out_path.unlink()
        return {
            "seconds": round(loop + copied, 3),
            "loop_seconds": round(loop, 3),
            "copy_seconds": round(copied, 3),
            "rows": count,
            "peak_rss_mb": peak_rss_mb(),
        }

    if args.step == "copy":
        campaign = fresh_campaign("bench-copy")
        started = time.perf_counter()
        count = copy_numbers(campaign, Path(args.copy_file))
        seconds = time.perf_counter() - started
        return {"seconds": round(seconds, 3), "rows": count, "peak_rss_mb": peak_rss_mb()}

    if args.step == "ours":
        from campaigns.models import Callee
        from campaigns.services.actors import Actor
        from campaigns.services.import_records import import_now

        campaign = fresh_campaign("bench-ours")
        started = time.perf_counter()
        counts, _ = import_now(
            campaign=campaign,
            source=Path(args.csv_file),
            name="callees.csv",
            actor=Actor(label="bench"),
            default_region=args.default_region,
        )
        seconds = time.perf_counter() - started
        pending = Callee.objects.filter(campaign=campaign, state="pending").count()
        assert pending == counts.imported, (pending, counts.imported)
        return {
            "seconds": round(seconds, 3),
            "rows": counts.rows,
            "summary": counts.summary(),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }

    if args.step == "job":
        from django.core.files import File

        from campaigns.models import Callee, CalleeImport
        from campaigns.services.actors import Actor
        from campaigns.services.import_jobs import import_run
        from campaigns.services.import_records import import_confirm

        campaign = fresh_campaign("bench-job")
        job = CalleeImport(
            campaign=campaign,
            original_name="callees.csv",
            state="queued",
            default_region=args.default_region,
        )
        with open(args.csv_file, "rb") as fh:
            job.total_bytes = Path(args.csv_file).stat().st_size
            job.file.save("callees.csv", File(fh))
        started = time.perf_counter()
        outcome = import_run(job.pk)
        staged = time.perf_counter() - started
        job.refresh_from_db()
        assert job.state == "staged", outcome
        started = time.perf_counter()
        import_confirm(callee_import=job, actor=Actor(label="bench"))
        confirm = time.perf_counter() - started
        assert Callee.objects.filter(campaign=campaign, state="pending").count() == job.imported
        return {
            "seconds": round(staged, 3),
            "confirm_seconds": round(confirm, 3),
            "rows": job.rows,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }

    if args.step == "rowbyrow":
        import tablib
        from import_export.resources import modelresource_factory

        from campaigns.models import Callee

        campaign = fresh_campaign("bench-rowbyrow")
        with open(args.sample_file, encoding="utf-8") as fh:
            dataset = tablib.Dataset().load(fh.read(), format="csv")
        dataset.append_col([campaign.pk] * len(dataset), header="campaign")
        resource = modelresource_factory(Callee)()
        started = time.perf_counter()
        result = resource.import_data(dataset, dry_run=False, raise_errors=True)
        seconds = time.perf_counter() - started
        assert result.totals["new"] == len(dataset), result.totals
        return {"seconds": round(seconds, 3), "rows": len(dataset), "peak_rss_mb": peak_rss_mb()}

    raise SystemExit(f"unknown step {args.step}")


if __name__ == "__main__":
    sys.exit(main())
