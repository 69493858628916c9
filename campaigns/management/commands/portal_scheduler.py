"""manage.py portal_scheduler: the periodic tick that enqueues housekeeping tasks."""

from __future__ import annotations

import signal
import threading
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import close_old_connections
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand
from campaigns.scheduler import registered_jobs, scheduler_tick
from campaigns.services.dbretry import surviving_lost_connection


class Command(PortalCommand):
    help = gettext_lazy(
        "Run the scheduler: every tick, enqueue the periodic jobs that are due "
        "(stale-work sweeps, record sync, scheduled starts). Use --once from cron."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--interval",
            type=int,
            default=settings.SCHEDULER_TICK_SECONDS,
            help=gettext_lazy(
                "seconds between ticks (default SCHEDULER_TICK_SECONDS, %(default)s)"
            ),
        )
        parser.add_argument(
            "--once", action="store_true", help=gettext_lazy("run one tick and exit")
        )
        parser.add_argument(
            "--job",
            action="append",
            default=[],
            metavar="NAME",
            help=gettext_lazy("enqueue this job now, due or not (repeatable; implies --once)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] < 1:
            from campaigns.management.base import usage_error

            raise usage_error(_("--interval must be at least 1 second"))
        if options["job"]:
            jobs = {job.name: job for job in registered_jobs()}
            unknown = [name for name in options["job"] if name not in jobs]
            if unknown:
                from campaigns.management.base import usage_error

                raise usage_error(
                    _("--job: no periodic job named %(unknown)s; known: %(known)s")
                    % {"unknown": ", ".join(unknown), "known": ", ".join(jobs)}
                )
            for name in options["job"]:
                result = jobs[name].task.enqueue(**jobs[name].kwargs)
                self.stdout.write(_("enqueued %(job)s (%(id)s)") % {"job": name, "id": result.id})
            return
        stop = threading.Event()
        if not options["once"]:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            names = ", ".join(job.name for job in registered_jobs())
            self.stdout.write(
                _("Scheduler running every %(interval)s s: %(jobs)s")
                % {"interval": options["interval"], "jobs": names}
            )
        while True:
            # Running for good, a lost database connection skips this tick (once the database
            # is back) and never ends the scheduler; --once fails instead, for cron to report.
            guard = (
                nullcontext()
                if options["once"]
                else surviving_lost_connection("The scheduler", should_stop=stop.is_set)
            )
            with guard:
                enqueued = scheduler_tick()
                if enqueued and options["verbosity"] >= 1:
                    self.stdout.write(_("enqueued %(jobs)s") % {"jobs": ", ".join(enqueued)})
            if options["once"] or stop.wait(options["interval"]):
                break
            # A long-running loop: drop connections the database closed or that grew too old.
            close_old_connections()
