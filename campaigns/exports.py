"""Call exports to CSV and XLSX: django-import-export resources, streamed row by row.

Cells that a spreadsheet would run as a formula (=, +, -, @ first) are neutralised unless they
are numbers, so a DTMF value of "-1" stays -1 while "=HYPERLINK(…)" becomes text (OWASP CSV
injection). Rows are read with an iterator and written as they go: an export of a million
calls never holds the file in memory (XLSX goes through openpyxl's write-only mode into a
temporary file that is streamed back).
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.utils import timezone
from import_export import fields, resources

from campaigns.models import Call
from campaigns.services.calls import RECORD_OUTCOME, RECORD_TIMES

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
EXPORT_CHUNK = 2000


def neutralise(value: Any) -> Any:
    """Make a cell safe to open in a spreadsheet: text that could be a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not NUMBER.match(value):
        return "'" + value
    return value


class CallResource(resources.ModelResource):
    """The columns of a call export (every billing field of the record)."""

    app = fields.Field(attribute="app__app_id", column_name="app")
    answered = fields.Field(column_name="answered")

    class Meta:
        model = Call
        fields = (
            "id",
            "app",
            "kind",
            "state",
            "callee",
            "display_num",
            "voice_id",
            "called_info",
            *RECORD_TIMES,
            "answered",
            *RECORD_OUTCOME,
            "created_by",
            "created_at",
        )
        export_order = fields

    def dehydrate_answered(self, call: Call) -> str:
        if call.answer_time:
            return "yes"
        return "no" if call.hangup_time else ""


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return neutralise(value if isinstance(value, str | int | float) else str(value))


def _rows(queryset: QuerySet[Call]) -> Iterator[list[Any]]:
    resource = CallResource()
    export_fields = resource.get_export_fields()
    yield [neutralise(f.column_name) for f in export_fields]
    # Native values, not the widgets' text: money stays exact and unpadded ("0.3", not
    # "0.300000"), times keep their UTC offset, counts stay numbers in XLSX.
    dehydrated = {
        f.column_name for f in export_fields if hasattr(resource, f"dehydrate_{f.column_name}")
    }
    for call in queryset.select_related("app").iterator(chunk_size=EXPORT_CHUNK):
        yield [
            cell(
                resource.export_field(f, call) if f.column_name in dehydrated else f.get_value(call)
            )
            for f in export_fields
        ]


class _Echo:
    def write(self, value: str) -> str:
        return value


def stream_calls_export(
    queryset: QuerySet[Call], *, fmt: str
) -> StreamingHttpResponse | FileResponse:
    return stream_table(_rows(queryset), fmt=fmt, name="calls")


def stream_table(
    rows: Iterator[list[Any]], *, fmt: str, name: str
) -> StreamingHttpResponse | FileResponse:
    """Stream `rows` (the header first, then cells made safe by cell) as CSV or XLSX."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        writer = csv.writer(_Echo())
        # A BOM first, so Excel reads the UTF-8 correctly.
        lines = (("\ufeff" if i == 0 else "") + writer.writerow(row) for i, row in enumerate(rows))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
        return response
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(name[:31])
        for row in rows:
            sheet.append(row)
        spool = tempfile.TemporaryFile(suffix=".xlsx")
        workbook.save(spool)
        spool.seek(0)
        return FileResponse(
            spool,
            as_attachment=True,
            filename=f"{name}-{stamp}.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    raise Http404(f"Unknown export format {fmt!r}; use csv or xlsx.")
