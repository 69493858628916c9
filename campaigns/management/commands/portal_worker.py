"""manage.py portal_worker: django-tasks-db's db_worker (same arguments) that survives a lost
database connection instead of exiting.

db_worker exits when PostgreSQL drops its connection: the task fails on the dead connection,
then writing that failure (`set_failed`, three quick tries) fails too and the exception ends the
process, leaving a campaign *running* with batches *sending* until someone restarts it. Here:

- a lost connection while the loop looks for or claims a task closes it and waits (backing off)
  until the database answers, then the loop goes on;
- a task's outcome is written once the database is back (a task cut by the lost connection is
  recorded failed with its error); what the task left unfinished is the portal's own recovery,
  as after a crash: the dispatcher carries on in-process, an import ends failed with the
  reason, and the scheduler's campaigns_tick restarts a dispatcher that did die;
- on PostgreSQL the worker's connections are named (`application_name` "portal_worker QUEUES"),
  so pg_stat_activity shows which backends are the workers'.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils.translation import gettext_lazy
from django_tasks_db.compat import TASKS_LOGGER
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from campaigns.management.base import plain_description
from campaigns.services.dbretry import connection_lost, retrying, wait_for_database

logger = logging.getLogger("django_tasks_db")


class PortalWorker(db_worker.Worker):
    def _stopping(self) -> bool:
        return not self.running

    def run(self) -> None:
        while True:
            try:
                super().run()
                return
            except Exception as exc:
                if not connection_lost(exc):
                    raise
                logger.warning(
                    "Worker %s lost its database connection (%s); reconnecting.",
                    self.worker_id,
                    exc,
                )
            self.startup_delay = False
            if not wait_for_database(should_stop=self._stopping):
                return

    def run_task(self, db_task_result: DBTaskResult) -> None:
        # The library writes the outcome through these two methods; make each wait for the
        # database and write again instead of giving up after three tries a tenth of a second
        # apart. Instance attributes shadow the methods for this one result only.
        for name in ("set_successful", "set_failed"):
            write = getattr(db_task_result, name)
            setattr(db_task_result, name, self._retrying_write(db_task_result, write))
        super().run_task(db_task_result)

    def _retrying_write(self, db_task_result: DBTaskResult, write: Any) -> Any:
        def written(value: Any) -> None:
            if isinstance(value, BaseException) and connection_lost(value):
                logger.warning(
                    "Task %s (%s) was cut by a lost database connection; recording it failed "
                    "once the database is back. Unfinished work is recovered by the portal.",
                    db_task_result.id,
                    db_task_result.task_path,
                )
            retrying(write, value, should_stop=self._stopping)

        return written


def _name_connections(queue_name: str) -> None:
    """Name this process's PostgreSQL sessions unless DATABASE_URL already names them."""
    for alias in connections:
        params = connections.settings[alias]
        if params["ENGINE"] == "django.db.backends.postgresql":
            options = params.setdefault("OPTIONS", {})
            options.setdefault("application_name", f"portal_worker {queue_name}"[:63])
    connections.close_all()  # reopened with the name


def lower_priority(queue_name: str) -> int:
    """A worker of the webhooks queue alone yields the CPU (WEBHOOKS_NICE): delivering never
    slows the push receivers, the apply worker or the dispatchers. The new niceness."""
    if queue_name != "webhooks" or settings.WEBHOOKS_NICE <= 0:
        return os.nice(0)
    return os.nice(settings.WEBHOOKS_NICE)


class Command(db_worker.Command):
    help = gettext_lazy(
        "Run a database task worker (db_worker's arguments) that survives a lost database "
        "connection: it reconnects, with a backoff while the database is away, and goes on."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        return plain_description(super().create_parser(prog_name, subcommand, **kwargs))

    def configure_logging(self, verbosity: int) -> None:
        """db_worker's levels (a line per task at verbosity 1), but never below LOG_LEVEL: the
        demo runs its workers at WARNING so task lines do not scroll its URL away."""
        super().configure_logging(verbosity)
        floor = logging.getLevelName(str(settings.LOG_LEVEL).upper())
        if isinstance(floor, int):
            for name in (TASKS_LOGGER, "django_tasks_db"):
                named = logging.getLogger(name)
                named.setLevel(max(named.level, floor))

    def handle(
        self,
        *,
        verbosity: int,
        queue_name: str,
        interval: float,
        batch: bool,
        backend_name: str,
        startup_delay: bool,
        reload: bool,
        max_tasks: int | None,
        worker_id: str,
        exclude_queues: str,
        **options: Any,
    ) -> None:
        _name_connections(queue_name)
        lower_priority(queue_name)
        # db_worker.Command.handle builds its Worker by module name: point it at ours for the
        # duration (this process runs one worker).
        original, db_worker.Worker = db_worker.Worker, PortalWorker
        try:
            super().handle(
                verbosity=verbosity,
                queue_name=queue_name,
                interval=interval,
                batch=batch,
                backend_name=backend_name,
                startup_delay=startup_delay,
                reload=reload,
                max_tasks=max_tasks,
                worker_id=worker_id,
                exclude_queues=exclude_queues,
                **options,
            )
        finally:
            db_worker.Worker = original
