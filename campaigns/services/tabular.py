"""One reader of uploaded lists: CSV/TSV/TXT (encodings, delimiters, Excel's sep= line) and XLSX
(streaming, first sheet), with guards against files that cannot be read, each refused with a
sentence saying why. `open_rows` yields (row in the file, raw number cell) of a callee file;
`open_table` yields (row in the file, every cell) below the header of any list (AI customers)."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from campaigns.services.numbers import InvalidNumber, _shown, normalise_number
from campaigns.services.tabular_guards import (
    BoundedLines,
    FileLimits,
    ImportFileError,
    check_header,
    check_row,
    load_workbook,
    long_cell_error,
    refuse_binary,
    too_many_rows,
)

#: Header names of the number column, matched case-insensitively; other columns are ignored.
NUMBER_HEADERS = ("number", "phone", "mobile", "callee", "msisdn")

_READ_BLOCK = 1 << 20


def _header_hint() -> str:
    """The column names a callee file's number column may have, as a phrase."""
    return _("%(names)s or %(last)s") % {
        "names": ", ".join(NUMBER_HEADERS[:-1]),
        "last": NUMBER_HEADERS[-1],
    }


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
            raise ImportFileError(
                _("Cannot open %(path)s: %(reason)s.")
                % {"path": os.fspath(source), "reason": exc.strerror}
            ) from exc
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
            _(
                "No header row: %(where)s starts with %(first)s, which looks like a phone "
                "number. Add a first line naming the column: %(hint)s."
            )
            % {"where": where, "first": _shown(first), "hint": _header_hint()}
        )
    found = ", ".join(_shown(c.strip()) if c.strip() else _("(blank)") for c in cells[:20])
    if len(cells) > 20:
        found = _("%(found)s and %(n)s more") % {"found": found, "n": len(cells) - 20}
    raise ImportFileError(
        _(
            "No number column: the columns found are %(found)s. Name the column with the "
            "numbers %(hint)s (any case)."
        )
        % {"found": found, "hint": _header_hint()}
    )


class RowReader:
    """Iterates (row number in the file, raw number cell) over a callee file, or, made with
    `whole_rows`, (row number in the file, the row's cells) over any list with a header row;
    knows its columns, its size and how far it has read. Close it (or use `with`) when done.

    A callee file read with `also` header names that one of its columns has (see open_rows)
    yields (row, (raw number cell, that column's raw cell)) instead; `also_column` names it."""

    kind = ""
    encoding = ""
    delimiter = ""
    columns: list[str]
    number_column = ""
    also_column = ""
    _also = -1

    def __init__(
        self,
        fh: Any,
        owned: bool,
        name: str,
        limits: FileLimits | None,
        whole_rows: bool,
        also: tuple[str, ...] = (),
    ) -> None:
        self._fh = fh
        self._owned = owned
        self.name = name
        self.total_bytes = _size(fh)
        self.limits = limits or FileLimits.current()
        self.whole_rows = whole_rows
        self._also_names = also

    def _find_also(self) -> None:
        """The first column (not the number's) headed by one of the `also` names, any case."""
        for index, cell in enumerate(self.columns):
            name = cell.strip().strip("\ufeff").strip()
            if index != self._index and name.casefold() in self._also_names:
                self._also, self.also_column = index, name
                return

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
                _(
                    "This is not a text file (it contains NUL bytes) nor an XLSX workbook. "
                    "Save the list as CSV (UTF-8) or XLSX."
                )
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
            _(
                "The file cannot be decoded: it is not UTF-8, and byte %(byte)s at offset "
                "%(offset)s is not Windows-1252 either. Save the list as “CSV UTF-8” and try again."
            )
            % {"byte": f"0x{byte:02X}", "offset": f"{at:,}"}
        )
    failure = _check_decodes(fh, encoding)
    if failure is not None:
        at, byte = failure
        label = {"utf-8-sig": "UTF-8", "utf-32": "UTF-32"}.get(encoding, "UTF-16")
        raise ImportFileError(
            _(
                "The file starts like %(encoding)s text but byte %(byte)s at offset %(offset)s "
                "cannot be decoded (is it truncated?). Save the list again as CSV UTF-8."
            )
            % {"encoding": label, "byte": f"0x{byte:02X}", "offset": f"{at:,}"}
        )
    return encoding


def _count_outside_quotes(line: str, char: str) -> int:
    return re.sub(r'"[^"]*"', "", line).count(char)


class CsvRows(RowReader):
    """CSV, TSV or TXT: encoding from the byte-order mark, else strict UTF-8, else Windows-1252;
    the delimiter (comma, semicolon or tab) from the header line; blank lines skipped. Lines are
    read with a bounded length (tabular_guards.BoundedLines)."""

    kind = "csv"

    def __init__(self, fh: Any, owned: bool, name: str, head: bytes, **options: Any) -> None:
        super().__init__(fh, owned, name, **options)
        self.encoding = _detect_encoding(fh, head)
        fh.seek(0)
        self._text = io.TextIOWrapper(
            io.BufferedReader(_Unclosable(fh), _READ_BLOCK), encoding=self.encoding, newline=""
        )
        self._lines = BoundedLines(self._text, self.limits)
        line_no, line = self._next_nonblank()
        delimiter = None
        sep = re.fullmatch(r"\s*sep=(.)\s*", line or "")
        if sep:  # Excel's "sep=;" first line
            delimiter = sep.group(1)
            line_no, line = self._next_nonblank()
        if line is None:
            raise ImportFileError(
                _("The file is empty.") if not sep else _("No header row after sep=.")
            )
        if delimiter is None:
            counts = {d: _count_outside_quotes(line, d) for d in (",", ";", "\t")}
            best = max(counts, key=lambda d: counts[d])
            delimiter = best if counts[best] else ","
        self.delimiter = delimiter
        where = _("line %(n)s") % {"n": line_no}
        try:
            self.columns = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
        except csv.Error as exc:  # a column name longer than the csv module's field limit
            # A table's header is its first line like any other (the AI customer page says so).
            label = (
                _("Line %(n)s") % {"n": line_no}
                if self.whole_rows
                else _("The header row (%(where)s)") % {"where": where}
            )
            raise long_cell_error(label, self.limits) from exc
        check_header(self.columns, where, self.limits)
        if not self.whole_rows:
            self._index = _find_number_column(self.columns, where)
            self.number_column = self.columns[self._index].strip().strip("\ufeff").strip()
            self._find_also()
        self._header_line = line_no

    def _next_nonblank(self) -> tuple[int, str | None]:
        while True:
            try:
                line = self._lines.readline()
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    _("The file cannot be decoded as %(encoding)s: %(reason)s.")
                    % {"encoding": self.encoding, "reason": exc.reason}
                ) from exc
            if not line:
                return self._lines.line_no, None
            if line.strip().strip("\ufeff").strip(",;\t ").strip():
                return self._lines.line_no, line.lstrip("\ufeff")

    @property
    def bytes_read(self) -> int:
        try:
            return min(self._fh.tell(), self.total_bytes)
        except (ValueError, OSError):
            return self.total_bytes

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        reader = csv.reader(self._lines, delimiter=self.delimiter)
        base, previous = self._header_line, 0
        limits, whole, also = self.limits, self.whole_rows, self._also
        index = -1 if whole else self._index
        line_label = _("Line %(n)s")  # looked up once, not for every row
        try:
            for record in reader:
                row = base + previous + 1  # the line this record starts on
                previous = reader.line_num
                if row - base > limits.max_rows:
                    raise too_many_rows(limits)
                check_row(record, line_label % {"n": row}, limits)
                if whole:
                    if any(c.strip(" \t,;") for c in record):
                        yield row, record
                    continue
                value = record[index] if index < len(record) else ""
                if (value and value.strip(" \t,;")) or any(c.strip(" \t,;") for c in record):
                    if also < 0:
                        yield row, value
                    else:
                        yield row, (value, record[also] if also < len(record) else "")
        except csv.Error as exc:
            raise ImportFileError(
                _("Line %(n)s cannot be read as CSV: %(error)s.")
                % {"n": base + previous + 1, "error": exc}
            ) from exc
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                _("Line %(n)s cannot be decoded as %(encoding)s: %(reason)s.")
                % {"n": base + previous + 1, "encoding": self.encoding, "reason": exc.reason}
            ) from exc

    def close(self) -> None:
        try:
            self._text.detach()
        except ValueError:
            pass
        super().close()


def _xlsx_damaged(exc: BaseException, after_row: int | None = None) -> ImportFileError:
    detail = str(exc).strip() or type(exc).__name__
    if len(detail) > 160:
        detail = detail[:159] + "…"
    if after_row is not None:
        return ImportFileError(
            _(
                "The XLSX workbook is damaged or truncated after row %(row)s (%(detail)s). Open "
                "it in Excel and save it again, or save the list as CSV."
            )
            % {"row": after_row, "detail": detail}
        )
    return ImportFileError(
        _(
            "The XLSX workbook is damaged or truncated (%(detail)s). Open it in Excel and save "
            "it again, or save the list as CSV."
        )
        % {"detail": detail}
    )


class XlsxRows(RowReader):
    """The first sheet of an XLSX workbook, read with openpyxl in read-only (streaming) mode,
    after the archive checks of tabular_guards (sizes, ratios, one token never too long)."""

    kind = "xlsx"

    def __init__(self, fh: Any, owned: bool, name: str, **options: Any) -> None:
        super().__init__(fh, owned, name, **options)
        try:
            with zipfile.ZipFile(_Unclosable(fh)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise _xlsx_damaged(exc) from exc
        if "xl/workbook.xml" not in names:
            if "mimetype" in names and "content.xml" in names:
                raise ImportFileError(
                    _(
                        "This is an OpenDocument spreadsheet (.ods), which is not supported: "
                        "save it as XLSX or CSV."
                    )
                )
            raise ImportFileError(_("This is a ZIP archive, not an XLSX workbook."))
        fh.seek(0)
        try:
            self._book = load_workbook(_Unclosable(fh), self.limits)
            if not self._book.worksheets:
                raise ImportFileError(_("The workbook has no sheets."))
            sheet = self._book.worksheets[0]
            self.sheet_title = sheet.title
            self.max_row = sheet.max_row or 0  # from the sheet's dimension tag: may be wrong
            sheet.reset_dimensions()  # so rows past a wrong dimension are not lost
            self._rows = enumerate(sheet.iter_rows(values_only=True), start=1)
            header_row, header = 0, None
            for row_no, cells in self._rows:
                if row_no > self.limits.max_rows:
                    raise too_many_rows(self.limits)
                if any(c is not None and str(c).strip() for c in cells):
                    header_row, header = row_no, cells
                    break
        except ImportFileError:
            raise
        except Exception as exc:
            raise _xlsx_damaged(exc) from exc
        if header is None:
            raise ImportFileError(
                _("The first sheet (%(title)r) is empty.") % {"title": self.sheet_title}
            )
        self.columns = ["" if c is None else str(c) for c in header]
        where = _("row %(n)s of the first sheet") % {"n": header_row}
        check_header(self.columns, where, self.limits)
        if not self.whole_rows:
            self._index = _find_number_column(self.columns, where)
            self.number_column = self.columns[self._index].strip()
            self._find_also()
        self._row = self._header_row = header_row

    @property
    def bytes_read(self) -> int:
        if not self.max_row:
            return 0
        return min(self.total_bytes, self.total_bytes * self._row // self.max_row)

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        limits, header_row, whole = self.limits, self._header_row, self.whole_rows
        index, also = -1 if whole else self._index, self._also
        row_label = _("Row %(n)s")  # looked up once, not for every row
        try:
            for row, cells in self._rows:
                self._row = row
                if row - header_row > limits.max_rows:
                    raise too_many_rows(limits)
                check_row(cells, row_label % {"n": row}, limits)
                if whole:
                    if any(c is not None and str(c).strip() for c in cells):
                        yield row, list(cells)
                    continue
                value = cells[index] if index < len(cells) else None
                if isinstance(value, str):
                    blank = not value.strip()
                else:
                    blank = value is None
                if not blank or any(c is not None and str(c).strip() for c in cells):
                    if also < 0:
                        yield row, value
                    else:
                        yield row, (value, cells[also] if also < len(cells) else None)
        except ImportFileError:
            raise
        except Exception as exc:
            raise _xlsx_damaged(exc, self._row) from exc
        self._row = self.max_row

    def close(self) -> None:
        try:
            self._book.close()
        except Exception:  # noqa: S110 - closing a damaged workbook may fail; nothing to do
            pass
        super().close()


def open_rows(source: Any, name: str | None = None, *, also: tuple[str, ...] = ()) -> RowReader:
    """A streaming reader of (row number, raw number cell) for a CSV/TSV/TXT or XLSX file (path
    or binary file). The header is read at once, so a file without a number column (or that
    cannot be decoded) fails here with ImportFileError, not halfway through. When a column is
    headed by one of the `also` names (casefolded), each row's cell is (number cell, its cell)."""
    return _open(source, name, None, whole_rows=False, also=also)


def open_table(
    source: Any, name: str | None = None, *, limits: FileLimits | None = None
) -> RowReader:
    """A streaming reader of (row number, list of cells) for every non-blank row below the header
    of a CSV/TSV/TXT or XLSX list (path or binary file); its `columns` are the header's cells,
    and which of them matter is the caller's to decide. CSV cells are strings, XLSX cells are
    openpyxl's values (numbers, dates, None). `limits` default to the IMPORT_* settings."""
    return _open(source, name, limits, whole_rows=True)


def _open(
    source: Any,
    name: str | None,
    limits: FileLimits | None,
    whole_rows: bool,
    also: tuple[str, ...] = (),
) -> RowReader:
    options = {"limits": limits, "whole_rows": whole_rows, "also": also}
    fh, owned = _binary(source)
    name = name or os.path.basename(os.fspath(source) if isinstance(source, str | Path) else "")
    try:
        head = fh.read(4096)
        fh.seek(0)
        suffix = Path(name).suffix.lower()
        if not head:
            raise ImportFileError(_("The file is empty."))
        if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
            return XlsxRows(fh, owned, name, **options)
        if head.startswith(b"\xd0\xcf\x11\xe0"):
            raise ImportFileError(
                _(
                    "This is an Excel 97–2003 workbook (.xls) or a password-protected XLSX, "
                    "which cannot be read: save it as XLSX without a password, or as CSV."
                )
            )
        if suffix in (".xlsx", ".xlsm"):
            raise _xlsx_damaged(ValueError("it is not a ZIP archive"))
        if head.startswith(b"%PDF"):
            raise ImportFileError(_("This is a PDF document: export the list as CSV or XLSX."))
        refuse_binary(head)
        return CsvRows(fh, owned, name, head, **options)
    except BaseException:
        if owned:
            fh.close()
        raise


def count_rows(source: Any, name: str | None = None, *, stop_after: int | None = None) -> int:
    """Data rows in a file, counted cheaply (newlines of a text file; the rows of an XLSX sheet,
    streamed, unless its dimension already claims more than `stop_after`); stops counting past
    `stop_after`. An estimate for choosing the import path only."""
    fh, owned = _binary(source)
    try:
        head = fh.read(4096)
        fh.seek(0)
        if head.startswith(b"PK\x03\x04"):
            try:
                with XlsxRows(fh, False, name or "", limits=None, whole_rows=False) as reader:
                    claimed = reader.max_row - 1
                    if claimed > (0 if stop_after is None else stop_after):
                        return claimed  # the streaming import checks what the sheet really has
                    # A sheet's dimension may claim 3 rows and hold 30 million: count them.
                    count = 0
                    for _row in reader:
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
