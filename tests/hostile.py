"""Hostile upload files, built by the tests themselves: ZIP bombs, lying XLSX dimensions, huge
lines, NUL bytes, wrong magic numbers, 100,000 columns."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _package(archive: zipfile.ZipFile) -> None:
    """The parts every workbook has, around one sheet and a shared-string table."""
    archive.writestr(
        "[Content_Types].xml",
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        f'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>'
        "</Types>",
    )
    archive.writestr(
        "_rels/.rels",
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
    )
    archive.writestr(
        "xl/workbook.xml",
        f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_NS}" xmlns:r="{_REL}">'
        '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    )
    archive.writestr(
        "xl/_rels/workbook.xml.rels",
        f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>",
    )


def _sheet_head(dimension: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_NS}">'
        f'<dimension ref="{dimension}"/><sheetData><row r="1"><c r="A1" t="inlineStr">'
        '<is><t>phone</t></is></c><c r="B1" t="inlineStr"><is><t>name</t></is></c></row>'
    ).encode()


def shared_string_bomb(path: Path, megabytes: int = 1100) -> Path:
    """A workbook of about 1 MB whose one shared string expands to `megabytes` MB (the 1.1 MB
    file that drove a worker to 7.7 GB). Streamed, so building it costs no memory."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        _package(archive)
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            _sheet_head("A1:B2")
            + b'<row r="2"><c r="A2" t="s"><v>0</v></c></row></sheetData></worksheet>',
        )
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_NS}"><si><t>'.encode())
            block = b"6" * (1 << 20)
            for _ in range(megabytes):
                part.write(block)
            part.write(b"</t></si></sst>")
    return path


def lying_dimension(path: Path, rows: int, *, dimension: str = "A1:B3") -> Path:
    """A workbook whose sheet declares `dimension` (three rows) but holds `rows` data rows
    (30 million fit in 3 MB: the file that reached 870 MB and a 500)."""
    row = b"<row><c><v>6281234567890</v></c></row>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        _package(archive)
        archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{_NS}"/>')
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(_sheet_head(dimension))
            batch = 10_000
            for start in range(0, rows, batch):
                part.write(row * min(batch, rows - start))
            part.write(b"</sheetData></worksheet>")
    return path


def xlsx_with_cell(text: str, *, doctype: str = "") -> bytes:
    """A small, honest-looking workbook whose second row holds one inline string `text` (and
    whose sheet starts with `doctype`, if given)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        _package(archive)
        archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{_NS}"/>')
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            _sheet_head("A1:B2").replace(b"?><worksheet", f"?>{doctype}<worksheet".encode())
            + f'<row r="2"><c r="A2" t="inlineStr"><is><t>{text}</t></is></c></row>'.encode()
            + b"</sheetData></worksheet>",
        )
    return out.getvalue()


def huge_line_csv(path: Path, megabytes: int, *, header: bool) -> Path:
    """A CSV whose header line (header=True) or second line is `megabytes` MB long."""
    with path.open("wb") as fh:
        if not header:
            fh.write(b"phone,name\n")
        fh.write(b"phone," if header else b"6281234567890,")
        block = b"x" * (1 << 20)
        for _ in range(megabytes):
            fh.write(block)
        fh.write(b"\n6281234567891,Ada\n")
    return path


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def small_cases() -> dict[str, tuple[str, bytes]]:
    """(file name, content) of the hostile files that are small enough to build per test."""
    return {
        "nul-bytes": ("callees.csv", b"phone,name\n6281234567890,Ada\n62812\x0034567891,Bob\n"),
        "png-as-xlsx": ("callees.xlsx", PNG + b"\x00" * 64),
        "gzip-as-csv": ("callees.csv", gzip.compress(b"phone,name\n6281234567890,Ada\n" * 50)),
        "100k-columns": (
            "callees.csv",
            b"phone,name," + b",".join(b"c%d" % i for i in range(100_000)) + b"\n62812345678,A\n",
        ),
        "200kb-header-field": ("callees.csv", b"phone,name," + b"h" * 200_000 + b"\n6281234,A\n"),
        "traversal-name": ("../../etc/passwd.csv", b"phone,name\n6281234567890,Ada\n"),
    }
