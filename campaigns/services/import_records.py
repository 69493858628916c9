"""The life of a callee import record after its file is read: confirm (staged callees become
pending, skipping the numbers listed meanwhile), cancel (they are deleted), and the command's
import at once (`import_now`, read and confirmed in one go)."""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import Callee, CalleeImport, Campaign
from campaigns.services.actors import Actor
from campaigns.services.callee_writes import _callee_table, _listed
from campaigns.services.imports import (
    ADDED_MEANWHILE,
    REJECTED_HEADER,
    ImportCounts,
    ImportStateError,
    _discard_staged,
    import_check_campaign,
    import_stream,
    open_callee_rows,
    rejected_csv_value,
)
from campaigns.services.tabular import _binary
from campaigns.services.windows import windows_prepare

logger = logging.getLogger(__name__)


def _drop_listed_meanwhile(
    import_id: int, id_range: tuple[int, int] | None = None
) -> list[tuple[int, str]]:
    """Delete the import's staged callees (those of `id_range` only, if given) whose number is
    listed in the campaign now (another import or the command confirmed it meanwhile); return
    their (row, number)."""
    table = _callee_table()
    within, params = "", [import_id, Callee.State.STAGED]
    if id_range is not None:
        within, params = " AND id BETWEEN %s AND %s", [*params, *id_range]
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE source_id = %s AND state = %s{within} AND EXISTS "
            f"(SELECT 1 FROM {table} l WHERE l.campaign_id = {table}.campaign_id "
            f"AND l.number = {table}.number AND {_listed('l')}) RETURNING row_number, number",
            params,
        )
        return sorted((row or 0, number) for row, number in cursor.fetchall())


def make_pending(
    import_id: int, id_range: tuple[int, int] | None = None
) -> tuple[int, list[tuple[int, str]]]:
    """Make the import's staged callees (those of `id_range` only, if given) pending, skipping
    the numbers listed meanwhile: (how many became pending, the skipped (row, number)). Runs in
    the caller's transaction; IntegrityError means a number was listed by another writer
    between the two statements, and the caller's next attempt skips it."""
    taken = _drop_listed_meanwhile(import_id, id_range)
    staged = Callee.objects.filter(source_id=import_id, state=Callee.State.STAGED)
    if id_range is not None:
        staged = staged.filter(id__range=id_range)
    return staged.update(state=Callee.State.PENDING), taken


def import_confirm(*, callee_import: CalleeImport, actor: Actor) -> int:
    """Make a staged import's callees pending (one UPDATE); returns how many.

    A number listed in the campaign since it was staged (by another import confirmed first) is
    skipped and counted as a duplicate, so confirming two imports of one file, in any order,
    lists every number once. (Large imports are confirmed in chunks by a background job:
    import_jobs.import_confirm_later.)"""
    for attempt in range(3):
        try:
            with transaction.atomic():
                locked = import_lock_staged(callee_import)
                count, taken = make_pending(locked.pk)
                CalleeImport.objects.filter(pk=locked.pk).update(
                    state=CalleeImport.State.CONFIRMED,
                    imported=count,
                    duplicates=F("duplicates") + len(taken),
                )
            break
        except IntegrityError:
            if attempt == 2:
                raise
    if taken:
        meanwhile = gettext(ADDED_MEANWHILE)
        add_rejected(locked, [(row, number, meanwhile) for row, number in taken])
    logger.info(
        "Callee import %s confirmed by %s: %s callees pending, %s listed meanwhile skipped",
        locked.pk,
        actor.label,
        count,
        len(taken),
    )
    callee_import.refresh_from_db()
    windows_prepare(locked.campaign)  # their zones, and the ones with no window skipped
    return count


def import_lock_staged(callee_import: CalleeImport) -> CalleeImport:
    """The import, locked for this transaction, if it may be confirmed (else ImportStateError)."""
    locked = (
        CalleeImport.objects.select_for_update().select_related("campaign").get(pk=callee_import.pk)
    )
    if locked.state != CalleeImport.State.STAGED:
        raise ImportStateError(
            gettext(
                "This import is %(state)s: only an import waiting for confirmation can be "
                "confirmed."
            )
            % {"state": locked.get_state_display().lower()}
        )
    import_check_campaign(locked.campaign)
    return locked


def add_rejected(callee_import: CalleeImport, extra: list[tuple[int, str, str]]) -> None:
    """Merge rows skipped after the file was read into its rejected-rows CSV, in row order."""
    lines: list[tuple[int, str, str]] = []
    old = callee_import.rejected_file.name if callee_import.rejected_file else ""
    try:
        if old:
            with callee_import.rejected_file.open("rb") as fh:
                text = fh.read().decode("utf-8-sig")
            for record in list(csv.reader(io.StringIO(text, newline="")))[1:]:
                if len(record) == 3 and record[0].isdigit():
                    lines.append((int(record[0]), record[1], record[2]))
        lines.extend((row, rejected_csv_value(value), reason) for row, value, reason in extra)
        lines.sort(key=lambda line: line[0])
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerow(REJECTED_HEADER)
        writer.writerows(lines)
        stem = Path(callee_import.original_name).stem[:80] or "callees"
        callee_import.rejected_file.save(
            f"{stem}-rejected.csv", ContentFile(out.getvalue().encode("utf-8-sig")), save=False
        )
        CalleeImport.objects.filter(pk=callee_import.pk).update(
            rejected_file=callee_import.rejected_file.name
        )
        if old:
            callee_import.rejected_file.storage.delete(old)
    except OSError:
        # The counts are right in the database; only the downloadable list lacks these rows.
        logger.exception("Could not add %s rows to import %s's rejected rows", len(extra), old)


CANCELLABLE_STATES = (
    CalleeImport.State.QUEUED,
    CalleeImport.State.RUNNING,
    CalleeImport.State.STAGED,
    CalleeImport.State.FAILED,
)


def import_cancel(*, callee_import: CalleeImport, actor: Actor) -> int:
    """Drop an unconfirmed import: its staged callees are deleted (a running job stops at its next
    chunk); returns how many callees were deleted."""
    with transaction.atomic():
        updated = CalleeImport.objects.filter(
            pk=callee_import.pk, state__in=CANCELLABLE_STATES
        ).update(state=CalleeImport.State.CANCELLED, finished_at=timezone.now())
        if not updated:
            callee_import.refresh_from_db()
            raise ImportStateError(
                gettext("This import is %(state)s: it can no longer be cancelled.")
                % {"state": callee_import.get_state_display().lower()}
            )
        deleted = _discard_staged(callee_import)
    logger.info(
        "Callee import %s cancelled by %s: %s callees deleted",
        callee_import.pk,
        actor.label,
        deleted,
    )
    callee_import.refresh_from_db()
    return deleted


def import_now(
    *,
    campaign: Campaign,
    source: Any,
    name: str,
    actor: Actor,
    dry_run: bool = False,
    rejected_csv: IO[str] | None = None,
    progress: Callable[[ImportCounts], None] | None = None,
    default_region: str = "",
) -> tuple[ImportCounts, CalleeImport | None]:
    """Import a file at once and confirm it (the command line); a dry run writes nothing.
    With a `default_region` (checked by numbers.check_region), national numbers are read as
    numbers of that region.

    All or nothing either way, so the dispatcher never sends half a file that later fails:
    on PostgreSQL the rows are written as pending in one transaction (no confirm UPDATE
    rewriting every row: it would cost as much again as the import); on SQLite, whose single
    write lock would stall the site for the whole file, they are staged in short transactions
    and confirmed with one UPDATE at the end (removed again if the file fails halfway)."""
    import_check_campaign(campaign)
    with open_callee_rows(source, name) as rows:  # a file that cannot be read fails first
        if dry_run:
            counts = import_stream(
                campaign=campaign,
                rows=rows,
                dry_run=True,
                rejected_csv=rejected_csv,
                progress=progress,
                default_region=default_region,
            )
            return counts, None
        total_bytes = rows.total_bytes
    fh, owned = _binary(source)
    try:
        callee_import = CalleeImport(
            campaign=campaign,
            original_name=os.path.basename(name)[:255],
            total_bytes=total_bytes,
            created_by=actor.label,
            state=CalleeImport.State.RUNNING,
            default_region=default_region,
        )
        callee_import.file.save(os.path.basename(name) or "callees.csv", File(fh), save=False)
        callee_import.save()
    finally:
        if owned:
            fh.close()
    in_one_transaction = connection.vendor == "postgresql"
    try:
        with (
            transaction.atomic() if in_one_transaction else nullcontext(),
            callee_import.file.open("rb") as stored,
            open_callee_rows(stored, name) as rows,
        ):
            if in_one_transaction:
                # Check the foreign keys statement by statement rather than queueing two per
                # row until COMMIT (Django declares them DEFERRABLE INITIALLY DEFERRED).
                with connection.cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            counts = import_stream(
                campaign=campaign,
                rows=rows,
                callee_import=callee_import,
                state=Callee.State.PENDING if in_one_transaction else Callee.State.STAGED,
                rejected_csv=rejected_csv,
                progress=progress,
                chunk_transactions=not in_one_transaction,
            )
            if in_one_transaction:
                import_check_campaign(Campaign.objects.get(pk=campaign.pk))
                CalleeImport.objects.filter(pk=callee_import.pk).update(
                    state=CalleeImport.State.CONFIRMED, finished_at=timezone.now()
                )
    except BaseException as exc:
        _discard_staged(callee_import)
        CalleeImport.objects.filter(pk=callee_import.pk).update(
            state=CalleeImport.State.FAILED,
            error=str(exc) or type(exc).__name__,
            finished_at=timezone.now(),
        )
        raise
    if not in_one_transaction:
        CalleeImport.objects.filter(pk=callee_import.pk).update(
            state=CalleeImport.State.STAGED, finished_at=timezone.now()
        )
        import_confirm(callee_import=callee_import, actor=actor)
    else:
        windows_prepare(campaign)  # as import_confirm does: their zones, no window skipped
    logger.info("Callee import %s by %s: %s", callee_import.pk, actor.label, counts.summary())
    callee_import.refresh_from_db()
    return counts, callee_import
