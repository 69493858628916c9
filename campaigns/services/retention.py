"""Personal data kept no longer than settings say (all off by default): callees and AI customers,
the callee's number on calls, recording links, raw push bodies. Run by the scheduler
(campaigns.tasks.apply_retention); each run is logged with what it removed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from campaigns.models import (
    AiCallRecord,
    AiCustomer,
    Call,
    Callee,
    CalleeImport,
    Campaign,
    PushEvent,
)
from campaigns.services.actors import Actor
from campaigns.services.personal_data import AI_PERSONAL_FIELDS, audit, delete_import_files

#: Rows changed per statement, so a first run over years of calls never holds long locks.
CHUNK = 5000
_ENDED = (Campaign.State.COMPLETED, Campaign.State.CANCELLED)
_READING = (CalleeImport.State.QUEUED, CalleeImport.State.RUNNING, CalleeImport.State.CONFIRMING)


@dataclass
class RetentionResult:
    callees: int = 0
    ai_customers: int = 0
    import_files: int = 0
    calls: int = 0
    ai_records: int = 0
    recordings: int = 0
    push_bodies: int = 0

    def __str__(self) -> str:
        return (
            f"callees={self.callees} ai_customers={self.ai_customers} "
            f"import_files={self.import_files} calls={self.calls} ai_records={self.ai_records} "
            f"recordings={self.recordings} push_bodies={self.push_bodies}"
        )

    def __bool__(self) -> bool:
        return any(vars(self).values())


def _cutoff(days: int, now: datetime) -> datetime | None:
    return now - timedelta(days=days) if days > 0 else None


def _in_chunks(queryset: QuerySet, **values: Any) -> int:
    """UPDATE in chunks of primary keys."""
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return total
        total += queryset.model.objects.filter(pk__in=ids).update(**values)


def _delete_in_chunks(queryset: QuerySet) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return total
        total += (
            queryset.model.objects.filter(pk__in=ids).delete()[1].get(queryset.model._meta.label, 0)
        )


def _contacts(cutoff: datetime, result: RetentionResult) -> None:
    ended = Campaign.objects.filter(state__in=_ENDED, completed_at__lt=cutoff)
    result.callees = _delete_in_chunks(Callee.objects.filter(campaign__in=ended))
    result.ai_customers = _delete_in_chunks(AiCustomer.objects.filter(created_at__lt=cutoff))
    old_imports = (
        CalleeImport.objects.filter(created_at__lt=cutoff)
        .exclude(state__in=_READING)
        .exclude(file="", rejected_file="")
    )
    result.import_files = delete_import_files(list(old_imports))


def _numbers(cutoff: datetime, now: datetime, result: RetentionResult) -> None:
    calls = Call.objects.filter(placed_at__lt=cutoff, erased_at=None)
    result.calls = _in_chunks(
        calls, callee="", raw_record=None, called_info="", request={}, erased_at=now
    )
    records = AiCallRecord.objects.filter(
        Q(start_time__lt=cutoff) | Q(start_time=None, created_at__lt=cutoff), erased_at=None
    )
    empty = {k: (v() if callable(v) else v) for k, v in AI_PERSONAL_FIELDS.items()}
    result.ai_records = _in_chunks(records, **empty, erased_at=now)


def _recordings(cutoff: datetime, result: RetentionResult) -> None:
    calls = Call.objects.filter(placed_at__lt=cutoff).exclude(recording_file_id="")
    records = AiCallRecord.objects.filter(
        Q(start_time__lt=cutoff) | Q(start_time=None, created_at__lt=cutoff)
    ).exclude(full_audio_url="", customer_audio_url="")
    result.recordings = _in_chunks(calls, recording_file_id="") + _in_chunks(
        records, full_audio_url="", customer_audio_url=""
    )


def retention_apply(*, now: datetime | None = None) -> RetentionResult:
    """Apply every retention setting that is on (CALLEE_RETENTION_DAYS,
    CALL_NUMBER_RETENTION_DAYS, RECORDING_LINK_RETENTION_DAYS, PUSH_BODY_RETENTION_DAYS)."""
    now = now or timezone.now()
    result = RetentionResult()
    if cutoff := _cutoff(settings.CALLEE_RETENTION_DAYS, now):
        _contacts(cutoff, result)
    if cutoff := _cutoff(settings.CALL_NUMBER_RETENTION_DAYS, now):
        _numbers(cutoff, now, result)
    if cutoff := _cutoff(settings.RECORDING_LINK_RETENTION_DAYS, now):
        _recordings(cutoff, result)
    if cutoff := _cutoff(settings.PUSH_BODY_RETENTION_DAYS, now):
        bodies = (
            PushEvent.objects.filter(received_at__lt=cutoff)
            .exclude(state=PushEvent.State.PENDING)  # not applied yet: its body is the data
            .exclude(body="", body_bytes=None)
        )
        result.push_bodies = _in_chunks(bodies, body="", body_bytes=None)
    if result:
        audit(actor=Actor.system("apply_retention"), message=f"retention removed {result}")
    return result
