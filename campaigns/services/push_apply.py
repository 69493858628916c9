"""Applying stored push reports in bulk: many voice reports per statement, AI records per report.

Runs inside the apply worker's transaction (campaigns/services/pushes.py), which holds the
claimed inbox entries locked, so an entry's reports and its new state commit together: every
entry is applied exactly once in effect, and applying it again changes nothing (calls are upserted
by voiceId, a final record is only replaced by a final one, itnio-api.md §6.4).

A report applies only to the calls of the app whose push URL received it: a voiceId that belongs
to another app's call is *foreign*, counted on the entry and never applied. A voiceId no app knows
yet (a push that beat the sendGroup/sendCode answer) becomes a call of the receiving app, which
the sender merges into its own row when it writes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import models
from django.utils.translation import gettext as _

from campaigns.models import AiCallRecord, Call, PushEvent
from campaigns.services.ai_records import ai_record_upsert
from campaigns.services.budgets import charge_calls
from campaigns.services.bulk import bulk_update_rows
from campaigns.services.calls import (
    APPLIED_FIELDS,
    PUSH_TYPE_KINDS,
    RECORD_FIELDS,
    record_onto_call,
)
from campaigns.services.opt_outs import optouts_from_calls
from campaigns.services.outbound_hooks import emit_calls_final
from campaigns.services.push_bodies import MalformedPush, read_reports
from campaigns.services.rates import learn_from_calls
from campaigns.services.retries import retries_from_calls
from itnio_portal.itnio import AiRecord, VoiceRecord

ID_KEYS = {PushEvent.Kind.VOICE: "voiceId", PushEvent.Kind.AI: "callId"}
# How many voiceIds one SELECT … IN asks for (SQLite allows 32,766 parameters).
LOOKUP_CHUNK = 5000

_CHAR_LIMITS = {
    f.name: f.max_length
    for f in Call._meta.concrete_fields
    if isinstance(f, models.CharField) and f.max_length
}
# called_info is cut to its column on purpose (it is our own echo, itnio-api.md §3.2).
_CUT_FIELDS = frozenset({"called_info"})
# DecimalField(max_digits=18, decimal_places=6): at most 12 digits before the point.
_DECIMAL_LIMIT = Decimal(10) ** 12
_INT_LIMIT = 2**31 - 1  # PositiveIntegerField on PostgreSQL


def _api_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def record_problem(record: VoiceRecord) -> str | None:
    """Why this record cannot be stored in a Call row, or None: a value too long for its column,
    a number out of range. Checked before writing, so one bad report never fails a batch."""
    if len(record.voice_id) > _CHAR_LIMITS["voice_id"]:
        return _("voiceId is %(n)s characters long; the portal keeps at most %(max)s") % {
            "n": f"{len(record.voice_id):,}",
            "max": _CHAR_LIMITS["voice_id"],
        }
    for name in (*RECORD_FIELDS, "callee", "display_num"):
        value = getattr(record, name)
        limit = _CHAR_LIMITS.get(name)
        if isinstance(value, str) and limit and len(value) > limit and name not in _CUT_FIELDS:
            return _("%(field)s is %(n)s characters long; the portal keeps at most %(max)s") % {
                "field": _api_name(name),
                "n": f"{len(value):,}",
                "max": limit,
            }
        if isinstance(value, Decimal) and (not value.is_finite() or abs(value) >= _DECIMAL_LIMIT):
            return _("%(field)s is out of range (%(value)s)") % {
                "field": _api_name(name),
                "value": str(value)[:40],
            }
        if isinstance(value, int) and not 0 <= value <= _INT_LIMIT:
            return _("%(field)s is out of range (%(value)s)") % {
                "field": _api_name(name),
                "value": value,
            }
    return None


@dataclass
class EntryOutcome:
    """What applying one inbox entry came to."""

    event: PushEvent
    reports: int = 0
    applied: int = 0
    foreign: int = 0
    malformed: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.malformed is not None or bool(self.problems)

    def error(self) -> str:
        if self.malformed is not None:
            return _("Malformed: %(reason)s") % {"reason": self.malformed}
        if not self.problems:
            return ""
        shown = "; ".join(self.problems[:5])
        if len(self.problems) > 5:
            shown += _(" (and %(n)s more)") % {"n": f"{len(self.problems) - 5:,}"}
        return _("%(bad)s of %(all)s report(s) could not be stored: %(list)s") % {
            "bad": f"{len(self.problems):,}",
            "all": f"{self.reports:,}",
            "list": shown,
        }


def _where(index: int, count: int, identifier: str) -> str:
    if count == 1:
        return _("the report (%(id)s)") % {"id": identifier[:64]}
    return _("report %(n)s (%(id)s)") % {"n": index + 1, "id": identifier[:64]}


def apply_voice_entries(events: list[PushEvent], *, now: datetime) -> list[EntryOutcome]:
    """Apply the voice reports of `events` with a few set-based statements: one SELECT … FOR
    UPDATE of the known calls, one INSERT of the new ones, one UPDATE of the changed ones.

    Raises IntegrityError when another writer inserted one of the new voiceIds meanwhile: the
    caller rolls back and runs the batch again (the second run finds that row)."""
    outcomes: list[EntryOutcome] = []
    parsed: list[tuple[EntryOutcome, VoiceRecord, str | None]] = []
    for event in events:
        outcome = EntryOutcome(event)
        outcomes.append(outcome)
        try:
            reports = read_reports(event.body, "voiceId")
        except MalformedPush as exc:
            outcome.malformed = str(exc)
            continue
        outcome.reports = len(reports)
        for index, report in enumerate(reports):
            record = VoiceRecord.from_api(report)
            problem = record_problem(record)
            if problem is not None:
                where = _where(index, len(reports), record.voice_id)
                outcome.problems.append(f"{where}: {problem}")
                continue
            kind = PUSH_TYPE_KINDS.get(str(report.get("type", "")).strip())
            parsed.append((outcome, record, kind))
    voice_ids = list(dict.fromkeys(record.voice_id for _o, record, _k in parsed))
    calls: dict[str, Call] = {}
    for start in range(0, len(voice_ids), LOOKUP_CHUNK):
        chunk = voice_ids[start : start + LOOKUP_CHUNK]
        calls.update(
            (call.voice_id, call)
            for call in Call.objects.select_for_update().filter(voice_id__in=chunk).order_by("id")
        )
    new: dict[str, Call] = {}
    changed: dict[str, Call] = {}
    # Calls whose record becomes final in this batch (call.final once per call: a final record
    # that replaces a final one, or a repeated push, is not a new event).
    was_final = {voice_id for voice_id, call in calls.items() if call.is_final}
    for outcome, record, kind in parsed:
        call = calls.get(record.voice_id)
        if call is None:
            call = Call(
                app_id=outcome.event.app_id,
                kind=kind or (Call.Kind.GROUP if record.voice_file_id else Call.Kind.TTS),
                state=Call.State.SUBMITTED,
                callee=record.callee,
                voice_id=record.voice_id,
                created_by="learned:push",
            )
            calls[record.voice_id] = new[record.voice_id] = call
        elif call.app_id != outcome.event.app_id:
            outcome.foreign += 1
            continue
        record_onto_call(call, record, source="push", now=now)
        outcome.applied += 1
        if record.voice_id not in new:
            changed[record.voice_id] = call
    if new:
        Call.objects.bulk_create(list(new.values()), batch_size=1000)
    learn_from_calls(calls[v] for v in {*new, *changed})  # rates.py: one upsert per batch
    if changed:
        charge_calls(changed.values())  # budgets.py: reserved → billed, before the write
        bulk_update_rows(list(changed.values()), APPLIED_FIELDS)
        optouts_from_calls(changed.values())  # in the same transaction as the records
        retries_from_calls(c.pk for c in changed.values() if c.is_final)  # same: retries.py
    # The outbox rows of call.final in the same transaction, one bulk INSERT (outbound_hooks.py).
    emit_calls_final(
        call for voice_id, call in calls.items() if call.is_final and voice_id not in was_final
    )
    return outcomes


def apply_ai_entry(event: PushEvent) -> EntryOutcome:
    """Apply one AI push entry (AI records are few: one upsert per record)."""
    outcome = EntryOutcome(event)
    try:
        reports = read_reports(event.body, "callId")
    except MalformedPush as exc:
        outcome.malformed = str(exc)
        return outcome
    outcome.reports = len(reports)
    app = event.app
    for index, report in enumerate(reports):
        record = AiRecord.from_api(report)
        owner = (
            AiCallRecord.objects.filter(call_id=record.call_id)
            .values_list("app_id", flat=True)
            .first()
        )
        if owner is not None and owner != event.app_id:
            outcome.foreign += 1
            continue
        try:
            ai_record_upsert(app=app, record=record, source=AiCallRecord.Source.PUSH)
        except ValueError as exc:
            where = _where(index, len(reports), str(record.call_id))
            outcome.problems.append(f"{where}: {exc}")
            continue
        outcome.applied += 1
    return outcome


def apply_entries(events: list[PushEvent], *, now: datetime) -> list[EntryOutcome]:
    """Apply a batch of inbox entries of any kind (in the caller's transaction)."""
    voice = [e for e in events if e.kind == PushEvent.Kind.VOICE]
    outcomes = apply_voice_entries(voice, now=now) if voice else []
    for event in events:
        if event.kind == PushEvent.Kind.AI:
            outcomes.append(apply_ai_entry(event))
        elif event.kind != PushEvent.Kind.VOICE:
            outcome = EntryOutcome(event)
            outcome.malformed = _("no processor for %(kind)s pushes") % {"kind": event.kind}
            outcomes.append(outcome)
    return outcomes


def describe_foreign(count: int) -> str:
    return _(
        "%(n)s report(s) named a call of another app and were not applied (a push URL may have "
        "leaked: consider regenerating it)."
    ) % {"n": f"{count:,}"}


__all__: list[Any] = ["EntryOutcome", "apply_entries", "record_problem"]
