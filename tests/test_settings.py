"""Settings: production mode, deploy checks, SQLite sharing options, transaction policy."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def run_manage(
    *args: str, env_overrides: dict[str, str], drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k not in drop}
    env.pop("DATABASE_URL", None)
    env["DJANGO_SETTINGS_MODULE"] = "itnio_portal.settings.base"
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_with_only_three_variables(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "portal.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_settings_name_every_missing_variable():
    result = run_manage("check", env_overrides={"DJANGO_DEBUG": "false"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "DJANGO_ALLOWED_HOSTS" in result.stderr


def test_production_security_defaults_have_env_opt_outs(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS > 0)"
    )
    base_env = {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
    }
    on = run_manage("shell", "-c", code, env_overrides=base_env)
    assert on.stdout.split()[-4:] == ["True", "True", "True", "True"], on.stderr
    off = run_manage(
        "shell",
        "-c",
        code,
        env_overrides={
            **base_env,
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "DJANGO_SECURE_HSTS_SECONDS": "0",
        },
    )
    assert off.stdout.split()[-4:] == ["False", "True", "True", "False"], off.stderr


def test_sqlite_file_uses_wal_and_immediate_transactions(tmp_path):
    code = (
        "from django.db import connection;"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode');"
        "print(c.fetchone()[0], connection.settings_dict['OPTIONS']['transaction_mode'])"
    )
    result = run_manage(
        "shell",
        "-c",
        code,
        env_overrides={"DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}"},
    )
    assert result.stdout.split()[-2:] == ["wal", "IMMEDIATE"], result.stderr


def test_postgres_url_selects_psycopg_backend():
    code = "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'])"
    result = run_manage(
        "shell",
        "-c",
        code,
        env_overrides={"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal"},
    )
    assert result.stdout.split()[-1] == "django.db.backends.postgresql", result.stderr


def test_atomic_requests_stay_off():
    assert all(db["ATOMIC_REQUESTS"] is False for db in settings.DATABASES.values())


def test_env_example_lists_every_variable_the_settings_read():
    import re

    read = set()
    for path in (ROOT / "itnio_portal" / "settings").glob("*.py"):
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', path.read_text()))
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - listed == set()


def test_a_refused_page_is_logged_as_one_line_without_a_traceback(client, db, caplog):
    import logging

    from django.contrib.auth.models import User

    from itnio_portal.log_filters import RefusalsWithoutTraceback

    client.force_login(User.objects.create_user("nobody", is_staff=True))
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client.get("/admin/campaigns/itnioaccount/add/").status_code == 403
    refused = [r for r in caplog.records if getattr(r, "status_code", None) == 403]
    assert refused
    for record in refused:
        RefusalsWithoutTraceback().filter(record)
        assert record.exc_info is None
    forbidden = logging.LogRecord("django.request", logging.WARNING, "", 0, "no", None, None)
    forbidden.status_code = 403
    forbidden.exc_info = (PermissionError, PermissionError("x"), None)
    RefusalsWithoutTraceback().filter(forbidden)
    assert forbidden.exc_info is None
    failed = logging.LogRecord("django.request", logging.ERROR, "", 0, "boom", None, None)
    failed.status_code = 500
    failed.exc_info = (ValueError, ValueError("x"), None)
    RefusalsWithoutTraceback().filter(failed)
    assert failed.exc_info is not None  # a server error keeps its traceback
