"""Send TTS call: the admin page, the command, limits before sending, outcomes, permissions."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Call
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.calls import call_send_tts
from itnio_portal.itnio import LANGUAGES

pytestmark = pytest.mark.django_db
URL = "/admin/campaigns/call/send-tts/"


def form(app, **overrides):
    data = {
        "app": app.pk,
        "callee": "+91 98765-43210",
        "language": "EN",
        "text": "Your code is 4711",
        "confirmed": "on",  # the summary's "Yes, place this call"
    }
    data.update(overrides)
    return data


def test_page_offers_the_14_languages_and_a_live_counter(client, operator, voice_app):
    client.force_login(operator)
    page = client.get(URL).content.decode()
    for code, name in LANGUAGES.items():
        selected = " selected" if code == "EN" else ""  # the page's language (English)
        assert f'<option value="{code}"{selected}>{name} ({code})</option>' in page
    assert len(LANGUAGES) == 14
    assert 'data-limit="800"' in page and 'data-limit-short="299"' in page
    assert 'data-short-languages="IDN,VN,TH"' in page and "send_tts.js" in page


def test_the_call_is_placed_only_after_its_summary_is_confirmed(
    client, operator, voice_app, sandbox, sandbox_state
):
    client.force_login(operator)
    first = client.post(URL, form(voice_app, confirmed=""))
    page = first.content.decode()
    assert first.status_code == 200 and 'id="send-tts-confirm"' in page
    assert "919876543210" in page and "English (EN)" in page and "Your code is 4711" in page
    assert Call.objects.count() == 0 and sandbox_state.requests_for("/voice/sendCode") == []
    back = client.post(URL, {**form(voice_app), "change": "1"}).content.decode()
    assert 'id="send-tts-submit"' in back and 'value="Your code is 4711"' not in back
    assert "Your code is 4711</textarea>" in back  # the filled form again, nothing sent
    assert Call.objects.count() == 0

    client.post(URL, form(voice_app))  # "Yes, place this call"
    assert Call.objects.count() == 1
    assert len(sandbox_state.requests_for("/voice/sendCode")) == 1


def test_the_language_starts_as_the_pages(client, operator, voice_app):
    client.force_login(operator)
    page = client.get(URL).content.decode()
    assert '<option value="EN" selected>English (EN)</option>' in page
    from campaigns.forms_calls import tts_language_for

    assert [tts_language_for(x) for x in ("en-us", "vi", "id", "ja", "zh-hans", "")] == [
        "EN",
        "VN",
        "IDN",
        "JP",
        "EN",
        "EN",
    ]


def test_operator_places_a_call_and_lands_on_its_page(
    client, operator, voice_app, sandbox, sandbox_state
):
    client.force_login(operator)
    response = client.post(URL, form(voice_app, loop_count=2, display_num="1008122211"))
    call = Call.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/campaigns/call/{call.pk}/change/"
    assert (call.state, call.kind, call.callee, call.created_by) == (
        "submitted",
        "tts",
        "919876543210",
        "operator",
    )
    sent = sandbox_state.requests_for("/voice/sendCode")[0].body
    assert sent == {
        "callee": "919876543210",
        "displayNum": "1008122211",
        "language": "EN",
        "text": "Your code is 4711",
        "appId": voice_app.app_id,
        "loopCount": 2,
    }
    assert call.voice_id == sandbox_state.requests_for("/voice/sendCode")[0].response["data"]
    page = client.get(response["Location"]).content.decode()
    assert f"Call placed: voiceId {call.voice_id}" in page


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"language": "VN", "text": "a" * 300}, "299"),
        ({"language": "EN", "text": "a" * 801}, "800"),
        ({"callee": "12345"}, "7–15 digits"),
        ({"loop_count": 10}, "loopCount"),
        ({"max_ringing_time": 10}, "maxRingingTime"),
        ({"recall_interval": 1000}, "recallInterval"),
        ({"language": "XX"}, "Select a valid choice"),
    ],
)
def test_limits_are_enforced_before_anything_is_sent_or_stored(
    client, operator, voice_app, sandbox, sandbox_state, overrides, message
):
    client.force_login(operator)
    response = client.post(URL, form(voice_app, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Call.objects.count() == 0
    assert sandbox_state.requests_for("/voice/sendCode") == []


def test_unknown_outcome_creates_an_unknown_call_that_says_why(
    client, operator, voice_app, sandbox, sandbox_state
):
    sandbox_state.drop_next("/voice/sendCode")
    client.force_login(operator)
    response = client.post(URL, form(voice_app), follow=True)
    call = Call.objects.get()
    assert call.state == "unknown" and call.voice_id is None
    assert "may have reached ITNIO" in call.state_reason and "will not resend" in call.state_reason
    assert "The outcome of this call is unknown" in response.content.decode()
    assert len(sandbox_state.requests_for("/voice/sendCode")) == 1


def test_itnio_rejection_is_stored_with_the_vendors_reason(voice_app, sandbox, sandbox_state):
    sandbox_state.business_code_next(
        "/voice/sendCode", "-10", "The customer's balance is insufficient"
    )
    call = call_send_tts(
        app=voice_app, callee="919876543210", language="EN", text="hi", actor=Actor.system("t")
    )
    assert call.state == "rejected"
    assert "balance is insufficient" in call.state_reason and "-10" in call.state_reason


def test_connection_refused_is_rejected_as_not_sent(voice_app, account):
    account.base_url = "http://127.0.0.1:9"
    account.save()
    call = call_send_tts(
        app=voice_app, callee="919876543210", language="EN", text="hi", actor=Actor.system("t")
    )
    assert call.state == "rejected" and "Nothing reached ITNIO" in call.state_reason


def test_viewer_has_no_way_to_send_and_a_forged_post_places_no_call(
    client, viewer, voice_app, sandbox, sandbox_state
):
    client.force_login(viewer)
    assert "send-tts-link" not in client.get("/admin/campaigns/call/").content.decode()
    assert client.get(URL).status_code == 403
    assert client.post(URL, form(voice_app)).status_code == 403
    assert Call.objects.count() == 0 and sandbox_state.requests_for("/voice/sendCode") == []
    with pytest.raises(PermissionDeniedError):
        call_send_tts(
            app=voice_app,
            callee="919876543210",
            language="EN",
            text="hi",
            actor=Actor.from_user(viewer),
        )


def test_send_code_command_prints_the_voice_id(voice_app, sandbox, capsys, operator):
    call_command(
        "send_code",
        "--app",
        voice_app.app_id,
        "--callee",
        "919876543210",
        "--language",
        "EN",
        "--text",
        "hello",
        "--loop-count",
        "2",
        "--as",
        "operator",
    )
    voice_id = capsys.readouterr().out.strip()
    call = Call.objects.get(voice_id=voice_id)
    assert call.created_by == "operator" and call.request["loop_count"] == 2


def test_send_code_command_errors(voice_app, sandbox, sandbox_state, viewer):
    with pytest.raises(CommandError) as exc:
        call_command(
            "send_code",
            "--app",
            voice_app.app_id,
            "--callee",
            "12",
            "--language",
            "EN",
            "--text",
            "x",
        )
    assert exc.value.returncode == 2 and "7–15 digits" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        call_command(
            "send_code",
            "--app",
            voice_app.app_id,
            "--callee",
            "919876543210",
            "--language",
            "EN",
            "--text",
            "x",
            "--as",
            "viewer",
        )
    assert exc.value.returncode == 2 and "may not place calls" in str(exc.value)
    sandbox_state.business_code_next("/voice/sendCode", "-10", "balance is insufficient")
    with pytest.raises(CommandError) as exc:
        call_command(
            "send_code",
            "--app",
            voice_app.app_id,
            "--callee",
            "919876543210",
            "--language",
            "EN",
            "--text",
            "x",
        )
    assert exc.value.returncode == 1 and "balance is insufficient" in str(exc.value)
    assert Call.objects.filter(state="rejected").count() == 1


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("+65 9123-4567", "6591234567"), ("0065 (9123) 4567", "6591234567"), ("6591234567", None)],
)
def test_the_form_reads_numbers_with_the_one_normaliser(voice_app, typed, digits):
    from campaigns.forms_calls import SendTtsForm

    sent = SendTtsForm(form(voice_app, callee=typed, display_num=typed))
    assert sent.is_valid(), sent.errors
    assert sent.cleaned_data["callee"] == sent.cleaned_data["display_num"] == (digits or typed)
    refused = SendTtsForm(form(voice_app, callee="+65 12ab"))
    assert not refused.is_valid() and "7–15 digits" in refused.errors["callee"][0]
