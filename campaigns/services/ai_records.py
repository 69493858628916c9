"""AI call records (itnio-api.md §5.8, §6.2): the upsert by callId shared by the push (§6.2)
and recordQuery, the recordQuery sync in windows of a day, and `ai_sync` (taskList, then
recordQuery) for the scheduler and the ai_sync command."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from campaigns.models import AiCallRecord, AiCustomer, AiTask, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.ai_errors import AiTaskError, ai_error_message
from campaigns.services.ai_tasks import AiSyncResult, _ai_apps, _client, ai_tasks_sync
from campaigns.services.outbound_hooks import ai_record_is_final, emit_ai_record_final
from campaigns.services.personal_data import number_is_erased, scrub_ai_record
from itnio_portal.itnio import AiRecord, ItnioError

# ---------------------------------------------------------------------------
# Call records: push (§6.2) and recordQuery (§5.8)
# ---------------------------------------------------------------------------
RECORD_FIELDS = (
    "key_id",
    "call_record_id",
    "dialog_flow_id",
    "tenant_phone_number_id",
    "called_phone_number",
    "customer_name",
    "result_status",
    "intent_level",
    "hangup_by",
    "analysis_basis",
    "start_time",
    "end_time",
    "chat_duration",
    "chat_round",
    "charged_duration",
    "cost",
    "robot_count",
    "call_count",
    "redial_times",
    "customer_concern",
    "attributes",
    "properties",
    "dynamic_properties",
    "call_record_tags",
    "customer_tags",
    "full_audio_url",
    "customer_audio_url",
    "call_detail_list",
)
_CHAR_LIMITS = {
    f.name: f.max_length for f in AiCallRecord._meta.get_fields() if getattr(f, "max_length", None)
}


def ai_record_upsert(*, app: ItnioApp, record: AiRecord, source: str) -> tuple[AiCallRecord, bool]:
    """Upsert the record with this callId. Only the fields the source carried are written, so a
    recordQuery row (no transcript, no cost) never blanks what the push gave, and the other way
    round; duplicates are harmless. (record, created)"""
    if not record.call_id:
        raise ValueError("an AI call record without callId")
    for _attempt in range(2):
        try:
            with transaction.atomic():
                row = (
                    AiCallRecord.objects.select_for_update().filter(call_id=record.call_id).first()
                )
                created = row is None
                if row is None:
                    row = AiCallRecord(call_id=record.call_id, app=app, source=source)
                was_final = not created and ai_record_is_final(row)
                for name in RECORD_FIELDS:
                    if name not in record.present:
                        continue
                    value = getattr(record, name)
                    limit = _CHAR_LIMITS.get(name)
                    if isinstance(value, str) and limit:
                        value = value[:limit]
                    if value is None and isinstance(getattr(row, name), str):
                        value = ""
                    setattr(row, name, value)
                if "job_id" in record.present and record.job_id is not None:
                    row.remote_job_id = record.job_id
                _link(row, app)
                row.raw = {**(row.raw or {}), source: record.raw}
                row.source = source
                row.synced_at = timezone.now()
                if row.erased_at is not None or number_is_erased(row.called_phone_number):
                    scrub_ai_record(row)  # an erased number: keep the figures, not the person
                    row.erased_at = row.erased_at or row.synced_at
                row.save()
                if not was_final and ai_record_is_final(row):
                    emit_ai_record_final(row)  # its outbox row commits with it
                return row, created
        except IntegrityError:
            continue  # two writers created the same callId at once: the second one updates
    raise RuntimeError(f"Could not upsert the AI call record {record.call_id}")


def _link(row: AiCallRecord, app: ItnioApp) -> None:
    if row.remote_job_id and row.task_id is None:
        row.task = AiTask.objects.filter(app=app, remote_job_id=row.remote_job_id).first()
    if row.task_id and row.customer_id is None and row.called_phone_number:
        row.customer = AiCustomer.objects.filter(
            task_id=row.task_id, phone_number=row.called_phone_number
        ).first()
        if row.customer is not None and not row.customer_name:
            row.customer_name = row.customer.name


def ai_records_sync(
    *,
    actor: Actor,
    since: datetime,
    until: datetime | None = None,
    app: ItnioApp | None = None,
    result: AiSyncResult | None = None,
) -> AiSyncResult:
    """recordQuery for every active AI app (or one) from `since` to `until` (default now), pages
    of 100, upserting by callId. No window limit is documented for /aivoice (§5.8, §8), but the
    period is split in days to keep answers small."""
    result = result or AiSyncResult()
    # Whole seconds: the query format has no fractions (a window must not shrink to nothing).
    since = since.replace(microsecond=0)
    until = until or timezone.now()
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    if since >= until:
        return result
    for one in _ai_apps(app):
        client = _client(one, actor)
        start = since
        while start < until:
            end = min(start + timedelta(days=1), until)
            page = 1
            while True:
                batch = client.record_query(
                    app_id=one.app_id, start=start, end=end, current=page, size=100
                )
                for record in batch.records:
                    if not record.call_id:
                        continue
                    result.records_checked += 1
                    _row, created = ai_record_upsert(
                        app=one, record=record, source=AiCallRecord.Source.RECORD_QUERY
                    )
                    result.records_created += int(created)
                    result.records_updated += int(not created)
                if page >= batch.pages or not batch.records:
                    break
                page += 1
            start = end
    return result


def ai_sync(
    *, actor: Actor, since: datetime | None = None, app: ItnioApp | None = None
) -> AiSyncResult:
    """taskList then recordQuery (default: the last 24 hours) for every AI app; an app whose
    sync fails is reported in `errors` and the others still run."""
    since = since or timezone.now() - timedelta(hours=24)
    result = AiSyncResult()
    for one in _ai_apps(app):
        try:
            ai_tasks_sync(actor=actor, app=one, result=result)
            ai_records_sync(actor=actor, since=since, app=one, result=result)
        except (ItnioError, AiTaskError) as exc:
            message = ai_error_message(exc) if isinstance(exc, ItnioError) else str(exc)
            result.errors.append(f"{one.app_id}: {message}")
    return result
