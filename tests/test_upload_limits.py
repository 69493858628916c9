"""Bomb guards of the file reader (issue 12, defects 5 and 6): ZIP bombs and lying XLSX files are
refused before they are parsed, lines, cells, columns and rows are capped, uploads wait in
temporary storage written chunk by chunk, and memory stays flat (measured in a subprocess)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.models import AiCustomer, Callee, CalleeImport, Campaign, VoiceFile
from campaigns.services.ai_customer_import import CustomerFileError, read_customer_file
from campaigns.services.tabular import ImportFileError, count_rows, open_rows
from campaigns.upload_storage import UploadTempStorage
from tests import hostile
from tests.procs import ROOT

IMPORT_URL = "/admin/campaigns/callee/import/"
AI_IMPORT_URL = "/admin/campaigns/aicustomer/import/"
MEMORY_LIMIT_MB = 300


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture(scope="session")
def bombs(tmp_path_factory) -> dict[str, Path]:
    """The two XLSX files of the report, built once: 1.1 MB → 1.1 GB, and 3 MB / 30 M rows."""
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "shared-string bomb": hostile.shared_string_bomb(folder / "strings.xlsx"),
        "30 M rows in A1:A3": hostile.lying_dimension(folder / "rows.xlsx", 30_000_000),
    }


@pytest.fixture
def campaign(voice_app) -> Campaign:
    voice_file = VoiceFile.objects.create(
        app=voice_app, file_name="hello.wav", audio="voice/hello.wav", state="uploaded"
    )
    return Campaign.objects.create(name="Spring", app=voice_app, voice_file=voice_file)


# ---------------------------------------------------------------------------
# Defect 5: XLSX bombs
# ---------------------------------------------------------------------------
def test_the_report_files_are_what_the_report_says(bombs):
    assert 1_000_000 < bombs["shared-string bomb"].stat().st_size < 1_300_000
    assert bombs["30 M rows in A1:A3"].stat().st_size < 3_500_000


@pytest.mark.parametrize(
    "which, message",
    [
        ("shared-string bomb", r"its part xl/sharedStrings\.xml expands 1,0\d\d times"),
        ("30 M rows in A1:A3", r"its part xl/worksheets/sheet1\.xml expands \d+ times"),
    ],
)
def test_xlsx_bombs_are_refused_from_the_archive_directory(bombs, which, message):
    with pytest.raises(ImportFileError, match=message) as refused:
        open_rows(bombs[which])
    assert "IMPORT_XLSX_MAX_RATIO" in str(refused.value)
    with pytest.raises(CustomerFileError, match=message):
        read_customer_file(bombs[which].read_bytes(), "customers.xlsx")


def test_xlsx_size_and_shared_text_limits(settings, tmp_path):
    settings.IMPORT_XLSX_MAX_RATIO = 10_000  # the ratio alone would not stop these
    bomb = hostile.shared_string_bomb(tmp_path / "s.xlsx", megabytes=40)
    with pytest.raises(ImportFileError, match=r"its text table .* is 40 MB unpacked"):
        open_rows(bomb)
    settings.IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024
    rows = hostile.lying_dimension(tmp_path / "r.xlsx", 600_000)
    with pytest.raises(ImportFileError, match=r"it unpacks to 22 MB .at most 20 MB"):
        open_rows(rows)


def test_a_cell_too_long_for_memory_is_refused_while_the_xml_is_read(settings):
    # One text node the XML parser would hold whole; the ratio is harmless (random-ish text).
    settings.IMPORT_MAX_CELL_CHARS = 1000  # one token at most 64 KB
    data = hostile.xlsx_with_cell("".join(f"{i:06d}" for i in range(20_000)))  # 120 KB
    with pytest.raises(ImportFileError, match=r"sheet1\.xml holds one cell or tag longer than"):
        with open_rows(io.BytesIO(data), "big.xlsx") as rows:
            list(rows)
    with pytest.raises(CustomerFileError, match="holds one cell or tag longer than"):
        read_customer_file(data, "big.xlsx")


def test_a_dtd_is_refused(settings):
    data = hostile.xlsx_with_cell("&a;", doctype='<!DOCTYPE w [<!ENTITY a "aaaa">]>')
    with pytest.raises(ImportFileError, match="declares a DTD"):
        open_rows(io.BytesIO(data), "dtd.xlsx")


def test_a_lying_dimension_is_counted_and_rows_are_capped(settings, tmp_path):
    path = hostile.lying_dimension(tmp_path / "rows.xlsx", 50)
    # The dimension says 2 data rows; the preview-or-background choice counts the real ones.
    assert count_rows(path, "rows.xlsx", stop_after=10) > 10
    with open_rows(path) as rows:
        assert sum(1 for _ in rows) == 50
    settings.IMPORT_MAX_ROWS = 20
    with pytest.raises(ImportFileError, match=r"more than 20 rows below its header"):
        with open_rows(path) as rows:
            list(rows)
    settings.AI_CUSTOMER_IMPORT_MAX_ROWS = 10
    with pytest.raises(CustomerFileError, match=r"more than 10 rows .*AI_CUSTOMER_IMPORT_MAX_ROWS"):
        read_customer_file(path.read_bytes(), "rows.xlsx")


def test_csv_rows_cells_and_columns_are_capped(settings):
    settings.IMPORT_MAX_ROWS = 3
    data = b"phone\n" + b"".join(b"628123456789%d\n" % i for i in range(4))
    with pytest.raises(ImportFileError, match="more than 3 rows"):
        with open_rows(io.BytesIO(data), "x.csv") as rows:
            list(rows)
    settings.IMPORT_MAX_CELL_CHARS = 50
    data = b"phone,note\n6281234567890,ok\n6281234567891," + b"n" * 60 + b"\n"
    with pytest.raises(ImportFileError, match=r"^Line 3 holds a cell longer than 50 characters"):
        with open_rows(io.BytesIO(data), "x.csv") as rows:
            list(rows)
    settings.IMPORT_MAX_COLUMNS = 5
    data = b"phone,a,b\n6281234567890" + b",x" * 9 + b"\n"
    with pytest.raises(ImportFileError, match=r"^Line 2 has more than 5 columns"):
        with open_rows(io.BytesIO(data), "x.csv") as rows:
            list(rows)


def test_the_lying_dimension_goes_to_the_background_import_not_the_preview(
    client, operator, campaign, settings, tmp_path
):
    """The preview holds every row in memory (870 MB and a 500 for 30 M rows): a sheet that
    claims 3 rows and holds more than CALLEE_IMPORT_BACKGROUND_ROWS goes to the streaming job."""
    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 10
    path = hostile.lying_dimension(tmp_path / "rows.xlsx", 40)
    client.force_login(operator)
    response = client.post(
        IMPORT_URL,
        {"campaign": campaign.pk, "import_file": SimpleUploadedFile("r.xlsx", path.read_bytes())},
    )
    callee_import = CalleeImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/campaigns/calleeimport/{callee_import.pk}/change/"


# ---------------------------------------------------------------------------
# Defect 6: huge lines and the temporary storage
# ---------------------------------------------------------------------------
class _Upload:
    """An uploaded file seen as django-import-export sees it: a name and chunks."""

    name = "big.csv"

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def chunks(self):
        yield from self._chunks


class _RecordingStorage(UploadTempStorage):
    writes: list[int] = []

    def save_chunks(self, chunks):
        def counted():
            for chunk in chunks:
                _RecordingStorage.writes.append(len(chunk))
                yield chunk

        super().save_chunks(counted())

    def save(self, data):
        _RecordingStorage.writes.append(len(data))
        super().save(data)


@pytest.mark.parametrize("model", [Callee, AiCustomer])
def test_the_upload_is_written_to_temporary_storage_chunk_by_chunk(settings, model):
    """django-import-export joins the chunks first (`data += chunk`: quadratic, 60 s for
    100 MB); the portal's admin writes each chunk as it comes, and reads back the same bytes."""
    settings.IMPORT_EXPORT_TMP_STORAGE_CLASS = f"{__name__}._RecordingStorage"
    _RecordingStorage.writes = []
    chunks = [bytes([65 + i % 26]) * 65536 for i in range(48)]  # 3 MB in 64 KB chunks
    model_admin = admin.site._registry[model]
    storage = model_admin.write_to_tmp_storage(
        _Upload(chunks), model_admin.get_import_formats()[0]()
    )
    try:
        assert _RecordingStorage.writes == [65536] * 48
        assert storage.read() == b"".join(chunks)
        assert re.fullmatch(r"[0-9a-f]{32}", storage.name)
    finally:
        storage.remove()


def test_temporary_storage_refuses_names_it_did_not_give():
    with pytest.raises(ImportFileError, match="not one the import page stored"):
        UploadTempStorage(name="../../etc/passwd", read_mode="rb")


@pytest.mark.django_db
def test_an_over_long_line_is_refused_with_its_line_number(client, operator, campaign, settings):
    settings.IMPORT_MAX_LINE_CHARS = 1000
    data = b"phone,note\n6281234567890,a\n6281234567891,b\n6281234567892," + b"n" * 1200 + b"\n"
    client.force_login(operator)
    page = client.post(
        IMPORT_URL, {"campaign": campaign.pk, "import_file": SimpleUploadedFile("l.csv", data)}
    )
    assert page.status_code == 200
    assert "Line 4 is longer than 1,000 characters (IMPORT_MAX_LINE_CHARS)" in text(page)
    assert not Callee.objects.exists()


@pytest.mark.django_db
def test_a_200_kb_header_field_gets_a_specific_message(client, operator, admin_user, campaign):
    from tests.ai.conftest import make_task

    name, data = hostile.small_cases()["200kb-header-field"]
    client.force_login(operator)
    page = text(
        client.post(
            IMPORT_URL, {"campaign": campaign.pk, "import_file": SimpleUploadedFile(name, data)}
        )
    )
    assert "The header row (line 1) holds a cell longer than 32,767 characters" in page
    assert "encountered while trying to read file" not in page
    task = make_task(campaign.app.account.apps.get(kind="ai"))
    client.force_login(admin_user)
    page = text(
        client.post(AI_IMPORT_URL, {"task": task.pk, "import_file": SimpleUploadedFile(name, data)})
    )
    assert "Line 1 holds a cell longer than 32,767 characters" in page
    assert "encountered while trying to read file" not in page
    assert not Callee.objects.exists() and not AiCustomer.objects.exists()


@pytest.mark.django_db
def test_a_real_100_mb_line_is_refused_in_seconds(
    client, operator, campaign, tmp_path, django_capture_on_commit_callbacks
):
    """The real size of the report, through the admin page: a file this large is read by the
    streaming reader, never held whole. A 100 MB header line is a form error naming line 1; a
    100 MB data line fails the background import with its line number. Not a 500 after 60 s."""
    client.force_login(operator)
    path = hostile.huge_line_csv(tmp_path / "header.csv", 100, header=True)
    with path.open("rb") as fh:
        page = client.post(IMPORT_URL, {"campaign": campaign.pk, "import_file": fh})
    assert page.status_code == 200
    assert "Line 1 is longer than 1,048,576 characters" in text(page)
    assert not CalleeImport.objects.exists()

    path = hostile.huge_line_csv(tmp_path / "line.csv", 100, header=False)
    with path.open("rb") as fh, django_capture_on_commit_callbacks(execute=True):
        job = client.post(IMPORT_URL, {"campaign": campaign.pk, "import_file": fh})
    callee_import = CalleeImport.objects.get()
    assert job["Location"] == f"/admin/campaigns/calleeimport/{callee_import.pk}/change/"
    assert callee_import.state == CalleeImport.State.FAILED
    assert "Line 2 is longer than 1,048,576 characters" in callee_import.error
    assert "Line 2 is longer than" in text(client.get(job["Location"]))
    assert not Callee.objects.exists()


# ---------------------------------------------------------------------------
# Memory, measured in a subprocess
# ---------------------------------------------------------------------------
CHILD = r"""
import json, os, resource, sys
# On the old code these files took gigabytes: cap the child so it fails instead of the machine.
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
resource.setrlimit(resource.RLIMIT_CPU, (120, 120))
import django
django.setup()
from campaigns.services.tabular import ImportFileError, count_rows, open_rows
from campaigns.services.tabular_guards import check_in_memory
from campaigns.services.ai_customer_import import CustomerFileError, read_customer_file

results = {}
for path in sys.argv[1:]:
    name = os.path.basename(path)
    outcome = {}
    try:
        count_rows(path, name, stop_after=20000)
        with open_rows(path, name) as rows:
            for _ in rows:
                pass
        outcome["callees"] = "read"
    except ImportFileError as exc:
        outcome["callees"] = "refused: " + str(exc)
    except BaseException as exc:
        outcome["callees"] = "crashed: " + type(exc).__name__
    try:  # the AI customer import reads a file whole, below IMPORT_IN_MEMORY_MAX_BYTES only
        check_in_memory(os.path.getsize(path))
        with open(path, "rb") as fh:
            read_customer_file(fh.read(), name)
        outcome["customers"] = "read"
    except (ImportFileError, CustomerFileError) as exc:
        outcome["customers"] = "refused: " + str(exc)
    except BaseException as exc:
        outcome["customers"] = "crashed: " + type(exc).__name__
    results[name] = outcome
# Peak resident memory of this process. ru_maxrss would carry the parent's peak across the
# fork and exec that started it (Linux keeps it), so the peak of our own memory map comes from
# /proc when there is one.
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
if os.path.exists("/proc/self/status"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) // 1024
results["maxrss_mb"] = peak
print(json.dumps(results))
"""


def test_memory_stays_flat_for_every_hostile_file(bombs, tmp_path):
    files = [
        *bombs.values(),
        hostile.huge_line_csv(tmp_path / "header.csv", 100, header=True),
        hostile.huge_line_csv(tmp_path / "line.csv", 100, header=False),
    ]
    for key, (name, data) in hostile.small_cases().items():
        if key != "traversal-name":
            (tmp_path / f"{key}-{name}").write_bytes(data)
            files.append(tmp_path / f"{key}-{name}")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "itnio_portal.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, files)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results.pop("maxrss_mb") < MEMORY_LIMIT_MB
    for name, outcome in results.items():
        for reader, said in outcome.items():
            assert said.startswith("refused: "), (name, reader, said)
