"""Contact list (and do-not-call list) files through the one import pipeline: the one reader
(tabular.open_table, its number column found as for callee files), the one validator and
normaliser (imports.RowValidator, numbers), the one stream (imports.import_stream) with a
writer of contacts or do-not-call entries; the preview is the same stream writing nothing.

A contact's other columns become its custom fields (column name → text); a column named
name (or full name) is its name; its country is the number's (phonenumbers).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import (
    Contact,
    ContactImport,
    ContactList,
    SuppressionEntry,
    SuppressionList,
)
from campaigns.services.actors import Actor
from campaigns.services.imports import (
    PREVIEW_ROWS,
    ImportCounts,
    RowValidator,
    import_stream,
)
from campaigns.services.numbers import country_of
from campaigns.services.suppression import entries_write
from campaigns.services.tabular import (
    ImportFileError,
    _binary,
    _find_number_column,
    _size,
    open_table,
)

logger = logging.getLogger(__name__)

#: Header names of a contact's name column (case-insensitive).
NAME_HEADERS = ("name", "full name", "full_name", "contact name")
#: Contacts looked up per query when a chunk checks what was listed meanwhile.
_LOOKUP = 500


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


@dataclass(frozen=True)
class Layout:
    """Where a contact file's number and name are, and which columns are custom fields."""

    number: int
    name: int | None
    fields: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, columns: list[str], where: str) -> Layout:
        number = _find_number_column(columns, where)
        clean = [c.strip().strip("\ufeff").strip() for c in columns]
        name = next(
            (i for i, c in enumerate(clean) if c.casefold() in NAME_HEADERS and i != number),
            None,
        )
        fields = tuple((i, c) for i, c in enumerate(clean) if c and i not in (number, name))
        return cls(number, name, fields)

    def number_cell(self, record: list[Any]) -> Any:
        return record[self.number] if self.number < len(record) else ""

    def name_of(self, record: list[Any]) -> str:
        if self.name is None or self.name >= len(record):
            return ""
        return _text(record[self.name])[:200]

    def fields_of(self, record: list[Any]) -> dict[str, str]:
        return {
            column: _text(record[i]) for i, column in self.fields if i < len(record) and record[i]
        }


@contextmanager
def _contact_rows(source: Any, name: str):
    """The file's rows with its layout; a file without a number column fails here."""
    with open_table(source, name) as rows:
        where = "line 1" if rows.kind == "csv" else "row 1 of the first sheet"
        yield rows, Layout.of(list(rows.columns), where)


def _contacts_writer(
    contact_list: ContactList, layout: Layout, source: ContactImport | None = None
) -> Callable[[list[tuple[str, int, Any]]], list[tuple[int, str]]]:
    def write(chunk: list[tuple[str, int, Any]]) -> list[tuple[int, str]]:
        numbers = [number for number, _row, _raw in chunk]
        listed: set[str] = set()
        for start in range(0, len(numbers), _LOOKUP):
            listed.update(
                Contact.objects.filter(
                    contact_list=contact_list, number__in=numbers[start : start + _LOOKUP]
                ).values_list("number", flat=True)
            )
        Contact.objects.bulk_create(
            [
                Contact(
                    contact_list=contact_list,
                    number=number,
                    name=layout.name_of(record),
                    country=country_of(number),
                    fields=layout.fields_of(record),
                    row_number=row,
                    source=source,
                )
                for number, row, record in chunk
                if number not in listed
            ],
            batch_size=1000,
            ignore_conflicts=True,
        )
        return [(row, number) for number, row, _r in chunk if number in listed]

    return write


def _validator(contact_list: ContactList | None, region: str) -> RowValidator:
    existing = (
        Contact.objects.filter(contact_list=contact_list)
        .values_list("number", flat=True)
        .iterator(chunk_size=20_000)
        if contact_list is not None and contact_list.pk
        else ()
    )
    return RowValidator(existing, (), region, known_reason=gettext("already in the list"))


def _no_rows(counts: ImportCounts) -> None:
    if not counts.rows:
        raise ImportFileError(gettext("The file has a header but no rows below it."))


def contacts_preview(
    *,
    list_name: str,
    source: Any,
    name: str,
    default_region: str = "",
    rejected_csv: IO[str] | None = None,
) -> ImportCounts:
    """What importing a contact file into the list `list_name` (new or not) would do, writing
    nothing: counts, the first skipped rows and the first valid ones."""
    contact_list = ContactList.objects.filter(name=list_name).first()
    with _contact_rows(source, name) as (rows, layout):
        counts = import_stream(
            campaign=None,
            rows=rows,
            dry_run=True,
            rejected_csv=rejected_csv,
            preview_rows=PREVIEW_ROWS,
            validator=_validator(contact_list, default_region),
            number_cell=layout.number_cell,
        )
    _no_rows(counts)
    return counts


def contacts_import(
    *,
    list_name: str,
    source: Any,
    name: str,
    actor: Actor,
    default_region: str = "",
    dry_run: bool = False,
    rejected_csv: IO[str] | None = None,
    progress: Callable[[ImportCounts], None] | None = None,
) -> tuple[ImportCounts, ContactList | None]:
    """Import a contact file into the list `list_name`, created if new, at once (the command,
    the admin's confirm); a dry run writes nothing, not even the new list. The file is kept on
    a ContactImport record (the admin's import history, with its rejected rows); its chunks
    commit as they go, and a file refused halfway leaves nothing: no contact, no record, no list
    this import created."""
    if dry_run:
        counts = contacts_preview(
            list_name=list_name,
            source=source,
            name=name,
            default_region=default_region,
            rejected_csv=rejected_csv,
        )
        return counts, None
    existed = ContactList.objects.filter(name=list_name).exists()
    record = _new_record(
        list_name=list_name,
        source=source,
        name=name,
        actor=actor,
        default_region=default_region,
        state=ContactImport.State.RUNNING,
    )
    try:
        counts = _read_into(record, rejected_csv=rejected_csv, progress=progress)
    except ImportFileError:
        # Told at once (the command, the admin's confirm): a file refused halfway leaves
        # nothing behind, neither its stored copy nor a list this import created.
        record.file.delete(save=False)
        record.delete()
        if not existed and not record.contact_list.contacts.exists():
            record.contact_list.delete()
        raise
    return counts, record.contact_list


# ---------------------------------------------------------------------------
# Do-not-call files
# ---------------------------------------------------------------------------
def dnc_import(
    *,
    source: Any,
    name: str,
    actor: Actor,
    suppression_list: SuppressionList,
    reason: str = "",
    default_region: str = "",
    dry_run: bool = False,
    rejected_csv: IO[str] | None = None,
) -> ImportCounts:
    """A file of numbers onto a do-not-call list (source: import), through the same pipeline;
    a number already on the list is a duplicate (its entry is kept as it is)."""
    existing = SuppressionEntry.objects.filter(suppression_list=suppression_list).values_list(
        "number", flat=True
    )
    validator = RowValidator(
        existing.iterator(chunk_size=20_000),
        (),
        default_region,
        known_reason=gettext("already on the list"),
    )

    def write(chunk: list[tuple[str, int, Any]]) -> list[tuple[int, str]]:
        added, _updated = entries_write(
            suppression_list=suppression_list,
            numbers=[number for number, _row, _raw in chunk],
            actor=actor,
            reason=reason,
            source=SuppressionEntry.Source.IMPORT,
        )
        del added
        return []

    with transaction.atomic(), _contact_rows(source, name) as (rows, layout):
        counts = import_stream(
            campaign=None,
            rows=rows,
            dry_run=dry_run,
            rejected_csv=rejected_csv,
            validator=validator,
            number_cell=layout.number_cell,
            write=None if dry_run else write,
        )
        _no_rows(counts)
    return counts


# ---------------------------------------------------------------------------
# A large contact file, read by a task worker with its progress on a ContactImport
# ---------------------------------------------------------------------------
class _Tee:
    """Writes to every output (the caller's rejected-rows CSV and the record's own)."""

    def __init__(self, *outputs: IO[str] | None) -> None:
        self._outputs = [o for o in outputs if o is not None]

    def write(self, text: str) -> int:
        for output in self._outputs:
            output.write(text)
        return len(text)


def _new_record(
    *,
    list_name: str,
    source: Any,
    name: str,
    actor: Actor,
    default_region: str,
    state: str,
) -> ContactImport:
    """The list (created if new) and a record holding the stored file; a file that cannot be
    read (no number column, …) fails first, writing nothing."""
    fh, owned = _binary(source)
    try:
        with _contact_rows(fh, name):
            pass
        with transaction.atomic():
            contact_list, _created = ContactList.objects.get_or_create(
                name=list_name, defaults={"created_by": actor.label[:150]}
            )
            record = ContactImport(
                contact_list=contact_list,
                original_name=os.path.basename(name)[:255],
                default_region=default_region,
                total_bytes=_size(fh),
                created_by=actor.label[:150],
                state=state,
            )
            fh.seek(0)
            record.file.save(os.path.basename(name) or "contacts.csv", File(fh), save=False)
            record.save()
    finally:
        if owned:
            fh.close()
    return record


def _read_into(
    record: ContactImport,
    *,
    rejected_csv: IO[str] | None = None,
    progress: Callable[[ImportCounts], None] | None = None,
) -> ImportCounts:
    """Read a record's stored file into its list, the record's counters updated chunk by chunk;
    then DONE with its rejected rows, or FAILED with the reason and none of its contacts."""

    def report(counts: ImportCounts) -> None:
        ContactImport.objects.filter(pk=record.pk).update(
            rows=counts.rows,
            imported=counts.imported,
            rejected=counts.rejected,
            duplicates=counts.duplicates,
            processed_bytes=counts.bytes_read,
        )
        if progress is not None:
            progress(counts)

    own = tempfile.TemporaryFile("w+", encoding="utf-8-sig", newline="")
    contact_list = record.contact_list
    try:
        with (
            record.file.open("rb") as fh,
            _contact_rows(fh, record.original_name) as (rows, layout),
        ):
            counts = import_stream(
                campaign=None,
                rows=rows,
                rejected_csv=_Tee(rejected_csv, own),  # type: ignore[arg-type]
                progress=report,
                chunk_size=settings.CALLEE_IMPORT_CHUNK_ROWS,
                validator=_validator(contact_list, record.default_region),
                number_cell=layout.number_cell,
                write=_contacts_writer(contact_list, layout, record),
            )
            _no_rows(counts)
        if counts.skipped:
            own.seek(0)
            stem = Path(record.original_name).stem[:80] or "contacts"
            record.rejected_file.save(f"{stem}-rejected.csv", File(own), save=False)
    except BaseException as exc:
        Contact.objects.filter(source=record).delete()
        message = (
            str(exc)
            if isinstance(exc, ImportFileError)
            else gettext("Unexpected error (%(error)s); nothing was imported.")
            % {"error": type(exc).__name__}
        )
        ContactImport.objects.filter(pk=record.pk).update(
            state=ContactImport.State.FAILED, error=message, finished_at=timezone.now()
        )
        _finished(record)
        raise
    finally:
        own.close()
    ContactImport.objects.filter(pk=record.pk).update(
        state=ContactImport.State.DONE,
        rows=counts.rows,
        imported=counts.imported,
        rejected=counts.rejected,
        duplicates=counts.duplicates,
        processed_bytes=record.total_bytes,
        rejected_file=record.rejected_file.name or "",
        finished_at=timezone.now(),
    )
    _finished(record)
    logger.info(
        "Contact list %s import by %s: %s", contact_list.name, record.created_by, counts.summary()
    )
    return counts


def _finished(record: ContactImport) -> None:
    """import.finished for subscribed webhooks (outbound_hooks.py)."""
    from campaigns.services.outbound_hooks import emit_import_finished

    record.refresh_from_db()
    emit_import_finished(record, kind="contacts")


def contact_import_start(
    *, list_name: str, upload: Any, name: str, actor: Actor, default_region: str = ""
) -> ContactImport:
    """Store the file and queue its import into `list_name` (created now if new), after the
    transaction commits; the admin's page of the ContactImport shows its progress."""
    from campaigns.tasks import run_contact_import

    with transaction.atomic():
        record = _new_record(
            list_name=list_name,
            source=upload,
            name=name,
            actor=actor,
            default_region=default_region,
            state=ContactImport.State.QUEUED,
        )
        transaction.on_commit(lambda: run_contact_import.enqueue(record.pk))
    return record


def contact_import_run(import_id: int) -> str:
    """The task: read the stored file into its list, updating the record's progress."""
    taken = ContactImport.objects.filter(pk=import_id, state=ContactImport.State.QUEUED).update(
        state=ContactImport.State.RUNNING
    )
    if not taken:
        return f"contact import {import_id} is not queued"
    record = ContactImport.objects.select_related("contact_list").get(pk=import_id)
    try:
        counts = _read_into(record)
    except ImportFileError as exc:
        return f"contact import {import_id} failed: {exc}"
    return f"contact import {import_id}: {counts.summary()}"
