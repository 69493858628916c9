"""Surviving a lost database connection: tell it from other errors, wait for the database, go on.

PostgreSQL may drop a connection at any moment (a restart, a failover, `pg_terminate_backend`,
a network cut). Django never reopens a connection by itself inside a running process: a lost one
fails every query until it is closed. Long-running loops (the task worker, the dispatcher's
threads, the scheduler, the push-apply loop) use these helpers to close it, wait with a backoff
until the database answers again, and carry on instead of exiting.

- `connection_lost(exc)`: is a lost or refused connection behind this error?
- `wait_for_database()`: close this thread's connections and reconnect, backing off meanwhile.
- `surviving_lost_connection()`: a `with` block for one pass of a loop body; a lost connection
  ends the block quietly once the database is back, so the loop simply goes round again.
- `retrying(fn, ...)`: call fn again after the database is back, for work that must happen.

A write whose COMMIT was cut may or may not have landed, so only work that is safe to repeat is
repeated (an UPDATE to fixed values, a guarded INSERT). None of these work inside
`transaction.atomic()`: the transaction is gone with its connection, so the error is re-raised
for the block's owner to unwind first.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

try:
    import psycopg
except ImportError:  # SQLite-only installs: no connection to lose
    psycopg = None

logger = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_FIRST_S = 0.2
BACKOFF_MAX_S = 5.0
# The server ended the session (admin shutdown, crash shutdown, starting up): connection gone.
_SESSION_ENDED = {"57P01", "57P02", "57P03"}


def connection_lost(exc: BaseException | None) -> bool:
    """True when a lost or refused database connection is behind `exc` (itself, or what it was
    raised from or while handling). A deadlock, a serialization failure, a lock or statement
    timeout, bad SQL or a constraint are not: the connection still works."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if psycopg is not None and isinstance(exc, psycopg.OperationalError):
            # No SQLSTATE: the client saw the socket close or could not connect at all.
            state = exc.sqlstate
            if state is None or state.startswith("08") or state in _SESSION_ENDED:
                return True
        exc = exc.__cause__ or exc.__context__
    return False


def _in_transaction() -> bool:
    return any(conn.in_atomic_block for conn in connections.all(initialized_only=True))


def wait_for_database(
    *,
    should_stop: Callable[[], bool] | None = None,
    timeout: float | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> bool:
    """Close this thread's connections and reopen one until `SELECT 1` answers, waiting 0.2 s,
    then twice as long each time up to 5 s (with jitter), while the database is away.

    Returns True once the database answers; False when `should_stop()` became true or `timeout`
    seconds passed first. Errors other than a lost connection are raised."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = BACKOFF_FIRST_S
    failures = 0
    while True:
        connections.close_all()
        try:
            with connections[using].cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            if not connection_lost(exc):
                raise
            failures += 1
            if failures == 1 or failures % 10 == 0:
                logger.warning("The database is not answering (%s); trying again.", exc)
        else:
            if failures:
                logger.warning("The database answers again after %d failed attempts.", failures)
            return True
        if should_stop is not None and should_stop():
            return False
        pause = delay * random.uniform(0.8, 1.2)
        if deadline is not None and time.monotonic() + pause > deadline:
            return False
        time.sleep(pause)
        delay = min(delay * 2, BACKOFF_MAX_S)


@dataclass
class Pass:
    """What `surviving_lost_connection` yields: `lost` is true after the block was cut."""

    lost: bool = False


@contextmanager
def surviving_lost_connection(
    what: str = "a loop", *, should_stop: Callable[[], bool] | None = None
) -> Iterator[Pass]:
    """One pass of a long-running loop's body. A lost connection inside the block is logged,
    the connection reopened (waiting while the database is away, or until `should_stop()`), and
    the block ends without an error, its result unset: check `.lost` on what it yields, or just
    let the loop go round. Any other error propagates.

        while not stopping:
            with surviving_lost_connection("apply_pushes", should_stop=lambda: stopping):
                if not apply_some():
                    time.sleep(0.5)
    """
    outcome = Pass()
    try:
        yield outcome
    except Exception as exc:
        if not connection_lost(exc) or _in_transaction():
            raise
        outcome.lost = True
        logger.warning("%s lost its database connection (%s); reconnecting.", what, exc)
        wait_for_database(should_stop=should_stop)


def retrying(
    fn: Callable[..., T],
    *args: Any,
    should_stop: Callable[[], bool] | None = None,
    **kwargs: Any,
) -> T:
    """`fn(*args, **kwargs)`, called again each time it fails on a lost connection, once the
    database answers again. For work that must happen and is safe to repeat (its first try may
    have committed). Raises the error when `should_stop()` says to give up while waiting, and
    any error that is not a lost connection at once."""
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if not connection_lost(exc) or _in_transaction():
                raise
            name = getattr(fn, "__qualname__", repr(fn))
            logger.warning("%s lost its database connection (%s); retrying.", name, exc)
            if not wait_for_database(should_stop=should_stop):
                raise
