"""SIP phones: creating groups on ITNIO (sipAdd), calling from a phone (sendSip), SIP records.

Money rule (design.md convention 3): every request that creates something at ITNIO is preceded
by a committed row that says so (the group SENDING, services/sends.py; the Call SENDING), and
its outcome is written in a second short transaction. A crash in between leaves a row that says
exactly what is unknown; nothing is resent blindly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from campaigns.models import Call, ItnioAccount, ItnioApp
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.calls import (
    CallError,
    SyncResult,
    call_send_single,
    call_upsert_record,
    refuse_if_not_callable,
)
from campaigns.services.records import record_windows, records_in
from campaigns.services.request_log import logged_client
from campaigns.services.sends import (
    send_intent,
    send_not_sent,
    send_outcome,
    send_request,
)
from itnio_portal.itnio import (
    ItnioApiError,
    ItnioError,
    SendSip,
    VoiceRecord,
)
from sipphones.models import ACCOUNT_NUMBER_DIGITS, SipGroup

# What each documented sipAdd code (seed 004, itnio-api.md §3.9) means for the person who
# pressed "Create on ITNIO", and what to do next. Shown beside the vendor's own reason. English,
# marked for translation (gettext_noop): translated where used, so the constants stay plain text.
SIP_ADD_MESSAGES = {
    "-1": gettext_noop(
        "ITNIO did not accept the account's API key and secret (authentication failed), so "
        "the group was not created. Check the credentials of the ITNIO account, then try again."
    ),
    "-2": gettext_noop(
        "ITNIO refused this server's IP address (the account's IP allow-list), so the group "
        "was not created. Allow the portal's IP address at ITNIO, then try again."
    ),
    "-16": gettext_noop(
        "ITNIO rejected the request's timestamp as expired: the portal server's clock is off. "
        "The group was not created; fix the clock (NTP), then try again."
    ),
    "-18": gettext_noop(
        "ITNIO reported a system error and did not create the group. Try again later."
    ),
    "-20": gettext_noop(
        "ITNIO already has a phone group or phones with this name in this app (group and "
        "phone names must be unique within an app). Change the group name or the phone name, then "
        "create the group again."
    ),
    "-22": gettext_noop(
        "ITNIO rejected a parameter, so the group was not created. The group and phone names "
        "must be 4–32 characters, the quantity 1–50 and the display number 7–13 digits."
    ),
    "-23": gettext_noop(
        "The app has reached ITNIO's limit on SIP phones, so the group was not created. Lower "
        "the quantity, or ask ITNIO to raise the limit, then try again."
    ),
}
UNDOCUMENTED_CODE_MESSAGE = gettext_noop(
    "ITNIO refused the request with a code that sipAdd does not document; the group was not "
    "created."
)
UNKNOWN_EXPLANATION = gettext_noop(
    "ITNIO may have created the group. Press “Create on ITNIO” again without changing anything: "
    "if ITNIO answers -20 (already exists), the first request created the group and the portal "
    "marks it created."
)
RETRY_CONFIRMED = gettext_noop(
    "ITNIO answered -20 (already exists) to a retry of a request whose outcome was unknown: the "
    "first request created the group."
)
STILL_UNKNOWN = gettext_noop(
    "This retry did not settle whether the earlier request, whose outcome was unknown, created "
    "the group. Press “Create on ITNIO” again once the problem is fixed: -20 (already exists) "
    "means it was created."
)


class SipGroupError(Exception):
    """A group cannot be created (now); the message says why and what to do."""


def sip_add_message(exc: ItnioApiError) -> str:
    """The English explanation of a sipAdd business code, beside the vendor's reason."""
    return f"{_(SIP_ADD_MESSAGES.get(exc.code, UNDOCUMENTED_CODE_MESSAGE))} {_vendor(exc)}"


def _vendor(exc: ItnioApiError) -> str:
    reason = f"“{exc.reason}”" if exc.reason else _("no reason given")
    return _("(ITNIO code %(code)s: %(reason)s)") % {"code": exc.code, "reason": reason}


# ---------------------------------------------------------------------------
# Creating a group on ITNIO (POST /voice/sipAdd)
# ---------------------------------------------------------------------------
def sip_group_create_on_itnio(*, group: SipGroup, actor: Actor) -> SipGroup:
    """Ask ITNIO to create the group's phones (services/sends.py's protocol). Returns the group
    with its new state.

    created: ITNIO answered "0" (or -20 to a retry after an unknown outcome). failed: a business
    code, explained in `last_error` beside ITNIO's reason; the group stays editable. Back to the
    previous state when nothing reached ITNIO. unknown: no usable answer, see
    UNKNOWN_EXPLANATION. Raises SipGroupError or PermissionDeniedError before sending anything.
    """
    if not actor.may_place_calls():
        raise PermissionDeniedError(
            _("%(actor)s may not create SIP phones on ITNIO.") % {"actor": actor.label}
        )
    sg = SipGroup.objects.select_related("app__account").get(pk=group.pk)
    _check_can_create(sg)
    try:
        client = logged_client(sg.app.account, actor=actor, obj=sg)
    except ItnioError as exc:  # e.g. a secret that cannot be decrypted
        raise SipGroupError(str(exc)) from exc
    intent = send_intent(
        SipGroup,
        sg.pk,
        started_field="create_started_at",
        explain_unknown=_(UNKNOWN_EXPLANATION),
        check=_check_can_create,
        what=lambda row: _("A create request for SIP group %(group)s") % {"group": row.group_name},
        error=SipGroupError,
    )
    sg = intent.row
    answer = send_request(
        intent,
        lambda: client.sip_add(
            app_id=sg.app.app_id,
            group_name=sg.group_name,
            phone_name=sg.phone_name,
            quantity=sg.quantity,
            display_num=sg.display_num,
        ),
        crash_note=_("The portal failed while sending. %(explanation)s")
        % {"explanation": _(UNKNOWN_EXPLANATION)},
    )
    if answer.not_sent is not None:
        return send_not_sent(intent, answer.not_sent)
    if answer.refused is not None:
        exc = answer.refused
        if intent.was_unknown:
            # The reconciliation: ITNIO names are unique, so -20 means the first request worked.
            if exc.code == "-20":
                return _created(sg, actor, f"{_(RETRY_CONFIRMED)} {_vendor(exc)}")
            return send_outcome(
                sg, SipGroup.State.UNKNOWN, f"{sip_add_message(exc)} {_(STILL_UNKNOWN)}"
            )
        return send_outcome(sg, SipGroup.State.FAILED, sip_add_message(exc))
    if answer.unknown is not None:
        return send_outcome(
            sg, SipGroup.State.UNKNOWN, f"{answer.unknown}. {_(UNKNOWN_EXPLANATION)}"
        )
    return _created(sg, actor, "")


def _check_can_create(sg: SipGroup) -> None:
    if sg.state == SipGroup.State.CREATED:
        raise SipGroupError(
            _("SIP group %(group)s is already created on ITNIO.") % {"group": sg.group_name}
        )
    if sg.app.kind != ItnioApp.Kind.VOICE:
        raise SipGroupError(
            _("App %(app)s is an AI voice app; SIP phones need a voice app.")
            % {"app": sg.app.app_id}
        )
    if not sg.app.active:
        raise SipGroupError(_("App %(app)s is inactive.") % {"app": sg.app.app_id})


def _created(sg: SipGroup, actor: Actor, note: str) -> SipGroup:
    return send_outcome(
        sg,
        SipGroup.State.CREATED,
        note,
        created_by=actor.label[:150],
        created_at=timezone.now(),
    )


# ---------------------------------------------------------------------------
# Calling from a phone (POST /voice/sendSip)
# ---------------------------------------------------------------------------
def sip_group_for_account(*, app: ItnioApp, account_name: str) -> SipGroup | None:
    """The local group whose derived accounts include `account_name` ({phoneName}_{NNN})."""
    phone_name, sep, number = account_name.rpartition("_")
    if not sep or len(number) != ACCOUNT_NUMBER_DIGITS or not number.isdigit():
        return None
    group = SipGroup.objects.filter(app=app, phone_name=phone_name).first()
    if group is None or not 1 <= int(number) <= group.quantity:
        return None
    return group


def sip_phone_accounts(*, app: ItnioApp | None = None) -> list[tuple[SipGroup, list[str]]]:
    """The derived phone accounts of every group created on ITNIO, per group."""
    groups = SipGroup.objects.filter(state=SipGroup.State.CREATED).select_related("app")
    if app is not None:
        groups = groups.filter(app=app)
    return [(g, g.accounts) for g in groups.order_by("app__app_id", "group_name")]


def sip_call(
    *,
    app: ItnioApp,
    account_name: str,
    callee: str,
    actor: Actor,
    display_num: str | None = None,
) -> Call:
    """Place one call from a SIP phone account. Returns the Call in state submitted, rejected
    or unknown, exactly like call_send_tts; the account is kept in Call.request."""
    if not actor.may_place_calls():
        raise PermissionDeniedError(_("%(actor)s may not place calls.") % {"actor": actor.label})
    if app.kind != ItnioApp.Kind.VOICE:
        raise CallError(
            _("App %(app)s is an AI voice app; SIP phone calls need a voice app.")
            % {"app": app.app_id}
        )
    if not app.active:
        raise CallError(_("App %(app)s is inactive.") % {"app": app.app_id})
    refuse_if_not_callable(callee, app)  # do-not-call (the cap: where the call is written)
    group = sip_group_for_account(app=app, account_name=account_name)
    sip = SendSip(app_id=app.app_id, account=account_name, callee=callee, display_num=display_num)
    call = Call(
        app=app,
        kind=Call.Kind.SIP,
        state=Call.State.SENDING,
        callee=callee,
        display_num=display_num or "",
        request=sip.given(),
        created_by=actor.label[:150],
        # Known from the local group; the record (recordSip) confirms or corrects them.
        sip_group_name=group.group_name if group else "",
        phone_name=group.phone_name if group else "",
    )
    client = logged_client(app.account, actor=actor, obj=call)
    client.send_sip_body(sip)  # every documented limit, before anything is stored
    return call_send_single(call, lambda: client.send_sip(sip))


# ---------------------------------------------------------------------------
# Backfilling SIP records (POST /voice/recordSipQuery)
# ---------------------------------------------------------------------------
def sip_records_backfill(
    *,
    since: datetime,
    actor: Actor,
    until: datetime | None = None,
    group_name: str | None = None,
    phone_name: str | None = None,
    account: ItnioAccount | None = None,
) -> SyncResult:
    """Fetch every SIP-phone record between since and until through recordSipQuery (≤ 31-day
    windows, last two months only, pages of 100; itnio-api.md §3.8), optionally only one group
    or phone name (exact match), creating the SIP calls the portal did not know and resolving
    unknown sends that turn out to have been placed."""
    result = SyncResult()
    windows = record_windows(since, until)
    if not windows:
        return result
    accounts = [account] if account else list(ItnioAccount.objects.all())
    for acct in accounts:
        default_app = acct.apps.filter(kind=ItnioApp.Kind.VOICE).order_by("-active", "id").first()
        if default_app is None:
            continue
        client = logged_client(acct, actor=actor, obj=acct)
        for start, end in windows:
            _backfill_window(client, acct, default_app, start, end, group_name, phone_name, result)
    return result


def _backfill_window(
    client: Any,
    account: ItnioAccount,
    default_app: ItnioApp,
    start: datetime,
    end: datetime,
    group_name: str | None,
    phone_name: str | None,
    result: SyncResult,
) -> None:
    def fetch(start: datetime, end: datetime, page: int, size: int) -> Any:
        return client.record_sip_query(
            start=start,
            end=end,
            current=page,
            size=size,
            sip_group_name=group_name,
            phone_name=phone_name,
        )

    for record in records_in(fetch, [(start, end)]):
        result.checked += 1
        if _resolve_unknown_sip(record):
            result.resolved_unknown += 1
        _call, created = call_upsert_record(
            app=_app_for_record(account, default_app, record),
            record=record,
            source="recordSipQuery",
            kind=Call.Kind.SIP,
        )
        result.created += int(created)
        result.updated += int(not created)


def _app_for_record(account: ItnioAccount, default_app: ItnioApp, record: VoiceRecord) -> ItnioApp:
    """recordSipQuery is account-wide and names no app: the app of the local group with the
    record's group name, else the account's first voice app."""
    if record.sip_group_name:
        group = (
            SipGroup.objects.filter(app__account=account, group_name=record.sip_group_name)
            .select_related("app")
            .first()
        )
        if group is not None:
            return group.app
    return default_app


def _resolve_unknown_sip(record: VoiceRecord) -> bool:
    """An UNKNOWN SIP call to this callee (from this phone name, when both are known), sent
    within minutes of the record's submission, was placed after all: give it the voiceId."""
    if not record.submit_time or Call.objects.filter(voice_id=record.voice_id).exists():
        return False
    window = timedelta(minutes=settings.ITNIO_UNKNOWN_MATCH_MINUTES)
    with transaction.atomic():
        candidates = Call.objects.select_for_update().filter(
            state=Call.State.UNKNOWN,
            voice_id__isnull=True,
            kind=Call.Kind.SIP,
            callee=record.callee,
            created_at__gte=record.submit_time - window,
            created_at__lte=record.submit_time + window,
        )
        if record.phone_name:
            candidates = candidates.filter(phone_name__in=("", record.phone_name))
        candidate = candidates.order_by("created_at").first()
        if candidate is None:
            return False
        candidate.voice_id = record.voice_id
        candidate.state = Call.State.SUBMITTED
        candidate.state_reason = _("Resolved: ITNIO's SIP records show this call was placed.")
        candidate.save(update_fields=["voice_id", "state", "state_reason"])
    return True
