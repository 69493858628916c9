"""The claim's statements: how a claimed batch is written, in one round trip where it can be.

The dispatcher (dispatch.py) builds the picked callees' queryset (claim_rules.sendable_callees,
its cursor and its pace); these write the batch, mark its callees SENDING and reserve their
worst case, before the request is sent: PostgreSQL in one autocommit statement, SQLite in the
caller's durable transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from campaigns.models import Callee, Campaign, DispatchBatch
from campaigns.services.budgets import reserve_in_claim
from campaigns.services.dispatch_outcomes import insert_columns


def compiled(queryset: QuerySet[Any]) -> tuple[str, list[Any]]:
    sql, params = queryset.query.get_compiler(connection=connection).as_sql()
    return sql, list(params)


def mark_in_transaction(batch: DispatchBatch, picked: QuerySet[Any]) -> list[tuple[int, str]]:
    """Insert the batch, then take the picked callees, mark them and reserve their worst case
    (SQLite ≥ 3.35), in the caller's transaction."""
    table = connection.ops.quote_name(Callee._meta.db_table)
    batch.save()
    sql, params = compiled(picked)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET batch_id = %s, state = %s, skip_reason = NULL "
            f"WHERE id IN ({sql}) "
            "RETURNING id, number",
            [batch.pk, Callee.State.SENDING, *params],
        )
        pairs = sorted(cursor.fetchall())
    if not pairs:
        transaction.set_rollback(True)
    else:
        reserve_in_claim(batch.campaign_id, batch, [callee_id for callee_id, _n in pairs])
    return pairs


def mark_in_one_statement(
    campaign: Campaign, batch: DispatchBatch, picked: QuerySet[Any], in_transaction: bool = False
) -> list[tuple[int, str]]:
    """PostgreSQL: pick, insert the batch (only if something was picked), mark the callees
    SENDING and add their worst case to the campaign's reserved total (budgets.py) in one
    statement, committed on its own (autocommit): one round trip, one commit.
    (`in_transaction`: in the claim's own durable transaction, with the cap lock.)"""
    if not in_transaction:
        _outside_transactions()
    callee_table, batch_table, campaign_table = (
        connection.ops.quote_name(m._meta.db_table) for m in (Callee, DispatchBatch, Campaign)
    )
    known = {
        "campaign_id": campaign.pk,
        "sequence": batch.sequence,
        "state": batch.state,
        "called_info": batch.called_info,
        "request_started_at": batch.request_started_at,
        "attempts": batch.attempts,
        "variant_id": batch.variant_id,
    }
    columns, exprs, batch_params = insert_columns(
        DispatchBatch, known, {"size": "(SELECT count(*) FROM picked)"}
    )
    picked_sql, picked_params = compiled(picked)
    sql = (
        f"WITH picked AS MATERIALIZED ({picked_sql}), "
        f"b AS (INSERT INTO {batch_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(exprs)} WHERE EXISTS (SELECT 1 FROM picked) RETURNING id), "
        f"u AS (UPDATE {callee_table} k SET batch_id = b.id, state = %s, skip_reason = NULL "
        "FROM b WHERE k.id IN (SELECT id FROM picked) "
        "RETURNING k.id, k.number, b.id AS batch_id, k.worst_cost), "
        f"r AS (UPDATE {campaign_table} c SET budget_reserved = c.budget_reserved + s.total "
        "FROM (SELECT sum(worst_cost) AS total FROM u) s WHERE c.id = %s AND s.total > 0 "
        "RETURNING 1) SELECT id, number, batch_id, worst_cost, (SELECT count(*) FROM r) FROM u"
    )
    params = [*picked_params, *batch_params, Callee.State.SENDING, campaign.pk]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if rows:  # its worst case, reserved here: budgets.reserve_claimed writes nothing more
        batch.pk, batch.worst_total = rows[0][2], sum(r[3] for r in rows if r[3] is not None)
        batch.reserved_by_claim = True
    return sorted((callee_id, number) for callee_id, number, *_rest in rows)


def _outside_transactions() -> None:
    """atomic(durable=True)'s check for a SENDING mark in one autocommit statement: it raises
    when a caller holds a transaction open (the mark would stay uncommitted while the request
    is out). An empty block sends nothing to the database, so the mark stays one round trip."""
    with transaction.atomic(durable=True):
        pass
