"""A campaign's test call: its voice file, display number and loop count sent as it stands to
one number the user gives, in a one-number sendGroup request, before anything else is spent.
Recorded as a test call of the campaign (Call.test_of), not one of its calls: neither its
figures nor the frequency caps count it. Do-not-call applies to it like to every call."""

from __future__ import annotations

from django.utils.translation import gettext

from campaigns.models import Call, Campaign, ItnioApp, VoiceFile
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.calls import CallError, call_send_single
from campaigns.services.numbers import InvalidNumber, normalise_number
from campaigns.services.request_log import logged_client
from campaigns.services.suppression import refusal, suppression_of
from itnio_portal.itnio import ItnioApiError

TEST_TAG = "[test]"


def campaign_test_call(*, campaign: Campaign, number: str, actor: Actor) -> Call:
    """Place the test call; returns its Call (submitted, rejected or unknown). CallError when
    the number or the campaign cannot be used."""
    if not actor.may_place_calls():
        raise PermissionDeniedError(
            gettext("%(user)s may not place calls.") % {"user": actor.label}
        )
    try:
        digits = normalise_number(number)
    except InvalidNumber as exc:
        raise CallError(exc.reason) from exc
    app, voice_file = campaign.app, campaign.voice_file
    if app.kind != ItnioApp.Kind.VOICE or not app.active:
        raise CallError(gettext("App %(app)s is not an active voice app.") % {"app": app.app_id})
    if voice_file.state != VoiceFile.State.UPLOADED or not voice_file.remote_file_id:
        raise CallError(
            gettext("Voice file %(file)s is not uploaded to ITNIO yet.")
            % {"file": voice_file.file_name}
        )
    entry = suppression_of(digits, app)
    if entry is not None:
        raise CallError(refusal(entry))
    called_info = f"{campaign.called_info[: 1000 - len(TEST_TAG) - 1]} {TEST_TAG}".strip()
    call = Call(
        app=app,
        kind=Call.Kind.GROUP,
        state=Call.State.SENDING,
        callee=digits,
        display_num=campaign.display_num,
        called_info=called_info,
        request={"test_of": campaign.name, "file_id": voice_file.remote_file_id},
        created_by=actor.label[:150],
        test_of=campaign,
    )
    client = logged_client(app.account, actor=actor, obj=call)

    def send() -> str:
        (result,) = client.send_group(
            app_id=app.app_id,
            file_id=voice_file.remote_file_id,
            callees=[digits],
            display_num=campaign.display_num or None,
            max_duration=campaign.max_duration,
            max_ringing_time=campaign.max_ringing_time,
            loop_count=campaign.loop_count,
            called_info=called_info,
        )
        if not result.accepted:
            raise ItnioApiError(
                gettext("ITNIO refused the number."),
                code=result.termination_code,
                reason=result.termination_reason,
                endpoint="/voice/sendGroup",
            )
        return result.voice_id

    return call_send_single(call, send)
