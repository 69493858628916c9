"""A steady push load beside a benchmark: the real receiver (gunicorn) and the apply worker, fed
at a fixed rate by an open-loop client in a process of its own (so it takes no time from the
benchmark's own process). Half the reports update calls of the newest day, half are new calls.

    python bench/_push_load.py PORT TARGETS_JSON RATE STATS_JSON   (the client; PushLoad runs it)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT


class PushLoad:
    def __init__(self, db_url: str, rate: float) -> None:
        self.db_url = db_url
        self.rate = rate
        self.procs: list[subprocess.Popen] = []
        self.folder = Path(tempfile.mkdtemp(prefix="push-load-"))
        self.stats: dict = {}

    def start(self) -> PushLoad:
        from datetime import timedelta

        from django.db.models import Max
        from pushes import free_port, portal_env, spawn

        from campaigns.models import Call, ItnioApp

        newest = Call.objects.aggregate(m=Max("placed_at"))["m"]
        known = list(
            Call.objects.filter(placed_at__gte=newest - timedelta(hours=6))
            .exclude(voice_id=None)
            .values_list("voice_id", "app__push_token")[:20_000]
        )
        paths = {a.push_token: a.push_path for a in ItnioApp.objects.all()}
        targets = {
            "known": [[vid, paths[token]] for vid, token in known],
            "paths": sorted(p for a, p in paths.items() if "/voice/" in p),
        }
        (self.folder / "targets.json").write_text(json.dumps(targets))
        env = portal_env(self.db_url)
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "itnio_portal.wsgi", "--bind"]
        self.procs.append(spawn([*argv, f"127.0.0.1:{port}", "--workers", "2"], env))
        self.procs.append(spawn([sys.executable, "manage.py", "apply_pushes"], env))
        client = [sys.executable, __file__, str(port), str(self.folder / "targets.json")]
        stats = str(self.folder / "stats.json")
        self.procs.append(spawn([*client, str(self.rate), stats], env, ROOT / "bench"))
        time.sleep(3)  # gunicorn up before the pages are measured
        print(f"push load: {self.rate:g} reports/s through gunicorn and the apply worker")
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        path = self.folder / "stats.json"
        self.stats = json.loads(path.read_text()) if path.exists() else {}

    def summary(self) -> str:
        if not self.stats:
            self.stop()
        s = self.stats
        if not s:
            return "push load: no figures (the client did not report)"
        return (
            f"push load during the measurement: {s['sent']:,} pushes at {s['rate']:.0f}/s, "
            f"{s['errors']:,} non-2xx, answer p99 {s['p99_ms']:.1f} ms"
        )


async def _client(port: int, targets: dict, rate: float, stats_path: str) -> None:
    from pushes import Bodies, pct, post

    rng = random.Random(11)
    bodies = Bodies(seed=11)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    pending: set[asyncio.Task] = set()

    async def one(at: float) -> None:
        nonlocal errors
        now_ms = int(time.time() * 1000)
        if targets["known"] and rng.random() < 0.5:
            voice_id, path = rng.choice(targets["known"])
        else:
            voice_id, path = str(bodies.next_id), rng.choice(targets["paths"])
            bodies.next_id += 1
        report = bodies.report(voice_id, True)
        report.update(submitTime=now_ms - 60_000, hangupTime=now_ms, cost=f"0.0{rng.randint(1, 9)}")
        try:
            status = await post(port, path, json.dumps(report).encode())
        except OSError:
            status = 0
        latencies.append(time.perf_counter() - at)
        errors += not 200 <= status < 300

    i = 0
    while not stop.is_set():
        at = started + i / rate
        delay = at - time.perf_counter()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), delay)
                break
            except TimeoutError:
                pass
        task = asyncio.create_task(one(at))
        pending.add(task)
        task.add_done_callback(pending.discard)
        i += 1
    await asyncio.gather(*pending)
    took = time.perf_counter() - started
    Path(stats_path).write_text(
        json.dumps(
            {
                "sent": len(latencies),
                "rate": len(latencies) / took,
                "errors": errors,
                "p99_ms": pct(latencies, 0.99) * 1000,
            }
        )
    )


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent)
    port, targets, rate, stats = sys.argv[1:5]
    asyncio.run(_client(int(port), json.loads(Path(targets).read_text()), float(rate), stats))
