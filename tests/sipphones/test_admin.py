"""The SIP group pages, "Call from phone", and the SIP fields on the call page."""

from __future__ import annotations

import pytest

from campaigns.models import Call, ItnioApp
from campaigns.services.calls import call_send_tts
from sipphones.models import SipGroup

from .conftest import SYSTEM, make_group

pytestmark = pytest.mark.django_db
CALL_URL = "/admin/sipphones/sipgroup/call-from-phone/"


def change_url(group) -> str:
    return f"/admin/sipphones/sipgroup/{group.pk}/change/"


def test_a_draft_group_is_editable_and_lists_its_derived_accounts(client, operator, group):
    client.force_login(operator)
    page = client.get(change_url(group)).content.decode()
    assert 'name="group_name"' in page and 'name="_save"' in page
    assert "phone accounts (derived)" in page.lower()
    assert "Derived, not confirmed by ITNIO (its API cannot list the phones of a group)" in page
    assert "§" not in page and "itnio-api.md" not in page
    for name in ("desk_001", "desk_002", "desk_003"):
        assert f"<code>{name}</code>" in page
    assert "desk_004" not in page
    assert "Not on ITNIO yet" in page


def test_a_created_group_is_read_only_and_offers_calls(client, admin_user, created_group):
    client.force_login(admin_user)
    page = client.get(change_url(created_group)).content.decode()
    assert 'name="group_name"' not in page and 'name="_save"' not in page
    assert 'id="create-on-itnio"' not in page
    assert f'href="{CALL_URL}?group={created_group.pk}"' in page
    assert "<code>desk_003</code>" in page
    assert client.get(f"/admin/sipphones/sipgroup/{created_group.pk}/delete/").status_code == 403
    response = client.post(change_url(created_group), {"group_name": "renamed"})
    assert response.status_code == 403
    created_group.refresh_from_db()
    assert created_group.group_name == "sales"


def test_a_failed_group_stays_editable_and_editing_makes_it_a_draft_again(
    client, operator, voice_app, sandbox, sandbox_state
):
    sandbox_state.business_code_next("/voice/sipAdd", "-20", "data already exists")
    group = make_group(voice_app)
    client.force_login(operator)
    response = client.post(f"/admin/sipphones/sipgroup/{group.pk}/create-on-itnio/", follow=True)
    page = response.content.decode()
    assert "already has a phone group or phones with this name" in page
    assert "data already exists" in page and 'id="sip-error"' in page
    assert 'name="group_name"' in page and 'id="create-on-itnio"' in page
    client.post(
        change_url(group),
        {
            "app": voice_app.pk,
            "group_name": "sales2",
            "phone_name": "desk2",
            "quantity": "3",
            "display_num": "861000000",
        },
    )
    group.refresh_from_db()
    assert (group.group_name, group.state, group.last_error) == ("sales2", "draft", "")


def test_an_unknown_group_is_read_only_but_can_be_retried(
    client, operator, group, sandbox, sandbox_state
):
    sandbox_state.drop_next("/voice/sipAdd")
    client.force_login(operator)
    url = f"/admin/sipphones/sipgroup/{group.pk}/create-on-itnio/"
    page = client.post(url, follow=True).content.decode()
    assert "answers -20 (already exists)" in page
    assert 'name="group_name"' not in page and 'id="create-on-itnio"' in page
    page = client.post(url, follow=True).content.decode()
    assert "ITNIO answered -20 (already exists) to a retry" in page
    group.refresh_from_db()
    assert group.state == "created"


def test_call_from_phone_offers_only_phones_of_created_groups(
    client, operator, voice_app, created_group
):
    make_group(voice_app, group_name="draft", phone_name="later")
    client.force_login(operator)
    page = client.get(CALL_URL).content.decode()
    assert '<optgroup label="sales (Acme voice)">' in page
    assert f'<option value="{created_group.pk}:desk_001">desk_001</option>' in page
    assert "later_001" not in page and 'id="no-phones"' not in page
    preset = client.get(f"{CALL_URL}?group={created_group.pk}").content.decode()
    assert f'<option value="{created_group.pk}:desk_001" selected>' in preset


def test_call_from_phone_without_created_groups_says_so(client, operator, group):
    client.force_login(operator)
    assert 'id="no-phones"' in client.get(CALL_URL).content.decode()


def test_call_from_phone_places_a_sip_call_and_opens_it(
    client, operator, voice_app, created_group, sandbox_state, answered
):
    client.force_login(operator)
    response = client.post(
        CALL_URL,
        {
            "app": voice_app.pk,
            "account": f"{created_group.pk}:desk_002",
            "callee": "+91 98765-43210",
            "display_num": "",
        },
    )
    call = Call.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/campaigns/call/{call.pk}/change/"
    assert (call.kind, call.state, call.request["account"]) == ("sip", "submitted", "desk_002")
    assert sandbox_state.requests_for("/voice/sendSip")[0].body == {
        "callee": "919876543210",
        "account": "desk_002",
        "appId": voice_app.app_id,
    }
    page = client.get(response["Location"]).content.decode()
    assert f"Call placed from desk_002: voiceId {call.voice_id}." in page
    assert ">SIP phone</h2>" in page and "SIP group" in page
    # Refresh from ITNIO reads recordSip and fills the recording.
    page = client.post(f"/admin/campaigns/call/{call.pk}/refresh/", follow=True).content.decode()
    call.refresh_from_db()
    assert call.recording_file_id and call.recording_file_id in page
    assert call.record_source == "recordSip"


def test_call_from_phone_checks_the_app_and_the_limits(
    client, operator, account, voice_app, created_group, sandbox_state
):
    other = ItnioApp.objects.create(account=account, app_id="otherApp", label="Other")
    client.force_login(operator)
    form = {"app": other.pk, "account": f"{created_group.pk}:desk_001", "callee": "919876543210"}
    page = client.post(CALL_URL, form).content.decode()
    assert "Phone desk_001 belongs to app 4luaKsL2, not otherApp" in page
    page = client.post(CALL_URL, {**form, "app": voice_app.pk, "callee": "12"}).content.decode()
    assert "7–15 digits" in page
    page = client.post(
        CALL_URL, {**form, "app": voice_app.pk, "account": f"{created_group.pk}:desk_009"}
    ).content.decode()
    assert "Select a valid choice" in page
    assert Call.objects.count() == 0 and sandbox_state.requests_for("/voice/sendSip") == []


def test_viewer_may_not_call_from_a_phone(client, viewer, voice_app, created_group, sandbox_state):
    client.force_login(viewer)
    assert client.get(CALL_URL).status_code == 403
    form = {
        "app": voice_app.pk,
        "account": f"{created_group.pk}:desk_001",
        "callee": "919876543210",
    }
    assert client.post(CALL_URL, form).status_code == 403
    page = client.get(change_url(created_group)).content.decode()
    assert "call-from-phone-link" not in page
    assert Call.objects.count() == 0 and sandbox_state.requests_for("/voice/sendSip") == []


def test_the_sip_fieldset_is_only_on_sip_calls(client, viewer, voice_app, sandbox):
    tts = call_send_tts(
        app=voice_app, callee="919876543210", language="EN", text="hi", actor=SYSTEM
    )
    sip = Call.objects.create(
        app=voice_app,
        kind="sip",
        state="final",
        callee="919876543211",
        voice_id="V-SIP",
        sip_group_name="sales",
        phone_name="desk",
        recording_file_id="recV-SIP.mp3",
    )
    client.force_login(viewer)
    assert (
        ">SIP phone</h2>"
        not in client.get(f"/admin/campaigns/call/{tts.pk}/change/").content.decode()
    )
    page = client.get(f"/admin/campaigns/call/{sip.pk}/change/").content.decode()
    assert ">SIP phone</h2>" in page
    assert "recV-SIP.mp3" in page and "Recording file ID:" in page
    assert SipGroup.objects.count() == 0
