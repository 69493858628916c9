"""A direct callee file's `timezone` column (headed as a contact list's: timezone, time zone,
time_zone, tz): its IANA name is the callee's zone instead of the number's, an unknown name
rejects the row with the reason, an empty cell keeps the number's zones. Through the command,
the admin's preview → confirm and the background job alike."""

from __future__ import annotations

import csv
import io
import re
from datetime import time, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from freezegun import freeze_time

from campaigns.models import Callee, CalleeImport, Campaign, ZoneSet
from campaigns.services import windows
from campaigns.services.claim_rules import sendable_callees
from campaigns.services.import_jobs import import_run

pytestmark = pytest.mark.django_db
IMPORT_URL = "/admin/campaigns/callee/import/"
NEW_YORK, NEW_YORK_2, LONDON, SINGAPORE = "12125550123", "12125550124", "442079460018", "6561234567"
# A New York number living in Singapore, one in Los Angeles (any case), London by its number,
# and a zone nobody knows.
ROWS = [
    ["Phone", "Name", "Time Zone"],
    ["+1 212 555 0123", "Ann", "Asia/Singapore"],
    ["+44 20 7946 0018", "Bob", ""],
    ["+65 6123 4567", "Cy", "Mars/Base"],
    ["+1 212 555 0124", "Di", "america/los_angeles"],
]
MARS = "unknown time zone 'Mars/Base'"


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.fixture
def spring(uploaded_file, voice_app) -> Campaign:
    return Campaign.objects.create(
        name="Spring",
        app=voice_app,
        voice_file=uploaded_file,
        window_start=time(9),
        window_end=time(20),
        window_callee_local=True,
    )


def zones(campaign: Campaign) -> dict[str, str | None]:
    return dict(
        Callee.objects.filter(campaign=campaign)
        .exclude(state="staged")
        .values_list("number", "zone_set__key")
    )


def claimable(campaign: Campaign) -> set[str]:
    campaign.refresh_from_db()
    return set(sendable_callees(campaign).values_list("number", flat=True))


def test_the_command_reads_the_timezone_column_and_the_claim_calls_in_that_zone(spring, tmp_path):
    path, rejected = tmp_path / "list.csv", tmp_path / "rejected.csv"
    path.write_bytes(csv_bytes(ROWS))
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_callees", "Spring", str(path), "--rejected", str(rejected), stdout=out, stderr=err
    )
    assert out.getvalue() == "imported=3 rejected=1 duplicates=0\n"
    assert f"row 4: '+65 6123 4567': {MARS}" in err.getvalue()
    assert list(csv.reader(io.StringIO(rejected.read_text("utf-8-sig"))))[1] == [
        "4",
        "+65 6123 4567",
        MARS,
    ]
    windows.windows_prepare(spring)  # at launch: the others get their number's zones
    assert zones(spring) == {
        NEW_YORK: "Asia/Singapore",
        LONDON: "Europe/London",
        NEW_YORK_2: "America/Los_Angeles",
    }
    # 14:00 UTC: 09:00 in New York, 14:00 in London, 22:00 in Singapore, 06:00 in Los Angeles.
    with freeze_time("2026-12-02 14:00:00"):
        assert claimable(spring) == {LONDON}
    # 02:00 UTC: 21:00 in New York, 02:00 in London, 10:00 in Singapore, 18:00 in Los Angeles.
    with freeze_time("2026-12-03 02:00:00"):
        assert claimable(spring) == {NEW_YORK, NEW_YORK_2}


def test_a_number_of_an_unknown_zone_is_no_duplicate_of_a_later_row(spring, tmp_path):
    rows = [["tz", "number"], ["Mars/Base", "+1 212 555 0123"], ["", "+1 212 555 0123"]]
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes(rows))
    out = io.StringIO()
    call_command("import_callees", "Spring", str(path), stdout=out, stderr=io.StringIO())
    assert out.getvalue() == "imported=1 rejected=1 duplicates=0\n"
    windows.windows_prepare(spring)
    assert zones(spring) == {NEW_YORK: "America/New_York"}


def test_a_file_without_the_column_keeps_the_numbers_zones(spring, tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(csv_bytes([["number", "zone"], ["+1 212 555 0123", "Asia/Singapore"]]))
    call_command("import_callees", "Spring", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    windows.windows_prepare(spring)
    assert zones(spring) == {NEW_YORK: "America/New_York"}  # "zone" is not a zone column


def test_the_admin_previews_the_zone_rejection_and_confirms_the_zones(client, operator, spring):
    client.force_login(operator)
    assert "<code>tz</code>" in client.get(IMPORT_URL).content.decode()  # the help names it
    xlsx = xlsx_bytes([[c if c else None for c in row] for row in ROWS])
    preview = client.post(
        IMPORT_URL,
        {"campaign": spring.pk, "import_file": SimpleUploadedFile("list.xlsx", xlsx)},
    )
    html = re.sub(r"\s+", " ", preview.content.decode())
    assert '<strong id="import-valid-count">3</strong> to import' in html
    assert (
        '<tr><td class="num">4</td><td><code>+65 6123 4567</code></td>'
        "<td>unknown time zone &#x27;Mars/Base&#x27;</td></tr>"
    ) in html
    rejected = client.get(preview.context["rejected_url"])
    assert list(csv.reader(io.StringIO(rejected.content.decode("utf-8-sig"))))[1] == [
        "4",
        "+65 6123 4567",
        MARS,
    ]
    assert not ZoneSet.objects.filter(key="Asia/Singapore").exists()  # a preview writes nothing
    client.post(
        "/admin/campaigns/callee/process_import/",
        {**preview.context["confirm_form"].initial, "campaign": spring.pk},
    )
    assert CalleeImport.objects.get().state == "confirmed"
    assert zones(spring) == {
        NEW_YORK: "Asia/Singapore",
        LONDON: "Europe/London",
        NEW_YORK_2: "America/Los_Angeles",
    }


def test_a_large_file_read_in_the_background_keeps_its_zones(
    client, operator, spring, settings, django_capture_on_commit_callbacks
):
    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 2
    settings.CALLEE_IMPORT_CHUNK_ROWS = 2  # the zones of several chunks
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            IMPORT_URL,
            {"campaign": spring.pk, "import_file": SimpleUploadedFile("big.csv", csv_bytes(ROWS))},
        )
    callee_import = CalleeImport.objects.get()
    assert callee_import.state == "staged", callee_import.error
    assert (callee_import.imported, callee_import.rejected) == (3, 1)
    staged = dict(
        Callee.objects.filter(source=callee_import).values_list("number", "zone_set__key")
    )
    assert staged == {NEW_YORK: "Asia/Singapore", LONDON: None, NEW_YORK_2: "America/Los_Angeles"}
    client.post(f"/admin/campaigns/calleeimport/{callee_import.pk}/confirm/")
    assert zones(spring)[LONDON] == "Europe/London"
    assert import_run(callee_import.pk).endswith("is not queued, or a live worker is reading it")


@pytest.mark.django_db(transaction=True)
def test_a_resumed_background_import_rejects_the_unknown_zone_once_and_keeps_the_zones(
    spring, settings, monkeypatch
):
    from django.db import OperationalError
    from django.utils import timezone

    from campaigns.services import imports
    from campaigns.services.import_jobs import imports_resume_stale
    from tests.test_import_jobs import new_import

    settings.CALLEE_IMPORT_CHUNK_ROWS = 2
    settings.IMPORT_LEASE_SECONDS = 60
    # The unknown zone first: the resumed worker reads it again without writing.
    data = csv_bytes([ROWS[0], ROWS[3], ROWS[1], ROWS[2], ROWS[4]])
    callee_import = new_import(spring, data)
    real, calls = imports._write_chunk, []

    def dies_on_the_second_chunk(rows, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("server closed the connection unexpectedly")
        return real(rows, **kwargs)

    monkeypatch.setattr(imports, "_write_chunk", dies_on_the_second_chunk)
    with pytest.raises(OperationalError):
        import_run(callee_import.pk)
    callee_import.refresh_from_db()
    assert (callee_import.state, callee_import.rows) == ("running", 2)
    monkeypatch.setattr(imports, "_write_chunk", real)
    assert imports_resume_stale(now=timezone.now() + timedelta(seconds=61)) == [callee_import.pk]
    callee_import.refresh_from_db()
    assert callee_import.state == "staged", callee_import.error
    assert (callee_import.rows, callee_import.imported, callee_import.rejected) == (4, 3, 1)
    with callee_import.rejected_file.open("rb") as fh:
        rejected = list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))
    assert rejected == [["row", "value", "reason"], ["2", "+65 6123 4567", MARS]]
    staged = dict(
        Callee.objects.filter(source=callee_import).values_list("number", "zone_set__key")
    )
    assert staged == {NEW_YORK: "Asia/Singapore", LONDON: None, NEW_YORK_2: "America/Los_Angeles"}
