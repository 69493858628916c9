"""Callee imports: normalisation, the streaming reader (encodings, delimiters, XLSX, errors),
duplicates, the admin preview → confirm flow, the background job, and import_callees."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from campaigns.models import Callee, CalleeImport, Campaign, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.import_records import import_cancel, import_confirm, import_now
from campaigns.services.imports import ImportStateError, RowValidator, import_stream
from campaigns.services.numbers import InvalidNumber, normalise_number
from campaigns.services.tabular import ImportFileError, count_rows, open_rows
from tests.conftest import make_staff

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "callees_sample.csv"
ACTOR = Actor(label="test")


@pytest.fixture
def campaign(voice_app) -> Campaign:
    voice_file = VoiceFile.objects.create(
        app=voice_app, file_name="hello.wav", audio="voice/hello.wav", state="uploaded"
    )
    return Campaign.objects.create(name="Spring", app=voice_app, voice_file=voice_file)


def rows_of(data: bytes, name: str = "callees.csv") -> list[tuple[int, object]]:
    with open_rows(io.BytesIO(data), name) as reader:
        return list(reader)


def file_error(data: bytes, name: str = "callees.csv") -> str:
    with pytest.raises(ImportFileError) as caught:
        rows_of(data, name)
    return str(caught.value)


def xlsx_bytes(rows: list[list[object]], title: str = "Callees") -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6281234567890", "6281234567890"),
        ("+62 812 3456 7890", "6281234567890"),
        ("+62-812-3456-7890", "6281234567890"),
        ("62.812.3456.7890", "6281234567890"),
        ("(0812) 345 6789", "08123456789"),
        ("[0812] 345-6789", "08123456789"),
        ("0062 812 3456 7890", "6281234567890"),
        ("00628123456", "628123456"),
        ("  +1 (555) 010-9999 ", "15550109999"),
        ("+62\u00a0812\u2013345\u20136789", "628123456789"),
        ("1234567", "1234567"),
        ("123456789012345", "123456789012345"),
        (6281234567, "6281234567"),
        (6281234567.0, "6281234567"),
    ],
)
def test_numbers_are_normalised(raw, expected):
    assert normalise_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("12ab", "has letters: '12ab'"),
        ("0812 CALL ME", "has letters: '0812 CALL ME'"),
        ("123456", "6 digits: must be 7–15"),
        (
            "+62 123",
            "5 digits after removing spaces, dashes, dots, brackets and a leading + or 00: "
            "must be 7–15",
        ),
        (
            "00 1234 56",
            "6 digits after removing spaces, dashes, dots, brackets and a leading + or 00: "
            "must be 7–15",
        ),
        ("1234567890123456", "16 digits: must be 7–15"),
        (
            "+62 812 3456 7890 123",
            "16 digits after removing spaces, dashes, dots, brackets and a leading + or 00: "
            "must be 7–15",
        ),
        ("62+8123456789", "'+' is only allowed at the start: '62+8123456789'"),
        ("0812#345678", "has characters other than digits ('#'): '0812#345678'"),
        ("6.28123E+12", "in scientific notation, digits are lost: '6.28123E+12'"),
        ("--", "no digits: '--'"),
        (6281234567.5, "not a whole number: 6281234567.5"),
    ],
)
def test_invalid_numbers_say_why(raw, reason):
    with pytest.raises(InvalidNumber) as caught:
        normalise_number(raw)
    assert caught.value.reason.startswith(reason)


def test_validator_reports_duplicates_in_file_and_against_the_campaign():
    validator = RowValidator(existing=["6281100000001"])
    assert validator.check(2, "+62 811 0000 0002") == ("valid", "6281100000002", "")
    assert validator.check(3, "0062-811-0000-0002") == (
        "duplicate",
        "6281100000002",
        "duplicate of row 2",
    )
    assert validator.check(4, "6281100000001") == (
        "duplicate",
        "6281100000001",
        "already in the campaign",
    )
    assert validator.check(5, "12ab") == ("rejected", "", "has letters: '12ab'")
    # Leading zeros make different numbers.
    assert validator.check(6, "08123456789")[0] == "valid"
    assert validator.check(7, "8123456789")[0] == "valid"


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------
TEXT = "Nom;Téléphone;phone\r\nAdèle;ignored;+62 812 3456 7890\r\nZoë;x;0812-555-0123\r\n"


@pytest.mark.parametrize(
    ("label", "data", "encoding"),
    [
        ("utf-8", TEXT.encode("utf-8"), "utf-8"),
        ("utf-8 BOM", codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        ("utf-16 LE BOM", codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        ("utf-16 BE BOM", codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        ("windows-1252", TEXT.encode("cp1252"), "cp1252"),
    ],
)
def test_encodings_are_detected(label, data, encoding):
    with open_rows(io.BytesIO(data), "list.csv") as reader:
        assert reader.encoding == encoding
        # The non-ASCII header is decoded right, and the exact "phone" column is the number one.
        assert reader.columns == ["Nom", "Téléphone", "phone"]
        assert reader.number_column == "phone"
        assert list(reader) == [(2, "+62 812 3456 7890"), (3, "0812-555-0123")]


def test_a_windows_1252_header_without_a_number_column_is_listed_readably():
    data = "Nom;Téléphone\r\nAdèle;0812555\r\n".encode("cp1252")
    assert file_error(data) == (
        "No number column: the columns found are 'Nom', 'Téléphone'. Name the column with the "
        "numbers number, phone, mobile, callee or msisdn (any case)."
    )


@pytest.mark.parametrize(
    ("delimiter", "data"),
    [
        (",", 'name,phone,city\n"Doe, Jane",+62 812 3456 7890,"Bandung; West Java"\n'),
        (";", 'name;phone;city\n"Doe; Jane";+62 812 3456 7890;"Bandung, West Java"\n'),
        ("\t", "name\tphone\tcity\nDoe, Jane\t+62 812 3456 7890\tBandung; West Java\n"),
    ],
)
def test_delimiters_are_sniffed_from_the_header(delimiter, data):
    with open_rows(io.BytesIO(data.encode()), "x.txt") as reader:
        assert reader.delimiter == delimiter
        assert list(reader) == [(2, "+62 812 3456 7890")]


def test_excel_sep_line_sets_the_delimiter():
    assert rows_of(b"sep=;\nphone;name\n0812345678;a,b\n") == [(3, "0812345678")]


def test_blank_lines_are_skipped_and_row_numbers_stay_those_of_the_file():
    data = b"\n\nphone,name\n\n0811111111,a\n\n,\n ; \n0822222222,b\n,c\n\n"
    assert rows_of(data) == [(5, "0811111111"), (9, "0822222222"), (10, "")]


@pytest.mark.parametrize("header", ["number", "PHONE", "Mobile", "callee", "MsIsDn", " Phone "])
def test_number_header_matches_case_insensitively_and_other_columns_are_ignored(header):
    data = f"first name,{header},email\nAda,+62 812 3456 7890,ada@example.com\n".encode()
    with open_rows(io.BytesIO(data), "x.csv") as reader:
        assert reader.number_column == header.strip()
        assert list(reader) == [(2, "+62 812 3456 7890")]


def test_the_first_number_column_wins():
    assert rows_of(b"mobile,phone\n0811111111,0822222222\n") == [(2, "0811111111")]


def test_xlsx_first_sheet_with_numbers_blank_rows_and_a_late_header():
    data = xlsx_bytes(
        [
            [None, None],
            ["Name", "MSISDN"],
            ["Ada", 6281234567890],
            [None, None],
            ["Bob", "+62 812 3456 7891"],
            ["Cy", None],
        ]
    )
    with open_rows(io.BytesIO(data), "list.xlsx") as reader:
        assert reader.kind == "xlsx"
        assert reader.number_column == "MSISDN"
        assert list(reader) == [(3, 6281234567890), (5, "+62 812 3456 7891"), (6, None)]
    assert count_rows(io.BytesIO(data), "list.xlsx") == 5


def test_count_rows_counts_newlines_cheaply():
    assert count_rows(io.BytesIO(b"phone\n1\n2\n3")) == 3
    assert count_rows(io.BytesIO(b"phone\n1\n2\n3\n")) == 3
    assert count_rows(io.BytesIO("phone\n1\n2\n".encode("utf-16"))) == 2
    assert count_rows(io.BytesIO(b"phone\n" + b"1\n" * 500), stop_after=10) > 10


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "x.csv", "The file is empty."),
        (b"\r\n\n  \n", "x.csv", "The file is empty."),
        (
            b"6281234567890\n6281234567891\n",
            "x.csv",
            "No header row: line 1 starts with '6281234567890', which looks like a phone number."
            " Add a first line naming the column: number, phone, mobile, callee or msisdn.",
        ),
        (
            b"name,email,\nAda,a@example.com,\n",
            "x.csv",
            "No number column: the columns found are 'name', 'email', (blank). Name the column "
            "with the numbers number, phone, mobile, callee or msisdn (any case).",
        ),
        (
            b"phone\n0812\x81\x8d\n",
            "x.csv",
            "The file cannot be decoded: it is not UTF-8, and byte 0x81 at offset 10 is not "
            "Windows-1252 either. Save the list as “CSV UTF-8” and try again.",
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
            "x.csv",
            "This is not a text file (it contains NUL bytes) nor an XLSX workbook.",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "x.xls",
            "This is an Excel 97–2003 workbook (.xls) or a password-protected XLSX",
        ),
        (b"phone\n0812345678\n", "x.xlsx", "The XLSX workbook is damaged or truncated"),
    ],
)
def test_unreadable_files_get_a_precise_error(data, name, message):
    assert file_error(data, name).startswith(message)


def test_a_truncated_xlsx_is_reported_as_damaged():
    data = xlsx_bytes([["phone"]] + [[f"62812{i:07d}"] for i in range(2000)])
    message = file_error(data[: len(data) // 2], "list.xlsx")
    assert message.startswith("The XLSX workbook is damaged or truncated (")
    assert message.endswith("Open it in Excel and save it again, or save the list as CSV.")


def test_an_xlsx_without_rows_or_number_column():
    assert file_error(xlsx_bytes([]), "a.xlsx") == "The first sheet ('Callees') is empty."
    assert file_error(xlsx_bytes([["Name", "Mail"], ["Ada", "x"]]), "a.xlsx").startswith(
        "No number column: the columns found are 'Name', 'Mail'."
    )


def test_a_utf16_file_cut_in_half_a_character_is_reported():
    data = codecs.BOM_UTF16_LE + "phone\n0812345678\n".encode("utf-16-le") + b"\x30"
    assert file_error(data).startswith("The file starts like UTF-16 text but byte 0x30")


# ---------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------
def make_import(campaign: Campaign, name: str = "list.csv") -> CalleeImport:
    return CalleeImport.objects.create(
        campaign=campaign, original_name=name, file="imports/x.csv", state="running"
    )


@pytest.mark.django_db
def test_import_stream_stages_valid_rows_and_writes_rejected_ones_with_reasons(campaign):
    Callee.objects.create(campaign=campaign, number="08125550123")
    callee_import = make_import(campaign)
    with open_rows(SAMPLE) as rows:
        counts = import_stream(campaign=campaign, rows=rows, callee_import=callee_import)
    assert counts.summary() == "imported=2 rejected=2 duplicates=2"
    staged = Callee.objects.filter(source=callee_import).order_by("row_number")
    assert [(c.row_number, c.number, c.state) for c in staged] == [
        (2, "6281234567890", "staged"),
        (3, "6281234567891", "staged"),
    ]
    callee_import.refresh_from_db()
    assert (callee_import.rows, callee_import.imported, callee_import.rejected) == (6, 2, 2)
    assert callee_import.duplicates == 2
    assert callee_import.processed_bytes == callee_import.total_bytes == SAMPLE.stat().st_size
    rejected = read_csv(callee_import.rejected_file.read())
    assert rejected == [
        ["row", "value", "reason"],
        ["4", "12ab", "has letters: '12ab'"],
        ["6", "+62 812 3456 7890", "duplicate of row 2"],
        ["7", "123", "3 digits: must be 7–15"],
        ["8", "(0812) 555.0123", "already in the campaign"],
    ]


@pytest.mark.django_db
def test_a_dry_run_writes_nothing(campaign):
    with open_rows(SAMPLE) as rows:
        counts = import_stream(campaign=campaign, rows=rows, dry_run=True)
    assert counts.summary() == "imported=3 rejected=2 duplicates=1"
    assert [(r.row, r.reason) for r in counts.sample] == [
        (4, "has letters: '12ab'"),
        (6, "duplicate of row 2"),
        (7, "3 digits: must be 7–15"),
    ]
    assert not Callee.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_numbers_added_by_another_import_meanwhile_are_skipped_not_a_crash(campaign):
    other = make_import(campaign, "other.csv")
    callee_import = make_import(campaign)

    def rows():
        yield 2, "6281100000001"
        yield 3, "6281100000002"
        # Another import commits the same number after this one's check, before its write.
        Callee.objects.create(campaign=campaign, number="6281100000002", source=other)
        yield 4, "6281100000003"

    counts = import_stream(campaign=campaign, rows=rows(), callee_import=callee_import)
    assert counts.summary() == "imported=2 rejected=0 duplicates=1"
    assert counts.sample[0].reason == "already in the campaign (added meanwhile)"
    assert sorted(Callee.objects.filter(source=callee_import).values_list("number", flat=True)) == [
        "6281100000001",
        "6281100000003",
    ]


@pytest.mark.django_db
def test_confirm_makes_staged_callees_pending_and_cancel_deletes_them(campaign):
    first, second = make_import(campaign, "a.csv"), make_import(campaign, "b.csv")
    import_stream(campaign=campaign, rows=[(2, "6281100000001")], callee_import=first)
    import_stream(campaign=campaign, rows=[(2, "6281100000002")], callee_import=second)
    CalleeImport.objects.update(state="staged")
    assert import_confirm(callee_import=first, actor=ACTOR) == 1
    assert first.state == "confirmed"
    assert Callee.objects.get(source=first).state == "pending"
    with pytest.raises(ImportStateError, match="only an import waiting for confirmation"):
        import_confirm(callee_import=first, actor=ACTOR)
    assert import_cancel(callee_import=second, actor=ACTOR) == 1
    assert second.state == "cancelled"
    assert not Callee.objects.filter(source=second).exists()
    with pytest.raises(ImportStateError, match="can no longer be cancelled"):
        import_cancel(callee_import=first, actor=ACTOR)


@pytest.mark.django_db
def test_a_cancelled_running_import_stops_at_its_next_chunk(campaign):
    callee_import = make_import(campaign)

    def rows():
        for i in range(25):
            if i == 12:
                CalleeImport.objects.filter(pk=callee_import.pk).update(state="cancelled")
            yield i + 2, f"62811{i:08d}"

    from campaigns.services.imports import ImportCancelled

    with pytest.raises(ImportCancelled):
        import_stream(campaign=campaign, rows=rows(), callee_import=callee_import, chunk_size=10)
    # The chunk read after the cancel was not written.
    assert Callee.objects.filter(source=callee_import).count() == 10


@pytest.mark.django_db
def test_confirm_refuses_a_finished_campaign(campaign):
    callee_import = make_import(campaign)
    import_stream(campaign=campaign, rows=[(2, "6281100000001")], callee_import=callee_import)
    CalleeImport.objects.update(state="staged")
    Campaign.objects.update(state="completed")
    with pytest.raises(ImportStateError, match="is completed: callees can be imported only"):
        import_confirm(callee_import=callee_import, actor=ACTOR)


@pytest.mark.django_db(transaction=True)
def test_thirty_thousand_rows_import_in_bulk(campaign, tmp_path, django_assert_max_num_queries):
    path = tmp_path / "big.csv"
    with path.open("w") as fh:
        fh.write("phone\n")
        for i in range(30_000):
            fh.write(f"+62 811 {i:08d}\n")
        fh.write("+62 811 00000007\nnot a number\n")
    # Bulk: a few statements per 10,000-row chunk, never one per row.
    with django_assert_max_num_queries(60):
        counts, callee_import = import_now(
            campaign=campaign, source=path, name="big.csv", actor=ACTOR
        )
    assert counts.summary() == "imported=30000 rejected=1 duplicates=1"
    assert Callee.objects.filter(campaign=campaign, state="pending").count() == 30_000
    assert Callee.objects.get(row_number=30_001).number == "6281100029999"
    callee_import.refresh_from_db()
    assert callee_import.state == "confirmed"
    assert read_csv(callee_import.rejected_file.read())[1:] == [
        ["30002", "+62 811 00000007", "duplicate of row 9"],
        ["30003", "not a number", "has letters: 'not a number'"],
    ]


def test_the_database_under_test():
    # The suite runs on SQLite by default and on PostgreSQL with DATABASE_URL (COPY path).
    assert connection.vendor in ("sqlite", "postgresql")


# ---------------------------------------------------------------------------
# Admin: preview → confirm, permissions
# ---------------------------------------------------------------------------
IMPORT_URL = "/admin/campaigns/callee/import/"


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.django_db
def test_operator_previews_skipped_rows_downloads_them_and_confirms(client, operator, campaign):
    Callee.objects.create(campaign=campaign, number="08125550123", state="pending")
    client.force_login(operator)
    page = client.get(f"{IMPORT_URL}?campaign={campaign.pk}")
    assert page.status_code == 200
    assert f'<option value="{campaign.pk}" selected>Spring</option>' in page.content.decode()

    preview = client.post(
        IMPORT_URL,
        {"campaign": campaign.pk, "import_file": upload("list.csv", SAMPLE.read_bytes())},
    )
    html = text(preview)
    assert '6 rows read, <strong id="import-valid-count">2</strong> to import' in html
    for row, value, reason in [
        (4, "12ab", "has letters: &#x27;12ab&#x27;"),
        (6, "+62 812 3456 7890", "duplicate of row 2"),
        (7, "123", "3 digits: must be 7–15"),
        (8, "(0812) 555.0123", "already in the campaign"),
    ]:
        assert (
            f'<tr><td class="num">{row}</td><td><code>{value}</code></td><td>{reason}</td></tr>'
        ) in html
    assert '<tr><td class="num">2</td><td><code>6281234567890</code></td></tr>' in html
    assert not Callee.objects.filter(state="pending").exclude(number="08125550123").exists()
    # Confirm or cancel at the top and again below the rows; cancelling goes back, writing nothing.
    assert 'id="confirm-import"' in html and 'id="confirm-import-again"' in html
    assert 'form="confirm-import-form"' in html
    assert html.count("Cancel: import nothing") == 2
    assert f'href="{IMPORT_URL}?campaign={campaign.pk}"' in html

    download_url = preview.context["rejected_url"]
    rejected = client.get(download_url)
    assert rejected["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="list-rejected.csv"' in rejected["Content-Disposition"]
    assert read_csv(rejected.content)[0] == ["row", "value", "reason"]
    assert read_csv(rejected.content)[1] == ["4", "12ab", "has letters: '12ab'"]

    confirm = preview.context["confirm_form"]
    done = client.post(
        "/admin/campaigns/callee/process_import/",
        {**confirm.initial, "campaign": campaign.pk},
    )
    callee_import = CalleeImport.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/admin/campaigns/calleeimport/{callee_import.pk}/change/"
    assert (callee_import.state, callee_import.imported) == ("confirmed", 2)
    assert (callee_import.rejected, callee_import.duplicates) == (2, 2)
    assert callee_import.created_by == "operator"
    pending = Callee.objects.filter(source=callee_import, state="pending").order_by("row_number")
    assert [(c.row_number, c.number) for c in pending] == [
        (2, "6281234567890"),
        (3, "6281234567891"),
    ]
    job_page = text(client.get(done["Location"]))
    assert "Imported 2 callees into Spring (pending); 2 rows rejected, 2 duplicates" in job_page
    assert "<td>duplicate of row 2</td>" in job_page
    csv_file = client.get(f"/admin/campaigns/calleeimport/{callee_import.pk}/rejected/")
    assert read_csv(b"".join(csv_file.streaming_content))[2] == [
        "6",
        "+62 812 3456 7890",
        "duplicate of row 2",
    ]


@pytest.mark.django_db
def test_admin_imports_xlsx_and_tsv(client, operator, campaign):
    client.force_login(operator)
    files = [
        ("a.xlsx", xlsx_bytes([["Mobile"], [6281100000001], ["x"]])),
        ("b.tsv", "name\tMSISDN\nA\t+62 811 0000 0002\n".encode("utf-16")),
    ]
    for name, data in files:
        preview = client.post(
            IMPORT_URL, {"campaign": campaign.pk, "import_file": upload(name, data)}
        )
        confirm = preview.context["confirm_form"]
        done = client.post("/admin/campaigns/callee/process_import/", confirm.initial, follow=True)
        if name == "a.xlsx":  # one of each, said in the singular
            assert "Imported 1 callee into Spring (pending); 1 row rejected, 0 duplicates " in (
                done.content.decode()
            )
    assert sorted(Callee.objects.values_list("number", "state")) == [
        ("6281100000001", "pending"),
        ("6281100000002", "pending"),
    ]


@pytest.mark.django_db
def test_the_import_page_and_the_command_write_the_same_import(client, operator, campaign):
    """One callee-write pipeline: a file confirmed on the import page and the same file given to
    import_callees leave the same callees, counts and rejected rows."""
    other = Campaign.objects.create(name="Autumn", app=campaign.app, voice_file=campaign.voice_file)
    client.force_login(operator)
    preview = client.post(
        IMPORT_URL,
        {"campaign": campaign.pk, "import_file": upload("list.csv", SAMPLE.read_bytes())},
    )
    client.post("/admin/campaigns/callee/process_import/", preview.context["confirm_form"].initial)
    assert run_command("Autumn", str(SAMPLE))[0] == 0

    def written(callee_import: CalleeImport) -> tuple:
        callees = Callee.objects.filter(source=callee_import)
        return (
            callee_import.state,
            (callee_import.rows, callee_import.imported),
            (callee_import.rejected, callee_import.duplicates),
            sorted(callees.values_list("row_number", "number", "state")),
            read_csv(callee_import.rejected_file.read()),
        )

    by_page, by_command = (CalleeImport.objects.get(campaign=c) for c in (campaign, other))
    assert written(by_page) == written(by_command)
    assert written(by_page)[:3] == ("confirmed", (6, 3), (2, 1))


@pytest.mark.django_db
def test_admin_shows_the_precise_file_error(client, operator, campaign):
    client.force_login(operator)
    page = client.post(
        IMPORT_URL,
        {"campaign": campaign.pk, "import_file": upload("x.csv", b"Name;Mail\nA;b\n")},
    )
    assert "No number column: the columns found are &#x27;Name&#x27;, &#x27;Mail&#x27;." in text(
        page
    )
    assert "confirm_form" not in page.context or page.context["confirm_form"] is None
    page = client.post(
        IMPORT_URL, {"campaign": campaign.pk, "import_file": upload("x.csv", b"phone\n")}
    )
    assert "The file has a header (number column &#x27;phone&#x27;) but no rows below it." in (
        text(page)
    )


@pytest.mark.django_db
def test_only_open_campaigns_are_offered(client, operator, campaign, voice_app):
    Campaign.objects.create(
        name="Old", app=voice_app, voice_file=campaign.voice_file, state="completed"
    )
    client.force_login(operator)
    page = client.get(IMPORT_URL).content.decode()
    assert ">Spring</option>" in page and ">Old</option>" not in page


@pytest.mark.django_db
def test_a_viewer_cannot_import(client, viewer, campaign):
    client.force_login(viewer)
    listing = client.get("/admin/campaigns/callee/")
    assert listing.status_code == 200
    assert "import-callees-link" not in listing.content.decode()
    assert client.get(IMPORT_URL).status_code == 403
    forged = client.post(
        IMPORT_URL,
        {"campaign": campaign.pk, "import_file": upload("list.csv", SAMPLE.read_bytes())},
    )
    assert forged.status_code == 403
    process = client.post(
        "/admin/campaigns/callee/process_import/",
        {
            "import_file_name": "x",
            "original_file_name": "x.csv",
            "format": "0",
            "campaign": campaign.pk,
        },
    )
    assert process.status_code == 403
    assert not Callee.objects.exists() and not CalleeImport.objects.exists()


@pytest.mark.django_db
def test_a_viewer_cannot_confirm_a_staged_import(client, viewer, campaign):
    callee_import = make_import(campaign)
    import_stream(campaign=campaign, rows=[(2, "6281100000001")], callee_import=callee_import)
    CalleeImport.objects.update(state="staged")
    client.force_login(viewer)
    page = client.get(f"/admin/campaigns/calleeimport/{callee_import.pk}/change/")
    assert page.status_code == 200 and 'id="confirm-import"' not in page.content.decode()
    url = f"/admin/campaigns/calleeimport/{callee_import.pk}/confirm/"
    assert client.post(url).status_code == 403
    assert Callee.objects.get().state == "staged"


# ---------------------------------------------------------------------------
# Admin: the background job
# ---------------------------------------------------------------------------
def big_csv(rows: int) -> bytes:
    lines = ["Phone,Name"] + [f"+62 811 {i:08d},n{i}" for i in range(rows)]
    lines += ["12ab,bad", "+62 811 00000003,dup"]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.django_db
def test_a_large_file_is_read_in_the_background_then_confirmed(
    client, operator, campaign, settings, django_capture_on_commit_callbacks
):
    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 50
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            IMPORT_URL, {"campaign": campaign.pk, "import_file": upload("big.csv", big_csv(120))}
        )
    assert len(callbacks) == 1  # run_callee_import, enqueued on commit
    callee_import = CalleeImport.objects.get()
    assert response["Location"] == f"/admin/campaigns/calleeimport/{callee_import.pk}/change/"
    callee_import.refresh_from_db()
    assert callee_import.state == "staged"
    assert (callee_import.rows, callee_import.imported) == (122, 120)
    assert (callee_import.rejected, callee_import.duplicates) == (1, 1)
    assert Callee.objects.filter(state="staged").count() == 120

    progress = client.get(f"/admin/campaigns/calleeimport/{callee_import.pk}/progress/").json()
    assert progress["percent"] == 100 and progress["finished"] is True
    assert progress["processed_bytes"] == progress["total_bytes"] == len(big_csv(120))
    assert progress["state"] == "staged"

    page = text(client.get(response["Location"]))
    assert "is being imported in the background" in page
    assert 'style="width: 100%"' in page
    assert '<td class="num">123</td><td><code>+62 811 00000003</code></td>' in page
    assert 'value="Confirm 120 callees"' in page

    confirmed = client.post(f"/admin/campaigns/calleeimport/{callee_import.pk}/confirm/")
    assert confirmed.status_code == 302
    assert Callee.objects.filter(state="pending").count() == 120
    assert "Confirmed: 120 callees of big.csv are now pending." in text(
        client.get(confirmed["Location"])
    )


@pytest.mark.django_db
def test_a_background_import_can_be_cancelled(
    client, operator, campaign, settings, django_capture_on_commit_callbacks
):
    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 50
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            IMPORT_URL, {"campaign": campaign.pk, "import_file": upload("big.csv", big_csv(80))}
        )
    callee_import = CalleeImport.objects.get()
    assert Callee.objects.filter(source=callee_import, state="staged").count() == 80
    client.post(f"/admin/campaigns/calleeimport/{callee_import.pk}/cancel/")
    callee_import.refresh_from_db()
    assert callee_import.state == "cancelled"
    assert not Callee.objects.exists()


@pytest.mark.django_db
def test_a_queued_job_reports_zero_percent_and_a_bad_large_file_is_refused_at_once(
    client, operator, campaign, settings, django_capture_on_commit_callbacks
):
    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 5
    client.force_login(operator)
    bad = b"Name,Mail\n" + b"a,b\n" * 20
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        page = client.post(
            IMPORT_URL, {"campaign": campaign.pk, "import_file": upload("bad.csv", bad)}
        )
        assert "No number column" in page.content.decode()
        client.post(
            IMPORT_URL, {"campaign": campaign.pk, "import_file": upload("b.csv", big_csv(9))}
        )
    assert len(callbacks) == 1
    callee_import = CalleeImport.objects.get()
    progress = client.get(f"/admin/campaigns/calleeimport/{callee_import.pk}/progress/").json()
    assert (progress["state"], progress["percent"], progress["finished"]) == ("queued", 0, False)
    page = client.get(f"/admin/campaigns/calleeimport/{callee_import.pk}/change/").content.decode()
    assert 'data-active="1"' in page and "import_progress.js" in page


@pytest.mark.django_db
def test_a_background_job_on_a_damaged_file_fails_and_keeps_nothing(campaign):
    from campaigns.tasks import run_callee_import

    data = xlsx_bytes([["phone"]] + [[f"62812{i:07d}"] for i in range(3000)])
    callee_import = CalleeImport.objects.create(
        campaign=campaign, original_name="cut.xlsx", file="imports/cut.xlsx"
    )
    callee_import.file.save("cut.xlsx", SimpleUploadedFile("cut.xlsx", data[:-200]))
    run_callee_import.call(callee_import.pk)
    callee_import.refresh_from_db()
    assert callee_import.state == "failed"
    assert callee_import.error.startswith("The XLSX workbook is damaged or truncated")
    assert not Callee.objects.exists()


# ---------------------------------------------------------------------------
# import_callees
# ---------------------------------------------------------------------------
def run_command(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_callees", *args, stdout=out, stderr=err)
    except CommandError as exc:
        err.write(str(exc))
        return exc.returncode, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_command_imports_prints_counts_and_exits_0(campaign, tmp_path):
    rejected = tmp_path / "rejected.csv"
    code, out, err = run_command("Spring", str(SAMPLE), "--rejected", str(rejected))
    assert (code, out) == (0, "imported=3 rejected=2 duplicates=1\n")
    assert "row 4: '12ab': has letters: '12ab'" in err
    assert Callee.objects.filter(state="pending").count() == 3
    assert CalleeImport.objects.get().state == "confirmed"
    assert read_csv(rejected.read_bytes())[1] == ["4", "12ab", "has letters: '12ab'"]


@pytest.mark.django_db
def test_command_exits_1_when_nothing_was_imported(campaign, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("phone\n12ab\n123\n")
    code, out, err = run_command(str(campaign.pk), str(path))
    assert (code, out) == (1, "imported=0 rejected=2 duplicates=0\n")
    assert "No row was imported." in err
    # Importing the sample twice: the second time every row is a duplicate.
    assert run_command("Spring", str(SAMPLE))[0] == 0
    code, out, _ = run_command("Spring", str(SAMPLE))
    assert (code, out) == (1, "imported=0 rejected=2 duplicates=4\n")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name\nAda\n", "No number column: the columns found are 'name'."),
        (b"phone\n\x81\x8d\n", "The file cannot be decoded"),
        (b"", "The file is empty."),
        (None, "no such file"),
    ],
)
def test_command_exits_2_when_the_file_cannot_be_read(campaign, tmp_path, content, message):
    path = tmp_path / "list.csv"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_command("Spring", str(path))
    assert code == 2 and out == "" and message in err
    assert not CalleeImport.objects.exists() and not Callee.objects.exists()


@pytest.mark.django_db
def test_command_unknown_or_closed_campaign_exits_2(campaign):
    assert run_command("Nope", str(SAMPLE))[0] == 2
    Campaign.objects.update(state="cancelled")
    code, _, err = run_command("Spring", str(SAMPLE))
    assert code == 2 and "is cancelled: callees can be imported only" in err


@pytest.mark.django_db
def test_command_dry_run_writes_nothing(campaign):
    code, out, err = run_command("Spring", str(SAMPLE), "--dry-run")
    assert (code, out) == (0, "imported=3 rejected=2 duplicates=1\n")
    assert "Dry run: nothing was written." in err
    assert not Callee.objects.exists() and not CalleeImport.objects.exists()


@pytest.mark.django_db
def test_roles_operator_and_admin_may_import(campaign):
    assert make_staff("op2", "Operator").has_perm("campaigns.add_callee")
    assert make_staff("adm2", "Admin").has_perm("campaigns.add_callee")
    assert not make_staff("view2", "Viewer").has_perm("campaigns.add_callee")


@pytest.mark.django_db(transaction=True)
def test_a_file_failing_halfway_leaves_nothing_behind(campaign, tmp_path):
    path = tmp_path / "half.csv"
    with path.open("w") as fh:
        fh.write("phone\n")
        fh.writelines(f"62811{i:08d}\n" for i in range(25_000))  # two chunks written first
        fh.write('"' + "9" * 200_000 + '"\n62899999999\n')
    with pytest.raises(ImportFileError, match=r"^Line 25002 cannot be read as CSV: field larger"):
        import_now(campaign=campaign, source=path, name="half.csv", actor=ACTOR)
    assert not Callee.objects.exists()
    failed = CalleeImport.objects.get()
    assert failed.state == "failed" and failed.error.startswith("Line 25002 cannot be read")
    assert run_command("Spring", str(path))[0] == 2
    assert not Callee.objects.exists()


@pytest.mark.django_db
def test_a_preview_cannot_be_confirmed_twice_nor_point_at_another_file(client, operator, campaign):
    client.force_login(operator)
    preview = client.post(
        IMPORT_URL,
        {"campaign": campaign.pk, "import_file": upload("list.csv", SAMPLE.read_bytes())},
    )
    confirm = preview.context["confirm_form"].initial
    client.post("/admin/campaigns/callee/process_import/", confirm)
    again = client.post("/admin/campaigns/callee/process_import/", confirm, follow=True)
    assert "Nothing was imported: the preview has expired. Upload the file again." in text(again)
    forged = client.post(
        "/admin/campaigns/callee/process_import/",
        {**confirm, "import_file_name": "passwd.csv"},
        follow=True,
    )
    assert "Nothing was imported: Not a file this import page stored." in text(forged)
    assert CalleeImport.objects.count() == 1 and Callee.objects.count() == 3
    # The rejected-rows download only reads back what a preview signed.
    assert client.get(f"{IMPORT_URL}rejected/?t=forged").status_code == 404


@pytest.mark.django_db
def test_callee_list_offers_import_for_the_filtered_campaign(client, operator, campaign):
    Callee.objects.create(campaign=campaign, number="6281100000001", state="pending")
    client.force_login(operator)
    page = client.get(f"/admin/campaigns/callee/?campaign__id__exact={campaign.pk}")
    html = page.content.decode()
    assert f'href="/admin/campaigns/callee/import/?campaign={campaign.pk}"' in html
    assert "6281100000001" in html
    found = client.get("/admin/campaigns/callee/?q=%2B62 811").content.decode()
    assert "6281100000001" in found
    assert "6281100000001" not in client.get("/admin/campaigns/callee/?q=999").content.decode()


# ---------------------------------------------------------------------------
# A default region: national numbers become international, checked by country
# ---------------------------------------------------------------------------
REGION_CSV = b"phone\n9123 4567\n+65 9123 4567\n1234 5678\n+44 20 7946 0958\n6123-4567\n"


def post_with_region(client, campaign: Campaign, region: str):
    data = {"campaign": campaign.pk, "default_region": region}
    return client.post(IMPORT_URL, {**data, "import_file": upload("sg.csv", REGION_CSV)})


@pytest.mark.django_db
def test_command_with_a_default_region_imports_national_numbers(campaign, tmp_path):
    path = tmp_path / "sg.csv"
    path.write_bytes(REGION_CSV)
    rejected = tmp_path / "rejected.csv"
    code, out, err = run_command(
        "Spring", str(path), "--default-region", "sg", "--rejected", str(rejected)
    )
    assert (code, out) == (0, "imported=3 rejected=1 duplicates=1\n")
    assert "row 4: '1234 5678': not a valid Singapore number" in err
    assert read_csv(rejected.read_bytes())[1:] == [
        ["3", "+65 9123 4567", "duplicate of row 2"],
        ["4", "1234 5678", "not a valid Singapore number"],
    ]
    assert sorted(Callee.objects.values_list("number", flat=True)) == [
        "442079460958",
        "6561234567",
        "6591234567",
    ]
    assert CalleeImport.objects.get().default_region == "SG"


@pytest.mark.django_db
def test_command_refuses_an_unknown_region_and_writes_nothing(campaign, tmp_path):
    path = tmp_path / "sg.csv"
    path.write_bytes(REGION_CSV)
    code, out, err = run_command("Spring", str(path), "--default-region", "XX")
    assert code == 2 and out == ""
    assert "Unknown region 'XX': give a two-letter country code such as SG." in err
    assert not CalleeImport.objects.exists() and not Callee.objects.exists()


@pytest.mark.django_db
def test_without_a_region_national_numbers_stay_as_today(campaign, tmp_path):
    path = tmp_path / "sg.csv"
    path.write_bytes(REGION_CSV)
    code, out, _ = run_command("Spring", str(path))
    assert (code, out) == (0, "imported=5 rejected=0 duplicates=0\n")
    assert Callee.objects.filter(number="91234567").exists()


@pytest.mark.django_db
def test_the_background_job_reads_with_the_imports_region(campaign):
    callee_import = CalleeImport.objects.create(
        campaign=campaign,
        original_name="sg.csv",
        file="imports/sg.csv",
        state="running",
        default_region="SG",
    )
    with open_rows(io.BytesIO(REGION_CSV), "sg.csv") as rows:
        counts = import_stream(campaign=campaign, rows=rows, callee_import=callee_import)
    assert counts.summary() == "imported=3 rejected=1 duplicates=1"
    staged = Callee.objects.filter(source=callee_import).order_by("row_number")
    assert [(c.row_number, c.number) for c in staged] == [
        (2, "6591234567"),
        (5, "442079460958"),
        (6, "6561234567"),
    ]
    rejected = read_csv(callee_import.rejected_file.read())
    assert ["4", "1234 5678", "not a valid Singapore number"] in rejected


@pytest.mark.django_db
def test_admin_import_with_a_default_region(client, operator, campaign):
    client.force_login(operator)
    page = text(client.get(IMPORT_URL))
    assert "Default region" in page and "e.g. SG" in page
    refused = text(post_with_region(client, campaign, "Singapore"))
    assert "Unknown region &#x27;Singapore&#x27;" in refused
    preview = post_with_region(client, campaign, "sg")
    html = text(preview)
    assert '5 rows read, <strong id="import-valid-count">3</strong> to import' in html
    assert "numbers without a country code read as SG numbers" in html
    assert (
        '<tr><td class="num">4</td><td><code>1234 5678</code></td>'
        "<td>not a valid Singapore number</td></tr>"
    ) in html
    rejected = client.get(preview.context["rejected_url"])
    assert ["4", "1234 5678", "not a valid Singapore number"] in read_csv(rejected.content)
    confirm = preview.context["confirm_form"]
    assert confirm.initial["default_region"] == "SG"
    done = client.post(
        "/admin/campaigns/callee/process_import/", {**confirm.initial, "campaign": campaign.pk}
    )
    assert done.status_code == 302
    callee_import = CalleeImport.objects.get()
    assert (callee_import.default_region, callee_import.imported) == ("SG", 3)
    assert sorted(Callee.objects.filter(state="pending").values_list("number", flat=True)) == [
        "442079460958",
        "6561234567",
        "6591234567",
    ]


@pytest.mark.django_db
def test_a_large_file_with_a_region_is_read_in_the_background_with_it(
    client, operator, campaign, settings, django_capture_on_commit_callbacks
):
    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 2
    client.force_login(operator)
    with django_capture_on_commit_callbacks(execute=True):
        post_with_region(client, campaign, "SG")
    callee_import = CalleeImport.objects.get()
    assert (callee_import.state, callee_import.default_region) == ("staged", "SG")
    assert callee_import.imported == 3 and callee_import.rejected == 1
    assert Callee.objects.filter(number="6591234567", state="staged").exists()


@pytest.mark.django_db
def test_callee_search_goes_through_the_normaliser(client, operator, campaign):
    Callee.objects.create(campaign=campaign, number="6591234567", state="pending")
    client.force_login(operator)
    for term in ("+65 9123-45", "0065 (9123)", "6591234567", "+65 9123 4567"):
        found = client.get("/admin/campaigns/callee/", {"q": term}).content.decode()
        assert "6591234567" in found, term
    assert "6591234567" not in client.get("/admin/campaigns/callee/?q=9123").content.decode()
