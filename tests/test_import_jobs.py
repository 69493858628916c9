"""The background callee import survives its worker: a crash mid-file is noticed by its silent
lease and resumed from the last committed row (the result equals an import that never stopped),
or the import fails with the reason; the staged rows of an unconfirmed import never make another
import's rows duplicates, so re-uploading the file of a crashed import loses nothing."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.utils import timezone

from campaigns.models import Callee, CalleeImport, Campaign, VoiceFile
from campaigns.services import import_jobs
from campaigns.services.actors import Actor
from campaigns.services.import_jobs import import_note, import_run, imports_resume_stale
from campaigns.services.import_records import import_cancel, import_confirm

ACTOR = Actor(label="test")
ROWS = 2_350
CHUNK = 100
LISTED = ["6281100000040", "6281100000777", "6281100001900"]  # in the campaign already


class WorkerKilled(BaseException):
    """Stands for SIGKILL: no except clause of the job sees it, the open chunk is rolled back."""


def callee_file(rows: int = ROWS) -> bytes:
    """Valid numbers, invalid cells every 37 rows, duplicates of rows ~500 earlier every 53 rows
    (so some cross the crash point), and a few numbers the campaign lists already."""
    lines = ["Name,Phone"]
    for i in range(rows):
        if i % 37 == 5:
            cell = f"bad{i}"
        elif i % 53 == 7 and i > 600:
            cell = f"+62 811 {i - 500:08d}"
        else:
            cell = f"+62 811 {i:08d}"
        lines.append(f"n{i},{cell}")
    return ("\n".join(lines) + "\n").encode()


def make_campaign(voice_app, name: str) -> Campaign:
    voice_file, _ = VoiceFile.objects.get_or_create(
        app=voice_app, file_name="hello.wav", audio="voice/hello.wav", state="uploaded"
    )
    campaign = Campaign.objects.create(name=name, app=voice_app, voice_file=voice_file)
    Callee.objects.bulk_create([Callee(campaign=campaign, number=n) for n in LISTED])
    return campaign


def new_import(campaign: Campaign, data: bytes, name: str = "list.csv") -> CalleeImport:
    callee_import = CalleeImport(
        campaign=campaign,
        original_name=name,
        total_bytes=len(data),
        state="queued",
        lease=import_jobs.QUEUED_LEASE,
        heartbeat_at=timezone.now(),
    )
    callee_import.file.save(name, ContentFile(data), save=False)
    callee_import.save()
    return callee_import


class _Dying:
    def __init__(self, rows, after: int) -> None:
        self._rows, self._after = rows, after

    @property
    def total_bytes(self) -> int:
        return self._rows.total_bytes

    @property
    def bytes_read(self) -> int:
        return self._rows.bytes_read

    def __iter__(self):
        for i, item in enumerate(self._rows):
            if i == self._after:
                raise WorkerKilled
            yield item


def run_killed_after(monkeypatch, callee_import: CalleeImport, rows: int) -> None:
    """Run the job until the worker "dies" with `rows` rows read."""
    real = import_jobs.import_stream

    def dying(**kwargs):
        return real(**{**kwargs, "rows": _Dying(kwargs["rows"], rows)})

    with monkeypatch.context() as patch:
        patch.setattr(import_jobs, "import_stream", dying)
        with pytest.raises(WorkerKilled):
            import_run(callee_import.pk)


def reserve(callee_import: CalleeImport) -> None:
    """What the sweep does before enqueueing the import again."""
    CalleeImport.objects.filter(pk=callee_import.pk).update(lease=import_jobs.QUEUED_LEASE)


def staged_of(callee_import: CalleeImport) -> list[tuple[int, str]]:
    return sorted(
        Callee.objects.filter(source=callee_import, state="staged").values_list(
            "row_number", "number"
        )
    )


def outcome(callee_import: CalleeImport) -> dict:
    callee_import.refresh_from_db()
    rejected = []
    if callee_import.rejected_file:
        with callee_import.rejected_file.open("rb") as fh:
            rejected = list(csv.reader(io.StringIO(fh.read().decode("utf-8-sig"))))
    return {
        "state": callee_import.state,
        "counts": (
            callee_import.rows,
            callee_import.imported,
            callee_import.rejected,
            callee_import.duplicates,
        ),
        "processed": callee_import.processed_bytes == callee_import.total_bytes,
        "staged": [number for _, number in staged_of(callee_import)],
        "rows": [row for row, _ in staged_of(callee_import)],
        "rejected": rejected,
    }


def later(seconds: int = 0):
    return timezone.now() + timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _small_chunks(settings):
    settings.CALLEE_IMPORT_CHUNK_ROWS = CHUNK
    settings.IMPORT_LEASE_SECONDS = 60


@pytest.fixture
def oracle(voice_app) -> dict:
    """The same file imported into a twin campaign by a job that never stopped."""
    clean = new_import(make_campaign(voice_app, "Twin"), callee_file())
    assert import_run(clean.pk).startswith(f"import {clean.pk} staged")
    return outcome(clean)


# ---------------------------------------------------------------------------
# Crash → resume
# ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_a_crashed_import_resumes_from_its_last_chunk_and_ends_as_if_it_never_stopped(
    voice_app, oracle, monkeypatch, settings
):
    campaign = make_campaign(voice_app, "Spring")
    callee_import = new_import(campaign, callee_file())
    run_killed_after(monkeypatch, callee_import, 1_234)

    callee_import.refresh_from_db()
    # What the dead worker left: every committed chunk with its counters, no more.
    assert callee_import.state == "running" and callee_import.rows == 1_200
    assert len(staged_of(callee_import)) == callee_import.imported > 1_000
    assert import_note(callee_import) == ""  # its lease is still fresh
    # A live worker's lease is left alone by the sweep, and by a second task for the import.
    assert imports_resume_stale() == []
    assert import_run(callee_import.pk).endswith("a live worker is reading it")

    # Row 42 was skipped as already in the campaign; that callee is deleted before the resume:
    # the row stays skipped (the resumed run does not count it as staged without its row).
    Callee.objects.filter(campaign=campaign, number=LISTED[0]).delete()
    silent = later(settings.IMPORT_LEASE_SECONDS + 1)
    assert "has not been heard from for 1\xa0minute; the import will resume after row 1,200" in (
        import_note(callee_import, now=silent)
    )
    assert imports_resume_stale(now=silent) == [callee_import.pk]  # ran at once (immediate tasks)
    assert imports_resume_stale(now=silent) == []

    resumed = outcome(callee_import)
    assert resumed == oracle
    assert resumed["state"] == "staged" and len(set(resumed["staged"])) == len(resumed["staged"])
    callee_import.refresh_from_db()
    assert (callee_import.resumes, callee_import.lease) == (1, "")
    assert import_note(callee_import) == "Resumed after the worker stopped (after 1,200 rows)."

    assert import_confirm(callee_import=callee_import, actor=ACTOR) == oracle["counts"][1]
    pending = list(
        Callee.objects.filter(campaign=campaign, source=callee_import).values_list(
            "number", flat=True
        )
    )
    assert sorted(pending) == sorted(oracle["staged"]) and len(set(pending)) == len(pending)


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_twice_and_once_before_its_first_chunk_still_reads_every_row_once(
    voice_app, oracle, monkeypatch, settings
):
    callee_import = new_import(make_campaign(voice_app, "Spring"), callee_file())
    run_killed_after(monkeypatch, callee_import, 40)  # before the first chunk commits
    callee_import.refresh_from_db()
    assert (callee_import.rows, staged_of(callee_import)) == (0, [])
    # The sweep reserves the import for the task it enqueues; that task dies too, twice.
    reserve(callee_import)
    run_killed_after(monkeypatch, callee_import, 777)
    reserve(callee_import)
    run_killed_after(monkeypatch, callee_import, 1_950)  # replays 700, dies 1,250 rows later
    callee_import.refresh_from_db()
    assert callee_import.rows == 1_900 and callee_import.resumes == 2
    reserve(callee_import)
    assert "resumes from there as soon as a worker is free" in import_note(
        CalleeImport.objects.get(pk=callee_import.pk)
    )
    assert import_run(callee_import.pk).startswith(f"import {callee_import.pk} staged")
    assert outcome(callee_import) == oracle
    assert CalleeImport.objects.get(pk=callee_import.pk).resumes == 3


@pytest.mark.django_db(transaction=True)
def test_a_crashed_import_whose_file_is_gone_fails_with_the_reason_and_keeps_nothing(
    voice_app, monkeypatch, settings
):
    callee_import = new_import(make_campaign(voice_app, "Spring"), callee_file())
    run_killed_after(monkeypatch, callee_import, 1_234)
    callee_import.refresh_from_db()
    callee_import.file.storage.delete(callee_import.file.name)
    imports_resume_stale(now=later(settings.IMPORT_LEASE_SECONDS + 1))
    callee_import.refresh_from_db()
    assert callee_import.state == "failed"
    assert callee_import.error.startswith(
        "The stored file list.csv cannot be read any more (No such file or directory): "
        "nothing was imported. Upload the file again."
    )
    assert staged_of(callee_import) == []


@pytest.mark.django_db(transaction=True)
def test_an_import_that_keeps_stopping_its_workers_fails_instead_of_stopping_the_next(
    voice_app, monkeypatch, settings
):
    settings.IMPORT_MAX_RESUMES = 1
    callee_import = new_import(make_campaign(voice_app, "Spring"), callee_file())
    run_killed_after(monkeypatch, callee_import, 500)
    reserve(callee_import)
    run_killed_after(monkeypatch, callee_import, 900)
    reserve(callee_import)
    assert "failed" in import_run(callee_import.pk)
    callee_import.refresh_from_db()
    assert callee_import.state == "failed" and staged_of(callee_import) == []
    assert callee_import.error.startswith(
        "The worker reading this file stopped 2 times (last after 900 rows)"
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_taken_for_dead_stops_at_its_next_chunk_without_writing_it(
    voice_app, oracle, monkeypatch
):
    callee_import = new_import(make_campaign(voice_app, "Spring"), callee_file())
    real = import_jobs.import_stream
    seen = []

    def slow_worker(**kwargs):
        def rows():
            for i, item in enumerate(kwargs["rows"]):
                if i == 650:  # the sweep took this worker for dead and re-enqueued the import
                    reserve(callee_import)
                yield item

        seen.append(1)
        return real(**{**kwargs, "rows": rows()}) if len(seen) == 1 else real(**kwargs)

    monkeypatch.setattr(import_jobs, "import_stream", slow_worker)
    assert import_run(callee_import.pk).endswith("another worker took it over")
    callee_import.refresh_from_db()
    assert callee_import.rows == 600 and len(staged_of(callee_import)) == callee_import.imported
    assert import_run(callee_import.pk).startswith(f"import {callee_import.pk} staged")
    assert outcome(callee_import) == oracle


@pytest.mark.django_db(transaction=True)
def test_a_lost_database_connection_leaves_the_import_to_be_resumed(
    voice_app, oracle, monkeypatch, settings
):
    from campaigns.services import imports

    callee_import = new_import(make_campaign(voice_app, "Spring"), callee_file())
    real = imports._write_chunk
    calls = []

    def flaky(rows, **kwargs):
        calls.append(1)
        if len(calls) == 9:
            raise OperationalError("server closed the connection unexpectedly")
        return real(rows, **kwargs)

    monkeypatch.setattr(imports, "_write_chunk", flaky)
    with pytest.raises(OperationalError):
        import_run(callee_import.pk)
    callee_import.refresh_from_db()
    assert callee_import.state == "running" and callee_import.error == ""
    assert callee_import.rows == 800 and len(staged_of(callee_import)) == callee_import.imported
    imports_resume_stale(now=later(settings.IMPORT_LEASE_SECONDS + 1))
    assert outcome(callee_import) == oracle


# ---------------------------------------------------------------------------
# Re-uploading the file of a crashed import
# ---------------------------------------------------------------------------
def listed_numbers(campaign: Campaign) -> list[str]:
    return list(
        Callee.objects.filter(campaign=campaign)
        .exclude(state="staged")
        .exclude(number__in=LISTED)
        .values_list("number", flat=True)
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "steps",
    [
        ("confirm B", "cancel A"),
        ("cancel A", "confirm B"),
        ("resume A", "confirm B", "confirm A"),
        ("resume A", "confirm A", "confirm B"),
        ("confirm B", "resume A", "confirm A"),
    ],
)
def test_the_file_of_a_crashed_import_uploaded_again_lists_every_row_exactly_once(
    voice_app, oracle, monkeypatch, settings, steps
):
    campaign = make_campaign(voice_app, "Spring")
    first = new_import(campaign, callee_file(), "a.csv")
    run_killed_after(monkeypatch, first, 1_234)
    second = new_import(campaign, callee_file(), "a-again.csv")
    import_run(second.pk)
    # The crashed import's staged rows are no duplicates: the second one stages the whole file.
    assert outcome(second)["counts"] == oracle["counts"]
    assert outcome(second)["staged"] == oracle["staged"]
    confirmed = {}
    for step in steps:
        verb, which = step.split()
        callee_import = {"A": first, "B": second}[which]
        if verb == "resume":
            imports_resume_stale(now=later(settings.IMPORT_LEASE_SECONDS + 1))
            assert outcome(first)["state"] == "staged"
        elif verb == "confirm":
            confirmed[which] = import_confirm(callee_import=callee_import, actor=ACTOR)
        else:
            import_cancel(callee_import=callee_import, actor=ACTOR)

    numbers = listed_numbers(campaign)
    assert sorted(numbers) == sorted(oracle["staged"])  # every valid row, exactly once
    assert Callee.objects.filter(campaign=campaign, state="staged").count() == 0
    assert sum(confirmed.values()) == len(oracle["staged"])
    if len(confirmed) == 2:
        # The import confirmed second skipped what the first listed: counted as duplicates,
        # and listed in its rejected rows with the reason.
        later_one = first if list(confirmed)[-1] == "A" else second
        result = outcome(later_one)
        assert result["counts"][1] == confirmed[list(confirmed)[-1]]
        assert result["counts"][1] + result["counts"][2] + result["counts"][3] == ROWS
        skipped = result["rejected"][1:]
        assert len(skipped) == result["counts"][2] + result["counts"][3]
        assert [int(r[0]) for r in skipped] == sorted(int(r[0]) for r in skipped)
        assert "already in the campaign (added meanwhile)" in {r[2] for r in skipped}


@pytest.mark.django_db
def test_numbers_staged_by_an_unconfirmed_import_are_no_duplicates_on_the_preview_page(
    client, operator, voice_app
):
    campaign = make_campaign(voice_app, "Spring")
    staged = new_import(campaign, b"phone\n6281100000001\n")
    import_run(staged.pk)
    assert outcome(staged)["state"] == "staged"
    client.force_login(operator)
    page = client.post(
        "/admin/campaigns/callee/import/",
        {
            "campaign": campaign.pk,
            "import_file": SimpleUploadedFile(
                "small.csv", b"phone\n6281100000001\n6281100000040\n"
            ),
        },
    )
    result = page.context["result"]
    assert (result.callee_valid, result.callee_duplicates) == (1, 1)


# ---------------------------------------------------------------------------
# The import page tells the truth
# ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_import_page_says_when_the_worker_stopped_and_when_it_was_resumed(
    client, operator, voice_app, monkeypatch, settings
):
    callee_import = new_import(make_campaign(voice_app, "Spring"), callee_file())
    run_killed_after(monkeypatch, callee_import, 1_234)
    CalleeImport.objects.filter(pk=callee_import.pk).update(
        heartbeat_at=timezone.now() - timedelta(minutes=3)
    )
    client.force_login(operator)
    url = f"/admin/campaigns/calleeimport/{callee_import.pk}/"
    progress = client.get(url + "progress/").json()
    assert progress["state"] == "running" and progress["finished"] is False
    assert progress["note"] == (
        "The worker reading this file has not been heard from for 3\xa0minutes; the import will "
        "resume after row 1,200 within a minute."
    )
    page = client.get(url + "change/").content.decode()
    assert 'id="import-note">The worker reading this file has not been heard from' in page

    imports_resume_stale()
    progress = client.get(url + "progress/").json()
    assert (progress["state"], progress["percent"]) == ("staged", 100)
    assert progress["note"] == "Resumed after the worker stopped (after 1,200 rows)."
    page = client.get(url + "change/").content.decode()
    assert "Resumed after the worker stopped (after 1,200 rows)." in page


@pytest.mark.django_db(transaction=True)
def test_an_import_left_reading_by_the_code_before_the_lease_is_resumed_after_migrating(
    voice_app, oracle, monkeypatch
):
    import importlib

    from django.apps import apps

    callee_import = new_import(make_campaign(voice_app, "Spring"), callee_file())
    run_killed_after(monkeypatch, callee_import, 1_234)
    # As the code before the lease left it: running, no lease, no heartbeat ("Reading 19 %").
    CalleeImport.objects.filter(pk=callee_import.pk).update(lease="", heartbeat_at=None)
    assert imports_resume_stale() == []  # a running import without a lease is read in-process

    migration = importlib.import_module("campaigns.migrations.0011_import_lease")
    migration.resume_running_imports(apps, None)
    assert imports_resume_stale() == [callee_import.pk]
    assert outcome(callee_import) == oracle


# ---------------------------------------------------------------------------
# Confirming a large import in the background
# ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_confirming_a_large_import_answers_at_once_and_callees_become_pending_in_chunks(
    client, operator, voice_app, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from campaigns.services import import_records

    settings.CALLEE_IMPORT_BACKGROUND_CONFIRM_ROWS = 1_000
    campaign = make_campaign(voice_app, "Spring")
    callee_import = new_import(campaign, callee_file())
    import_run(callee_import.pk)
    staged = outcome(callee_import)
    # Another import lists two of these numbers meanwhile: skipped, counted as duplicates.
    other = new_import(campaign, b"phone\n6281100002000\n6281100000100\n", "other.csv")
    import_run(other.pk)
    import_confirm(callee_import=other, actor=ACTOR)

    client.force_login(operator)
    url = f"/admin/campaigns/calleeimport/{callee_import.pk}/"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = client.post(url + "confirm/", follow=True)
    assert len(queued) == 1  # the background job, not an UPDATE of every row in the request
    assert (
        f"Confirmed: the {staged['counts'][1]:,} callees of list.csv become pending in the "
        "background, chunk by chunk; this page shows the progress."
    ) in answer.content.decode()
    assert Callee.objects.filter(source=callee_import, state="pending").count() == 0
    progress = client.get(url + "progress/").json()
    assert (progress["state"], progress["percent"], progress["finished"]) == (
        "confirming",
        0,
        False,
    )
    assert progress["note"] == "Waiting for a task worker to make the callees pending."
    assert client.post(url + "cancel/").status_code == 302  # refused: part may be pending
    assert CalleeImport.objects.get(pk=callee_import.pk).state == "confirming"

    # The worker dies after three chunks...
    real, chunks = import_records.make_pending, []

    def dying(import_id, id_range=None):
        chunks.append(id_range)
        if len(chunks) == 4:
            raise WorkerKilled
        return real(import_id, id_range)

    monkeypatch.setattr(import_jobs, "make_pending", dying)
    with pytest.raises(WorkerKilled):
        import_jobs.import_confirm_run(callee_import.pk)
    monkeypatch.setattr(import_jobs, "make_pending", real)
    progress = client.get(url + "progress/").json()
    assert progress["state"] == "confirming" and 0 < progress["percent"] < 100
    # Three chunks of 100 staged callees, one of which another import listed meanwhile.
    assert progress["size_display"] == f"299 of {staged['counts'][1] - 1:,} callees pending"
    assert Callee.objects.filter(source=callee_import, state="pending").count() == 299
    silent = later(settings.IMPORT_LEASE_SECONDS + 1)
    assert import_note(CalleeImport.objects.get(pk=callee_import.pk), now=silent) == (
        "The worker making these callees pending stopped after 299 of them; the others follow "
        "as soon as a worker is free (within a minute)."
    )

    # ... and the sweep has the rest done.
    imports_resume_stale(now=silent)
    progress = client.get(url + "progress/").json()
    assert (progress["state"], progress["percent"], progress["finished"]) == (
        "confirmed",
        100,
        True,
    )
    callee_import.refresh_from_db()
    assert callee_import.confirmed == callee_import.imported == staged["counts"][1] - 2
    assert callee_import.duplicates == staged["counts"][3] + 2
    numbers = listed_numbers(campaign)
    assert sorted(numbers) == sorted(staged["staged"]) and len(numbers) == len(set(numbers))
    assert [r for r in outcome(callee_import)["rejected"] if r[0] in ("102", "2002")] == [
        ["102", "6281100000100", "already in the campaign (added meanwhile)"],
        ["2002", "6281100002000", "already in the campaign (added meanwhile)"],
    ]
