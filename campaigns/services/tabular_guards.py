"""The bomb guards of the file reader (tabular.py): what an uploaded list may hold, checked before
and while it is parsed, so no file (a ZIP bomb, a lying XLSX, a 100 MB line) can take a worker's
memory or time. Every refusal is an ImportFileError with a sentence fit to show to the sender."""

from __future__ import annotations

import codecs
import io
import struct
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.utils.translation import gettext


class ImportFileError(Exception):
    """The file cannot be read; the message says why, fit to show to the person who sent it."""


#: Members of an XLSX package; real workbooks have tens, a few hundred with many sheets/images.
MAX_ZIP_MEMBERS = 10_000
#: Members smaller than this are never refused for their ratio (tiny XML compresses very well).
RATIO_FLOOR_BYTES = 1 << 20
#: One XML token (a tag, or the text between two tags) may be this many bytes per character a
#: cell may hold: `&#x10FFFF;` is ten bytes for one character.
TOKEN_BYTES_PER_CHAR = 10


@dataclass(frozen=True)
class FileLimits:
    """The limits of settings (IMPORT_*), read when a file is opened."""

    max_rows: int
    max_columns: int
    max_line_chars: int
    max_cell_chars: int
    xlsx_max_bytes: int
    xlsx_max_ratio: int
    xlsx_max_strings_bytes: int
    in_memory_max_bytes: int
    #: The setting a "too many rows" refusal names (the AI customer import has its own cap).
    rows_setting: str = "IMPORT_MAX_ROWS"

    @classmethod
    def current(cls) -> FileLimits:
        return cls(
            max_rows=settings.IMPORT_MAX_ROWS,
            max_columns=settings.IMPORT_MAX_COLUMNS,
            max_line_chars=settings.IMPORT_MAX_LINE_CHARS,
            max_cell_chars=settings.IMPORT_MAX_CELL_CHARS,
            xlsx_max_bytes=settings.IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES,
            xlsx_max_ratio=settings.IMPORT_XLSX_MAX_RATIO,
            xlsx_max_strings_bytes=settings.IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES,
            in_memory_max_bytes=settings.IMPORT_IN_MEMORY_MAX_BYTES,
        )

    @property
    def max_token_bytes(self) -> int:
        return max(64 * 1024, self.max_cell_chars * TOKEN_BYTES_PER_CHAR)

    def capped_rows(self, max_rows: int, setting: str) -> FileLimits:
        """These limits with a lower row cap of another setting (named when it is refused)."""
        if max_rows >= self.max_rows:
            return self
        return replace(self, max_rows=max_rows, rows_setting=setting)


def _mib(n: int) -> str:
    if n >= 1 << 20:
        return gettext("%(n)s MB") % {"n": f"{n / (1 << 20):,.0f}"}
    return gettext("%(n)s bytes") % {"n": f"{n:,}"}


def check_in_memory(size: int, limits: FileLimits | None = None) -> None:
    """Refuse a file too large to be read whole into memory (the preview pages, the AI customer
    import); the callee import reads larger files in the background instead."""
    limits = limits or FileLimits.current()
    if size > limits.in_memory_max_bytes:
        raise ImportFileError(
            gettext(
                "The file is %(size)s; files read at once may be at most %(limit)s "
                "(IMPORT_IN_MEMORY_MAX_BYTES). Split the list into smaller files."
            )
            % {"size": _mib(size), "limit": _mib(limits.in_memory_max_bytes)}
        )


# ---------------------------------------------------------------------------
# XLSX: the ZIP archive, before openpyxl parses anything
# ---------------------------------------------------------------------------
def _zip_entry_count(fh: Any) -> int | None:
    """Entries declared by the end-of-central-directory record (read before zipfile parses the
    directory, which costs memory per entry); None when the record is not found or is ZIP64."""
    end = fh.seek(0, io.SEEK_END)
    start = max(0, end - (1 << 16) - 22)
    fh.seek(start)
    tail = fh.read()
    fh.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 22:
        return None
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    return None if entries == 0xFFFF else entries


def _too_big(what: str) -> ImportFileError:
    return ImportFileError(
        gettext(
            "This XLSX workbook is refused: %(what)s. Such a file is either damaged or built to "
            "exhaust the server; open it in Excel and save it again, or save the list as CSV."
        )
        % {"what": what}
    )


def check_zip_directory(fh: Any, limits: FileLimits | None = None) -> None:
    entries = _zip_entry_count(fh)
    if entries is not None and entries > MAX_ZIP_MEMBERS:
        raise _too_big(gettext("it holds %(n)s parts") % {"n": f"{entries:,}"})


def check_archive(archive: zipfile.ZipFile, limits: FileLimits | None = None) -> None:
    """Sizes and compression ratios from the archive's directory, before anything is inflated.
    zipfile never inflates a member past its declared size (it stops, and the CRC fails), so
    the declared sizes bound what the parser can be given."""
    limits = limits or FileLimits.current()
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise _too_big(gettext("it holds %(n)s parts") % {"n": f"{len(members):,}"})
    total = 0
    for info in members:
        if info.flag_bits & 0x1:
            raise ImportFileError(
                gettext(
                    "This XLSX workbook is encrypted (password-protected): save it without a "
                    "password, or as CSV."
                )
            )
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > limits.xlsx_max_ratio:
            raise _too_big(
                gettext(
                    "its part %(name)s expands %(ratio)s times, to %(size)s (at most "
                    "%(limit)s times: IMPORT_XLSX_MAX_RATIO)"
                )
                % {
                    "name": info.filename[:80],
                    "ratio": f"{ratio:,.0f}",
                    "size": _mib(info.file_size),
                    "limit": f"{limits.xlsx_max_ratio:,}",
                }
            )
        if (
            info.filename.lower().endswith("sharedstrings.xml")
            and info.file_size > limits.xlsx_max_strings_bytes
        ):
            raise _too_big(
                gettext(
                    "its text table (%(name)s) is %(size)s unpacked, and the whole table is "
                    "held in memory (at most %(limit)s: IMPORT_XLSX_MAX_SHARED_STRINGS_BYTES)"
                )
                % {
                    "name": info.filename[:80],
                    "size": _mib(info.file_size),
                    "limit": _mib(limits.xlsx_max_strings_bytes),
                }
            )
    if total > limits.xlsx_max_bytes:
        raise _too_big(
            gettext(
                "it unpacks to %(size)s (at most %(limit)s: IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES)"
            )
            % {"size": _mib(total), "limit": _mib(limits.xlsx_max_bytes)}
        )


class _TokenGuard(io.RawIOBase):
    """A member of the archive as the XML parser reads it, refused as soon as one token (a tag,
    or the text between two tags) is longer than a cell may be, or a DTD appears: the parser
    would hold such a token whole in memory (a 250 MB cell), or expand entities."""

    def __init__(self, inner: Any, name: str, limit: int) -> None:
        self._inner = inner
        self._name = name
        self._limit = limit
        self._run = 0  # bytes since the last "<"
        self._tail = b""  # the last bytes read, to find "<!DOCTYPE" across two reads

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self._check(data)
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._check(data)
        return data

    def _check(self, data: bytes) -> None:
        if not data:
            return
        pieces = data.split(b"<")
        longest = self._run + len(pieces[0])
        if len(pieces) > 1:
            longest = max(longest, max(map(len, pieces)))
            self._run = len(pieces[-1])
        else:
            self._run = longest
        if longest > self._limit:
            raise _too_big(
                gettext("%(name)s holds one cell or tag longer than %(limit)s bytes")
                % {"name": self._name[:80], "limit": f"{self._limit:,}"}
            )
        joined = self._tail + data
        if b"<!" in joined and b"<!DOCTYPE" in joined:
            raise _too_big(
                gettext("%(name)s declares a DTD (XLSX parts have none)")
                % {"name": self._name[:80]}
            )
        self._tail = data[-9:]

    def close(self) -> None:
        self._inner.close()
        super().close()


class GuardedZipFile(zipfile.ZipFile):
    """The workbook's archive as openpyxl sees it: every member it reads is read through a
    _TokenGuard (ZipFile.read goes through open as well)."""

    token_limit = 64 * 1024

    def open(self, name: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        stream = super().open(name, mode, *args, **kwargs)
        if mode != "r":
            return stream
        member = name.filename if isinstance(name, zipfile.ZipInfo) else str(name)
        return io.BufferedReader(_TokenGuard(stream, member, self.token_limit), 1 << 16)


def load_workbook(fh: Any, limits: FileLimits | None = None) -> Any:
    """openpyxl's read-only workbook of a binary file, after the archive checks, every part read
    through the token guard. Raises ImportFileError for a refused file; openpyxl's own errors
    (a damaged file) pass through."""
    from openpyxl.reader.excel import ExcelReader

    limits = limits or FileLimits.current()
    fh.seek(0)
    check_zip_directory(fh, limits)
    archive = GuardedZipFile(fh)
    archive.token_limit = limits.max_token_bytes
    check_archive(archive, limits)

    reader = ExcelReader(fh, read_only=True, data_only=True, keep_links=False)
    reader.archive = archive  # every part openpyxl reads goes through the guarded archive
    reader.valid_files = archive.namelist()
    reader.read()
    return reader.wb


# ---------------------------------------------------------------------------
# Text: what it is, its lines, and the rows parsed from them
# ---------------------------------------------------------------------------
def refuse_binary(head: bytes) -> None:
    """Refuse a file whose first bytes are clearly not text (gzip, PNG, …), naming what it is
    from its magic number; text (no control bytes, or a byte-order mark) passes."""
    if head.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    if not any(b < 9 or 13 < b < 32 for b in head[:512]):
        return
    import filetype

    kind = filetype.guess(head)
    if kind is not None:
        values = {"mime": kind.mime, "extension": kind.extension}
        if b"\x00" in head:
            raise ImportFileError(
                gettext(
                    "This is not a text file (it contains NUL bytes) nor an XLSX workbook. It is "
                    "%(mime)s data (a .%(extension)s file): save the list as CSV or XLSX."
                )
                % values
            )
        raise ImportFileError(
            gettext(
                "This is not a text file nor an XLSX workbook. It is %(mime)s data (a "
                ".%(extension)s file): save the list as CSV or XLSX."
            )
            % values
        )


class BoundedLines:
    """The physical lines of a text stream, each refused when longer than IMPORT_MAX_LINE_CHARS
    (read with a bounded readline, so a 100 MB line never sits in memory) or when it holds a NUL
    character. `line_no` is the number of the last line returned."""

    def __init__(self, text: Any, limits: FileLimits, line_no: int = 0) -> None:
        self._text = text
        self._limits = limits
        self.line_no = line_no

    def readline(self) -> str:
        limit = self._limits.max_line_chars
        line = self._text.readline(limit + 2)  # room for "\r\n" after a line of `limit`
        if not line:
            return line
        self.line_no += 1
        if len(line.rstrip("\r\n")) > limit:
            raise ImportFileError(
                gettext(
                    "Line %(line)s is longer than %(limit)s characters (IMPORT_MAX_LINE_CHARS): "
                    "is this the right file? A list has one entry per line."
                )
                % {"line": self.line_no, "limit": f"{limit:,}"}
            )
        if "\x00" in line:
            raise ImportFileError(
                gettext(
                    "Line %(line)s contains a NUL character: this is not a text list. Save the "
                    "list as CSV or XLSX."
                )
                % {"line": self.line_no}
            )
        return line

    def __iter__(self) -> Iterator[str]:
        while line := self.readline():
            yield line


def long_cell_error(where: str, limits: FileLimits) -> ImportFileError:
    return ImportFileError(
        gettext(
            "%(where)s holds a cell longer than %(limit)s characters (IMPORT_MAX_CELL_CHARS), "
            "which no list needs: is this the right file?"
        )
        % {"where": where, "limit": f"{limits.max_cell_chars:,}"}
    )


def check_header(cells: list[str], where: str, limits: FileLimits) -> None:
    """The header row: not too many columns, no column name longer than a cell may be."""
    width = len(cells)
    while width and not str(cells[width - 1] or "").strip():
        width -= 1
    if width > limits.max_columns:
        raise ImportFileError(
            gettext(
                "The header row (%(where)s) has %(n)s columns; a list may have at most "
                "%(limit)s (IMPORT_MAX_COLUMNS). Is this the right file?"
            )
            % {"where": where, "n": f"{width:,}", "limit": f"{limits.max_columns:,}"}
        )
    for index, cell in enumerate(cells[:width], start=1):
        if len(str(cell or "")) > limits.max_cell_chars:
            raise ImportFileError(
                gettext(
                    "The header row (%(where)s) has a column name of %(n)s characters (column "
                    "%(column)s); column names may be at most %(limit)s characters. Is the first "
                    "line really a header?"
                )
                % {
                    "where": where,
                    "n": f"{len(str(cell)):,}",
                    "column": index,
                    "limit": f"{limits.max_cell_chars:,}",
                }
            )


def check_row(cells: Iterable[Any], where: str, limits: FileLimits) -> None:
    """A data row: not too many columns (empty trailing cells do not count: Excel may style a
    row out to its last column), no cell longer than IMPORT_MAX_CELL_CHARS."""
    width = 0
    for index, cell in enumerate(cells, start=1):
        if cell is None or cell == "":
            continue
        width = index
        if isinstance(cell, str) and len(cell) > limits.max_cell_chars:
            raise long_cell_error(where, limits)
    if width > limits.max_columns:
        raise ImportFileError(
            gettext("%(where)s has more than %(limit)s columns (IMPORT_MAX_COLUMNS).")
            % {"where": where, "limit": f"{limits.max_columns:,}"}
        )


def too_many_rows(limits: FileLimits) -> ImportFileError:
    return ImportFileError(
        gettext(
            "The file has more than %(limit)s rows below its header (%(setting)s): split it "
            "into smaller files."
        )
        % {"limit": f"{limits.max_rows:,}", "setting": limits.rows_setting}
    )
