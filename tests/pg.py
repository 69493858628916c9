"""PostgreSQL faults for the tests: terminate sessions, refuse new connections for a while."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.db.utils import OperationalError

postgresql_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="PostgreSQL only: an SQLite database is a file, there is no connection to drop",
)


def lost_connection_error() -> OperationalError:
    """What Django raises when PostgreSQL ended the session (pg_terminate_backend, a restart)."""
    error = OperationalError("terminating connection due to administrator command")
    error.__cause__ = psycopg.errors.AdminShutdown(
        "terminating connection due to administrator command"
    )
    return error


def _maintenance_conninfo() -> str:
    """The server's maintenance database: a database cannot refuse the session altering it."""
    s = connection.settings_dict
    return (
        f"host={s['HOST'] or '127.0.0.1'} port={s['PORT'] or 5432} user={s['USER']} "
        "dbname=postgres application_name=test-killer"
        + (f" password={s['PASSWORD']}" if s.get("PASSWORD") else "")
    )


class Killer:
    """Terminates sessions of the test database. Optionally refuses new connections to it for a
    while first, as a database restart would."""

    def __init__(self) -> None:
        self.terminated: list[int] = []
        self.away = threading.Event()
        self._lock = threading.Lock()
        self._db = connection.settings_dict["NAME"]

    def _execute(self, sql: str, params: list | None = None) -> list[tuple]:
        with psycopg.connect(_maintenance_conninfo(), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def refuse(self, refused: bool) -> None:
        self._execute(
            f'ALTER DATABASE "{self._db}" WITH ALLOW_CONNECTIONS {"false" if refused else "true"}'
        )
        (self.away.set if refused else self.away.clear)()

    def kill(
        self, *, application_name: str = "", pid: int = 0, all_but: int = 0, away_s: float = 0.0
    ) -> int:
        """Terminate the sessions named like `application_name`, or session `pid`, or every
        session but `all_but`'s; return how many."""
        with self._lock:
            if away_s:
                self.refuse(True)
            rows = self._execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid() "
                "AND (application_name LIKE %s OR pid = %s OR (%s <> 0 AND pid <> %s))",
                [self._db, application_name or "-", pid, all_but, all_but],
            )
            self.terminated.append(len(rows))
        if away_s:
            threading.Timer(away_s, self.back).start()
        return len(rows)

    def back(self) -> None:
        with self._lock:
            self.refuse(False)
