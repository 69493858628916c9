"""The background callee import: a stored file read into staged callees by a task worker.

The worker holds a lease on the CalleeImport, renewed by every chunk it commits (the chunk, its
counters and the renewal are one transaction), like the dispatcher's lease on a campaign. A
worker that dies mid-file leaves a lease that goes silent; the periodic sweep
(`imports_resume_stale`) re-enqueues the import, and the next worker resumes it from its last
committed row: the rows before it are read again without being written, to rebuild the counts,
the rejected rows and the numbers seen. An import that cannot go on (its file is gone, or
workers keep dying on it) fails with the reason and its staged callees are deleted.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext

from campaigns.models import Callee, CalleeImport, Campaign
from campaigns.services.actors import Actor
from campaigns.services.imports import (
    ImportCancelled,
    ImportLeaseLost,
    _discard_staged,
    import_check_campaign,
    import_stream,
)
from campaigns.services.tabular import ImportFileError, _binary, _size, open_rows

logger = logging.getLogger(__name__)

#: The lease of an import waiting in the task queue (new, or re-enqueued by the sweep).
QUEUED_LEASE = "queued"


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.IMPORT_LEASE_SECONDS)


def import_start(*, campaign: Campaign, upload: Any, name: str, actor: Actor) -> CalleeImport:
    """Store the file and queue the background import (after the transaction commits)."""
    from campaigns.tasks import run_callee_import

    import_check_campaign(campaign)
    fh, _ = _binary(upload)
    callee_import = CalleeImport(
        campaign=campaign,
        original_name=os.path.basename(name)[:255],
        total_bytes=_size(fh),
        created_by=actor.label,
        state=CalleeImport.State.QUEUED,
        lease=QUEUED_LEASE,
        heartbeat_at=timezone.now(),
    )
    callee_import.file.save(os.path.basename(name) or "callees.csv", File(fh), save=False)
    callee_import.save()
    import_id = callee_import.pk
    transaction.on_commit(lambda: run_callee_import.enqueue(import_id))
    return callee_import


def _claim(import_id: int, lease: str) -> CalleeImport | None:
    """Take a queued import, or one whose worker went silent (a resume); None when it is
    finished, cancelled, or read by a live worker."""
    now = timezone.now()
    taken = CalleeImport.objects.filter(pk=import_id, state=CalleeImport.State.QUEUED).update(
        state=CalleeImport.State.RUNNING, lease=lease, heartbeat_at=now
    )
    if not taken:
        # A running import with no lease is read in-process (the command, the preview page).
        taken = (
            CalleeImport.objects.filter(pk=import_id, state=CalleeImport.State.RUNNING)
            .exclude(lease="")
            .filter(
                Q(lease=QUEUED_LEASE)
                | Q(heartbeat_at__isnull=True)
                | Q(heartbeat_at__lt=_stale_before(now))
            )
            .update(
                lease=lease,
                heartbeat_at=now,
                resumes=F("resumes") + 1,
                resumed_after_rows=F("rows"),
            )
        )
    if not taken:
        return None
    return CalleeImport.objects.select_related("campaign").get(pk=import_id)


def _fail(callee_import: CalleeImport, lease: str, message: str) -> bool:
    """Mark the import failed and delete its staged callees, if this worker still holds it."""
    with transaction.atomic():
        failed = CalleeImport.objects.filter(
            pk=callee_import.pk, state=CalleeImport.State.RUNNING, lease=lease
        ).update(
            state=CalleeImport.State.FAILED, lease="", error=message, finished_at=timezone.now()
        )
        if failed:
            _discard_staged(callee_import)
    return bool(failed)


def _open_stored(callee_import: CalleeImport) -> Any:
    try:
        return callee_import.file.open("rb")
    except OSError as exc:
        raise ImportFileError(
            gettext(
                "The stored file %(name)s cannot be read any more (%(reason)s): nothing was "
                "imported. Upload the file again."
            )
            % {"name": callee_import.original_name, "reason": exc.strerror or type(exc).__name__}
        ) from exc


def import_run(import_id: int) -> str:
    """The background job: read the stored file into STAGED callees, then wait for a person.
    Also the resume of an import whose worker stopped (see the module docstring)."""
    lease = uuid.uuid4().hex
    callee_import = _claim(import_id, lease)
    if callee_import is None:
        return f"import {import_id} is not queued, or a live worker is reading it"
    if callee_import.resumes > settings.IMPORT_MAX_RESUMES:
        message = gettext(
            "The worker reading this file stopped %(count)s times (last after %(rows)s rows); "
            "the import was stopped so that it does not stop the workers again, and nothing was "
            "imported. Check the workers' logs (memory?), or split the file."
        ) % {"count": callee_import.resumes, "rows": f"{callee_import.rows:,}"}
        _fail(callee_import, lease, message)
        return f"import {import_id} failed: {message}"
    resume_after = callee_import.rows
    if resume_after:
        logger.warning(
            "Callee import %s: resuming after row %s (its worker stopped)", import_id, resume_after
        )
    try:
        with (
            _open_stored(callee_import) as fh,
            open_rows(fh, callee_import.original_name) as rows,
        ):
            if callee_import.rejected_file:  # a run that stopped after saving it: written again
                callee_import.rejected_file.delete(save=False)
                CalleeImport.objects.filter(pk=import_id).update(rejected_file="")
            counts = import_stream(
                campaign=callee_import.campaign,
                rows=rows,
                callee_import=callee_import,
                state=Callee.State.STAGED,
                chunk_size=settings.CALLEE_IMPORT_CHUNK_ROWS,
                lease=lease,
                resume_after=resume_after,
            )
    except ImportCancelled:
        _discard_staged(callee_import)
        return f"import {import_id} cancelled"
    except ImportLeaseLost:
        return f"import {import_id}: another worker took it over"
    except (OperationalError, InterfaceError):
        # The database went away: nothing is lost, the chunks committed stay. The lease goes
        # silent and the sweep resumes the import from its last committed row.
        logger.warning("Callee import %s: database error, left for resuming", import_id)
        raise
    except Exception as exc:
        message = (
            str(exc)
            if isinstance(exc, ImportFileError)
            else f"Unexpected error ({type(exc).__name__}: {exc}); nothing was imported."
        )
        _fail(callee_import, lease, message)
        if not isinstance(exc, ImportFileError):
            raise
        return f"import {import_id} failed: {message}"
    with transaction.atomic():
        staged = CalleeImport.objects.filter(
            pk=import_id, state=CalleeImport.State.RUNNING, lease=lease
        ).update(state=CalleeImport.State.STAGED, lease="", finished_at=timezone.now())
        state = CalleeImport.objects.filter(pk=import_id).values_list("state", flat=True).first()
    if not staged:
        if state == CalleeImport.State.RUNNING:
            return f"import {import_id}: another worker took it over"
        _discard_staged(callee_import)  # cancelled after the last chunk
        return f"import {import_id} cancelled"
    return f"import {import_id} staged: {counts.summary()}"


def imports_resume_stale(*, now: datetime | None = None) -> list[int]:
    """Re-enqueue the imports whose worker went silent (and queued ones whose task was lost);
    returns their ids. Each is reserved first, so the next sweep leaves it alone meanwhile."""
    from campaigns.tasks import run_callee_import

    now = now or timezone.now()
    stale = (
        Q(state=CalleeImport.State.QUEUED) | (Q(state=CalleeImport.State.RUNNING) & ~Q(lease=""))
    ) & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before(now)))
    enqueued = []
    for import_id in CalleeImport.objects.filter(stale).values_list("pk", flat=True):
        reserved = CalleeImport.objects.filter(stale, pk=import_id).update(
            lease=QUEUED_LEASE, heartbeat_at=now
        )
        if reserved:
            run_callee_import.enqueue(import_id)
            enqueued.append(import_id)
    if enqueued:
        logger.warning("Callee imports re-enqueued, their worker stopped: %s", enqueued)
    return enqueued


def import_note(callee_import: CalleeImport, *, now: datetime | None = None) -> str:
    """What the import page says beside the progress bar about the worker reading the file."""
    now = now or timezone.now()
    ci = callee_import
    silent = ci.heartbeat_at is None or ci.heartbeat_at < _stale_before(now)
    ago = timesince(ci.heartbeat_at, now) if ci.heartbeat_at else ""
    rows = f"{ci.rows:,}"
    if ci.state == CalleeImport.State.RUNNING and ci.lease == QUEUED_LEASE:
        return gettext(
            "The worker reading this file stopped after %(rows)s rows; the import resumes from "
            "there as soon as a worker is free."
        ) % {"rows": rows}
    if ci.state == CalleeImport.State.RUNNING and ci.lease and silent:
        return gettext(
            "The worker reading this file has not been heard from for %(ago)s; the import will "
            "resume after row %(rows)s within a minute."
        ) % {"ago": ago, "rows": rows}
    if ci.state == CalleeImport.State.QUEUED and ci.heartbeat_at and silent:
        return gettext(
            "Waiting for a task worker for %(ago)s: is one running (manage.py db_worker)?"
        ) % {"ago": ago}
    if ci.resumes:
        return ngettext(
            "Resumed after the worker stopped (after %(rows)s rows).",
            "Resumed %(count)s times after the worker stopped (last after %(rows)s rows).",
            ci.resumes,
        ) % {"count": ci.resumes, "rows": f"{ci.resumed_after_rows:,}"}
    return ""
