"""Callee import in the browser: an Operator previews a file with bad rows, reads why each was
skipped, confirms; a large file goes to a background job whose progress bar reaches 100 %."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.models import Callee, CalleeImport, Campaign, VoiceFile
from tests.browser.helpers import log_in
from tests.conftest import make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "callees_sample.csv"


@pytest.fixture
def campaign(voice_app) -> Campaign:
    voice_file = VoiceFile.objects.create(
        app=voice_app, file_name="hello.wav", audio="voice/hello.wav", state="uploaded"
    )
    return Campaign.objects.create(name="Spring sale", app=voice_app, voice_file=voice_file)


def test_operator_previews_skipped_rows_and_confirms(live_server, page, screenshot, campaign):
    Callee.objects.create(campaign=campaign, number="08125550123", state="pending")
    make_staff("olga", "Operator")
    log_in(page, live_server, "olga")

    page.goto(f"{live_server.url}/admin/campaigns/callee/")
    page.click("#import-callees-link")
    page.select_option("#id_campaign", label="Spring sale")
    page.set_input_files("#id_import_file", str(SAMPLE))
    screenshot("form")
    page.click("#preview-import")

    summary = page.locator("#import-summary").inner_text()
    assert "6 rows read, 2 to import, 2 rejected, 2 duplicates." in summary
    skipped = [
        [cell.strip() for cell in row.locator("td").all_inner_texts()]
        for row in page.locator("#skipped-rows tbody tr").all()
    ]
    assert skipped == [
        ["4", "12ab", "has letters: '12ab'"],
        ["6", "+62 812 3456 7890", "duplicate of row 2"],
        ["7", "123", "3 digits: must be 7–15"],
        ["8", "(0812) 555.0123", "already in the campaign"],
    ]
    assert page.locator("#valid-rows tbody tr").count() == 2
    with page.expect_download() as download:
        page.click("#download-rejected")
    assert download.value.suggested_filename == "callees_sample-rejected.csv"
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "row,value,reason" and lines[1] == "4,12ab,has letters: '12ab'"
    screenshot("preview")
    assert not Callee.objects.filter(campaign=campaign).exclude(number="08125550123").exists()

    page.click("#confirm-import")
    assert (
        "Imported 2 callees into Spring sale (pending)" in page.locator(".messagelist").inner_text()
    )
    assert page.locator("#import-percent").inner_text() == "100 %"
    assert page.locator("#rejected-rows tbody tr").count() == 4
    screenshot("confirmed")
    assert sorted(Callee.objects.filter(state="pending").values_list("number", flat=True)) == [
        "08125550123",
        "6281234567890",
        "6281234567891",
    ]


def test_background_import_progress_reaches_100_then_confirm(
    live_server, page, screenshot, campaign, settings, tmp_path
):
    from campaigns.tasks import run_callee_import

    settings.CALLEE_IMPORT_BACKGROUND_ROWS = 50
    # Queue without running, so the page is seen before, during and after the job.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    path = tmp_path / "big-list.csv"
    lines = ["msisdn,name"] + [f"+62 811 {i:08d},n{i}" for i in range(400)] + ["12ab,x"]
    path.write_text("\n".join(lines) + "\n")
    make_staff("olga", "Operator")
    log_in(page, live_server, "olga")

    page.goto(f"{live_server.url}/admin/campaigns/callee/import/?campaign={campaign.pk}")
    page.set_input_files("#id_import_file", str(path))
    page.click("#preview-import")
    assert "is being imported in the background" in page.locator(".messagelist").inner_text()
    assert page.locator("#import-percent").inner_text() == "0 %"
    callee_import = CalleeImport.objects.get()

    # The page follows the job by itself (JSON poll every 2 s).
    CalleeImport.objects.filter(pk=callee_import.pk).update(
        processed_bytes=-(-callee_import.total_bytes * 2 // 5)  # 40 %, rounded up
    )
    page.wait_for_function(
        "document.getElementById('import-percent').textContent === '40 %'", timeout=8000
    )
    screenshot("progress")
    CalleeImport.objects.filter(pk=callee_import.pk).update(processed_bytes=0)
    run_callee_import.call(callee_import.pk)
    page.wait_for_selector("#confirm-import", timeout=10_000)  # reloaded when done
    assert page.locator("#import-percent").inner_text() == "100 %"
    assert page.locator("#import-progress-bar").evaluate("e => e.style.width") == "100%"
    assert "Staged: 400" in page.locator("#import-counts").inner_text()
    assert page.locator("#rejected-rows tbody tr").all_inner_texts() == [
        "402\t12ab\thas letters: '12ab'"
    ]
    screenshot("staged")

    page.click("#confirm-import")
    assert (
        "Confirmed: 400 callees of big-list.csv are now pending."
        in page.locator(".messagelist").inner_text()
    )
    screenshot("confirmed")
    assert Callee.objects.filter(state="pending").count() == 400
