"""Surviving a lost database connection (campaigns/services/dbretry.py) and the worker built on it
(`manage.py portal_worker`). The real sessions are terminated on PostgreSQL; the worker's own
bookkeeping is also cut in-process (any database) by making its writes fail as a dropped
connection does."""

from __future__ import annotations

import logging
import signal
import sqlite3

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.utils import IntegrityError, OperationalError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, DBTaskResultQuerySet

from campaigns.models import ApiRequestLog, Campaign, Heartbeat
from campaigns.services.actors import Actor
from campaigns.services.dbretry import (
    connection_lost,
    retrying,
    surviving_lost_connection,
    wait_for_database,
)
from campaigns.services.request_log import RequestLogBuffer
from tests.pg import lost_connection_error, postgresql_only


def wrapped(cause: BaseException, kind: type = OperationalError) -> BaseException:
    """As Django raises a driver error: its own class, the driver's error as the cause."""
    error = kind(str(cause))
    error.__cause__ = cause
    return error


# ---------------------------------------------------------------------------
# What counts as a lost connection
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error",
    [
        lost_connection_error(),  # pg_terminate_backend, a server shutting down
        wrapped(psycopg.OperationalError("the connection is closed")),
        wrapped(psycopg.OperationalError("consuming input failed: server closed the connection")),
        wrapped(psycopg.OperationalError('connection failed: database "x" is not accepting')),
        wrapped(psycopg.errors.CannotConnectNow("the database system is starting up")),
    ],
)
def test_a_dropped_or_refused_connection_counts_as_lost(error):
    assert connection_lost(error)
    try:  # also when it is what another error was raised from, or while handling
        try:
            raise error
        except OperationalError:
            raise RuntimeError("could not write the outcome") from None
    except RuntimeError as outer:
        assert connection_lost(outer)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(psycopg.errors.SerializationFailure("could not serialize access")),
        wrapped(psycopg.errors.DeadlockDetected("deadlock detected")),
        wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        wrapped(psycopg.errors.LockNotAvailable("could not obtain lock")),
        wrapped(psycopg.errors.UniqueViolation("duplicate key"), IntegrityError),
        wrapped(sqlite3.OperationalError("database is locked")),
        wrapped(sqlite3.OperationalError("no such table: campaigns_call")),
        ValueError("not a database error"),
    ],
)
def test_errors_on_a_working_connection_do_not_count_as_lost(error):
    assert not connection_lost(error)


# ---------------------------------------------------------------------------
# The helpers against real terminated sessions (PostgreSQL)
# ---------------------------------------------------------------------------
def own_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_loop_body_survives_its_session_being_terminated(killer):
    assert killer.kill(pid=own_pid()) == 1
    with pytest.raises(OperationalError):  # Django does not reopen a lost connection itself
        Campaign.objects.count()
    with surviving_lost_connection("test") as cut:
        Campaign.objects.count()
    assert cut.lost
    assert Campaign.objects.count() == 0  # reopened
    with surviving_lost_connection("test") as cut:
        Campaign.objects.count()
    assert not cut.lost


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_retrying_waits_while_the_database_refuses_connections_then_does_the_work(killer):
    killer.kill(pid=own_pid(), away_s=1.5)
    assert killer.away.is_set()
    retrying(Heartbeat.objects.create, name="after-restart", last_seen_at=timezone.now())
    assert not killer.away.is_set()  # it waited for the database to take connections again
    assert list(Heartbeat.objects.values_list("name", flat=True)) == ["after-restart"]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_waiting_gives_up_when_told_to_stop_or_out_of_time(killer):
    pid = own_pid()
    killer.refuse(True)
    killer.kill(pid=pid)
    assert wait_for_database(timeout=0.5) is False
    assert wait_for_database(should_stop=lambda: True) is False
    killer.refuse(False)
    assert wait_for_database(timeout=5) is True
    assert Campaign.objects.count() == 0


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_lost_connection_is_raised_for_the_block_to_unwind(killer):
    with pytest.raises(OperationalError):
        with transaction.atomic():
            Heartbeat.objects.create(name="half-written", last_seen_at=timezone.now())
            killer.kill(pid=own_pid())
            with surviving_lost_connection("test"):
                Heartbeat.objects.count()
    assert wait_for_database() is True
    assert Heartbeat.objects.count() == 0  # the transaction went with its connection


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_request_log_keeps_its_entries_through_a_lost_connection(killer, sandbox, account):
    buffer = RequestLogBuffer(actor=Actor.system("test"))
    buffer.client(account).get_balance()
    killer.kill(pid=own_pid())
    with pytest.raises(OperationalError):
        buffer.flush()
    assert retrying(buffer.flush) == 1
    assert list(ApiRequestLog.objects.values_list("endpoint", flat=True)) == ["/sms/getBalance"]


# ---------------------------------------------------------------------------
# The worker (any database): its own reads and writes cut as a lost connection cuts them
# ---------------------------------------------------------------------------
@pytest.fixture
def database_tasks(settings, monkeypatch):
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": settings.TASK_QUEUES}
    }
    options = connections.settings["default"].setdefault("OPTIONS", {})
    if connection.vendor == "postgresql":  # not "portal_worker …": other tests kill those
        monkeypatch.setitem(options, "application_name", "pytest-in-process-worker")
    # The command sets signal handlers and its loggers' levels and handlers: put them back.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    loggers = [logging.getLogger(name) for name in ("django_tasks", "django_tasks_db")]
    saved = [(lg, lg.level, list(lg.handlers)) for lg in loggers]
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    for lg, level, lg_handlers in saved:
        lg.setLevel(level)
        lg.handlers[:] = lg_handlers


def fail_first(monkeypatch, owner: type, name: str, *, times: int) -> list[int]:
    """Make owner.name raise a lost-connection error the first `times` calls."""
    original = getattr(owner, name)
    calls: list[int] = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise lost_connection_error()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, flaky)
    return calls


def run_worker() -> None:
    call_command(
        "portal_worker",
        "--batch",
        "--no-reload",
        "--no-startup-delay",
        "--queue-name",
        "*",
        "--interval",
        "0",
        verbosity=0,
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_goes_on_when_looking_for_a_task_loses_the_connection(
    database_tasks, monkeypatch
):
    from campaigns.tasks import worker_heartbeat

    result = worker_heartbeat.enqueue()
    calls = fail_first(monkeypatch, DBTaskResultQuerySet, "get_locked", times=2)
    run_worker()
    assert len(calls) >= 3
    assert DBTaskResult.objects.get(pk=result.id).status == "SUCCESSFUL"
    assert Heartbeat.objects.filter(name="worker").exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_writes_a_task_outcome_once_the_database_is_back(database_tasks, monkeypatch):
    from campaigns.tasks import worker_heartbeat

    first, second = worker_heartbeat.enqueue(), worker_heartbeat.enqueue()
    original = DBTaskResult.save
    cut: list[str] = []

    def save(self, *args, **kwargs):
        # db_worker tries each outcome write three times a tenth of a second apart: six cuts
        # in a row lose both the success and the failure it falls back to, and it exits.
        if "finished_at" in (kwargs.get("update_fields") or ()) and len(cut) < 6:
            cut.append(str(self.pk))
            raise lost_connection_error()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DBTaskResult, "save", save)
    run_worker()
    assert len(cut) == 6
    statuses = dict(DBTaskResult.objects.values_list("id", "status"))
    # The real outcome, not "failed" for a write that did not go through at first.
    assert {str(k): v for k, v in statuses.items()} == {
        str(first.id): "SUCCESSFUL",
        str(second.id): "SUCCESSFUL",
    }
