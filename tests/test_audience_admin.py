"""The audience in the admin: contact lists (page, import preview → confirm, rejected rows,
export, contact search) and do-not-call entries (add, search, export, delete for Admins only,
in the history)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import (
    Contact,
    ContactImport,
    ContactList,
    SuppressionEntry,
    SuppressionList,
)

pytestmark = pytest.mark.django_db

CSV = (
    b"Phone,Name,tier\n"
    b"9123 4567,Ana,gold\n"
    b"8123 4567,Ben,silver\n"
    b"1234 5678,Cy,gold\n"  # not a valid Singapore number
    b"91234567,Ana twice,gold\n"
)
IMPORT = "/admin/campaigns/contactlist/import/"


def upload(name="vips.csv", data=CSV):
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_import_preview_then_confirm_then_export(client, operator):
    client.force_login(operator)
    assert client.get(IMPORT).status_code == 200
    page = client.post(
        IMPORT, {"list_name": "VIPs", "import_file": upload(), "default_region": "sg"}
    )
    text = page.content.decode()
    assert page.status_code == 200 and 'id="confirm-import"' in text
    assert "not a valid Singapore number" in text and "duplicate of row 2" in text
    assert not ContactList.objects.exists()  # a preview writes nothing
    rejected = client.get(page.context["rejected_url"])
    body = b"".join(rejected.streaming_content) if rejected.streaming else rejected.content
    assert b"not a valid Singapore number" in body and b"row,value,reason" in body

    done = client.post(IMPORT, {"token": page.context["token"]})
    contact_list = ContactList.objects.get(name="VIPs")
    assert done.status_code == 302
    assert done["Location"].endswith(f"?contact_list__id__exact={contact_list.pk}")
    assert sorted(contact_list.contacts.values_list("number", flat=True)) == [
        "6581234567",
        "6591234567",
    ]
    assert contact_list.created_by == "operator"

    listing = client.get("/admin/campaigns/contactlist/").content.decode()
    assert "VIPs" in listing and 'id="import-contacts-link"' in listing
    change = client.get(f"/admin/campaigns/contactlist/{contact_list.pk}/change/")
    assert 'id="export-contacts-link"' in change.content.decode()
    export = client.get(f"/admin/campaigns/contactlist/{contact_list.pk}/export/")
    csv_text = b"".join(export.streaming_content).decode("utf-8-sig")
    assert csv_text.splitlines()[0] == "number,name,country,tier"
    assert "6591234567,Ana,SG,gold" in csv_text

    found = client.get("/admin/campaigns/contact/?q=%2B65%209123").content.decode()
    assert "6591234567" in found and "6581234567" not in found
    found = client.get("/admin/campaigns/contact/?q=ben").content.decode()
    assert "6581234567" in found and "6591234567" not in found


def test_a_file_without_a_number_column_is_refused_on_the_form(client, operator):
    client.force_login(operator)
    page = client.post(
        IMPORT, {"list_name": "VIPs", "import_file": upload(data=b"name,city\nAna,SG\n")}
    )
    assert "No number column" in page.content.decode()
    page = client.post(
        IMPORT, {"list_name": "VIPs", "import_file": upload(), "default_region": "XX"}
    )
    assert page.status_code == 200 and "XX" in page.content.decode()
    assert not ContactList.objects.exists()


def test_viewer_cannot_import(client, viewer):
    client.force_login(viewer)
    assert client.get(IMPORT).status_code == 403


def test_do_not_call_entries_add_search_export_and_delete_for_admins_only(
    client, operator, admin_user
):
    client.force_login(operator)
    portal_wide = SuppressionList.objects.get(portal_wide=True)
    response = client.post(
        "/admin/campaigns/suppressionentry/add/",
        {"suppression_list": portal_wide.pk, "number": "+65 9123-4567", "reason": "asked"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = SuppressionEntry.objects.get()
    assert (entry.number, entry.source, entry.added_by) == ("6591234567", "manual", "operator")
    page = client.get("/admin/campaigns/suppressionentry/?q=%2B6591").content.decode()
    assert "6591234567" in page
    export = client.post(
        "/admin/campaigns/suppressionentry/",
        {"action": "export_csv", "_selected_action": [entry.pk], "index": 0},
    )
    assert b"6591234567" in b"".join(export.streaming_content)
    delete_url = f"/admin/campaigns/suppressionentry/{entry.pk}/delete/"
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    change_url = f"/admin/campaigns/suppressionentry/{entry.pk}/change/"
    past = {"reason": "asked", "expires_at_0": "2020-01-01", "expires_at_1": "00:00:00"}
    assert client.post(change_url, past).status_code == 403  # no removal by another name
    entry.refresh_from_db()
    assert entry.expires_at is None
    assert SuppressionEntry.objects.exists()
    # The portal-wide list itself cannot be deleted, not even by an Admin.
    client.force_login(admin_user)
    assert (
        client.get(f"/admin/campaigns/suppressionlist/{portal_wide.pk}/delete/").status_code == 403
    )
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not SuppressionEntry.objects.exists()
    log = LogEntry.objects.get(action_flag=DELETION)
    assert log.user == admin_user and log.object_repr == "6591234567"


def test_campaign_form_offers_lists_and_checks_the_segment(client, operator, voice_app):
    from campaigns.models import VoiceFile

    vf = VoiceFile.objects.create(
        app=voice_app, file_name="promo.wav", size=10, state=VoiceFile.State.UPLOADED
    )
    contact_list = ContactList.objects.create(name="VIPs")
    Contact.objects.create(contact_list=contact_list, number="6591234567", fields={"tier": "g"})
    client.force_login(operator)
    data = {
        "name": "Gold",
        "app": voice_app.pk,
        "voice_file": vf.pk,
        "window_tz": "UTC",
        "retries": "0",
        "retry_after_minutes": "30",
        "variants-TOTAL_FORMS": "0",
        "variants-INITIAL_FORMS": "0",
        "contact_lists": [contact_list.pk],
        "segment_field": "colour",
        "segment_value": "red",
    }
    page = client.post("/admin/campaigns/campaign/add/", data)
    assert page.status_code == 200 and "custom field" in page.content.decode()
    data["segment_field"] = "tier"
    assert client.post("/admin/campaigns/campaign/add/", data).status_code == 302


def test_a_large_file_is_imported_in_the_background_with_its_progress(
    client, operator, settings, django_capture_on_commit_callbacks
):
    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 2
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            IMPORT, {"list_name": "VIPs", "import_file": upload(), "default_region": "SG"}
        )
    assert response.status_code == 302
    assert "/admin/campaigns/contactimport/" in response["Location"]
    record = ContactImport.objects.get()
    assert (record.state, record.imported, record.rejected, record.duplicates) == (
        "done",
        2,
        1,
        1,
    )
    assert record.contact_list.contacts.count() == 2
    page = client.get(response["Location"]).content.decode()
    assert 'id="contact-import-progress"' in page and 'value="100"' in page
    rejected = client.get(f"/admin/campaigns/contactimport/{record.pk}/rejected/")
    assert b"not a valid Singapore number" in b"".join(rejected.streaming_content)


def test_do_not_call_import_preview_then_confirm(client, operator):
    client.force_login(operator)
    url = "/admin/campaigns/suppressionentry/import/"
    assert (
        'id="import-dnc-link"' in client.get("/admin/campaigns/suppressionentry/").content.decode()
    )
    target = SuppressionList.objects.create(name="Complaints")
    data = b"number\n9123 4567\n9123 4567\n123\n"
    page = client.post(
        url,
        {
            "suppression_list": target.pk,
            "import_file": upload("dnc.csv", data),
            "reason": "complaint",
            "default_region": "SG",
        },
    )
    assert 'id="confirm-import"' in page.content.decode()
    assert not SuppressionEntry.objects.exists()
    done = client.post(url, {"token": page.context["token"]})
    assert done.status_code == 302
    entry = SuppressionEntry.objects.get()
    assert (entry.number, entry.reason, entry.source, entry.suppression_list) == (
        "6591234567",
        "complaint",
        "import",
        target,
    )
