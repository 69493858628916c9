"""The background callee import: a stored file read into staged callees by a task worker, and
the confirmation of a large one, which makes its callees pending in chunks.

The worker holds a lease on the CalleeImport, renewed by every chunk it commits (the chunk, its
counters and the renewal are one transaction), like the dispatcher's lease on a campaign. A
worker that dies mid-file leaves a lease that goes silent; the periodic sweep
(`imports_resume_stale`) re-enqueues the import, and the next worker resumes it from its last
committed row: the rows before it are read again without being written, to rebuild the counts,
the rejected rows and the numbers seen. An import that cannot go on (its file is gone, or
workers keep dying on it) fails with the reason and its staged callees are deleted. A background
confirmation holds the same lease; one whose worker died goes on with the callees still staged.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext, ngettext

from campaigns.models import Callee, CalleeImport, Campaign
from campaigns.services.actors import Actor
from campaigns.services.import_records import add_rejected, import_lock_staged, make_pending
from campaigns.services.imports import (
    ADDED_MEANWHILE,
    ImportCancelled,
    ImportLeaseLost,
    _discard_staged,
    import_check_campaign,
    import_stream,
    open_callee_rows,
)
from campaigns.services.tabular import ImportFileError, _binary, _size
from campaigns.services.windows import windows_prepare

logger = logging.getLogger(__name__)

#: The lease of an import waiting in the task queue (new, or re-enqueued by the sweep).
QUEUED_LEASE = "queued"


def _stale_before(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.IMPORT_LEASE_SECONDS)


def import_start(
    *, campaign: Campaign, upload: Any, name: str, actor: Actor, default_region: str = ""
) -> CalleeImport:
    """Store the file and queue the background import (after the transaction commits); the job
    reads national numbers as numbers of `default_region`, if given."""
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
        default_region=default_region,
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
            _finished(callee_import)
    return bool(failed)


def _finished(callee_import: CalleeImport) -> None:
    """import.finished for subscribed webhooks (outbound_hooks.py), in the caller's transaction."""
    from campaigns.services.outbound_hooks import emit_import_finished

    callee_import.refresh_from_db()
    emit_import_finished(callee_import, kind="callees")


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
            open_callee_rows(fh, callee_import.original_name) as rows,
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
            else gettext("Unexpected error (%(error)s); nothing was imported.")
            % {"error": f"{type(exc).__name__}: {exc}"}
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
        if staged:
            _finished(callee_import)
    if not staged:
        if state == CalleeImport.State.RUNNING:
            return f"import {import_id}: another worker took it over"
        _discard_staged(callee_import)  # cancelled after the last chunk
        return f"import {import_id} cancelled"
    return f"import {import_id} staged: {counts.summary()}"


def imports_resume_stale(*, now: datetime | None = None) -> list[int]:
    """Re-enqueue the imports whose worker went silent (and queued ones whose task was lost);
    returns their ids. Each is reserved first, so the next sweep leaves it alone meanwhile."""
    from campaigns.tasks import confirm_callee_import, run_callee_import

    now = now or timezone.now()
    stale = (
        Q(state__in=[CalleeImport.State.QUEUED, CalleeImport.State.CONFIRMING])
        | (Q(state=CalleeImport.State.RUNNING) & ~Q(lease=""))
    ) & (Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_stale_before(now)))
    enqueued = []
    for import_id, state in CalleeImport.objects.filter(stale).values_list("pk", "state"):
        reserved = CalleeImport.objects.filter(stale, pk=import_id).update(
            lease=QUEUED_LEASE, heartbeat_at=now
        )
        if reserved:
            confirming = state == CalleeImport.State.CONFIRMING
            (confirm_callee_import if confirming else run_callee_import).enqueue(import_id)
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
    if ci.state == CalleeImport.State.CONFIRMING and (ci.lease == QUEUED_LEASE or silent):
        if ci.confirmed == 0 and not silent:
            return gettext("Waiting for a task worker to make the callees pending.")
        return gettext(
            "The worker making these callees pending stopped after %(done)s of them; the "
            "others follow as soon as a worker is free (within a minute)."
        ) % {"done": f"{ci.confirmed:,}"}
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


# ---------------------------------------------------------------------------
# Confirming a large import in the background
# ---------------------------------------------------------------------------
def confirms_in_background(callee_import: CalleeImport) -> bool:
    return callee_import.imported > settings.CALLEE_IMPORT_BACKGROUND_CONFIRM_ROWS


def import_confirm_later(*, callee_import: CalleeImport, actor: Actor) -> None:
    """Confirm a staged import in the background: it turns CONFIRMING at once, and a job makes
    its callees pending chunk by chunk (the dispatcher may send the first while the last are
    still staged), skipping the numbers listed meanwhile like import_confirm."""
    from campaigns.tasks import confirm_callee_import

    with transaction.atomic():
        locked = import_lock_staged(callee_import)
        CalleeImport.objects.filter(pk=locked.pk).update(
            state=CalleeImport.State.CONFIRMING,
            lease=QUEUED_LEASE,
            heartbeat_at=timezone.now(),
            confirmed=0,
        )
        transaction.on_commit(lambda: confirm_callee_import.enqueue(locked.pk))
    logger.info(
        "Callee import %s confirmed by %s: %s callees become pending in the background",
        locked.pk,
        actor.label,
        locked.imported,
    )
    callee_import.refresh_from_db()


def _confirm_next_chunk(callee_import: CalleeImport, lease: str) -> list[tuple[int, str]] | None:
    """Make the next chunk of staged callees pending, with the counters and the lease renewal in
    the same transaction; the (row, number) skipped, or None when none is left."""
    size = settings.CALLEE_IMPORT_CHUNK_ROWS
    for attempt in range(3):
        try:
            with transaction.atomic():
                ids = list(
                    Callee.objects.filter(
                        campaign_id=callee_import.campaign_id,
                        state=Callee.State.STAGED,
                        source_id=callee_import.pk,
                    )
                    .order_by("id")
                    .values_list("id", flat=True)[:size]
                )
                if not ids:
                    return None
                count, taken = make_pending(callee_import.pk, (ids[0], ids[-1]))
                renewed = CalleeImport.objects.filter(
                    pk=callee_import.pk, state=CalleeImport.State.CONFIRMING, lease=lease
                ).update(
                    confirmed=F("confirmed") + count,
                    imported=F("imported") - len(taken),
                    duplicates=F("duplicates") + len(taken),
                    heartbeat_at=timezone.now(),
                )
                if not renewed:
                    raise ImportLeaseLost(
                        f"Import #{callee_import.pk} is confirmed by another worker."
                    )
                return taken
        except IntegrityError:
            if attempt == 2:
                raise
    return None  # unreachable: the last attempt returns or raises


def import_confirm_run(import_id: int) -> str:
    """The background confirmation (see import_confirm_later); also its resume."""
    lease = uuid.uuid4().hex
    now = timezone.now()
    claimed = (
        CalleeImport.objects.filter(pk=import_id, state=CalleeImport.State.CONFIRMING)
        .filter(
            Q(lease=QUEUED_LEASE)
            | Q(heartbeat_at__isnull=True)
            | Q(heartbeat_at__lt=_stale_before(now))
        )
        .update(lease=lease, heartbeat_at=now)
    )
    if not claimed:
        return f"import {import_id} is not being confirmed, or a live worker is on it"
    callee_import = CalleeImport.objects.get(pk=import_id)
    skipped: list[tuple[int, str]] = []
    try:
        while (taken := _confirm_next_chunk(callee_import, lease)) is not None:
            skipped.extend(taken)
    except ImportLeaseLost:
        return f"import {import_id}: another worker took it over"
    finally:
        if skipped:
            meanwhile = gettext(ADDED_MEANWHILE)
            add_rejected(callee_import, [(row, number, meanwhile) for row, number in skipped])
    done = CalleeImport.objects.filter(
        pk=import_id, state=CalleeImport.State.CONFIRMING, lease=lease
    ).update(state=CalleeImport.State.CONFIRMED, lease="", finished_at=timezone.now())
    if not done:
        return f"import {import_id}: another worker took it over"
    callee_import.refresh_from_db()
    windows_prepare(callee_import.campaign)  # their zones, and the ones with no window skipped
    return f"import {import_id} confirmed: {callee_import.confirmed} callees pending"
