"""Set-based writes: many rows' new values in one UPDATE … FROM a list of values.

Django's `bulk_update` builds a CASE WHEN per column and row, which costs milliseconds of Python
per row (it was the push apply worker's bottleneck at 140 reports/s). Here the values travel as
one array parameter per column on PostgreSQL (a short statement, whatever the row count) and as
a VALUES list on SQLite (≥ 3.33 for UPDATE … FROM).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, models

# SQLite allows 32,766 parameters a statement.
SQLITE_MAX_PARAMS = 30_000

# Values of these types go to the driver as they are in columns of these fields; any other value
# (a date, a decimal, JSON, an IP address, bytes, a number in a text column) through the field's
# own conversion for this database.
_AS_IS: tuple[tuple[type[models.Field], type], ...] = (
    (models.ForeignKey, int),
    (models.IntegerField, int),
    (models.CharField, str),
    (models.TextField, str),
)


def preparer(field: models.Field) -> Callable[[Any], Any]:
    """The function that turns a model attribute's value into its database parameter: Django's
    `get_db_prep_save`, skipped where it would change nothing (it costs microseconds a cell,
    and the push apply worker writes forty cells a report)."""
    plain = next((kind for cls, kind in _AS_IS if isinstance(field, cls)), None)
    if connection.vendor == "postgresql" and isinstance(field, models.DateTimeField):
        # psycopg writes an aware datetime to a timestamptz as it is; a naive one needs Django.
        def prepare_time(value: Any) -> Any:
            if value is None or (type(value) is datetime and value.tzinfo is not None):
                return value
            return field.get_db_prep_save(value, connection)

        return prepare_time
    if connection.vendor == "postgresql" and isinstance(field, models.DecimalField):
        plain = Decimal  # psycopg writes a Decimal to a numeric column as it is

    def prepare(value: Any) -> Any:
        if value is None or (plain is not None and type(value) is plain):
            return value
        return field.get_db_prep_save(value, connection)

    return prepare


def execute_bound(sql: str, params: Sequence[Any]) -> Any:
    """Run one statement on Django's PostgreSQL connection with server-side binding and binary
    parameters, and return psycopg's cursor. Django's own cursor composes the statement text
    with every value quoted into it, which for arrays means escaping each element by regular
    expression: most of the apply worker's CPU. Part of the caller's transaction, if any."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors:
        # Django gives its connection client-side binding cursors; this one binds on the server.
        return psycopg.Cursor(connection.connection).execute(sql, params, prepare=True)


def bulk_update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """Write `fields` of every object (by primary key) in as few statements as possible;
    returns the number of rows updated. Objects must all be of one model."""
    if not objs:
        return 0
    model = type(objs[0])
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    pk = meta.pk
    table = connection.ops.quote_name(meta.db_table)
    names = [connection.ops.quote_name(f.column) for f in columns]
    prepared = [(f.attname, preparer(f)) for f in columns]
    rows = [
        [obj.pk] + [prepare(getattr(obj, attname)) for attname, prepare in prepared] for obj in objs
    ]
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    updated = 0
    if connection.vendor == "postgresql":
        types = [pk.rel_db_type(connection)] + [f.db_type(connection) for f in columns]
        unnest = ", ".join(f"%b::{t}[]" for t in types)
        alias = ", ".join(["__pk", *names])
        sql = (
            f"UPDATE {table} SET {assignments} FROM unnest({unnest}) AS v({alias}) "
            f"WHERE {table}.{connection.ops.quote_name(pk.column)} = v.__pk"
        )
        return execute_bound(sql, [list(column) for column in zip(*rows, strict=True)]).rowcount
    with connection.cursor() as cursor:
        width = len(columns) + 1
        per_statement = max(1, SQLITE_MAX_PARAMS // width)
        alias = ", ".join(["__pk", *names])
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
            sql = (
                f"WITH v({alias}) AS (VALUES {values}) "
                f"UPDATE {table} SET {assignments} FROM v "
                f"WHERE {table}.{connection.ops.quote_name(pk.column)} = v.__pk"
            )
            params: list[Any] = [value for row in chunk for value in row]
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated
