"""Calls: placing TTS calls, applying records (pushes, recordGroup, recordGroupQuery), sync.

Money rule (design.md convention 3): the Call row is committed as SENDING before the request,
and its outcome is written after in a second short transaction. A crash in between leaves a
SENDING row that the stale-send sweep turns into UNKNOWN: it is never resent automatically.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Call, ItnioAccount, ItnioApp
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.budgets import charge_calls
from campaigns.services.frequency_caps import cap_lock, default_cap, over_cap_refusal
from campaigns.services.numbers import strip_number
from campaigns.services.opt_outs import optouts_from_calls
from campaigns.services.outbound_hooks import emit_calls_final
from campaigns.services.personal_data import scrub_call
from campaigns.services.rates import learn_from_calls
from campaigns.services.records import record_windows, records_in
from campaigns.services.request_log import RequestLogBuffer, logged_client
from campaigns.services.retries import retries_from_calls
from campaigns.services.suppression import refusal, suppression_of
from itnio_portal.itnio import (
    ItnioApiError,
    ItnioError,
    ItnioLimitError,
    ItnioNotSentError,
    ItnioOutcomeUnknownError,
    SendCode,
    VoiceRecord,
)

logger = logging.getLogger(__name__)

#: A call record's fields (what a record, pushed or synced, writes on its call): the times, then
#: the outcome and the bill. The call export's columns and the API's call detail read these.
RECORD_TIMES = (
    "code",
    "submit_time",
    "call_time",
    "ringing_time",
    "answer_time",
    "hangup_time",
)
RECORD_OUTCOME = (
    "call_duration",
    "charged_duration",
    "termination_code",
    "termination_reason",
    "feedback_value",
    "bill_period",
    "rate",
    "cost",
    "currency",
    "base_cost",
    "settle_rate",
    "quote_exchange",
    "settle_pay",
    "voice_file_id",
    "sip_group_name",
    "phone_name",
    "recording_file_id",
)
RECORD_FIELDS = RECORD_TIMES + RECORD_OUTCOME

SIP_FIELDS = frozenset({"sip_group_name", "phone_name", "recording_file_id"})

# Push "type" (itnio-api.md §6.1): 1 group call, 2 verification code (sendCode), 3/4 phone.
PUSH_TYPE_KINDS = {"1": Call.Kind.GROUP, "2": Call.Kind.TTS, "3": Call.Kind.SIP, "4": Call.Kind.SIP}

NOT_SENT_HINT = gettext_lazy(
    "Nothing reached ITNIO, so no call was placed; it is safe to try again."
)
UNKNOWN_HINT = gettext_lazy(
    "The request may have reached ITNIO, so the call may have been placed. The portal will not "
    "resend it; the record sync and status pushes resolve it if ITNIO placed it."
)


class CallError(Exception):
    """A call cannot be placed for a reason the user can fix (shown as is)."""


# ---------------------------------------------------------------------------
# Placing a TTS call (POST /voice/sendCode)
# ---------------------------------------------------------------------------
def call_send_tts(
    *,
    app: ItnioApp,
    actor: Actor,
    code: SendCode | None = None,
    on_intent: Callable[[Call], None] | None = None,
    **fields: Any,
) -> Call:
    """Place one TTS call: `code` (or SendCode's fields other than app_id, as keyword
    arguments). Returns the Call in state submitted, rejected or unknown. `on_intent` sees the
    SENDING call once it is committed, before the request (the API's Idempotency-Key)."""
    if not actor.may_place_calls():
        raise PermissionDeniedError(_("%(actor)s may not place calls.") % {"actor": actor.label})
    if app.kind != ItnioApp.Kind.VOICE:
        raise CallError(
            _("App %(app_id)s is an AI voice app; TTS calls need a voice app.")
            % {"app_id": app.app_id}
        )
    if not app.active:
        raise CallError(_("App %(app_id)s is inactive.") % {"app_id": app.app_id})
    code = code or SendCode(app_id=app.app_id, **fields)
    if code.app_id != app.app_id:
        raise CallError(
            _("The call is for app %(call_app_id)s, not app %(app_id)s.")
            % {"call_app_id": code.app_id, "app_id": app.app_id}
        )
    refuse_if_not_callable(code.callee or "", app)
    call = Call(
        app=app,
        kind=Call.Kind.TTS,
        state=Call.State.SENDING,
        callee=code.callee,
        display_num=code.display_num or "",
        called_info=code.called_info or "",
        request=code.given(),
        created_by=actor.label[:150],
    )
    client = logged_client(app.account, actor=actor, obj=call)
    client.send_code_body(code)  # every documented limit, before anything is stored
    return call_send_single(call, lambda: client.send_code(code), on_intent=on_intent)


def refuse_if_not_callable(callee: str, app: ItnioApp) -> None:
    """A one-number call (TTS, SIP phone) to a number on a do-not-call list that applies to
    `app` is refused with the reason (CallError). The portal-wide frequency cap is counted where
    the call is written, under the cap lock (call_send_single)."""
    entry = suppression_of(strip_number(callee), app)
    if entry is not None:
        raise CallError(refusal(entry))


def call_send_single(
    call: Call, send: Callable[[], str], *, on_intent: Callable[[Call], None] | None = None
) -> Call:
    """The money rule for one-number sends (sendCode, sendSip): commit the unsaved `call` as
    SENDING, run `send` (the request, returning the voiceId), then write what came of it.

    The SENDING row is committed in a durable block: called inside a caller's transaction this
    raises instead of sending a request whose intent is not committed yet."""
    with transaction.atomic(durable=True):
        if call.test_of_id is None and default_cap() is not None:
            # A call over the portal-wide cap is refused with the reason; counted and written
            # under the capped claims' lock, so two calls (or a call and a campaign's claim) to
            # one number at the same moment never both pass the cap.
            cap_lock()
            capped = over_cap_refusal(strip_number(call.callee))
            if capped:
                raise CallError(capped)
        call.save()  # committed: the intent exists before the request
    if on_intent is not None:
        on_intent(call)
    try:
        voice_id = send()
    except ItnioNotSentError as exc:
        _finish(
            call,
            Call.State.REJECTED,
            _("Not sent: %(error)s. %(explanation)s")
            % {"error": exc, "explanation": NOT_SENT_HINT},
        )
    except ItnioOutcomeUnknownError as exc:
        _finish(call, Call.State.UNKNOWN, _unknown_reason(exc))
    except (ItnioApiError, ItnioLimitError) as exc:
        _finish(call, Call.State.REJECTED, str(exc))
    except ItnioError as exc:
        # Any other transport trouble after the request may have left: assume it may be placed.
        _finish(call, Call.State.UNKNOWN, _unknown_reason(exc))
    except BaseException:
        _finish(
            call,
            Call.State.UNKNOWN,
            _("The portal failed while sending. %(explanation)s") % {"explanation": UNKNOWN_HINT},
        )
        raise
    else:
        _attach_voice_id(call, voice_id)
    call.refresh_from_db()
    return call


def _unknown_reason(exc: ItnioError) -> str:
    return _("%(error)s. %(explanation)s") % {"error": exc, "explanation": UNKNOWN_HINT}


def _finish(call: Call, state: str, reason: str) -> None:
    with transaction.atomic(durable=True):
        Call.objects.filter(pk=call.pk).update(state=state, state_reason=reason)


def _attach_voice_id(call: Call, voice_id: str) -> None:
    """Mark the call submitted under its voiceId. A push may have created a row for that voiceId
    first (it can beat the HTTP answer): fold that row's record into ours."""
    with transaction.atomic(durable=True):
        early = (
            Call.objects.select_for_update().filter(voice_id=voice_id).exclude(pk=call.pk).first()
        )
        updates: dict[str, Any] = {
            "voice_id": voice_id,
            "state": Call.State.SUBMITTED,
            "state_reason": "",
            "submit_time": timezone.now(),
        }
        if early is not None:
            for name in (*RECORD_FIELDS, "raw_record", "record_source", "synced_at", "state"):
                updates[name] = getattr(early, name)
            early.delete()
        Call.objects.filter(pk=call.pk).update(**updates)


# ---------------------------------------------------------------------------
# Applying records
# ---------------------------------------------------------------------------
NULLABLE_RECORD_FIELDS = frozenset(
    {
        "submit_time",
        "call_time",
        "ringing_time",
        "answer_time",
        "hangup_time",
        "call_duration",
        "charged_duration",
        "cost",
        "rate",
        "base_cost",
        "settle_rate",
        "quote_exchange",
        "settle_pay",
    }
)
# Every column a record may write (what a bulk apply updates).
APPLIED_FIELDS = (
    *RECORD_FIELDS,
    "callee",
    "display_num",
    "called_info",
    "raw_record",
    "record_source",
    "synced_at",
    "state",
    "state_reason",
    "budget_charged",
    "bill_checked_at",
)
#: What the bill check reads of a record (bill_check.py): a later record that changes any of
#: these on a call already checked makes it due for the check again.
BILLED_FIELDS = ("call_duration", "charged_duration", "cost", "rate", "bill_period", "currency")


def record_onto_call(call: Call, record: VoiceRecord, *, source: str, now: datetime) -> bool:
    """Write a record onto a call in memory (the caller saves it, locked). A final record is only
    replaced by a final one. Returns False when the record was older than what the call has (then
    only `synced_at` moves)."""
    if call.is_final and not record.is_final:
        call.synced_at = now
        return False
    billed = [getattr(call, name) for name in BILLED_FIELDS]
    for name in RECORD_FIELDS:
        value = getattr(record, name)
        if name in SIP_FIELDS and not value:
            continue  # status pushes carry no SIP columns (§6.1): keep what recordSip gave
        if value is None and name not in NULLABLE_RECORD_FIELDS:
            value = ""
        if name == "submit_time" and value is None:
            value = call.submit_time
        setattr(call, name, value)
    if call.bill_checked_at is not None and billed != [getattr(call, n) for n in BILLED_FIELDS]:
        call.bill_checked_at = None  # its charge changed: checked again (bill_check.py)
    if record.callee and not call.callee:
        call.callee = record.callee
    if record.display_num:
        call.display_num = record.display_num
    if record.called_info:
        call.called_info = record.called_info[:1000]
    call.raw_record = record.raw
    call.record_source = source
    call.synced_at = now
    if record.is_final:
        call.state = Call.State.FINAL
        call.state_reason = ""
    elif call.state in (
        Call.State.SENDING,
        Call.State.UNKNOWN,
        Call.State.REJECTED,
        Call.State.EXPIRED,
    ):
        # ITNIO has a record, so the call was placed, whatever we believed.
        call.state = Call.State.SUBMITTED
        call.state_reason = ""
    if call.erased_at is not None:
        scrub_call(call)  # the callee's number was erased: the record brings it back
    return True


def call_apply_record(call: Call, record: VoiceRecord, *, source: str) -> bool:
    """Write a record onto a locked call and save it (see `record_onto_call`)."""
    now = timezone.now()
    was_final = call.pk is not None and call.is_final
    if not record_onto_call(call, record, source=source, now=now):
        Call.objects.filter(pk=call.pk).update(synced_at=now)
        return False
    charge_calls([call])  # budgets.py: its campaign's reserved → billed
    call.save()
    learn_from_calls([call])  # rates.py
    optouts_from_calls([call])
    if call.is_final:
        retries_from_calls([call.pk])
        if not was_final:
            emit_calls_final([call])  # the outbox row beside the record (outbound_hooks.py)
    return True


def call_upsert_record(
    *, app: ItnioApp, record: VoiceRecord, source: str, kind: str | None = None
) -> tuple[Call, bool]:
    """Upsert the call with this voiceId (creating one the portal did not know). (call, created)"""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                call = Call.objects.select_for_update().filter(voice_id=record.voice_id).first()
                created = call is None
                if created:
                    call = Call(
                        app=app,
                        kind=kind or (Call.Kind.GROUP if record.voice_file_id else Call.Kind.TTS),
                        state=Call.State.SUBMITTED,
                        callee=record.callee,
                        voice_id=record.voice_id,
                        created_by=f"learned:{source}",
                    )
                call_apply_record(call, record, source=source)
                return call, created
        except IntegrityError:
            # Two writers created the same voiceId at once: the second one updates instead.
            continue
    raise RuntimeError(f"Could not upsert the call with voiceId {record.voice_id}")


# ---------------------------------------------------------------------------
# Refreshing from ITNIO (GET /voice/recordGroup or /voice/recordSip, POST /voice/recordGroupQuery)
# ---------------------------------------------------------------------------
def record_source(call: Call) -> str:
    """The endpoint that holds this call's record: SIP-phone calls have their own (§3.7)."""
    return "recordSip" if call.kind == Call.Kind.SIP else "recordGroup"


def fetch_record(client: Any, call: Call) -> VoiceRecord:
    """GET the call's record from the endpoint of its kind: recordSip (itnio-api.md §3.7) for
    SIP-phone calls, recordGroup (§3.5) for the others."""
    if call.kind == Call.Kind.SIP:
        return client.record_sip(call.voice_id)
    return client.record_group(call.voice_id)


def call_refresh(*, call: Call, actor: Actor) -> Call:
    """Fetch one call's record from ITNIO and apply it."""
    if not call.voice_id:
        raise CallError(_("This call has no voiceId, so ITNIO cannot be asked about it."))
    record = fetch_record(logged_client(call.app.account, actor=actor, obj=call), call)
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        call_apply_record(locked, record, source=record_source(call))
    call.refresh_from_db()
    return call


@dataclass
class SyncResult:
    checked: int = 0
    updated: int = 0
    finalised: int = 0
    expired: int = 0
    failed: int = 0
    created: int = 0
    resolved_unknown: int = 0

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.__dict__.items())


def calls_expire(*, now: datetime | None = None) -> int:
    """Calls not final 60 days after submission can no longer be fetched (itnio-api.md §3.5)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.ITNIO_RECORD_RETENTION_DAYS)
    return Call.objects.filter(state=Call.State.SUBMITTED, created_at__lt=cutoff).update(
        state=Call.State.EXPIRED,
        state_reason=_("No final record within ITNIO's two-month record retention."),
    )


def calls_sweep_stale_sends(*, now: datetime | None = None) -> int:
    """A call SENDING for longer than ITNIO_STALE_SEND_MINUTES lost its sender: mark it UNKNOWN."""
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=settings.ITNIO_STALE_SEND_MINUTES)
    return Call.objects.filter(state=Call.State.SENDING, created_at__lt=cutoff).update(
        state=Call.State.UNKNOWN,
        state_reason=_("The sender stopped while the request was in flight. %(explanation)s")
        % {"explanation": UNKNOWN_HINT},
    )


def calls_sync_due(*, actor: Actor, limit: int | None = None) -> SyncResult:
    """Refresh the calls that are not final (recordGroup, or recordSip for SIP-phone calls),
    a few requests at a time."""
    result = SyncResult()
    result.expired = calls_expire()
    limit = limit or settings.ITNIO_SYNC_BATCH
    calls = list(
        Call.objects.filter(state=Call.State.SUBMITTED, voice_id__isnull=False)
        .select_related("app__account")
        # Never-synced calls first on every database (PostgreSQL sorts NULLs last by default).
        .order_by(F("synced_at").asc(nulls_first=True), "id")[:limit]
    )
    if not calls:
        return result
    buffer = RequestLogBuffer(actor=actor)
    clients: dict[int, Any] = {}
    for call in calls:
        account = call.app.account
        if account.pk not in clients:
            clients[account.pk] = buffer.client(account)

    def fetch(call: Call) -> tuple[Call, VoiceRecord | None, ItnioError | None]:
        # Only HTTP in the worker threads; every database write stays on this thread.
        try:
            return call, fetch_record(clients[call.app.account_id], call), None
        except ItnioError as exc:
            return call, None, exc

    with ThreadPoolExecutor(max_workers=settings.ITNIO_SYNC_CONCURRENCY) as pool:
        outcomes = list(pool.map(fetch, calls))
    for call, record, error in outcomes:
        result.checked += 1
        if error is not None:
            result.failed += 1
            logger.warning("%s for call %s failed: %s", record_source(call), call.pk, error)
            # To the back of the queue: one call ITNIO keeps refusing must not take a slot in
            # every run ahead of the calls that can be synced.
            Call.objects.filter(pk=call.pk).update(synced_at=timezone.now())
            continue
        with transaction.atomic():
            locked = Call.objects.select_for_update().get(pk=call.pk)
            was_final = locked.is_final
            if call_apply_record(locked, record, source=record_source(call)):
                result.updated += 1
                if locked.is_final and not was_final:
                    result.finalised += 1
    buffer.flush()
    return result


def calls_backfill(
    *,
    since: datetime,
    until: datetime | None = None,
    actor: Actor,
    account: ItnioAccount | None = None,
) -> SyncResult:
    """Fetch every record between since and until through recordGroupQuery (≤ 31-day windows,
    last two months only, pages of 100), creating calls the portal did not know and resolving
    unknown sends that turn out to have been placed."""
    result = SyncResult()
    windows = record_windows(since, until)
    if not windows:
        return result
    accounts = [account] if account else list(ItnioAccount.objects.all())
    for acct in accounts:
        app = acct.apps.filter(kind=ItnioApp.Kind.VOICE).order_by("-active", "id").first()
        if app is None:
            continue
        client = logged_client(acct, actor=actor, obj=acct)

        def fetch(
            start: datetime, end: datetime, page: int, size: int, client: Any = client
        ) -> Any:
            return client.record_group_query(start=start, end=end, current=page, size=size)

        for record in records_in(fetch, windows):
            result.checked += 1
            if _resolve_unknown(record):
                result.resolved_unknown += 1
            _call, created = call_upsert_record(app=app, record=record, source="recordGroupQuery")
            result.created += int(created)
            result.updated += int(not created)
    return result


def _resolve_unknown(record: VoiceRecord) -> bool:
    """An UNKNOWN TTS call with this callee, sent within minutes of the record's submission,
    was placed after all: give it the record's voiceId."""
    if not record.submit_time or Call.objects.filter(voice_id=record.voice_id).exists():
        return False
    window = timedelta(minutes=settings.ITNIO_UNKNOWN_MATCH_MINUTES)
    with transaction.atomic():
        candidate = (
            Call.objects.select_for_update()
            .filter(
                state=Call.State.UNKNOWN,
                voice_id__isnull=True,
                kind=Call.Kind.TTS,
                callee=record.callee,
                created_at__gte=record.submit_time - window,
                created_at__lte=record.submit_time + window,
            )
            .order_by("created_at")
            .first()
        )
        if candidate is None:
            return False
        candidate.voice_id = record.voice_id
        candidate.state = Call.State.SUBMITTED
        candidate.state_reason = _("Resolved: ITNIO's records show this call was placed.")
        candidate.save(update_fields=["voice_id", "state", "state_reason"])
    return True
