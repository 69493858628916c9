"""The API request log: every ITNIO request the portal makes, written by the client's observer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import models

from campaigns.models import ApiRequestLog, ItnioAccount
from campaigns.services.actors import Actor
from campaigns.services.dbretry import connection_lost
from itnio_portal.itnio import ItnioClient
from itnio_portal.itnio.transport import RequestEvent

logger = logging.getLogger(__name__)


def request_logger(
    account: ItnioAccount, *, actor: Actor, obj: models.Model | None = None
) -> Callable[..., ApiRequestLog]:
    """An observer for ItnioClient(on_request=…) that stores each request, redacted."""
    object_type = obj._meta.label if obj is not None else ""

    def record(event: RequestEvent, save: bool = True) -> ApiRequestLog:
        reason = event.reason or event.detail or ""
        # Read the key now: the object may have been saved after the client was built.
        object_id = str(obj.pk) if obj is not None and obj.pk is not None else ""
        row = ApiRequestLog(
            account=account,
            endpoint=event.endpoint[:64],
            method=event.method,
            path=event.path[:255],
            started_at=event.started_at,
            duration_ms=event.duration_ms,
            http_status=event.http_status,
            code=event.code or "",
            reason=reason,
            outcome=event.outcome,
            attempts=event.attempts,
            triggered_by=actor.label[:150],
            object_type=object_type,
            object_id=object_id,
            summary=event.summary if isinstance(event.summary, dict | list) else {},
        )
        if save:
            row.save()
        return row

    return record


def logged_client(
    account: ItnioAccount, *, actor: Actor, obj: models.Model | None = None
) -> ItnioClient:
    """A client for the account whose every request lands in the API request log."""
    from campaigns.services.itnio import itnio_client_for

    return itnio_client_for(account, on_request=request_logger(account, actor=actor, obj=obj))


class RequestLogBuffer:
    """Collects request events from worker threads; `flush()` stores them from the caller's thread
    (database connections are per thread, and tests share one in-memory database)."""

    def __init__(self, *, actor: Actor) -> None:
        self.actor = actor
        self._rows: list[ApiRequestLog] = []
        self._lock = threading.Lock()

    def client(self, account: ItnioAccount) -> ItnioClient:
        from campaigns.services.itnio import itnio_client_for

        write = request_logger(account, actor=self.actor)

        def observe(event: RequestEvent) -> None:
            row = write(event, save=False)
            with self._lock:
                self._rows.append(row)

        return itnio_client_for(account, on_request=observe)

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        try:
            ApiRequestLog.objects.bulk_create(rows, batch_size=500)
        except Exception as exc:
            if connection_lost(exc):  # kept for the flush after the database is back
                with self._lock:
                    self._rows[:0] = rows
            raise
        return len(rows)
