"""The permission matrix of the three roles: who sees what, who may spend."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from campaigns.models import Call, VoiceFile
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

# (method, url, expected status per role: Viewer, Operator, Admin, no group)
MATRIX = [
    ("get", "/admin/campaigns/call/", (200, 200, 200, 403)),
    ("get", "/admin/campaigns/voicefile/", (200, 200, 200, 403)),
    ("get", "/admin/campaigns/voicefile/add/", (403, 200, 200, 403)),
    ("get", "/admin/campaigns/call/send-tts/", (403, 200, 200, 403)),
    ("get", "/admin/campaigns/itnioaccount/add/", (403, 403, 200, 403)),
    ("get", "/admin/campaigns/pushevent/", (200, 200, 200, 403)),
    ("get", "/admin/campaigns/apirequestlog/", (200, 200, 200, 403)),
    ("get", "/admin/auth/user/", (403, 403, 200, 403)),
]
ROLES = ["Viewer", "Operator", "Admin", None]


def test_groups_exist_with_their_key_permissions():
    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert "place_calls" not in perms["Viewer"]
    assert all(p.startswith("view_") for p in perms["Viewer"])
    assert {"place_calls", "add_voicefile", "view_call"} <= perms["Operator"]
    assert (
        "change_itnioaccount" not in perms["Operator"]
        and "manage_credentials" not in perms["Operator"]
    )
    assert {"change_itnioaccount", "manage_credentials", "place_calls"} <= perms["Admin"]


@pytest.mark.parametrize(("method", "url", "expected"), MATRIX)
def test_permission_matrix(client, account, method, url, expected):
    for index, role in enumerate(ROLES):
        user = make_staff(f"user{index}", role)
        client.force_login(user)
        status = getattr(client, method)(url).status_code
        assert status == expected[index], f"{role} {method.upper()} {url}: {status}"


def test_spending_actions_are_offered_only_to_who_may_spend(client, voice_app):
    vf = VoiceFile.objects.create(app=voice_app, file_name="promo.wav", audio="voice/x.wav")
    call = Call.objects.create(
        app=voice_app, kind="tts", state="submitted", callee="919876543210", voice_id="V1"
    )
    for role, may in (("Viewer", False), ("Operator", True), ("Admin", True)):
        client.force_login(make_staff(f"u-{role}", role))
        files = client.get("/admin/campaigns/voicefile/").content.decode()
        assert ('value="upload_to_itnio"' in files) is may, role
        page = client.get(f"/admin/campaigns/voicefile/{vf.pk}/change/").content.decode()
        assert ('id="upload-to-itnio"' in page) is may, role
        calls = client.get("/admin/campaigns/call/").content.decode()
        assert ('id="send-tts-link"' in calls) is may, role
        # Refreshing a record spends nothing but asks ITNIO: a read-only role never triggers it.
        assert (
            'id="refresh-from-itnio"'
            in client.get(f"/admin/campaigns/call/{call.pk}/change/").content.decode()
        ) is may, role


def test_forged_upload_post_by_a_viewer_uploads_nothing(
    client, viewer, voice_app, sandbox, sandbox_state
):
    vf = VoiceFile.objects.create(app=voice_app, file_name="promo.wav", audio="voice/x.wav")
    client.force_login(viewer)
    assert client.post(f"/admin/campaigns/voicefile/{vf.pk}/upload/").status_code == 403
    client.post(
        "/admin/campaigns/voicefile/", {"action": "upload_to_itnio", "_selected_action": [vf.pk]}
    )
    vf.refresh_from_db()
    assert vf.state == "draft"
    assert sandbox_state.requests_for("/voice/fileUpload") == []


def test_push_url_is_shown_only_to_who_may_change_apps(client, voice_app, viewer, admin_user):
    url = f"/admin/campaigns/itnioapp/{voice_app.pk}/change/"
    client.force_login(viewer)
    assert voice_app.push_token not in client.get(url).content.decode()
    client.force_login(admin_user)
    assert voice_app.push_token in client.get(url).content.decode()


def test_a_refused_page_says_why_in_the_portal_not_a_bare_forbidden(client, viewer):
    client.force_login(viewer)

    response = client.get("/admin/campaigns/call/send-tts/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "need the Operator or Admin role" in page
    assert 'href="/admin/"' in page
