"""The dispatcher's outcome writes: what came of each sendGroup request, committed after it.

An accepted number gets its Call and its callee SUBMITTED, a refused one REJECTED; a request that
was not placed puts its batch back to pending (its callees are re-batched by the next claim); a
request whose outcome is unknown makes its batch and callees UNKNOWN, never resent by itself.
A dispatcher that died leaves its SENDING batches, which become UNKNOWN as well (orphans).
On PostgreSQL the answer of a request is written in one statement (the calls, the callees and
the batch); every write here is safe to repeat after a lost database connection.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Call, Callee, Campaign, DispatchBatch
from campaigns.services.budgets import after_answer, release_batch
from campaigns.services.retries import mark_retries
from campaigns.services.variants import batch_file_id
from itnio_portal.itnio import (
    ItnioApiError,
    ItnioError,
    ItnioLimitError,
    ItnioNotSentError,
    SendResult,
)

Pairs = list[tuple[int, str]]
#: The computed columns of a new Call: its number, voiceId, callee and attempt number (the
#: callee's attempts so far + 1), from the statement's `v` rows.
ATTEMPT_COLUMNS = {
    "callee": "v.number",
    "voice_id": "v.voice_id",
    "campaign_callee_id": "v.callee_id",
    "attempt": "v.attempt",
}


@dataclass
class DispatchReport:
    batches_sent: int = 0
    accepted: int = 0
    rejected: int = 0
    unknown: int = 0
    not_sent: int = 0
    stopped: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **counts: int) -> None:
        """Senders run in parallel threads: count under a lock."""
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def __str__(self) -> str:
        return (
            f"batches={self.batches_sent} accepted={self.accepted} rejected={self.rejected} "
            f"unknown={self.unknown} not_sent={self.not_sent} stopped={self.stopped or '-'}"
        )


def insert_columns(
    model: type[models.Model], known: dict[str, Any], computed: dict[str, str]
) -> tuple[list[str], list[str], list[Any]]:
    """(quoted columns, SQL expressions, parameters) for an INSERT … SELECT of one model row:
    `computed` columns take the given SQL, `known` ones a parameter, the rest their default."""
    conn = connections[DEFAULT_DB_ALIAS]  # once: each use of the proxy is a lookup
    columns, exprs, params = [], [], []
    for model_field in model._meta.concrete_fields:
        if model_field.primary_key or model_field.generated:
            continue
        columns.append(conn.ops.quote_name(model_field.column))
        if model_field.column in computed:
            exprs.append(computed[model_field.column])
            continue
        value = known.get(model_field.column, model_field.get_default())
        exprs.append("%s")
        params.append(model_field.get_db_prep_save(value, conn))
    return columns, exprs, params


def _outcomes(pairs: Pairs, results: list[SendResult]) -> list[tuple[int, str, str, str, str]]:
    """(callee id, state, voiceId, reason, number) for every callee of the batch."""
    by_number = {r.callee: r for r in results}
    outcomes = []
    for callee_id, number in pairs:
        result = by_number.get(number)
        if result is None:
            reason = _("ITNIO's answer did not mention this number.")
            outcomes.append((callee_id, Callee.State.UNKNOWN, "", reason, number))
        elif result.accepted and result.voice_id:
            outcomes.append((callee_id, Callee.State.SUBMITTED, result.voice_id, "", number))
        else:
            reason = f"{result.termination_code}: {result.termination_reason}".strip(": ")
            outcomes.append((callee_id, Callee.State.REJECTED, "", reason, number))
    return outcomes


def _call_row(campaign: Campaign, batch: DispatchBatch, now: datetime) -> dict[str, Any]:
    return {
        "app_id": campaign.app_id,
        "campaign_id": campaign.pk,
        "kind": Call.Kind.GROUP,
        "state": Call.State.SUBMITTED,
        "display_num": campaign.display_num,
        "called_info": batch.called_info,
        "voice_file_id": batch_file_id(campaign, batch),
        "submit_time": now,
        "created_by": f"campaign:{campaign.name}"[:150],
        "created_at": now,
    }


def record_success(
    campaign: Campaign,
    batch: DispatchBatch,
    pairs: Pairs,
    results: list[SendResult],
    report: DispatchReport,
) -> None:
    """Commit a sendGroup answer: a Call per accepted number, each callee's outcome, the batch.

    Set-based, never a query per callee: this runs for every answer, and at 200 numbers a
    request the database work decides the dispatch rate. One statement on PostgreSQL.
    """
    now = timezone.now()
    outcomes = _outcomes(pairs, results)
    states = Counter(o[1] for o in outcomes)
    batch_row = {
        "size": len(pairs),
        "state": DispatchBatch.State.SENT,
        "request_finished_at": now,
        "code": "0",
        "reason": "",
        "accepted": states[Callee.State.SUBMITTED],
        "rejected": states[Callee.State.REJECTED],
    }
    pushed_first = True  # SQLite: whether a push created a call first is not told
    if connection.vendor == "postgresql":
        pushed_first = _write_answer_in_one_statement(campaign, batch, outcomes, batch_row, now)
    else:
        accepted = {vid: (number, cid) for cid, state, vid, _r, number in outcomes if vid}
        with transaction.atomic():
            call_ids = _insert_calls(campaign, batch, accepted, now)
            _write_callee_outcomes(
                [
                    (cid, state, vid, reason, call_ids.get(vid))
                    for cid, state, vid, reason, _n in outcomes
                ]
            )
            DispatchBatch.objects.filter(pk=batch.pk).update(**batch_row)
    # Rejected numbers free their worst case, calls pushed before the answer are charged.
    after_answer(campaign, batch, rejected=batch_row["rejected"], pushed_first=pushed_first)
    if campaign.retries and pushed_first:
        # A push that beat this answer may have made an attempt's record final already.
        mark_retries(Callee.objects.filter(batch_id=batch.pk))
    report.add(
        batches_sent=1,
        accepted=states[Callee.State.SUBMITTED],
        rejected=states[Callee.State.REJECTED],
        unknown=states[Callee.State.UNKNOWN],
    )


def _write_answer_in_one_statement(
    campaign: Campaign,
    batch: DispatchBatch,
    outcomes: list[tuple[int, str, str, str, str]],
    batch_row: dict[str, Any],
    now: datetime,
) -> bool:
    """PostgreSQL: the calls, the callees and the batch in one statement (one round trip).
    True when a push had created one of the batch's calls first (or one is linked late).

    Committed without waiting for its WAL flush (synchronous_commit off for this transaction
    only): if the database crashed and lost the last few of these, their batches would still
    read SENDING, which the recovery tick turns into UNKNOWN and reconciliation resolves, so
    nothing is ever resent. The SENDING mark written before a request keeps the durable commit.

    A status push can beat the HTTP answer and create a Call first: such calls are not inserted
    again, only claimed for the campaign. A push landing in this very statement's instant is
    skipped by ON CONFLICT and linked by the follow-up below.
    """
    call_table = connection.ops.quote_name(Call._meta.db_table)
    callee_table = connection.ops.quote_name(Callee._meta.db_table)
    batch_table = connection.ops.quote_name(DispatchBatch._meta.db_table)
    columns, exprs, call_params = insert_columns(
        Call, _call_row(campaign, batch, now), ATTEMPT_COLUMNS
    )
    batch_sets = ", ".join(f"{connection.ops.quote_name(k)} = %s" for k in batch_row)
    batch_params = [
        DispatchBatch._meta.get_field(k).get_db_prep_save(v, connection)
        for k, v in batch_row.items()
    ]
    sql = (
        "WITH cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS s), "
        # One JSON parameter (a list of [id, state, voiceId, reason, number]): quoted once,
        # where five arrays cost the portal a quoting pass per element.
        "o(id, state, voice_id, reason, number) AS (SELECT (e->>0)::bigint, e->>1, e->>2, "
        "e->>3, e->>4 FROM json_array_elements(%s::json) e), "
        f"v AS (SELECT o.number, o.voice_id, o.id AS callee_id, k.attempts + 1 AS attempt "
        f"FROM o JOIN {callee_table} k ON k.id = o.id WHERE o.voice_id <> ''), "
        f"existing AS (SELECT x.id, x.voice_id FROM {call_table} x "
        "JOIN v ON x.voice_id = v.voice_id), "
        f"ins AS (INSERT INTO {call_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(exprs)} FROM v "
        "WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.voice_id = v.voice_id) "
        "ON CONFLICT (voice_id) DO NOTHING RETURNING id, voice_id), "
        f"claimed AS (UPDATE {call_table} SET campaign_id = %s, campaign_callee_id = v.callee_id, "
        "attempt = v.attempt FROM v WHERE v.voice_id = "
        f"{call_table}.voice_id AND {call_table}.id IN (SELECT id FROM existing) "
        f"AND {call_table}.campaign_id IS NULL RETURNING {call_table}.id), "
        "calls AS (SELECT id, voice_id FROM ins UNION ALL SELECT id, voice_id FROM existing), "
        # Joined on its own, before the callees: estimated one row (few callees are SENDING),
        # the callee join would otherwise rescan the new calls for every callee.
        "oc AS MATERIALIZED (SELECT o.id, o.state, o.voice_id, o.reason, c.id AS call_id "
        "FROM o LEFT JOIN calls c ON c.voice_id = o.voice_id AND o.voice_id <> ''), "
        f"written AS (UPDATE {callee_table} SET state = oc.state, voice_id = oc.voice_id, "
        "reason = oc.reason, call_id = CASE WHEN oc.voice_id <> '' THEN oc.call_id ELSE "
        f"{callee_table}.call_id END, retry_due_at = NULL, attempts = {callee_table}.attempts "
        "+ (CASE WHEN oc.voice_id <> '' THEN 1 ELSE 0 END) "
        f"FROM oc WHERE {callee_table}.id = oc.id AND {callee_table}.state = %s "
        f"RETURNING {callee_table}.voice_id, {callee_table}.call_id), "
        f"sent AS (UPDATE {batch_table} SET {batch_sets} WHERE id = %s RETURNING id) "
        "SELECT (SELECT count(*) FROM written WHERE voice_id <> '' AND call_id IS NULL), "
        "(SELECT count(*) FROM sent), (SELECT count(*) FROM existing), (SELECT s FROM cfg)"
    )
    params = [
        json.dumps(outcomes, separators=(",", ":")),
        *call_params,
        campaign.pk,
        Callee.State.SENDING,
        *batch_params,
        batch.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        unlinked, _sent, pushed_first, _cfg = cursor.fetchone()
    if unlinked:
        _link_late_calls(campaign, batch)
    return bool(unlinked or pushed_first)


def _link_late_calls(campaign: Campaign, batch: DispatchBatch) -> None:
    """Submitted callees whose Call a push inserted in the same instant: claim and link it."""
    with transaction.atomic():
        callees = Callee.objects.filter(
            batch=batch, state=Callee.State.SUBMITTED, call__isnull=True
        ).exclude(voice_id="")
        by_voice = dict(callees.values_list("voice_id", "id"))
        Call.objects.filter(voice_id__in=by_voice, campaign__isnull=True).update(campaign=campaign)
        for call_id, voice_id in Call.objects.filter(voice_id__in=by_voice).values_list(
            "id", "voice_id"
        ):
            Callee.objects.filter(pk=by_voice[voice_id]).update(call_id=call_id)
            Call.objects.filter(pk=call_id, campaign_callee__isnull=True).update(
                campaign_callee_id=by_voice[voice_id],
                attempt=Subquery(Callee.objects.filter(pk=by_voice[voice_id]).values("attempts")),
            )


def _insert_calls(
    campaign: Campaign, batch: DispatchBatch, accepted: dict[str, tuple[str, int]], now: datetime
) -> dict[str, int]:
    """Insert a Call for every accepted voiceId (→ number) in one statement; return voiceId → id.

    A status push can beat the HTTP answer and create the Call first: such calls are not
    inserted again (NOT EXISTS on the unique voiceId), only claimed for the campaign.
    """
    if not accepted:
        return {}
    call_table = Call._meta.db_table
    columns, exprs, params = insert_columns(Call, _call_row(campaign, batch, now), ATTEMPT_COLUMNS)
    source = "VALUES " + ", ".join(["(%s, %s, %s)"] * len(accepted))
    values = [x for vid, (number, cid) in accepted.items() for x in (number, vid, cid)]
    callee_table = Callee._meta.db_table
    sql = (
        f"WITH w(number, voice_id, callee_id) AS ({source}), "
        f"v AS (SELECT w.number, w.voice_id, k.id AS callee_id, k.attempts + 1 AS attempt "
        f"FROM w JOIN {callee_table} k ON k.id = CAST(w.callee_id AS BIGINT)) "
        f"INSERT INTO {call_table} ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM v "
        f"WHERE NOT EXISTS (SELECT 1 FROM {call_table} x WHERE x.voice_id = v.voice_id) "
        # A push applied at this very moment may insert the same voiceId: skip it, never fail
        # the outcome write (the row is claimed for the campaign below).
        f"ON CONFLICT (voice_id) DO NOTHING "
        f"RETURNING id, voice_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, *params])
        call_ids = {voice_id: pk for pk, voice_id in cursor.fetchall()}
    early = [voice_id for voice_id in accepted if voice_id not in call_ids]
    if early:
        Call.objects.filter(voice_id__in=early, campaign__isnull=True).update(campaign=campaign)
        for voice_id in early:  # rare (a push beat the answer): one UPDATE each
            Call.objects.filter(voice_id=voice_id, campaign_callee__isnull=True).update(
                campaign_callee_id=accepted[voice_id][1],
                attempt=Subquery(
                    Callee.objects.filter(pk=accepted[voice_id][1]).values("attempts")[:1]
                )
                + 1,
            )
        call_ids.update(
            {
                vid: pk
                for pk, vid in Call.objects.filter(voice_id__in=early).values_list("id", "voice_id")
            }
        )
    return call_ids


def _write_callee_outcomes(outcomes: list[tuple[int, str, str, str, int | None]]) -> None:
    """One UPDATE … FROM a VALUES list of (id, state, voice_id, reason, call id) for the whole
    batch (Django's bulk_update builds a CASE per column and row). SQLite ≥ 3.33."""
    if not outcomes:
        return
    table = Callee._meta.db_table
    source = "VALUES " + ", ".join(["(%s, %s, %s, %s, %s)"] * len(outcomes))
    params = [value for outcome in outcomes for value in outcome]
    sql = (
        f"WITH v(id, state, voice_id, reason, call_id) AS ({source}) "
        f"UPDATE {table} SET state = v.state, voice_id = v.voice_id, reason = v.reason, "
        f"call_id = CASE WHEN v.voice_id <> '' THEN CAST(v.call_id AS BIGINT) "
        f"ELSE {table}.call_id END, retry_due_at = NULL, "
        f"attempts = {table}.attempts + (CASE WHEN v.voice_id <> '' THEN 1 ELSE 0 END) "
        f"FROM v WHERE {table}.id = CAST(v.id AS BIGINT) AND {table}.state = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, Callee.State.SENDING])


def orphans_to_unknown(campaign_id: int, reason: str) -> int:
    """SENDING batches of a dispatcher that is gone: their outcome is unknown."""
    with transaction.atomic():
        batch_ids = list(
            DispatchBatch.objects.select_for_update()
            .filter(campaign_id=campaign_id, state=DispatchBatch.State.SENDING)
            .values_list("id", flat=True)
        )
        if not batch_ids:
            return 0
        DispatchBatch.objects.filter(id__in=batch_ids).update(
            state=DispatchBatch.State.UNKNOWN, reason=reason
        )
        Callee.objects.filter(batch_id__in=batch_ids, state=Callee.State.SENDING).update(
            state=Callee.State.UNKNOWN, reason=reason
        )
    return len(batch_ids)


def refusal_reason(batch: DispatchBatch, exc: BaseException) -> str:
    """Why the campaign pauses after a refused batch: ITNIO's refusal, or the portal's own
    check of a documented limit (then nothing left the portal)."""
    if isinstance(exc, ItnioLimitError):
        return _(
            "The portal's own limit check refused batch %(batch)s before sending it "
            "(nothing was sent): %(error)s"
        ) % {"batch": batch.sequence, "error": exc}
    return _("ITNIO refused batch %(batch)s: %(error)s") % {"batch": batch.sequence, "error": exc}


def batch_not_placed(
    campaign: Campaign, batch: DispatchBatch, *, code: str, reason: str, now: datetime
) -> bool:
    """Nothing of the batch was placed: it goes back to pending, its callees with it (the next
    claim re-batches them under the current ITNIO_SEND_GROUP_MAX), their reservation given
    back. Only this attempt's: written again after a lost connection, this must not touch the
    batch once another sender has claimed it anew (attempts went up) and is sending it."""
    with transaction.atomic():
        if not DispatchBatch.objects.filter(
            pk=batch.pk, state=DispatchBatch.State.SENDING, attempts=batch.attempts
        ).update(
            state=DispatchBatch.State.PENDING, request_finished_at=now, code=code, reason=reason
        ):
            return False
        release_batch(campaign, batch, states=(Callee.State.SENDING,))
        Callee.objects.filter(batch=batch, state=Callee.State.SENDING).update(
            state=Callee.State.PENDING
        )
    return True


def record_failure(
    campaign: Campaign, batch: DispatchBatch, exc: BaseException, report: DispatchReport
) -> str | None:
    """Write a failed request's outcome. Returns a reason to pause the campaign, if any."""
    now = timezone.now()
    if isinstance(exc, ItnioNotSentError | ItnioApiError | ItnioLimitError):
        batch_not_placed(
            campaign,
            batch,
            code=getattr(exc, "code", "") or "",
            reason=_("Not placed: %(error)s") % {"error": exc},
            now=now,
        )
        if isinstance(exc, ItnioNotSentError):
            report.add(not_sent=1)
            return None
        # Balance (-10), authentication (-1, -2), a parameter or any other refusal: it will
        # not get better by itself, so stop and tell the operator.
        return refusal_reason(batch, exc)
    reason = (
        f"{exc}"
        if isinstance(exc, ItnioError)
        else _("The dispatcher failed while sending (%(error)s).") % {"error": type(exc).__name__}
    )
    reason += " " + _(
        "The request may have reached ITNIO; it is never resent automatically: "
        "reconcile the campaign."
    )
    with transaction.atomic():
        DispatchBatch.objects.filter(pk=batch.pk).update(
            state=DispatchBatch.State.UNKNOWN, request_finished_at=now, reason=reason
        )
        report.add(
            unknown=Callee.objects.filter(batch=batch, state=Callee.State.SENDING).update(
                state=Callee.State.UNKNOWN, reason=reason
            )
        )
    return None
