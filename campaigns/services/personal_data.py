"""Erasing one person: their number and name removed from every table (manage.py erase_number,
the calls' admin action), and a salted SHA-256 of the digits kept (ErasedNumber) so later work
can refuse to call the number again without the portal storing it. Audited: who and when, in the
admin's history and the log, never the number."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext

from campaigns.models import (
    AiCallRecord,
    AiCustomer,
    ApiRequestLog,
    Call,
    Callee,
    CalleeImport,
    Contact,
    ErasedNumber,
    PushEvent,
)
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.numbers import InvalidNumber, normalise_number
from campaigns.services.push_bodies import MalformedPush, parse_body

logger = logging.getLogger(__name__)

ERASE_PERMISSION = "campaigns.erase_personal_data"
#: Imports whose file is still being read keep it (the worker needs it); the others lose it.
_READING = (CalleeImport.State.QUEUED, CalleeImport.State.RUNNING, CalleeImport.State.CONFIRMING)
#: Fewer digits than this are no phone number: erasing "12" would blank half the database.
MIN_DIGITS = 5


class ErasureError(Exception):
    """The number cannot be erased as given; the message says why."""


def _digits(raw: str) -> str:
    return "".join(ch for ch in str(raw) if ch.isascii() and ch.isdigit())


def canonical_digits(raw: str) -> str:
    """The digits a number is kept (and hashed) under: the portal's normaliser, else its digits."""
    try:
        return normalise_number(raw)
    except InvalidNumber:
        return _digits(raw)


def number_forms(raw: str) -> list[str]:
    """The spellings a number may be stored under: its normalised digits, and its plain digits
    (a local form such as 0812… as an AI customer file gave it)."""
    forms = {canonical_digits(raw), _digits(raw)}
    return sorted(f for f in forms if len(f) >= MIN_DIGITS)


def erased_digest(digits: str) -> str:
    """Salted SHA-256 of a number's canonical digits (ERASED_NUMBER_SALT, else from SECRET_KEY)."""
    salt = settings.ERASED_NUMBER_SALT or salted_hmac("campaigns.erased-number", "salt").hexdigest()
    return hashlib.sha256(f"{salt}:{canonical_digits(digits)}".encode()).hexdigest()


def number_is_erased(digits: str) -> bool:
    """Whether this number was erased (so it must not be called or stored again)."""
    if len(canonical_digits(digits)) < MIN_DIGITS:
        return False
    return ErasedNumber.objects.filter(digest=erased_digest(digits)).exists()


# ---------------------------------------------------------------------------
# Scrubbing rows (also used by the record writers and the retention job)
# ---------------------------------------------------------------------------
def scrub_call(call: Call) -> None:
    """A call without its callee's number, ITNIO's raw record and the free text (calledInfo); its
    status and figures stay. Record writers call this for a call with `erased_at` set."""
    call.callee = ""
    call.raw_record = None
    call.called_info = ""


AI_PERSONAL_FIELDS = {
    "called_phone_number": "",
    "customer_name": "",
    "analysis_basis": "",
    "customer_concern": list,
    "attributes": list,
    "properties": dict,
    "dynamic_properties": None,
    "call_detail_list": list,
    "full_audio_url": "",
    "customer_audio_url": "",
    "raw": dict,
}


def scrub_ai_record(row: AiCallRecord) -> None:
    """An AI call record without the number, name, transcript, answers and recordings."""
    for name, empty in AI_PERSONAL_FIELDS.items():
        setattr(row, name, empty() if callable(empty) else empty)


def redact(value: Any, needles: list[str], names: set[str]) -> Any:
    """A JSON value with every text holding one of the numbers, or equal to one of the names,
    blanked (numbers stored as JSON numbers too)."""
    if isinstance(value, dict):
        return {k: redact(v, needles, names) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, needles, names) for v in value]
    if isinstance(value, str):
        if any(n in value for n in needles) or value.strip().casefold() in names:
            return ""
        return value
    if isinstance(value, int) and not isinstance(value, bool) and str(value) in needles:
        return ""
    return value


# ---------------------------------------------------------------------------
# Erasure
# ---------------------------------------------------------------------------
@dataclass
class ErasureResult:
    callees: int = 0
    calls: int = 0
    ai_customers: int = 0
    ai_records: int = 0
    pushes: int = 0
    request_logs: int = 0
    import_files: int = 0
    contacts: int = 0
    already_erased: bool = False

    def __str__(self) -> str:
        text = gettext(
            "%(callees)s callee(s) and %(customers)s AI customer(s) deleted; %(calls)s call(s), "
            "%(records)s AI call record(s), %(pushes)s push body(ies) and %(logs)s request "
            "log entry(ies) cleared; %(files)s import file(s) deleted."
        ) % {
            "callees": self.callees,
            "customers": self.ai_customers,
            "calls": self.calls,
            "records": self.ai_records,
            "pushes": self.pushes,
            "logs": self.request_logs,
            "files": self.import_files,
        }
        if self.contacts:
            text += " " + gettext("%(contacts)s contact(s) deleted from contact lists.") % {
                "contacts": self.contacts
            }
        return text


def _erase_pushes(needles: list[str], names: set[str]) -> int:
    matches = Q()
    for needle in needles:
        matches |= Q(body__contains=needle)
    count = 0
    for event in PushEvent.objects.filter(matches).only("id", "body", "body_bytes"):
        try:
            body = json.dumps(redact(parse_body(event.body), needles, names), ensure_ascii=False)
        except MalformedPush:
            body = ""  # never applied anyway: nothing of it is needed
        if event.body_bytes is not None:
            body = ""
        PushEvent.objects.filter(pk=event.pk).update(body=body, body_bytes=None)
        count += 1
    # Bodies kept as bytes (not UTF-8) are rare and cannot be searched by the database.
    for event in PushEvent.objects.exclude(body_bytes=None).only("id", "body_bytes").iterator():
        raw = bytes(event.body_bytes)
        if any(n.encode() in raw for n in needles):
            PushEvent.objects.filter(pk=event.pk).update(body="", body_bytes=None)
            count += 1
    return count


def _erase_request_logs(needles: list[str], names: set[str]) -> int:
    matches = Q()
    for needle in needles:
        matches |= Q(summary__icontains=needle) | Q(reason__contains=needle)
    count = 0
    for row in ApiRequestLog.objects.filter(matches).only("id", "summary", "reason"):
        reason = row.reason
        for needle in needles:
            reason = reason.replace(needle, "…")
        ApiRequestLog.objects.filter(pk=row.pk).update(
            summary=redact(row.summary, needles, names), reason=reason
        )
        count += 1
    return count


def delete_import_files(imports: list[CalleeImport]) -> int:
    """Delete the stored files (the list, its rejected rows) of these imports; the import's
    counts stay. Runs after the commit: files are not part of the transaction."""
    count = 0
    for callee_import in imports:
        for field in (callee_import.file, callee_import.rejected_file):
            if field:
                field.delete(save=False)
                count += 1
        CalleeImport.objects.filter(pk=callee_import.pk).update(file="", rejected_file="")
    return count


def audit(*, actor: Actor, message: str, obj: Any = None) -> None:
    """The admin's history (a LogEntry naming the user) and a log line: who, when, what kind of
    erasure; never the number."""
    logger.info("Personal data: %s by %s at %s", message, actor.label, timezone.now().isoformat())
    if actor.user is None or obj is None:
        return
    LogEntry.objects.log_actions(
        user_id=actor.user.pk,
        queryset=[obj],
        action_flag=ADDITION,
        change_message=message,
        single_object=True,
    )


def number_erase(*, number: str, actor: Actor) -> ErasureResult:
    """Remove one number, and the names that went with it, from every table: callees and AI
    customers are deleted; calls, AI call records, push bodies and request log entries keep
    their figures without it; import files it came from are deleted. An ErasedNumber digest
    is kept. Needs the erase_personal_data permission (the Admin role)."""
    if actor.user is None or not actor.user.has_perm(ERASE_PERMISSION):
        raise PermissionDeniedError(
            gettext("%(who)s may not erase personal data (Admins only).") % {"who": actor.label}
        )
    needles = number_forms(number)
    if not needles:
        raise ErasureError(
            gettext("This is not a phone number: give at least %(n)s digits.") % {"n": MIN_DIGITS}
        )
    now = timezone.now()
    result = ErasureResult()
    with transaction.atomic():
        callees = Callee.objects.filter(number__in=needles)
        source_ids = set(callees.exclude(source=None).values_list("source_id", flat=True))
        result.callees = callees.delete()[0]
        for call in Call.objects.filter(callee__in=needles).select_for_update():
            scrub_call(call)
            call.request = redact(call.request or {}, needles, set())
            if "calledInfo" in call.request:  # free text, as called_info
                call.request["calledInfo"] = ""
            call.erased_at = now
            call.save(update_fields=["callee", "raw_record", "called_info", "request", "erased_at"])
            result.calls += 1
        customers = AiCustomer.objects.filter(phone_number__in=needles)
        names = {n.strip().casefold() for n in customers.values_list("name", flat=True) if n}
        records = AiCallRecord.objects.filter(
            Q(called_phone_number__in=needles) | Q(customer__in=customers)
        ).select_for_update()
        for row in records:
            if row.customer_name:
                names.add(row.customer_name.strip().casefold())
            scrub_ai_record(row)
            row.erased_at = now
            row.save(update_fields=[*AI_PERSONAL_FIELDS, "erased_at"])
            result.ai_records += 1
        result.ai_customers = customers.delete()[0]
        # Contact lists too (their names and custom fields with them). Do-not-call entries
        # are kept: they are what stops the number being called again.
        result.contacts = Contact.objects.filter(number__in=needles).delete()[0]
        result.pushes = _erase_pushes(needles, names)
        result.request_logs = _erase_request_logs(needles, names)
        entry, created = ErasedNumber.objects.get_or_create(
            digest=erased_digest(number), defaults={"erased_by": actor.label[:150]}
        )
        result.already_erased = not created
        imports = list(CalleeImport.objects.filter(pk__in=source_ids).exclude(state__in=_READING))
        audit(actor=actor, message=f"erased a number ({result})", obj=entry)
    result.import_files = delete_import_files(imports)
    return result
