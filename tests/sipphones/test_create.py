"""Create on ITNIO (sipAdd, seed 004): every documented code, unknown and not-sent outcomes,
retries, and the permission that guards it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from campaigns.models import ApiRequestLog
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.sends import IN_FLIGHT
from itnio_portal.itnio import ItnioClient
from sipphones.models import SipGroup
from sipphones.services import (
    SIP_ADD_MESSAGES,
    UNDOCUMENTED_CODE_MESSAGE,
    SipGroupError,
    sip_group_create_on_itnio,
)
from tests.conftest import VOICE_APP_ID

from .conftest import SYSTEM, make_group

pytestmark = pytest.mark.django_db
SIP_ADD = "/voice/sipAdd"


def create(group, actor=SYSTEM) -> SipGroup:
    return sip_group_create_on_itnio(group=group, actor=actor)


def test_code_0_creates_the_group_with_the_phones(group, sandbox, sandbox_state, operator):
    created = create(group, Actor.from_user(operator))
    assert created.state == "created" and created.last_error == ""
    assert created.created_by == "operator" and created.created_at is not None
    (request,) = sandbox_state.requests_for(SIP_ADD)
    assert request.body == {
        "groupName": "sales",
        "phoneName": "desk",
        "quantity": 3,
        "displayNum": "861000000",
        "appId": VOICE_APP_ID,
    }
    (at_itnio,) = sandbox_state.sip_groups
    assert at_itnio.phones == created.accounts == ["desk_001", "desk_002", "desk_003"]
    log = ApiRequestLog.objects.get(endpoint=SIP_ADD)
    assert (log.outcome, log.object_type, log.object_id) == (
        "ok",
        "sipphones.SipGroup",
        str(group.pk),
    )


def test_accounts_are_derived_zero_padded(voice_app):
    group = make_group(voice_app, phone_name="agent", quantity=12)
    assert group.accounts[0] == "agent_001" and group.accounts[-1] == "agent_012"
    assert len(group.accounts) == 12


@pytest.mark.parametrize(
    ("code", "reason", "words"),
    [
        ("-1", "Authentication error", "authentication failed"),
        ("-2", "IP restricted access", "IP allow-list"),
        ("-16", "Timestamp expires", "clock"),
        ("-18", "Port program unusual", "system error"),
        ("-20", "data already exists", "already has a phone group or phones with this name"),
        ("-22", "parameter error", "rejected a parameter"),
        ("-23", "data limit reached", "limit on SIP phones"),
        ("-99", "something new", UNDOCUMENTED_CODE_MESSAGE),
    ],
)
def test_every_documented_code_fails_with_an_english_message_beside_the_reason(
    group, sandbox, sandbox_state, code, reason, words
):
    sandbox_state.business_code_next(SIP_ADD, code, reason)
    failed = create(group)
    assert failed.state == "failed"
    assert words in failed.last_error
    assert failed.last_error == (
        f"{SIP_ADD_MESSAGES.get(code, UNDOCUMENTED_CODE_MESSAGE)} (ITNIO code {code}: “{reason}”)"
    )
    assert failed.editable and failed.created_at is None
    assert sandbox_state.sip_groups == []


def test_minus_20_from_the_sandbox_when_the_names_exist_at_itnio(voice_app, sandbox, sandbox_state):
    # Created outside the portal (e.g. in ITNIO's own web portal) under the same phone name.
    outside = make_group(voice_app, group_name="elsewhere", phone_name="desk")
    create(outside)
    SipGroup.objects.filter(pk=outside.pk).delete()
    failed = create(make_group(voice_app, group_name="sales", phone_name="desk"))
    assert failed.state == "failed"
    assert failed.last_error.startswith(SIP_ADD_MESSAGES["-20"])
    assert "phoneName 'desk'" in failed.last_error  # the vendor's reason


def test_minus_23_from_the_sandbox_quota(voice_app, sandbox, sandbox_state):
    sandbox_state.phone_quota = 5
    failed = create(make_group(voice_app, quantity=6))
    assert failed.state == "failed"
    assert failed.last_error.startswith(SIP_ADD_MESSAGES["-23"])
    assert "0 of 5 phones" in failed.last_error


def test_minus_22_from_the_sandbox_for_an_ai_app_is_refused_before_sending(
    account, sandbox, sandbox_state
):
    ai = account.apps.get(kind="ai")
    group = make_group(ai)
    with pytest.raises(SipGroupError, match="AI voice app"):
        create(group)
    assert sandbox_state.requests_for(SIP_ADD) == []


def test_a_failed_group_can_be_fixed_and_retried(voice_app, sandbox, sandbox_state):
    sandbox_state.business_code_next(SIP_ADD, "-23", "data limit reached")
    group = create(make_group(voice_app))
    assert group.state == "failed"
    assert create(group).state == "created"
    assert len(sandbox_state.requests_for(SIP_ADD)) == 2


def test_unknown_outcome_explains_that_minus_20_on_a_retry_means_created(
    group, sandbox, sandbox_state
):
    sandbox_state.drop_next(SIP_ADD)
    unknown = create(group)
    assert unknown.state == "unknown"
    assert "may have reached ITNIO" in unknown.last_error
    assert "if ITNIO answers -20 (already exists), the first request created the group" in (
        unknown.last_error
    )
    assert not unknown.editable
    # The dropped request did create the phones; the retry is answered -20.
    retried = create(unknown)
    assert retried.state == "created"
    assert "ITNIO answered -20 (already exists) to a retry" in retried.last_error
    assert [r.business_status for r in sandbox_state.requests_for(SIP_ADD)] == [None, "-20"]


def test_a_retry_after_unknown_answered_otherwise_stays_unknown(group, sandbox, sandbox_state):
    sandbox_state.drop_next(SIP_ADD)
    create(group)
    sandbox_state.business_code_next(SIP_ADD, "-18", "Port program unusual")
    still = create(group)
    assert still.state == "unknown"
    assert SIP_ADD_MESSAGES["-18"] in still.last_error
    assert "did not settle whether the earlier request" in still.last_error


def test_not_sent_goes_back_to_the_previous_state(group, account):
    account.base_url = "http://127.0.0.1:9"
    account.save()
    after = create(group)
    assert after.state == "draft"
    assert after.last_error.startswith("Not sent: ") and "Nothing reached ITNIO" in after.last_error
    assert ApiRequestLog.objects.get().outcome == "not_sent"


def test_a_created_group_is_not_sent_again(created_group, sandbox_state):
    with pytest.raises(SipGroupError, match="already created"):
        create(created_group)
    assert len(sandbox_state.requests_for(SIP_ADD)) == 1


def test_a_request_in_flight_blocks_a_second_one_until_it_is_stale(group, sandbox, sandbox_state):
    SipGroup.objects.filter(pk=group.pk).update(
        state="sending",
        last_error=f"{IN_FLIGHT} (started …).",
        create_started_at=timezone.now(),
    )
    with pytest.raises(SipGroupError, match="still in flight"):
        create(group)
    assert sandbox_state.requests_for(SIP_ADD) == []
    # The sender died long ago: a retry is allowed, and answered "0" here.
    SipGroup.objects.filter(pk=group.pk).update(
        create_started_at=timezone.now() - timedelta(minutes=30)
    )
    assert create(group).state == "created"


def test_the_row_says_in_flight_while_the_request_is_out(group, sandbox, monkeypatch):
    seen = []
    original = ItnioClient.sip_add

    def spy(self, **kwargs):
        seen.append(SipGroup.objects.values_list("state", "last_error").get(pk=group.pk))
        return original(self, **kwargs)

    monkeypatch.setattr(ItnioClient, "sip_add", spy)
    create(group)
    ((state, error),) = seen
    assert state == "sending" and error.startswith(IN_FLIGHT)


# ---- the permission that guards creation ---------------------------------------------------------


def test_only_who_may_place_calls_may_create(group, sandbox, sandbox_state, viewer):
    with pytest.raises(PermissionDeniedError):
        create(group, Actor.from_user(viewer))
    assert sandbox_state.requests_for(SIP_ADD) == []


def test_roles_give_operators_add_and_change_of_sip_groups():
    perms = {
        g.name: {p.codename for p in g.permissions.filter(content_type__app_label="sipphones")}
        for g in Group.objects.all()
    }
    assert perms["Viewer"] == {"view_sipgroup"}
    assert perms["Operator"] == {"view_sipgroup", "add_sipgroup", "change_sipgroup"}
    assert perms["Admin"] == {"view_sipgroup", "add_sipgroup", "change_sipgroup", "delete_sipgroup"}


def test_viewer_gets_no_button_no_action_and_a_403(client, viewer, group, sandbox, sandbox_state):
    client.force_login(viewer)
    page = client.get(f"/admin/sipphones/sipgroup/{group.pk}/change/").content.decode()
    assert 'id="create-on-itnio"' not in page
    listing = client.get("/admin/sipphones/sipgroup/").content.decode()
    assert 'value="create_on_itnio"' not in listing and 'id="sip-call-link"' not in listing
    assert client.post(f"/admin/sipphones/sipgroup/{group.pk}/create-on-itnio/").status_code == 403
    # A forged action POST: the action is not offered, so nothing runs.
    client.post(
        "/admin/sipphones/sipgroup/",
        {"action": "create_on_itnio", "_selected_action": [group.pk]},
    )
    assert client.get("/admin/sipphones/sipgroup/add/").status_code == 403
    group.refresh_from_db()
    assert group.state == "draft"
    assert sandbox_state.requests_for(SIP_ADD) == []


def test_operator_creates_with_the_button(client, operator, group, sandbox, sandbox_state):
    client.force_login(operator)
    page = client.get(f"/admin/sipphones/sipgroup/{group.pk}/change/").content.decode()
    assert 'id="create-on-itnio"' in page
    listing = client.get("/admin/sipphones/sipgroup/").content.decode()
    assert 'value="create_on_itnio"' in listing and 'id="sip-call-link"' in listing
    url = f"/admin/sipphones/sipgroup/{group.pk}/create-on-itnio/"
    assert client.get(url).status_code == 405  # POST only
    response = client.post(url, follow=True)
    assert "Created SIP group sales on ITNIO: 3 phones, desk_001 to desk_003." in (
        response.content.decode()
    )
    group.refresh_from_db()
    assert group.state == "created" and group.created_by == "operator"


def test_operator_creates_with_the_action_and_reads_the_failure(
    client, operator, voice_app, sandbox, sandbox_state
):
    first = make_group(voice_app)
    second = make_group(voice_app, group_name="support", phone_name="help")
    sandbox_state.business_code_next(SIP_ADD, "-23", "data limit reached")
    client.force_login(operator)
    response = client.post(
        "/admin/sipphones/sipgroup/",
        {"action": "create_on_itnio", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    page = response.content.decode()
    states = dict(SipGroup.objects.values_list("group_name", "state"))
    assert states == {"sales": "failed", "support": "created"} or states == {
        "sales": "created",
        "support": "failed",
    }
    assert "limit on SIP phones" in page and "data limit reached" in page
    assert "Created SIP group" in page
