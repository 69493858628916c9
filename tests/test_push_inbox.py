"""The push inbox as a durable queue: the receiver only stores and answers, the apply worker
applies in bulk; hostile bodies are malformed (never a 500); nothing acknowledged is lost."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import requests
from django.contrib.auth.models import User
from django.db import OperationalError
from django.db.models import Count
from django.test import Client
from django.utils import timezone

from campaigns.models import Call, ItnioApp, PushEvent
from campaigns.services.pushes import pushes_apply, pushes_prune
from tests.conftest import apply_pushes
from tests.procs import ROOT, portal_env
from tests.test_pushes import final_report, push, ringing_report


@pytest.fixture
def web(db) -> Client:
    return Client()


@pytest.fixture
def root(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def post(client: Client, url: str, data: bytes | str, **extra):
    return client.post(url, data=data, content_type="application/json", **extra)


# ---------------------------------------------------------------------------
# Store first, apply off the request
# ---------------------------------------------------------------------------
def test_the_receiver_stores_and_answers_the_worker_applies(web, voice_app):
    response = push(web, voice_app, final_report(), apply=False)

    assert response.status_code == 200
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.PENDING and event.reports == 1
    assert not Call.objects.exists()  # the request wrote nothing but the inbox entry

    assert apply_pushes() == 1
    event.refresh_from_db()
    assert event.state == PushEvent.State.PROCESSED and event.attempts == 1
    assert Call.objects.get().state == Call.State.FINAL


def test_a_large_array_is_stored_at_once_and_applied_in_bulk(web, voice_app):
    reports = [final_report(str(9_000_000_000 + i), callee=f"6591{i:06d}") for i in range(12_000)]
    body = json.dumps(reports)
    assert len(body) > 2.5 * 1024 * 1024  # beyond Django's form-data limit, which must not apply

    response = post(web, voice_app.push_path, body)

    assert response.status_code == 200
    event = PushEvent.objects.get()
    assert (event.state, event.reports) == (PushEvent.State.PENDING, 12_000)
    assert not Call.objects.exists()
    apply_pushes()
    assert Call.objects.filter(state=Call.State.FINAL, app=voice_app).count() == 12_000
    assert PushEvent.objects.get().state == PushEvent.State.PROCESSED


def test_many_entries_for_one_call_in_one_batch_end_final(web, voice_app):
    push(web, voice_app, ringing_report(), apply=False)
    push(web, voice_app, final_report(cost="0.5"), apply=False)
    push(web, voice_app, ringing_report(), apply=False)  # late, older: changes nothing

    report = pushes_apply()

    assert (report.claimed, report.processed) == (3, 3)
    call = Call.objects.get()
    assert call.state == Call.State.FINAL and str(call.cost) == "0.500000"


def test_the_body_limit_is_413_with_the_limit_and_nothing_stored(web, voice_app, settings):
    settings.PUSH_MAX_BYTES = 1024 * 1024
    body = json.dumps([final_report(str(i)) for i in range(3_000)])
    assert len(body) > settings.PUSH_MAX_BYTES

    response = post(web, voice_app.push_path, body)

    assert response.status_code == 413
    assert "1 MB (1,048,576 bytes)" in response.json()["reason"]
    assert not PushEvent.objects.exists()


def test_both_url_forms_are_accepted_without_a_redirect(web, voice_app):
    assert voice_app.push_path.endswith("/")
    response = post(web, voice_app.push_path.rstrip("/"), json.dumps(final_report()))
    assert response.status_code == 200
    assert PushEvent.objects.count() == 1


def test_a_body_that_cannot_be_stored_gets_a_non_2xx(web, voice_app, monkeypatch):
    from django.db import DatabaseError

    def down(*args, **kwargs):
        raise DatabaseError("the database is away")

    import campaigns.services.pushes as pushes

    monkeypatch.setattr(pushes, "insert_event", down)
    response = post(web, voice_app.push_path, json.dumps(final_report()))

    assert response.status_code == 503  # ITNIO sends it again (it retries on HTTP errors)
    assert "send it again" in response.json()["reason"]


@pytest.mark.django_db(transaction=True)
def test_a_push_on_a_connection_that_died_while_idle_is_stored_on_a_new_one(voice_app):
    """The fast path makes no health check before its INSERT (a round trip per push): a
    connection the database ended while idle is replaced, and the push is stored, once."""
    from django.db import connection

    from campaigns.services.pushes import push_store
    from tests.pg import Killer

    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    body = json.dumps(final_report("5101")).encode()
    push_store(app=voice_app, kind=PushEvent.Kind.VOICE, raw=body, remote_addr=None)
    old_pid = connection.connection.info.backend_pid
    assert Killer().kill(pid=old_pid) == 1
    connection.health_check_done = True  # as the fast path leaves it

    stored = push_store(app=voice_app, kind=PushEvent.Kind.VOICE, raw=body, remote_addr=None)

    assert stored.malformed is None
    assert connection.connection.info.backend_pid != old_pid
    assert PushEvent.objects.filter(pk=stored.event_id).exists()
    assert PushEvent.objects.count() == 2


# ---------------------------------------------------------------------------
# Acknowledged is never dropped: transient errors retry, permanent ones say why
# ---------------------------------------------------------------------------
def test_a_transient_database_error_keeps_the_entry_pending_and_retries(
    web, voice_app, monkeypatch
):
    import campaigns.services.pushes as pushes

    push(web, voice_app, final_report(), apply=False)
    real = pushes.apply_entries

    def lost_connection(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pushes, "apply_entries", lost_connection)
    with pytest.raises(OperationalError):
        pushes_apply()
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.PENDING  # never "failed" for a transient error
    assert event.attempts == 1 and event.next_attempt_at > timezone.now()
    assert "Will try again" in event.error
    assert pushes_apply().claimed == 0  # backing off

    monkeypatch.setattr(pushes, "apply_entries", real)
    PushEvent.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert pushes_apply().processed == 1
    event.refresh_from_db()
    assert event.state == PushEvent.State.PROCESSED and event.error == ""
    assert Call.objects.get().state == Call.State.FINAL


def test_a_value_too_long_for_its_column_fails_that_report_with_the_reason(web, voice_app):
    body = [final_report("1001"), final_report("1002", code="x" * 300)]
    response = push(web, voice_app, body)

    assert response.status_code == 200
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.FAILED
    assert "report 2 (1002): code is 300 characters long; the portal keeps at most 128" in (
        event.error
    )
    assert list(Call.objects.values_list("voice_id", flat=True)) == ["1001"]  # the good one


def test_one_bad_entry_does_not_hold_back_the_others(web, voice_app, monkeypatch):
    import campaigns.services.push_apply as push_apply

    real = push_apply.record_onto_call

    def picky(call, record, **kwargs):
        if record.voice_id == "2002":
            raise RuntimeError("simulated bug")
        return real(call, record, **kwargs)

    monkeypatch.setattr(push_apply, "record_onto_call", picky)
    for voice_id in ("2001", "2002", "2003"):
        push(web, voice_app, final_report(voice_id), apply=False)

    apply_pushes()

    states = dict(PushEvent.objects.values_list("body", "state"))
    assert sorted(states.values()) == ["failed", "processed", "processed"]
    failed = PushEvent.objects.get(state=PushEvent.State.FAILED)
    assert "2002" in failed.body and failed.error == "RuntimeError: simulated bug"
    assert sorted(Call.objects.values_list("voice_id", flat=True)) == ["2001", "2003"]


# ---------------------------------------------------------------------------
# Hostile bodies: malformed with a specific reason, never a 500
# ---------------------------------------------------------------------------
HOSTILE = [
    pytest.param(b"[" * 10_000 + b"]" * 10_000, "nested deeper than 32 levels", id="deep"),
    pytest.param(
        b'{"voiceId": "1", "cost": ' + b"9" * 5_000 + b"}",
        "a number of 5,000 characters",
        id="huge-number",
    ),
    pytest.param(b'{"voiceId": "1",\x00 "cost": 1}', "NUL byte at position 16", id="raw-nul"),
    pytest.param(b'{"voiceId": "1", "callee": "\\u0000"}', "NUL character", id="escaped-nul"),
    pytest.param(
        b'{"voiceId": "1", "callee": "\\ud800"}', "unpaired surrogate (\\ud800)", id="surrogate"
    ),
    pytest.param(b'{"voiceId": "1", "cost": NaN}', "NaN, which is not a JSON number", id="nan"),
    pytest.param(b'{"voiceId": "1", "code": "caf\xe9"}', "not UTF-8", id="latin-1"),
]


@pytest.mark.parametrize(("raw", "reason"), HOSTILE)
def test_a_hostile_body_is_stored_as_malformed_with_its_reason(web, root, voice_app, raw, reason):
    response = post(web, voice_app.push_path, raw)

    assert response.status_code == 400
    assert reason in response.json()["reason"]
    event = PushEvent.objects.get()
    assert event.state == PushEvent.State.FAILED and reason in event.error
    # Its page and Re-process work, and it stays failed.
    page = root.get(f"/admin/campaigns/pushevent/{event.pk}/change/")
    assert page.status_code == 200 and reason in page.content.decode()
    answer = root.post(
        "/admin/campaigns/pushevent/",
        {"action": "reprocess", "_selected_action": [event.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    assert "Re-processed 0 push(es); 1 failed" in answer.content.decode()
    event.refresh_from_db()
    assert event.state == PushEvent.State.FAILED
    assert not Call.objects.exists()
    assert root.get("/admin/campaigns/pushevent/").status_code == 200


def test_a_nul_body_keeps_its_exact_bytes(web, voice_app):
    raw = b'{"voiceId": "1",\x00 "cost": 1}'
    post(web, voice_app.push_path, raw)
    event = PushEvent.objects.get()
    assert bytes(event.body_bytes) == raw
    assert "\x00" not in event.body


# ---------------------------------------------------------------------------
# A report names a call of another app: foreign, never applied
# ---------------------------------------------------------------------------
def test_a_report_for_another_apps_call_is_foreign_and_not_applied(web, account, voice_app):
    other = ItnioApp.objects.create(account=account, app_id="OTHERAPP", label="Other")
    push(web, voice_app, ringing_report("3001"))
    call = Call.objects.get(voice_id="3001")

    response = push(web, other, final_report("3001", cost="9.99"))

    assert response.status_code == 200
    event = PushEvent.objects.get(app=other)
    assert event.foreign == 1 and "another app" in event.error
    call.refresh_from_db()
    assert call.app == voice_app and call.cost is None and call.state != Call.State.FINAL


# ---------------------------------------------------------------------------
# Housekeeping
# ---------------------------------------------------------------------------
def test_applied_entries_are_pruned_after_the_retention(web, voice_app, settings):
    settings.PUSH_RETENTION_DAYS = 30
    for voice_id in ("1", "2"):
        push(web, voice_app, final_report(voice_id))
    post(web, voice_app.push_path, "not json")
    old = timezone.now() - timedelta(days=31)
    PushEvent.objects.update(received_at=old, processed_at=old)
    push(web, voice_app, final_report("3"))

    assert pushes_prune() == 2

    assert sorted(PushEvent.objects.values_list("state", flat=True)) == ["failed", "processed"]
    assert Call.objects.count() == 3  # pruning the inbox never touches calls
    settings.PUSH_RETENTION_DAYS = 0
    PushEvent.objects.update(received_at=old, processed_at=old)
    assert pushes_prune() == 0


def test_the_apply_command_applies_what_is_pending(web, voice_app):
    from django.core.management import call_command

    push(web, voice_app, final_report(), apply=False)
    call_command("apply_pushes", "--once", verbosity=0)
    assert PushEvent.objects.get().state == PushEvent.State.PROCESSED


# ---------------------------------------------------------------------------
# Under a real WSGI server: chunked bodies
# ---------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_under_gunicorn(voice_app):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "itnio_portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        env=portal_env(DJANGO_ALLOWED_HOSTS="127.0.0.1"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}{voice_app.push_path}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        body = json.dumps([final_report("4001"), final_report("4002")]).encode()

        def chunks():
            for start in range(0, len(body), 100):
                yield body[start : start + 100]

        response = requests.post(
            url, data=chunks(), headers={"Content-Type": "application/json"}, timeout=60
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert response.status_code == 200, response.text
    event = PushEvent.objects.get()
    assert event.reports == 2 and event.state == PushEvent.State.PENDING
    apply_pushes()
    assert Call.objects.filter(voice_id__in=["4001", "4002"]).count() == 2


# ---------------------------------------------------------------------------
# The apply worker survives a lost database connection (PostgreSQL)
# ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_apply_worker_survives_its_backends_being_terminated(voice_app):
    from django.db import connection

    from campaigns.services.pushes import push_store
    from tests.procs import apply_worker

    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    voice_ids = [str(7_000_000 + i) for i in range(800)]
    for voice_id in voice_ids:
        body = json.dumps([final_report(voice_id), ringing_report(voice_id)]).encode()
        push_store(app=voice_app, kind=PushEvent.Kind.VOICE, raw=body, remote_addr=None)
    worker = apply_worker(PUSH_APPLY_BATCH="10")
    kills = 0
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                kills += cursor.fetchone()[0]
            time.sleep(0.3)
            if not PushEvent.objects.filter(state=PushEvent.State.PENDING).exists():
                break
        alive = worker.poll() is None
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    assert kills >= 3, "the test terminated too few of the worker's sessions"
    assert alive, "the apply worker exited"
    states = dict(PushEvent.objects.values_list("state").annotate(n=Count("id")))
    assert states == {PushEvent.State.PROCESSED: len(voice_ids)}
    assert Call.objects.filter(voice_id__in=voice_ids, state=Call.State.FINAL).count() == len(
        voice_ids
    )
