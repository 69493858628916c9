"""Callee imports: number normalisation, a streaming CSV/TSV/XLSX reader, the row validator and
bulk writes (COPY on PostgreSQL), shared by the admin preview, the background job and the CLI.

The pipeline (design.md §12): `open_rows` yields (row in the file, raw cell) → `RowValidator`
classifies each row as valid, rejected (with the reason) or duplicate → `import_stream` writes the
valid rows in chunks of CHUNK_SIZE, staged or pending, and the rejected ones to a CSV with a reason
column → `import_confirm` makes staged callees pending in one UPDATE, `import_cancel` deletes them.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import re
import tempfile
import zipfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone

from campaigns.models import Callee, CalleeImport, Campaign
from campaigns.services.actors import Actor
from campaigns.services.dbretry import connection_lost, retrying

logger = logging.getLogger(__name__)

#: Valid rows written per transaction, and rows read between two progress updates.
CHUNK_SIZE = 10_000
#: Header names of the number column, matched case-insensitively; other columns are ignored.
NUMBER_HEADERS = ("number", "phone", "mobile", "callee", "msisdn")
MIN_DIGITS, MAX_DIGITS = 7, 15
#: Campaigns a list may be imported into (a completed or cancelled one calls nobody again).
IMPORTABLE_STATES = (
    Campaign.State.DRAFT,
    Campaign.State.SCHEDULED,
    Campaign.State.PAUSED,
    Campaign.State.RUNNING,
)
#: Rejected rows kept in memory for the admin page and the command's output.
SAMPLE_SIZE = 200

VALID, REJECTED, DUPLICATE = "valid", "rejected", "duplicate"
IN_CAMPAIGN = 0  # RowValidator's "first row" of numbers that were in the campaign before the file

_READ_BLOCK = 1 << 20
_HEADER_HINT = ", ".join(NUMBER_HEADERS[:-1]) + " or " + NUMBER_HEADERS[-1]


class ImportFileError(Exception):
    """The file cannot be read; the message says why, fit to show to the person who sent it."""


class InvalidNumber(ValueError):
    """A cell that is not a callable number; `reason` is shown next to the row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ImportStateError(Exception):
    """The import (or its campaign) is not in a state that allows the requested step."""


class ImportCancelled(Exception):
    """The import was cancelled while it was being read."""


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------
# Spaces (also no-break and thin ones), dashes (ASCII, Unicode hyphens, en/em dash), dots, brackets.
_SEPARATORS = str.maketrans(
    "", "", " \t\u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2014\u2212.()[]"
)
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def normalise_number(raw: Any) -> str:
    """The digits ITNIO is sent for a cell: spaces, dashes, dots, brackets and a leading `+` or
    `00` removed, 7–15 digits left; otherwise InvalidNumber with the reason."""
    if raw is None:
        raise InvalidNumber("empty")
    if isinstance(raw, bool):
        raise InvalidNumber(f"not a phone number: {raw}")
    if isinstance(raw, int):
        text = str(raw)
    elif isinstance(raw, float):
        # A spreadsheet cell holding a number: fine when it is whole (precise up to 15 digits).
        if not raw.is_integer():
            raise InvalidNumber(f"not a whole number: {raw!r}")
        text = str(int(raw))
    elif isinstance(raw, datetime | date | time):
        raise InvalidNumber(f"a date or time, not a phone number: {raw}")
    else:
        text = str(raw).strip()
    if not text:
        raise InvalidNumber("empty")
    digits = text.translate(_SEPARATORS)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit()):
        if not digits:
            raise InvalidNumber(f"no digits: {_shown(text)}")
        if _SCIENTIFIC.match(text):
            raise InvalidNumber(
                f"in scientific notation, digits are lost: {_shown(text)} "
                "(format the column as text in the spreadsheet)"
            )
        if any(c.isalpha() for c in digits):
            raise InvalidNumber(f"has letters: {_shown(text)}")
        if "+" in digits:
            raise InvalidNumber(f"'+' is only allowed at the start: {_shown(text)}")
        others = sorted({c for c in digits if not ("0" <= c <= "9")})
        shown = ", ".join(repr(c) for c in others[:5])
        raise InvalidNumber(f"has characters other than digits ({shown}): {_shown(text)}")
    n = len(digits)
    if not MIN_DIGITS <= n <= MAX_DIGITS:
        removed = digits != text
        how = (
            " after removing spaces, dashes, dots, brackets and a leading + or 00"
            if removed
            else ""
        )
        raise InvalidNumber(
            f"{n} digit{'s' if n != 1 else ''}{how}: must be {MIN_DIGITS}–{MAX_DIGITS}"
        )
    return digits


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
    first in; numbers already in the campaign are remembered with row IN_CAMPAIGN."""

    __slots__ = ("_seen",)

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self._seen = SeenNumbers()
        for number in existing:
            try:
                key = _key(number if number.isdigit() else normalise_number(number))
            except (InvalidNumber, ValueError):
                continue  # a number added by hand that no import would accept cannot clash
            self._seen.setdefault(key, IN_CAMPAIGN)

    @classmethod
    def for_campaign(cls, campaign: Campaign) -> RowValidator:
        numbers = (
            Callee.objects.filter(campaign=campaign)
            .values_list("number", flat=True)
            .iterator(chunk_size=20_000)
        )
        return cls(numbers)

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, row: int, raw: Any) -> tuple[str, str, str]:
        """(VALID, number, "") or (REJECTED, "", reason) or (DUPLICATE, number, reason)."""
        number = None
        if type(raw) is str:
            # The common case, cheaply (str.replace is C speed); anything else, and every
            # invalid value, goes through normalise_number for the same result or the reason.
            digits = (
                raw.replace(" ", "").replace("-", "").replace(".", "").replace("(", "")
            ).replace(")", "")
            if digits[:1] == "+":
                digits = digits[1:]
            elif digits[:2] == "00":
                digits = digits[2:]
            if MIN_DIGITS <= len(digits) <= MAX_DIGITS and digits.isdigit() and digits.isascii():
                number = digits
        if number is None:
            try:
                number = normalise_number(raw)
            except InvalidNumber as exc:
                return REJECTED, "", exc.reason
        first = self._seen.setdefault(int("1" + number), row)
        if first == row:
            return VALID, number, ""
        if first == IN_CAMPAIGN:
            return DUPLICATE, number, "already in the campaign"
        return DUPLICATE, number, f"duplicate of row {first}"


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------
class _Unclosable(io.RawIOBase):
    """A caller's binary file seen through a wrapper that must not close it (TextIOWrapper and
    openpyxl close what they are given)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._inner.read(size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:  # the owner closes the inner file
        super().close()


def _binary(source: Any) -> tuple[Any, bool]:
    """(seekable binary file at offset 0, whether we opened it)."""
    if isinstance(source, str | os.PathLike):
        try:
            return open(source, "rb"), True
        except OSError as exc:
            raise ImportFileError(f"Cannot open {os.fspath(source)}: {exc.strerror}.") from exc
    inner = source
    # Django's File / UploadedFile / FieldFile wrap the real file object.
    while not isinstance(inner, io.IOBase) and hasattr(inner, "file") and inner.file is not inner:
        if getattr(inner, "closed", False) and hasattr(inner, "open"):
            inner.open("rb")
        inner = inner.file
    inner.seek(0)
    return inner, False


def _size(fh: Any) -> int:
    pos = fh.tell()
    size = fh.seek(0, io.SEEK_END)
    fh.seek(pos)
    return size


def _find_number_column(cells: list[str], where: str) -> int:
    for index, cell in enumerate(cells):
        if cell.strip().strip("\ufeff").strip().casefold() in NUMBER_HEADERS:
            return index
    first = cells[0].strip() if cells else ""
    try:
        normalise_number(first)
    except InvalidNumber:
        pass
    else:
        raise ImportFileError(
            f"No header row: {where} starts with {_shown(first)}, which looks like a phone number. "
            f"Add a first line naming the column: {_HEADER_HINT}."
        )
    found = ", ".join(_shown(c.strip()) if c.strip() else "(blank)" for c in cells[:20])
    if len(cells) > 20:
        found += f" and {len(cells) - 20} more"
    raise ImportFileError(
        f"No number column: the columns found are {found}. "
        f"Name the column with the numbers {_HEADER_HINT} (any case)."
    )


class RowReader:
    """Iterates (row number in the file, raw number cell) over a callee file; knows its columns,
    its size and how far it has read. Close it (or use `with`) when done."""

    kind = ""
    encoding = ""
    delimiter = ""
    columns: list[str]
    number_column = ""

    def __init__(self, fh: Any, owned: bool, name: str) -> None:
        self._fh = fh
        self._owned = owned
        self.name = name
        self.total_bytes = _size(fh)

    @property
    def bytes_read(self) -> int:
        return self.total_bytes

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        if self._owned:
            self._fh.close()

    def __enter__(self) -> RowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_decodes(fh: Any, encoding: str) -> tuple[int, int] | None:
    """None when the whole file decodes strictly, else (offset, byte value) of the first error."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    fh.seek(0)
    offset = 0
    while True:
        block = fh.read(_READ_BLOCK)
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            pending = len(exc.object) - len(block)  # bytes the decoder held back from before
            at = max(0, offset - pending + exc.start)
            return at, exc.object[exc.start]
        if not block:
            return None
        offset += len(block)


def _detect_encoding(fh: Any, head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in head:
        # UTF-16 without a byte-order mark: ASCII text has a zero in every other byte.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if odd > 0.8 * len(head[1::2]) and even == 0:
            encoding = "utf-16-le"
        elif even > 0.8 * len(head[0::2]) and odd == 0:
            encoding = "utf-16-be"
        else:
            raise ImportFileError(
                "This is not a text file (it contains NUL bytes) nor an XLSX workbook. "
                "Save the list as CSV (UTF-8) or XLSX."
            )
    else:
        failure = _check_decodes(fh, "utf-8")
        if failure is None:
            return "utf-8"
        # Not UTF-8: Excel's "CSV" on Windows writes the ANSI code page, Windows-1252 in the West.
        failure = _check_decodes(fh, "cp1252")
        if failure is None:
            return "cp1252"
        at, byte = failure
        raise ImportFileError(
            f"The file cannot be decoded: it is not UTF-8, and byte 0x{byte:02X} at offset {at:,} "
            "is not Windows-1252 either. Save the list as “CSV UTF-8” and try again."
        )
    failure = _check_decodes(fh, encoding)
    if failure is not None:
        at, byte = failure
        label = {"utf-8-sig": "UTF-8", "utf-32": "UTF-32"}.get(encoding, "UTF-16")
        raise ImportFileError(
            f"The file starts like {label} text but byte 0x{byte:02X} at offset {at:,} cannot be "
            "decoded (is it truncated?). Save the list again as CSV UTF-8."
        )
    return encoding


def _count_outside_quotes(line: str, char: str) -> int:
    return re.sub(r'"[^"]*"', "", line).count(char)


class CsvRows(RowReader):
    """CSV, TSV or TXT: encoding from the byte-order mark, else strict UTF-8, else Windows-1252;
    the delimiter (comma, semicolon or tab) from the header line; blank lines skipped."""

    kind = "csv"

    def __init__(self, fh: Any, owned: bool, name: str, head: bytes) -> None:
        super().__init__(fh, owned, name)
        self.encoding = _detect_encoding(fh, head)
        fh.seek(0)
        self._text = io.TextIOWrapper(
            io.BufferedReader(_Unclosable(fh), _READ_BLOCK), encoding=self.encoding, newline=""
        )
        line_no, line = self._next_nonblank(0)
        delimiter = None
        sep = re.fullmatch(r"\s*sep=(.)\s*", line or "")
        if sep:  # Excel's "sep=;" first line
            delimiter = sep.group(1)
            line_no, line = self._next_nonblank(line_no)
        if line is None:
            raise ImportFileError("The file is empty." if not sep else "No header row after sep=.")
        if delimiter is None:
            counts = {d: _count_outside_quotes(line, d) for d in (",", ";", "\t")}
            best = max(counts, key=lambda d: counts[d])
            delimiter = best if counts[best] else ","
        self.delimiter = delimiter
        self.columns = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
        self._index = _find_number_column(self.columns, f"line {line_no}")
        self.number_column = self.columns[self._index].strip().strip("\ufeff").strip()
        self._header_line = line_no

    def _next_nonblank(self, line_no: int) -> tuple[int, str | None]:
        while True:
            try:
                line = self._text.readline()
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"The file cannot be decoded as {self.encoding}: {exc.reason}."
                ) from exc
            if not line:
                return line_no, None
            line_no += 1
            if line.strip().strip("\ufeff").strip(",;\t ").strip():
                return line_no, line.lstrip("\ufeff")

    @property
    def bytes_read(self) -> int:
        try:
            return min(self._fh.tell(), self.total_bytes)
        except (ValueError, OSError):
            return self.total_bytes

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        reader = csv.reader(self._text, delimiter=self.delimiter)
        index, base, previous = self._index, self._header_line, 0
        try:
            for record in reader:
                row = base + previous + 1  # the line this record starts on
                previous = reader.line_num
                value = record[index] if index < len(record) else ""
                if (value and value.strip(" \t,;")) or any(c.strip(" \t,;") for c in record):
                    yield row, value
        except csv.Error as exc:
            raise ImportFileError(
                f"Line {base + previous + 1} cannot be read as CSV: {exc}."
            ) from exc
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"Line {base + previous + 1} cannot be decoded as {self.encoding}: {exc.reason}."
            ) from exc

    def close(self) -> None:
        try:
            self._text.detach()
        except ValueError:
            pass
        super().close()


def _xlsx_damaged(exc: BaseException, where: str = "") -> ImportFileError:
    detail = str(exc).strip() or type(exc).__name__
    if len(detail) > 160:
        detail = detail[:159] + "…"
    return ImportFileError(
        f"The XLSX workbook is damaged or truncated{where} ({detail}). Open it in Excel and save "
        "it again, or save the list as CSV."
    )


class XlsxRows(RowReader):
    """The first sheet of an XLSX workbook, read with openpyxl in read-only (streaming) mode."""

    kind = "xlsx"

    def __init__(self, fh: Any, owned: bool, name: str) -> None:
        super().__init__(fh, owned, name)
        try:
            with zipfile.ZipFile(_Unclosable(fh)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise _xlsx_damaged(exc) from exc
        if "xl/workbook.xml" not in names:
            if "mimetype" in names and "content.xml" in names:
                raise ImportFileError(
                    "This is an OpenDocument spreadsheet (.ods), which is not supported: "
                    "save it as XLSX or CSV."
                )
            raise ImportFileError("This is a ZIP archive, not an XLSX workbook.")
        import openpyxl

        fh.seek(0)
        try:
            self._book = openpyxl.load_workbook(_Unclosable(fh), read_only=True, data_only=True)
            if not self._book.worksheets:
                raise ImportFileError("The workbook has no sheets.")
            sheet = self._book.worksheets[0]
            self.sheet_title = sheet.title
            self.max_row = sheet.max_row or 0  # from the sheet's dimension tag: may be wrong
            sheet.reset_dimensions()  # so rows past a wrong dimension are not lost
            self._rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            header_row, header = 0, None
            for row_no, cells in self._rows:
                if any(c is not None and str(c).strip() for c in cells):
                    header_row, header = row_no, cells
                    break
        except ImportFileError:
            raise
        except Exception as exc:
            raise _xlsx_damaged(exc) from exc
        if header is None:
            raise ImportFileError(f"The first sheet ({self.sheet_title!r}) is empty.")
        self.columns = ["" if c is None else str(c) for c in header]
        self._index = _find_number_column(self.columns, f"row {header_row} of the first sheet")
        self.number_column = self.columns[self._index].strip()
        self._row = header_row

    @property
    def bytes_read(self) -> int:
        if not self.max_row:
            return 0
        return min(self.total_bytes, self.total_bytes * self._row // self.max_row)

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        index = self._index
        try:
            for row, cells in self._rows:
                self._row = row
                value = cells[index] if index < len(cells) else None
                if isinstance(value, str):
                    blank = not value.strip()
                else:
                    blank = value is None
                if not blank or any(c is not None and str(c).strip() for c in cells):
                    yield row, value
        except Exception as exc:
            raise _xlsx_damaged(exc, f" after row {self._row}") from exc
        self._row = self.max_row

    def close(self) -> None:
        try:
            self._book.close()
        except Exception:  # noqa: S110 - closing a damaged workbook may fail; nothing to do
            pass
        super().close()


def open_rows(source: Any, name: str | None = None) -> RowReader:
    """A streaming reader of (row number, raw number cell) for a CSV/TSV/TXT or XLSX file (path
    or binary file). The header is read at once, so a file without a number column (or that
    cannot be decoded) fails here with ImportFileError, not halfway through."""
    fh, owned = _binary(source)
    name = name or os.path.basename(os.fspath(source) if isinstance(source, str | Path) else "")
    try:
        head = fh.read(4096)
        fh.seek(0)
        suffix = Path(name).suffix.lower()
        if not head:
            raise ImportFileError("The file is empty.")
        if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
            return XlsxRows(fh, owned, name)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise ImportFileError(
                "This is an Excel 97–2003 workbook (.xls) or a password-protected XLSX, which "
                "cannot be read: save it as XLSX without a password, or as CSV."
            )
        if suffix in (".xlsx", ".xlsm"):
            raise _xlsx_damaged(ValueError("it is not a ZIP archive"))
        if head.startswith(b"%PDF"):
            raise ImportFileError("This is a PDF document: export the list as CSV or XLSX.")
        return CsvRows(fh, owned, name, head)
    except BaseException:
        if owned:
            fh.close()
        raise


def count_rows(source: Any, name: str | None = None, *, stop_after: int | None = None) -> int:
    """Data rows in a file, counted cheaply (newlines of a text file, the dimension of an XLSX
    sheet); stops counting past `stop_after`. An estimate for choosing the import path only."""
    fh, owned = _binary(source)
    try:
        head = fh.read(4096)
        fh.seek(0)
        if head.startswith(b"PK\x03\x04"):
            try:
                with XlsxRows(fh, False, name or "") as reader:
                    if reader.max_row > 1:
                        return reader.max_row - 1
                    count = 0
                    for _ in reader:
                        count += 1
                        if stop_after is not None and count > stop_after:
                            break
                    return count
            except ImportFileError:
                return 0
        wide = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        newline = b"\n\x00" if head.startswith(codecs.BOM_UTF16_LE) else b"\x00\n"
        newline = newline if wide else b"\n"
        count, last = 0, b""
        while True:
            block = fh.read(_READ_BLOCK)
            if not block:
                break
            count += (last[-1:] + block).count(newline) if wide else block.count(newline)
            last = block
            if stop_after is not None and count > stop_after + 1:
                break
        if last and not last.endswith(b"\n") and not last.endswith(b"\n\x00"):
            count += 1  # a last line without a newline
        return max(0, count - 1)  # the header
    finally:
        fh.seek(0)
        if owned:
            fh.close()


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

    @property
    def skipped(self) -> int:
        return self.rejected + self.duplicates

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


def _callee_table() -> str:
    return connection.ops.quote_name(Callee._meta.db_table)


def _write_chunk(
    rows: list[tuple[str, int]], *, campaign_id: int, source_id: int, state: str
) -> list[tuple[int, str]]:
    """Insert one chunk of (number, row); return the (row, number) pairs that another writer put
    in the campaign meanwhile (skipped, never a crash). Runs in the caller's transaction."""
    table = _callee_table()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY (the fastest way in) into a temporary table, then INSERT … ON CONFLICT DO
            # NOTHING: a number another import of the campaign committed after our check is
            # skipped and reported as a duplicate, never a crash.
            # IF NOT EXISTS + TRUNCATE: inside an outer transaction (tests, a caller's atomic
            # block) the chunk's commit is only a savepoint release, and the table is still there.
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS callee_import_stage "
                "(number varchar(15) NOT NULL, row_number integer) ON COMMIT DROP"
            )
            cursor.execute("TRUNCATE callee_import_stage")
            with cursor.copy("COPY callee_import_stage (number, row_number) FROM STDIN") as copy:
                copy.write("".join(f"{number}\t{row}\n" for number, row in rows))
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, number, state, row_number, source_id, "
                "voice_id, reason) SELECT %s, number, %s, row_number, %s, '', '' "
                "FROM callee_import_stage ON CONFLICT (campaign_id, number) DO NOTHING",
                [campaign_id, state, source_id],
            )
            if cursor.rowcount == len(rows):
                return []
            cursor.execute(
                f"SELECT s.row_number, s.number FROM callee_import_stage s JOIN {table} c "
                "ON c.campaign_id = %s AND c.number = s.number "
                "WHERE c.source_id IS DISTINCT FROM %s "
                "OR c.row_number IS DISTINCT FROM s.row_number "
                "ORDER BY s.row_number",
                [campaign_id, source_id],
            )
            return [(row, number) for row, number in cursor.fetchall()]
        cursor.executemany(
            f"INSERT INTO {table} (campaign_id, number, state, row_number, source_id, "
            "voice_id, reason) VALUES (%s, %s, %s, %s, %s, '', '') "
            "ON CONFLICT (campaign_id, number) DO NOTHING",
            [(campaign_id, number, state, row, source_id) for number, row in rows],
        )
        if cursor.rowcount == len(rows):
            return []
    mine = {
        (number, row)
        for number, row in Callee.objects.filter(
            campaign_id=campaign_id, source_id=source_id, number__in=[n for n, _ in rows]
        ).values_list("number", "row_number")
    }
    return [(row, number) for number, row in rows if (number, row) not in mine]


def import_stream(
    *,
    campaign: Campaign,
    rows: Iterable[tuple[int, Any]],
    callee_import: CalleeImport | None = None,
    state: str = Callee.State.STAGED,
    dry_run: bool = False,
    progress: Callable[[ImportCounts], None] | None = None,
    rejected_csv: IO[str] | None = None,
    chunk_size: int = CHUNK_SIZE,
    chunk_transactions: bool = True,
) -> ImportCounts:
    """Validate and write a stream of (row, raw number) in chunks, each in a short transaction that
    also updates the CalleeImport's counters (a cancelled import stops at the next chunk:
    ImportCancelled). Rejected and duplicate rows go to `rejected_csv`, or, for an import, to a
    CSV saved as its `rejected_file`. A dry run writes nothing.

    chunk_transactions=False writes every chunk in the caller's transaction, without savepoints:
    for an all-or-nothing import on PostgreSQL, where a hundred savepoints, each locking the
    campaign and import rows for their foreign keys, make the row locks ever slower to check."""
    if not dry_run and callee_import is None:
        raise ValueError("import_stream writes callees only for a CalleeImport (or dry_run=True)")
    counts = ImportCounts(total_bytes=getattr(rows, "total_bytes", 0))
    validator = RowValidator.for_campaign(campaign)
    own_csv = None
    outputs = [rejected_csv] if rejected_csv is not None else []
    if callee_import is not None and not dry_run:
        own_csv = tempfile.TemporaryFile("w+", encoding="utf-8-sig", newline="")
        outputs.append(own_csv)
    rejected = RejectedWriter(outputs, counts)
    pending: list[tuple[str, int]] = []
    since_flush = 0
    check = validator.check

    def flush(final: bool = False) -> None:
        nonlocal pending, since_flush
        counts.bytes_read = getattr(rows, "bytes_read", 0) if not final else counts.total_bytes
        if dry_run:
            counts.imported += len(pending)
        else:
            with transaction.atomic() if chunk_transactions else nullcontext():
                conflicts = []
                if pending:
                    conflicts = _write_chunk(
                        pending,
                        campaign_id=campaign.pk,
                        source_id=callee_import.pk,
                        state=state,
                    )
                for row, number in conflicts:
                    rejected.add(row, number, "already in the campaign (added meanwhile)")
                counts.imported += len(pending) - len(conflicts)
                counts.duplicates += len(conflicts)
                updated = CalleeImport.objects.filter(
                    pk=callee_import.pk, state=CalleeImport.State.RUNNING
                ).update(
                    rows=counts.rows,
                    imported=counts.imported,
                    rejected=counts.rejected,
                    duplicates=counts.duplicates,
                    processed_bytes=counts.bytes_read,
                    total_bytes=counts.total_bytes,
                )
                if not updated:
                    raise ImportCancelled(f"Import #{callee_import.pk} is no longer running.")
        pending = []
        since_flush = 0
        if progress is not None:
            progress(counts)

    try:
        for row, raw in rows:
            counts.rows += 1
            since_flush += 1
            verdict, number, reason = check(row, raw)
            if verdict is VALID:
                pending.append((number, row))
            elif verdict is REJECTED:
                counts.rejected += 1
                rejected.add(row, raw, reason)
            else:
                counts.duplicates += 1
                rejected.add(row, raw, reason)
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


# ---------------------------------------------------------------------------
# Import records: background job, command, confirm, cancel
# ---------------------------------------------------------------------------
def import_check_campaign(campaign: Campaign) -> None:
    if campaign.state not in IMPORTABLE_STATES:
        raise ImportStateError(
            f"Campaign {campaign.name!r} is {campaign.get_state_display().lower()}: callees can be "
            "imported only into a draft, scheduled, paused or running campaign."
        )


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
    )
    callee_import.file.save(os.path.basename(name) or "callees.csv", File(fh), save=False)
    callee_import.save()
    import_id = callee_import.pk
    transaction.on_commit(lambda: run_callee_import.enqueue(import_id))
    return callee_import


def _discard_staged(callee_import: CalleeImport) -> int:
    deleted, _ = Callee.objects.filter(source=callee_import, state=Callee.State.STAGED).delete()
    return deleted


def _mark_staged(import_id: int) -> bool:
    """RUNNING → STAGED; False when cancelled meanwhile. Safe to repeat after a lost connection
    (an update that landed before the cut reads as staged)."""
    updated = CalleeImport.objects.filter(pk=import_id, state=CalleeImport.State.RUNNING).update(
        state=CalleeImport.State.STAGED, finished_at=timezone.now()
    )
    return bool(updated) or (
        CalleeImport.objects.filter(
            pk=import_id, state__in=[CalleeImport.State.STAGED, CalleeImport.State.CONFIRMED]
        ).exists()
    )


def import_run(import_id: int) -> str:
    """The background job: read the stored file into STAGED callees, then wait for a person."""
    claimed = CalleeImport.objects.filter(pk=import_id, state=CalleeImport.State.QUEUED).update(
        state=CalleeImport.State.RUNNING
    )
    if not claimed:
        return f"import {import_id} is not queued"
    callee_import = CalleeImport.objects.select_related("campaign").get(pk=import_id)
    try:
        with (
            callee_import.file.open("rb") as fh,
            open_rows(fh, callee_import.original_name) as rows,
        ):
            counts = import_stream(
                campaign=callee_import.campaign,
                rows=rows,
                callee_import=callee_import,
                state=Callee.State.STAGED,
            )
    except ImportCancelled:
        retrying(_discard_staged, callee_import)
        return f"import {import_id} cancelled"
    except Exception as exc:
        # Bookkeeping waits for the database when its connection was what failed: an import
        # must end failed, never stay "reading" for ever.
        retrying(_discard_staged, callee_import)
        if isinstance(exc, ImportFileError):
            message = str(exc)
        elif connection_lost(exc):
            message = (
                "The database connection was lost while reading the file; nothing was "
                "imported. Upload the file again."
            )
        else:
            message = f"Unexpected error ({type(exc).__name__}: {exc}); nothing was imported."
        retrying(
            CalleeImport.objects.filter(pk=import_id).update,
            state=CalleeImport.State.FAILED,
            error=message,
            finished_at=timezone.now(),
        )
        if not isinstance(exc, ImportFileError):
            raise
        return f"import {import_id} failed: {message}"
    staged = retrying(_mark_staged, import_id)
    if not staged:  # cancelled after the last chunk
        _discard_staged(callee_import)
        return f"import {import_id} cancelled"
    return f"import {import_id} staged: {counts.summary()}"


def import_confirm(*, callee_import: CalleeImport, actor: Actor) -> int:
    """Make a staged import's callees pending (one UPDATE); returns how many."""
    with transaction.atomic():
        locked = (
            CalleeImport.objects.select_for_update()
            .select_related("campaign")
            .get(pk=callee_import.pk)
        )
        if locked.state != CalleeImport.State.STAGED:
            raise ImportStateError(
                f"This import is {locked.get_state_display().lower()}: only an import waiting "
                "for confirmation can be confirmed."
            )
        import_check_campaign(locked.campaign)
        count = Callee.objects.filter(source=locked, state=Callee.State.STAGED).update(
            state=Callee.State.PENDING
        )
        CalleeImport.objects.filter(pk=locked.pk).update(state=CalleeImport.State.CONFIRMED)
    logger.info(
        "Callee import %s confirmed by %s: %s callees pending", locked.pk, actor.label, count
    )
    callee_import.refresh_from_db()
    return count


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
                f"This import is {callee_import.get_state_display().lower()}: it can no longer "
                "be cancelled."
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
) -> tuple[ImportCounts, CalleeImport | None]:
    """Import a file at once and confirm it (the command line); a dry run writes nothing.

    All or nothing either way, so the dispatcher never sends half a file that later fails:
    on PostgreSQL the rows are written as pending in one transaction (no confirm UPDATE
    rewriting every row: it would cost as much again as the import); on SQLite, whose single
    write lock would stall the site for the whole file, they are staged in short transactions
    and confirmed with one UPDATE at the end (removed again if the file fails halfway)."""
    import_check_campaign(campaign)
    with open_rows(source, name) as rows:  # a file that cannot be read fails before any write
        if dry_run:
            counts = import_stream(
                campaign=campaign,
                rows=rows,
                dry_run=True,
                rejected_csv=rejected_csv,
                progress=progress,
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
            open_rows(stored, name) as rows,
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
    logger.info("Callee import %s by %s: %s", callee_import.pk, actor.label, counts.summary())
    callee_import.refresh_from_db()
    return counts, callee_import
