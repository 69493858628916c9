"""The database triggers that mark the UTC day of every changed call.

The daily figures (campaigns/services/reports.py) are recomputed for the marked days. Every
write path is covered, the dispatcher's set-based SQL and COPY included, because the database
does the marking: statement-level triggers with transition tables on PostgreSQL, row-level
triggers on SQLite.

PostgreSQL appends one mark per distinct day per statement, whatever marks the day has already:
the mark is a row of the writer's own transaction, so it becomes visible exactly when the
writer's change does, and a refresh that did not see the change does not see (nor delete) the
mark either. The marks have no unique key, so marking never makes a writer wait for another
writer or for a refresh. SQLite has a single writer at a time, so its row-level triggers add a
mark only to a day that has none.

SQLite drops a table's triggers when a migration rebuilds the table, so they are (re)created
idempotently after every migrate, as well as by the migrations that need them at once.
Migrations 0006 and 0007 run this code before migration 0010 replaced the one-row-per-day table
`campaigns_callstatdirtyday` with the marks: the same statements serve both (the old table's
primary key makes ON CONFLICT and NOT EXISTS keep one row per day).
"""

from __future__ import annotations

from typing import Any

MARKS_TABLE = "campaigns_callstatmark"
LEGACY_TABLE = "campaigns_callstatdirtyday"  # migrations 0006 to 0009

# The day of a call: the UTC day of its placed_at (= COALESCE(submit_time, created_at)).
PG_DAY = "(COALESCE(submit_time, created_at) AT TIME ZONE 'UTC')::date"
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION campaigns_call_mark_dirty_days() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO {table} (day) SELECT DISTINCT {day} FROM new_rows ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO {table} (day)
        SELECT {day} FROM new_rows UNION SELECT {day} FROM old_rows ON CONFLICT DO NOTHING;
    ELSE
        INSERT INTO {table} (day) SELECT DISTINCT {day} FROM old_rows ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$"""
PG_TRIGGERS = [
    """CREATE OR REPLACE TRIGGER campaigns_call_dirty_insert AFTER INSERT ON campaigns_call
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_call_mark_dirty_days()""",
    """CREATE OR REPLACE TRIGGER campaigns_call_dirty_update AFTER UPDATE ON campaigns_call
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_call_mark_dirty_days()""",
    """CREATE OR REPLACE TRIGGER campaigns_call_dirty_delete AFTER DELETE ON campaigns_call
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_call_mark_dirty_days()""",
]

# SQLite keeps datetimes as UTC text, so date() of it is the UTC day.
SQLITE_DAY = "date(COALESCE({row}.submit_time, {row}.created_at))"
SQLITE_MARK = (
    "INSERT INTO {table} (day) SELECT {day} "
    "WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE day = {day});"
)
SQLITE_EVENTS = (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"]))
SQLITE_TRIGGER = """CREATE TRIGGER IF NOT EXISTS campaigns_call_dirty_{event}
    AFTER {EVENT} ON campaigns_call BEGIN
        {marks}
    END"""
DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS campaigns_call_dirty_insert ON campaigns_call",
        "DROP TRIGGER IF EXISTS campaigns_call_dirty_update ON campaigns_call",
        "DROP TRIGGER IF EXISTS campaigns_call_dirty_delete ON campaigns_call",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS campaigns_call_dirty_insert",
        "DROP TRIGGER IF EXISTS campaigns_call_dirty_update",
        "DROP TRIGGER IF EXISTS campaigns_call_dirty_delete",
    ],
}


def _statements(vendor: str, table: str) -> list[str]:
    if vendor == "postgresql":
        return [PG_FUNCTION.format(table=table, day=PG_DAY), *PG_TRIGGERS]
    if vendor == "sqlite":
        return [
            SQLITE_TRIGGER.format(
                event=event.lower(),
                EVENT=event,
                marks=" ".join(
                    SQLITE_MARK.format(table=table, day=SQLITE_DAY.format(row=row)) for row in rows
                ),
            )
            for event, rows in SQLITE_EVENTS
        ]
    raise NotImplementedError(f"No dirty-day triggers for {vendor}: PostgreSQL or SQLite only")


def ensure_call_triggers(connection: Any, *, table: str | None = None) -> None:
    """Create the triggers if they are missing (PostgreSQL: replace them). They write into
    `table`, by default the marks table, or the old dirty-day table while it is the one there."""
    if table is None:
        tables = connection.introspection.table_names()
        table = MARKS_TABLE if MARKS_TABLE in tables or LEGACY_TABLE not in tables else LEGACY_TABLE
    statements = _statements(connection.vendor, table)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def drop_call_triggers(connection: Any) -> None:
    with connection.cursor() as cursor:
        for statement in DROP[connection.vendor]:
            cursor.execute(statement)


def ensure_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    connection = connections[using]
    if "campaigns_call" in connection.introspection.table_names():
        ensure_call_triggers(connection)
