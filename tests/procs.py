"""Run portal processes (workers, commands) against the test database, as production does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The test database as a DATABASE_URL, for processes started by a test."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def portal_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="itnio_portal.settings.base",
        DATABASE_URL=database_url(),
        TASKS_BACKEND="database",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str] | None = None, capture: bool = True) -> subprocess.Popen:
    """Start `manage.py ARGS`. Long-running ones (workers) pass capture=False: an undrained
    pipe would block them once its buffer fills."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env or portal_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        text=True,
    )


def task_worker(**env: str) -> subprocess.Popen:
    """A database-backend task worker (`portal_worker`) on every queue, polling fast, with these
    settings. On PostgreSQL its sessions are named "portal_worker *" in pg_stat_activity."""
    return manage(
        "portal_worker",
        "--no-reload",
        "--queue-name",
        "*",
        "--no-startup-delay",
        "--interval",
        "0.2",
        env=portal_env(**env),
        capture=False,
    )


def apply_worker(**env: str) -> subprocess.Popen:
    """`manage.py apply_pushes`: the push apply worker, polling fast, with these settings."""
    return manage("apply_pushes", "--idle", "0.05", env=portal_env(**env), capture=False)
