"""The push inbox: keep every body ITNIO pushes, then apply its reports to calls.

ITNIO signs no push (itnio-api.md §6), retries on HTTP errors every 30 minutes up to 3 times and
may send duplicates late (§6.4), so processing is idempotent: calls are upserted by voiceId and a
final record is only ever replaced by a final one; AI call records (§6.2) are upserted by callId.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from campaigns.models import AiCallRecord, Call, ItnioApp, PushEvent
from campaigns.services.ai_tasks import ai_record_upsert
from campaigns.services.calls import PUSH_TYPE_KINDS, call_upsert_record
from itnio_portal.itnio import AiRecord, VoiceRecord

logger = logging.getLogger(__name__)


class MalformedPush(ValueError):
    """The body is not a report or a list of reports; the message says what is wrong."""


def parse_voice_reports(body: str) -> list[dict[str, Any]]:
    """One report object or an array of them, each with a voiceId."""
    return _parse_reports(body, "voiceId")


def parse_ai_records(body: str) -> list[dict[str, Any]]:
    """One AI call record (§6.2) or an array of them, each with a callId."""
    return _parse_reports(body, "callId")


def _parse_reports(body: str, id_key: str) -> list[dict[str, Any]]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedPush(f"The body is not JSON: {exc.msg} at position {exc.pos}.") from exc
    reports = payload if isinstance(payload, list) else [payload]
    if not reports:
        raise MalformedPush("The body is an empty list.")
    for index, report in enumerate(reports):
        where = f"report {index + 1}" if isinstance(payload, list) else "the report"
        if not isinstance(report, dict):
            raise MalformedPush(f"{where} is not a JSON object.")
        identifier = report.get(id_key)
        if not isinstance(identifier, str | int) or not str(identifier).strip():
            raise MalformedPush(f"{where} has no {id_key}.")
    return reports


def push_receive(*, app: ItnioApp, kind: str, body: str, remote_addr: str | None) -> PushEvent:
    """Store the body, then process it. Raises MalformedPush (the body stays in the inbox)."""
    event = PushEvent.objects.create(app=app, kind=kind, body=body, remote_addr=remote_addr)
    push_process(event)
    if event.state == PushEvent.State.FAILED and event.error.startswith("Malformed: "):
        raise MalformedPush(event.error.removeprefix("Malformed: "))
    return event


def push_process(event: PushEvent) -> PushEvent:
    """Apply (or re-apply) one inbox entry. Safe to run any number of times."""
    if event.kind not in (PushEvent.Kind.VOICE, PushEvent.Kind.AI):
        _mark(event, PushEvent.State.FAILED, f"No processor for {event.kind} pushes.")
        return event
    parse = parse_ai_records if event.kind == PushEvent.Kind.AI else parse_voice_reports
    try:
        reports = parse(event.body)
    except MalformedPush as exc:
        _mark(event, PushEvent.State.FAILED, f"Malformed: {exc}")
        return event
    try:
        with transaction.atomic():
            for report in reports:
                if event.kind == PushEvent.Kind.AI:
                    ai_record_upsert(
                        app=event.app,
                        record=AiRecord.from_api(report),
                        source=AiCallRecord.Source.PUSH,
                    )
                    continue
                record = VoiceRecord.from_api(report)
                kind = PUSH_TYPE_KINDS.get(str(report.get("type", "")).strip())
                call_upsert_record(app=event.app, record=record, source="push", kind=kind)
    except Exception as exc:
        logger.exception("Push %s could not be applied", event.pk)
        _mark(event, PushEvent.State.FAILED, f"{type(exc).__name__}: {exc}", reports=len(reports))
        return event
    _mark(event, PushEvent.State.PROCESSED, "", reports=len(reports))
    return event


def _mark(event: PushEvent, state: str, error: str, reports: int | None = None) -> None:
    event.state = state
    event.error = error
    event.processed_at = timezone.now()
    fields = ["state", "error", "processed_at"]
    if reports is not None:
        event.reports = reports
        fields.append("reports")
    event.save(update_fields=fields)


def pushes_reprocess(queryset: Any) -> tuple[int, int]:
    """Re-apply inbox entries; returns (processed, failed)."""
    ok = failed = 0
    for event in queryset.select_related("app"):
        push_process(event)
        if event.state == PushEvent.State.PROCESSED:
            ok += 1
        else:
            failed += 1
    return ok, failed


__all__ = ["Call", "MalformedPush", "push_process", "push_receive", "pushes_reprocess"]
