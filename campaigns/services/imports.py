"""Callee imports: the row validator and bulk writes (COPY on PostgreSQL), the one pipeline of
the admin's preview and small-file import, the background job and the CLI.

The pipeline (design.md §12): `open_rows` (tabular.py) yields (row in the file, raw cell) →
`RowValidator` classifies each row as valid, rejected (with the reason) or duplicate →
`import_stream` writes the valid rows in chunks of CHUNK_SIZE, staged or pending, and the rejected
ones to a CSV with a reason column → `import_confirm` makes staged callees pending,
`import_cancel` deletes them (import_records.py). `import_preview` is the same stream writing
nothing. The small-file import of the admin and the CLI go through `import_now`
(import_records.py); the background job is in import_jobs.py.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from array import array
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from campaigns.models import Callee, CalleeImport, Campaign
from campaigns.services.callee_writes import _write_chunk
from campaigns.services.numbers import _SEPARATORS, InvalidNumber, normalise_number, normaliser
from campaigns.services.tabular import ImportFileError, RowReader, open_rows
from campaigns.services.windows import TIMEZONE_HEADERS, zone_cell

logger = logging.getLogger(__name__)

#: Valid rows written per transaction, and rows read between two progress updates.
CHUNK_SIZE = 10_000
#: Campaigns a list may be imported into (a completed or cancelled one calls nobody again).
IMPORTABLE_STATES = (
    Campaign.State.DRAFT,
    Campaign.State.SCHEDULED,
    Campaign.State.PAUSED,
    Campaign.State.RUNNING,
)
#: Rejected rows kept in memory for the admin page and the command's output.
SAMPLE_SIZE = 200
#: Valid rows a preview lists (all of them are imported).
PREVIEW_ROWS = 100

VALID, REJECTED, DUPLICATE = "valid", "rejected", "duplicate"
#: A rejection reason (marked for translation: pass it through gettext where it is written).
ADDED_MEANWHILE = gettext_noop("already in the campaign (added meanwhile)")
IN_CAMPAIGN = 0  # RowValidator's "first row" of numbers that were in the campaign before the file


class ImportStateError(Exception):
    """The import (or its campaign) is not in a state that allows the requested step."""


class ImportCancelled(Exception):
    """The import was cancelled while it was being read."""


class ImportLeaseLost(Exception):
    """Another worker took the import over (this one was taken for dead): stop, touch nothing."""


def _key(number: str) -> int:
    # The leading 1 keeps leading zeros apart ("0812…" and "812…" are different numbers);
    # 16 digits fit in 64 bits.
    return int("1" + number)


class SeenNumbers:
    """The numbers seen so far, each with the row it was first in: an open-addressing hash table
    over two arrays, 12 bytes a slot at most half full (~25 bytes a number), where a dict of ints
    takes ~100. A million-row file thus costs ~25 MB, not ~100 MB."""

    __slots__ = ("_keys", "_limit", "_mask", "_rows", "_used")

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        self._keys = array("q", bytes(8 * capacity))  # 0 marks an empty slot (keys are ≥ 10**7)
        self._rows = array("i", bytes(4 * capacity))
        self._mask = capacity - 1
        self._limit = capacity // 2
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def setdefault(self, key: int, row: int) -> int:
        """The row `key` was first seen in; records `row` for it when it is new."""
        keys, mask = self._keys, self._mask
        i = (key * 0x9E3779B97F4A7C15 >> 32) & mask  # Fibonacci hashing spreads similar numbers
        k = keys[i]
        while k:
            if k == key:
                return self._rows[i]
            i = (i + 1) & mask
            k = keys[i]
        keys[i] = key
        self._rows[i] = row
        self._used += 1
        if self._used > self._limit:
            self._grow()
        return row

    def _grow(self) -> None:
        keys, rows = self._keys, self._rows
        self._allocate((self._mask + 1) * (4 if self._mask < (1 << 18) else 2))
        for key, row in zip(keys, rows, strict=True):
            if key:
                self.setdefault(key, row)


class RowValidator:
    """Classifies rows, remembering every number seen (compactly, as ints) with the row it was
    first in; numbers already in the campaign are remembered with row IN_CAMPAIGN.

    "In the campaign" means listed: pending or further. Numbers other imports have only staged
    are not the campaign's yet (they may be cancelled), so they never make a row a duplicate;
    confirming is where a number listed meanwhile is skipped (see import_confirm)."""

    __slots__ = ("_known", "_normalise", "_seen")

    def __init__(
        self,
        existing: Iterable[str] = (),
        own: Iterable[tuple[str, int]] = (),
        default_region: str = "",
        known_reason: str | None = None,
    ) -> None:
        self._normalise = normaliser(default_region)
        # A row whose number `existing` holds.
        self._known = known_reason or gettext("already in the campaign")
        self._seen = SeenNumbers()
        for number, row in own:  # first, so a number this import staged keeps its row
            self._seen.setdefault(_key(number), row)
        for number in existing:
            try:
                key = _key(number if number.isdigit() else normalise_number(number))
            except (InvalidNumber, ValueError):
                continue  # a number added by hand that no import would accept cannot clash
            self._seen.setdefault(key, IN_CAMPAIGN)

    @classmethod
    def for_campaign(
        cls,
        campaign: Campaign,
        callee_import: CalleeImport | None = None,
        default_region: str = "",
    ) -> RowValidator:
        """Seeded with the campaign's listed numbers, and, to resume an import, with the
        numbers it staged already (each at its row); national numbers are read as numbers of
        `default_region`, if given."""
        numbers = (
            Callee.objects.filter(campaign=campaign)
            .exclude(state=Callee.State.STAGED)
            .values_list("number", flat=True)
            .iterator(chunk_size=20_000)
        )
        own: Iterable[tuple[str, int]] = ()
        if callee_import is not None:
            own = (
                Callee.objects.filter(source=callee_import, state=Callee.State.STAGED)
                .values_list("number", "row_number")
                .iterator(chunk_size=20_000)
            )
        return cls(numbers, own, default_region)

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, row: int, raw: Any) -> tuple[str, str, str]:
        """(VALID, number, "") or (REJECTED, "", reason) or (DUPLICATE, number, reason)."""
        try:
            number = self._normalise(raw)
        except InvalidNumber as exc:
            return REJECTED, "", exc.reason
        first = self._seen.setdefault(int("1" + number), row)
        if first == row:
            return VALID, number, ""
        if first == IN_CAMPAIGN:
            return DUPLICATE, number, self._known
        return DUPLICATE, number, gettext("duplicate of row %(row)s") % {"row": first}

    def replay(self, row: int, raw: Any) -> tuple[str, str, str]:
        """`check` for a row an interrupted run of this import read already: VALID only for
        the row whose number it staged (seeded by for_campaign); any other valid number was
        skipped then as already in the campaign, whatever the campaign holds now."""
        before = len(self._seen)
        verdict, number, reason = self.check(row, raw)
        if verdict is VALID and len(self._seen) != before:
            return DUPLICATE, number, gettext("already in the campaign")
        return verdict, number, reason


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------
@dataclass
class RejectedRow:
    row: int
    value: str
    reason: str


@dataclass
class ImportCounts:
    rows: int = 0
    imported: int = 0
    rejected: int = 0
    duplicates: int = 0
    bytes_read: int = 0
    total_bytes: int = 0
    #: The first SAMPLE_SIZE rejected or duplicate rows, for a page or the command's output.
    sample: list[RejectedRow] = field(default_factory=list)
    #: A dry run's first valid rows as (row, number), when asked for (import_preview).
    preview: list[tuple[int, str]] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return self.rejected + self.duplicates

    @property
    def skipped_unlisted(self) -> int:
        """Skipped rows beyond the sample (in the rejected-rows CSV only)."""
        return self.skipped - len(self.sample)

    def summary(self) -> str:
        return f"imported={self.imported} rejected={self.rejected} duplicates={self.duplicates}"


REJECTED_HEADER = ("row", "value", "reason")
_FORMULA_START = ("=", "@", "\t", "\r")


def _cell_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def rejected_csv_value(value: str) -> str:
    """A rejected cell as written to the CSV, defused so a spreadsheet does not run it as a
    formula (=, @, or a + / - that is not the start of a phone number)."""
    if value.startswith(_FORMULA_START) or (
        value.startswith(("+", "-")) and not value.translate(_SEPARATORS).lstrip("+").isdigit()
    ):
        return "'" + value
    return value


class RejectedWriter:
    """Streams rejected rows into a CSV (row, value, reason), keeping the first few in memory."""

    def __init__(self, outputs: list[IO[str]], counts: ImportCounts | None = None) -> None:
        self._writers = [csv.writer(out) for out in outputs]
        for writer in self._writers:
            writer.writerow(REJECTED_HEADER)
        self._sample = counts.sample if counts is not None else None

    def add(self, row: int, raw: Any, reason: str) -> None:
        value = _cell_text(raw)
        if self._writers:
            line = (row, rejected_csv_value(value), reason)
            for writer in self._writers:
                writer.writerow(line)
        if self._sample is not None and len(self._sample) < SAMPLE_SIZE:
            self._sample.append(RejectedRow(row, value, reason))


def open_callee_rows(source: Any, name: str | None = None) -> RowReader:
    """A callee file's reader: its number column, and its time zone column if it has one
    (headed as a contact list's: windows.TIMEZONE_HEADERS), each row's cell then a pair."""
    return open_rows(source, name, also=TIMEZONE_HEADERS)


def import_stream(
    *,
    campaign: Campaign | None,
    rows: Iterable[tuple[int, Any]],
    callee_import: CalleeImport | None = None,
    state: str = Callee.State.STAGED,
    dry_run: bool = False,
    progress: Callable[[ImportCounts], None] | None = None,
    rejected_csv: IO[str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    chunk_transactions: bool = True,
    lease: str = "",
    resume_after: int = 0,
    preview_rows: int = 0,
    default_region: str = "",
    validator: RowValidator | None = None,
    number_cell: Callable[[Any], Any] | None = None,
    write: Callable[[list[tuple[str, int, Any]]], list[tuple[int, str]]] | None = None,
) -> ImportCounts:
    """Validate and write a stream of (row, raw number) in chunks, each in a short transaction that
    also updates the CalleeImport's counters (a cancelled import stops at the next chunk:
    ImportCancelled). Rejected and duplicate rows go to `rejected_csv`, or, for an import, to a
    CSV saved as its `rejected_file`. A dry run writes nothing; it keeps its first `preview_rows`
    valid rows in the counts' `preview`.

    With a `lease` (the background job's), each chunk commits only while the import still holds
    it, and renews it: a worker that another one replaced stops (ImportLeaseLost) without writing.
    `resume_after` rows were committed by an interrupted run: they are read again without being
    written, to rebuild the counts, the rejected rows and the numbers seen from what that run
    staged, and writing goes on from the next row. With a `default_region` (the import's own,
    if it has one), national numbers are read as numbers of that region and checked by country.

    chunk_transactions=False writes every chunk in the caller's transaction, without savepoints:
    for an all-or-nothing import on PostgreSQL, where a hundred savepoints, each locking the
    campaign and import rows for their foreign keys, make the row locks ever slower to check.

    Other list kinds (contact lists, do-not-call lists) come through the same stream with their
    own `validator` (seeded with the list's numbers), `number_cell` (the number cell of a whole
    row) and `write` (a chunk of (number, row, raw row) → the (row, number) pairs listed
    meanwhile).

    A callee file with a time zone column (open_callee_rows) yields (number cell, zone cell):
    a row naming an unknown zone is rejected with that reason before its number is read, and a
    valid row's zone is written as its callee's zone set (an empty cell: its number's)."""
    if not dry_run and callee_import is None and write is None:
        raise ValueError("import_stream writes callees only for a CalleeImport (or dry_run=True)")
    counts = ImportCounts(total_bytes=getattr(rows, "total_bytes", 0))
    if callee_import is not None and not default_region:
        default_region = callee_import.default_region
    if validator is None:
        assert campaign is not None
        validator = RowValidator.for_campaign(
            campaign, callee_import if resume_after else None, default_region
        )
    own_csv = None
    outputs = [rejected_csv] if rejected_csv is not None else []
    if callee_import is not None and not dry_run:
        own_csv = tempfile.TemporaryFile("w+", encoding="utf-8-sig", newline="")
        outputs.append(own_csv)
    rejected = RejectedWriter(outputs, counts)
    pending: list[Any] = []
    since_flush = 0
    check = validator.check
    zoned = bool(getattr(rows, "also_column", ""))

    def still_running(**fields: Any) -> None:
        """Update the import if it is still running (under our lease), else stop."""
        assert callee_import is not None
        guard = CalleeImport.objects.filter(pk=callee_import.pk, state=CalleeImport.State.RUNNING)
        if lease:
            guard = guard.filter(lease=lease)
            fields["heartbeat_at"] = timezone.now()
        if guard.update(**fields):
            return
        now = CalleeImport.objects.filter(pk=callee_import.pk).values_list("state", flat=True)
        if lease and now.first() == CalleeImport.State.RUNNING:
            raise ImportLeaseLost(f"Import #{callee_import.pk} is read by another worker now.")
        raise ImportCancelled(f"Import #{callee_import.pk} is no longer running.")

    def flush(final: bool = False) -> None:
        nonlocal pending, since_flush
        counts.bytes_read = getattr(rows, "bytes_read", 0) if not final else counts.total_bytes
        if dry_run:
            counts.imported += len(pending)
            wanted = preview_rows - len(counts.preview)
            if wanted > 0:
                counts.preview.extend((item[1], item[0]) for item in pending[:wanted])
        else:
            with transaction.atomic() if chunk_transactions else nullcontext():
                conflicts = []
                if pending and write is not None:
                    conflicts = write(pending)
                elif pending:
                    assert campaign is not None and callee_import is not None
                    conflicts = _write_chunk(
                        pending,
                        campaign_id=campaign.pk,
                        source_id=callee_import.pk,
                        state=state,
                    )
                meanwhile = gettext(ADDED_MEANWHILE)
                for row, number in conflicts:
                    rejected.add(row, number, meanwhile)
                counts.imported += len(pending) - len(conflicts)
                counts.duplicates += len(conflicts)
                if callee_import is not None:
                    still_running(
                        rows=counts.rows,
                        imported=counts.imported,
                        rejected=counts.rejected,
                        duplicates=counts.duplicates,
                        processed_bytes=counts.bytes_read,
                        total_bytes=counts.total_bytes,
                    )
        pending = []
        since_flush = 0
        if progress is not None:
            progress(counts)

    try:
        iterator = iter(rows)
        if resume_after:
            replay = validator.replay
            for row, raw in iterator:
                counts.rows += 1
                if zoned:  # the same verdicts as the first run: an unknown zone first
                    raw, (_zone, reason) = raw[0], zone_cell(raw[1])
                if zoned and reason:
                    verdict = REJECTED
                else:
                    verdict, _, reason = replay(row, raw)
                if verdict is VALID:
                    counts.imported += 1  # staged by the interrupted run
                elif verdict is REJECTED:
                    counts.rejected += 1
                    rejected.add(row, raw, reason)
                else:
                    counts.duplicates += 1
                    rejected.add(row, raw, reason)
                if counts.rows % chunk_size == 0:
                    still_running()  # renew the lease; stop if cancelled meanwhile
                if counts.rows == resume_after:
                    break
            if counts.rows < resume_after:
                raise ImportFileError(
                    gettext(
                        "The stored file has %(rows)s rows, fewer than the %(before)s read "
                        "before the worker stopped: it changed. Upload the file again."
                    )
                    % {"rows": f"{counts.rows:,}", "before": f"{resume_after:,}"}
                )
        for row, raw in iterator:
            counts.rows += 1
            since_flush += 1
            zone = ""
            if zoned:
                raw, (zone, reason) = raw[0], zone_cell(raw[1])
            cell = raw if number_cell is None else number_cell(raw)
            if zoned and reason:
                verdict = REJECTED
            else:
                verdict, number, reason = check(row, cell)
            if verdict is VALID:
                if write is not None:
                    pending.append((number, row, raw))
                else:
                    pending.append((number, row, zone) if zone else (number, row))
            elif verdict is REJECTED:
                counts.rejected += 1
                rejected.add(row, cell, reason)
            else:
                counts.duplicates += 1
                rejected.add(row, cell, reason)
            if since_flush >= chunk_size:
                flush()
        flush(final=True)
        if own_csv is not None and callee_import is not None and counts.skipped:
            own_csv.seek(0)
            stem = Path(callee_import.original_name).stem[:80] or "callees"
            callee_import.rejected_file.save(f"{stem}-rejected.csv", File(own_csv), save=False)
            CalleeImport.objects.filter(pk=callee_import.pk).update(
                rejected_file=callee_import.rejected_file.name
            )
    finally:
        if own_csv is not None:
            own_csv.close()
    return counts


def import_preview(
    *,
    campaign: Campaign,
    source: Any,
    name: str = "",
    rejected_csv: IO[str] | None = None,
    default_region: str = "",
) -> ImportCounts:
    """What importing a file (path or binary file) would do, writing nothing: its counts, the
    first SAMPLE_SIZE skipped rows and the first PREVIEW_ROWS valid ones (the admin's preview;
    every skipped row to `rejected_csv`), national numbers read as numbers of `default_region`
    if given. ImportFileError when the file cannot be read or has no row below its header."""
    with open_callee_rows(source, name) as rows:
        counts = import_stream(
            campaign=campaign,
            rows=rows,
            dry_run=True,
            rejected_csv=rejected_csv,
            preview_rows=PREVIEW_ROWS,
            default_region=default_region,
        )
        column = rows.number_column
    if not counts.rows:
        raise ImportFileError(
            gettext("The file has a header (number column %(column)r) but no rows below it.")
            % {"column": column}
        )
    return counts


# ---------------------------------------------------------------------------
# The import record: which campaigns take imports, and dropping what an import staged
# ---------------------------------------------------------------------------
def import_check_campaign(campaign: Campaign) -> None:
    if campaign.state not in IMPORTABLE_STATES:
        raise ImportStateError(
            gettext(
                "Campaign %(name)r is %(state)s: callees can be imported only into a draft, "
                "scheduled, paused or running campaign."
            )
            % {"name": campaign.name, "state": campaign.get_state_display().lower()}
        )


def _discard_staged(callee_import: CalleeImport) -> int:
    deleted, _ = Callee.objects.filter(source=callee_import, state=Callee.State.STAGED).delete()
    return deleted
