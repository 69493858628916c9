"""Bulk writes of an import's callees: one chunk of (number, row[, zone]) into the callee table
(COPY on PostgreSQL), staged or pending, skipping the numbers another writer listed meanwhile.
A row's zone (a callee file's `timezone` column, windows.zone_cell) becomes its zone set at
once; a callee without one gets its number's zones later (windows.zone_sets_assign)."""

from __future__ import annotations

from django.db import connection

from campaigns.models import Callee
from campaigns.services.windows import zone_set_ids

_NULL = "\\N"  # COPY's NULL

#: A chunk's row: (number, row in the file) or (number, row in the file, zone or "").
ChunkRow = tuple[str, int] | tuple[str, int, str]


def _callee_table() -> str:
    return connection.ops.quote_name(Callee._meta.db_table)


def _listed(alias: str) -> str:
    """SQL: the callee row `alias` is listed (the condition of the unique index on numbers)."""
    return f"NOT ({alias}.state = '{Callee.State.STAGED}')"


def _zone_set_ids(rows: list[ChunkRow]) -> list[int | None]:
    """Each row's zone set id (None: no zone of its own), the zone sets created if new."""
    zones = [row[2] if len(row) > 2 else "" for row in rows]  # type: ignore[misc]
    named = {zone for zone in zones if zone}
    ids = zone_set_ids(named) if named else {}
    return [ids[zone] if zone else None for zone in zones]


def _write_chunk(
    rows: list[ChunkRow], *, campaign_id: int, source_id: int, state: str
) -> list[tuple[int, str]]:
    """Insert one chunk of (number, row[, zone]); return the (row, number) pairs that another
    writer listed in the campaign meanwhile (skipped, never a crash). Runs in the caller's
    transaction.

    Pending rows meet the unique index of listed numbers (ON CONFLICT DO NOTHING); staged ones
    are not in it, so they skip the listed numbers by a NOT EXISTS on that same index."""
    table = _callee_table()
    zone_sets = _zone_set_ids(rows)
    only_new = (
        f" AND NOT EXISTS (SELECT 1 FROM {table} c WHERE c.campaign_id = %s "
        f"AND c.number = s.number AND {_listed('c')})"
        if state == Callee.State.STAGED
        else ""
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY (the fastest way in) into a temporary table, then one INSERT … SELECT. For
            # staged rows its RETURNING says exactly which went in; pending rows meet the unique
            # index, so a short chunk is explained by the look-up below, as on SQLite, and the
            # common full chunk sends nothing back.
            # IF NOT EXISTS + TRUNCATE: inside an outer transaction (tests, a caller's atomic
            # block) the chunk's commit is only a savepoint release, and the table is still there.
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS callee_import_stage "
                "(number varchar(15) NOT NULL, row_number integer, zone_set_id bigint) "
                "ON COMMIT DROP"
            )
            cursor.execute("TRUNCATE callee_import_stage")
            with cursor.copy(
                "COPY callee_import_stage (number, row_number, zone_set_id) FROM STDIN"
            ) as copy:
                copy.write(
                    "".join(
                        f"{item[0]}\t{item[1]}\t{_NULL if zone is None else zone}\n"
                        for item, zone in zip(rows, zone_sets, strict=True)
                    )
                )
            cursor.execute(
                f"INSERT INTO {table} (campaign_id, number, state, row_number, source_id, "
                "voice_id, reason, zone_set_id) SELECT %s, s.number, %s, s.row_number, %s, '', "
                f"'', s.zone_set_id FROM callee_import_stage s WHERE true{only_new} "
                "ON CONFLICT DO NOTHING" + (" RETURNING row_number" if only_new else ""),
                [campaign_id, state, source_id] + ([campaign_id] if only_new else []),
            )
            if cursor.rowcount == len(rows):
                return []
            if only_new:
                written = {row for (row,) in cursor.fetchall()}
                return [(item[1], item[0]) for item in rows if item[1] not in written]
            return _skipped_by_listed(rows, campaign_id=campaign_id, source_id=source_id)
        # SQLite: the chunk's transaction holds the write lock, so nobody lists a number
        # between this INSERT and the look-up of the rows it skipped.
        cursor.executemany(
            f"INSERT INTO {table} (campaign_id, number, state, row_number, source_id, "
            "voice_id, reason, zone_set_id) SELECT s.campaign_id, s.number, %s, s.row_number, "
            "%s, '', '', s.zone_set_id FROM (SELECT %s AS campaign_id, %s AS number, "
            f"%s AS row_number, %s AS zone_set_id) s WHERE true{only_new} ON CONFLICT DO NOTHING",
            [
                (state, source_id, campaign_id, item[0], item[1], zone)
                + ((campaign_id,) if only_new else ())
                for item, zone in zip(rows, zone_sets, strict=True)
            ],
        )
        if cursor.rowcount == len(rows):
            return []
    return _skipped_by_listed(rows, campaign_id=campaign_id, source_id=source_id)


def _skipped_by_listed(
    rows: list[ChunkRow], *, campaign_id: int, source_id: int
) -> list[tuple[int, str]]:
    """The (row, number) pairs of a chunk whose number another row lists in the campaign."""
    numbers = [item[0] for item in rows]
    listed: dict[str, tuple[int | None, int | None]] = {}
    for start in range(0, len(numbers), 500):
        listed.update(
            (number, (source, row))
            for number, source, row in Callee.objects.filter(
                campaign_id=campaign_id, number__in=numbers[start : start + 500]
            )
            .exclude(state=Callee.State.STAGED)
            .values_list("number", "source_id", "row_number")
        )
    return [
        (item[1], item[0])
        for item in rows
        if item[0] in listed and listed[item[0]] != (source_id, item[1])
    ]
