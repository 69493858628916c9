"""The permission matrix of the three roles: who sees what, who may spend."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from campaigns.models import AiTask, Call, VoiceFile
from tests.admin_objects import one_of_each
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


def test_the_viewers_read_only_account_page_has_no_secret_field(client, account, viewer):
    client.force_login(viewer)
    page = client.get(f"/admin/campaigns/itnioaccount/{account.pk}/change/").content.decode()
    assert account.api_key in page  # the page itself is shown
    assert "New api secret" not in page and "None" not in page.split("Credentials", 1)[1][:2000]


def test_a_refused_page_says_why_in_the_portal_not_a_bare_forbidden(client, viewer):
    client.force_login(viewer)

    response = client.get("/admin/campaigns/call/send-tts/")

    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "need the Operator or Admin role" in page
    assert 'href="/admin/"' in page


def test_read_only_roles_never_see_or_press_a_button_that_calls_itnio(
    client, account, sandbox, sandbox_state
):
    rows = one_of_each(account)
    call, task = rows[Call], rows[AiTask]
    AiTask.objects.filter(pk=task.pk).update(state="created", remote_job_id=77)
    pages = {
        f"/admin/campaigns/itnioaccount/{account.pk}/change/": ['id="verify-credentials"'],
        "/admin/campaigns/call/": ['id="sync-records"'],
        f"/admin/campaigns/call/{call.pk}/change/": ['id="refresh-from-itnio"'],
        "/admin/campaigns/aitask/": ['id="sync-all"'],
        f"/admin/campaigns/aitask/{task.pk}/change/": ["/sync/", 'id="not-called-link"'],
        "/admin/campaigns/aicallrecord/": ['id="sync-ai-records"'],
    }
    presses = [
        ("post", f"/admin/campaigns/itnioaccount/{account.pk}/verify/", {}),
        ("post", "/admin/campaigns/call/sync/", {}),
        ("post", f"/admin/campaigns/call/{call.pk}/refresh/", {}),
        ("post", "/admin/campaigns/aitask/sync/", {}),
        ("post", f"/admin/campaigns/aitask/{task.pk}/sync/", {}),
        ("get", f"/admin/campaigns/aitask/{task.pk}/not-called/", {}),
        (
            "post",
            "/admin/campaigns/call/",
            {"action": "refresh_from_itnio", "index": "0", "_selected_action": [call.pk]},
        ),
    ]
    for role, may in (("Viewer", False), ("Operator", True)):
        client.force_login(make_staff(f"u-{role}", role))
        for url, markers in pages.items():
            page = client.get(url)
            assert page.status_code == 200, (role, url)
            for marker in markers:
                assert (marker in page.content.decode()) is may, (role, url, marker)
        if may:
            continue
        for method, url, data in presses:
            assert getattr(client, method)(url, data).status_code == 403, (role, url)
        assert sandbox_state.requests_for() == [], role


def test_every_page_names_the_portal_icon_and_favicon_ico_finds_it(client, viewer):
    client.force_login(viewer)
    page = client.get("/admin/").content.decode()
    assert 'rel="icon"' in page and "portal/favicon.svg" in page
    answer = client.get("/favicon.ico")
    assert answer.status_code == 301 and answer["Location"].endswith("portal/favicon.svg")


def test_the_internal_tables_are_for_admins_only_even_after_an_upgrade():
    from django.contrib.auth.models import Permission

    from campaigns.roles import sync_roles

    viewer = Group.objects.get(name="Viewer")
    heartbeat = Permission.objects.get(codename="view_heartbeat")
    viewer.permissions.add(heartbeat)  # what earlier versions of the roles granted

    sync_roles(Group, Permission)

    perms = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    internal = {"view_heartbeat", "view_scheduledjobrun", "view_erasednumber"}
    assert not internal & perms["Viewer"] and not internal & perms["Operator"]
    assert internal <= perms["Admin"]
    assert "view_call" in perms["Viewer"]
