"""The database triggers that mark the UTC day of every changed call as dirty.

The daily figures (campaigns/services/reports.py) are recomputed for dirty days. Every write
path is covered, the dispatcher's set-based SQL and COPY included, because the database does
the marking: statement-level triggers with transition tables on PostgreSQL (one INSERT per
statement, however many rows), row-level triggers on SQLite.

SQLite drops a table's triggers when a migration rebuilds the table, so they are (re)created
idempotently after every migrate, as well as by the migrations that need them at once.
"""

from __future__ import annotations

from typing import Any

# The day of a call: the UTC day of its placed_at (= COALESCE(submit_time, created_at)).
PG_DAY = "(COALESCE(submit_time, created_at) AT TIME ZONE 'UTC')::date"
PG_STATEMENTS = [
    f"""
CREATE OR REPLACE FUNCTION campaigns_call_mark_dirty_days() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO campaigns_callstatdirtyday (day)
        SELECT DISTINCT {PG_DAY} FROM new_rows
        ON CONFLICT DO NOTHING;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO campaigns_callstatdirtyday (day)
        SELECT DISTINCT {PG_DAY} FROM old_rows
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$""",
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
SQLITE_MARK = "INSERT OR IGNORE INTO campaigns_callstatdirtyday (day) VALUES ({day});"
SQLITE_STATEMENTS = [
    f"""CREATE TRIGGER IF NOT EXISTS campaigns_call_dirty_{event.lower()}
    AFTER {event} ON campaigns_call BEGIN
        {" ".join(SQLITE_MARK.format(day=SQLITE_DAY.format(row=row)) for row in rows)}
    END"""
    for event, rows in (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"]))
]


def ensure_call_triggers(connection: Any) -> None:
    """Create the triggers if they are missing (PostgreSQL: replace them)."""
    statements = {"postgresql": PG_STATEMENTS, "sqlite": SQLITE_STATEMENTS}.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(
            f"No dirty-day triggers for {connection.vendor}: PostgreSQL or SQLite only"
        )
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def ensure_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    from django.db import connections

    connection = connections[using]
    if "campaigns_call" in connection.introspection.table_names():
        ensure_call_triggers(connection)
