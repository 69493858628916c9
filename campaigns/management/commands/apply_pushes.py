"""manage.py apply_pushes: the apply worker that turns stored pushes into calls and AI records."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns import formatting
from campaigns.management.base import PortalCommand
from campaigns.models import Heartbeat
from campaigns.services.dbretry import connection_lost, wait_for_database
from campaigns.services.pushes import TRANSIENT_ERRORS, ApplyReport, pushes_apply

HEARTBEAT_SECONDS = 15


class Command(PortalCommand):
    help = gettext_lazy(
        "Apply the push inbox: pick up stored pushes within a second of their arrival and apply "
        "them in batches. Runs until stopped; several may run side by side on PostgreSQL."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--once", action="store_true", help=gettext_lazy("apply what is due now, then exit")
        )
        parser.add_argument(
            "--idle",
            type=float,
            default=settings.PUSH_APPLY_IDLE_SECONDS,
            help=gettext_lazy("seconds to wait when nothing is pending (default %(default)s)"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PUSH_APPLY_NICE > 0 and hasattr(os, "nice"):
            os.nice(settings.PUSH_APPLY_NICE)  # the receivers answer first (settings)
        stop = threading.Event()
        if not options["once"]:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            self.stdout.write(_("Applying pushes as they arrive (Ctrl-C stops)."))
        total = ApplyReport()
        last_beat = 0.0
        failures = 0
        while not stop.is_set():
            if time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                self._beat(total)
            try:
                report = pushes_apply()
            except TRANSIENT_ERRORS as exc:
                # The batch was rolled back and stays pending (its entries back off when the
                # database could still be written). A lost connection (restart, failover, a
                # terminated session): wait until the database answers, then go on.
                failures += 1
                if connection_lost(exc):
                    self.stderr.write(_("database connection lost; waiting for it"))
                    wait_for_database(should_stop=stop.is_set)
                else:
                    self.stderr.write(
                        _("%(error)s while applying; trying again") % {"error": type(exc).__name__}
                    )
                    stop.wait(min(0.5 * 2**failures, 10))
                continue
            failures = 0
            total.add(report)
            if options["once"] and not report.claimed:
                break
            if not report.claimed:
                stop.wait(options["idle"])
                close_old_connections()
            elif report.claimed < settings.PUSH_APPLY_BATCH and not options["once"]:
                # A part batch: let the next one gather (fewer statements per report).
                stop.wait(settings.PUSH_APPLY_GATHER_SECONDS)
        self._beat(total)
        if options["verbosity"] >= 1:
            self.stdout.write(str(total))

    def _beat(self, total: ApplyReport) -> None:
        try:
            Heartbeat.objects.update_or_create(
                name="push-apply",
                defaults={
                    "last_seen_at": timezone.now(),
                    "detail": _("applied %(processed)s push(es), %(failed)s failed")
                    % {
                        "processed": formatting.count(total.processed),
                        "failed": formatting.count(total.failed),
                    },
                },
            )
        except TRANSIENT_ERRORS:
            connection.close()
