"""Frequency caps: two campaigns sharing numbers under cap 1/24 call each number once in all;
the capped callees end skipped (frequency cap), the preflight counts them, a TTS call over the
portal-wide cap is refused, and campaigns without a cap are not limited."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Call, Callee, Campaign
from campaigns.services.audience import preflight_skipped
from campaigns.services.dispatch import campaign_dispatch
from tests.campaigns.conftest import add_callees
from tests.conftest import VOICE_APP_ID

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def create(name, uploaded_file, *extra):
    run(
        "create_campaign",
        name,
        "--app",
        VOICE_APP_ID,
        "--voice-file",
        uploaded_file.file_name,
        *extra,
    )
    return Campaign.objects.get(name=name)


def dispatch_at_once(*campaigns):
    """Run each campaign's dispatcher in a thread of its own, all starting at the same moment."""
    import threading

    from django.db import connection

    Campaign.objects.filter(pk__in=[c.pk for c in campaigns]).update(state="running")
    start = threading.Barrier(len(campaigns))

    def worker(campaign_id):
        try:
            start.wait()
            campaign_dispatch(campaign_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(c.pk,)) for c in campaigns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def dispatch(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    return campaign_dispatch(campaign.pk)


def test_two_campaigns_sharing_numbers_under_cap_1_per_24h_call_each_number_once(
    uploaded_file, sandbox_state, settings
):
    settings.ITNIO_SEND_GROUP_MAX = 4
    first = create("First", uploaded_file, "--frequency-cap", "1/24")
    second = create("Second", uploaded_file, "--frequency-cap", "1/24")
    assert (first.frequency_cap_calls, first.frequency_cap_hours) == (1, 24)
    add_callees(first, 10, start=919800000001)  # …01 – …10
    add_callees(second, 10, start=919800000006)  # …06 – …15: five shared
    dispatch(first)
    out = run("launch_campaign", "Second")
    assert "will_call=5" in out and "skipped_frequency_cap=5" in out
    skipped_rows = list(preflight_skipped(second))
    assert sorted(n for n, _l, _k in skipped_rows) == [str(919800000006 + i) for i in range(5)]
    assert {k for _n, _l, k in skipped_rows} == {"frequency_cap"}
    dispatch(second)
    accepted = sandbox_state.accepted_callees()
    assert len(accepted) == 15 and max(accepted.values()) == 1
    skipped = Callee.objects.filter(campaign=second, state="skipped")
    assert skipped.count() == 5
    assert set(skipped.values_list("skip_reason", flat=True)) == {"frequency-cap"}
    second.refresh_from_db()
    assert second.state == "completed"
    assert "skipped_frequency_cap=5" in run("campaign_status", "Second")


def test_without_a_cap_numbers_are_called_again(uploaded_file, sandbox_state, settings):
    first = create("First", uploaded_file)
    second = create("Second", uploaded_file)
    assert first.frequency_cap_calls is None
    add_callees(first, 3)
    add_callees(second, 3)
    dispatch(first)
    dispatch(second)
    assert set(sandbox_state.accepted_callees().values()) == {2}


def test_new_campaigns_start_with_the_portal_wide_cap(uploaded_file, settings):
    settings.PORTAL_FREQUENCY_CAP = "2/12"
    campaign = create("Capped", uploaded_file)
    assert (campaign.frequency_cap_calls, campaign.frequency_cap_hours) == (2, 12)
    assert create("Free", uploaded_file, "--frequency-cap", "none").frequency_cap_calls is None
    with pytest.raises(CommandError, match="CALLS/HOURS") as exc:
        create("Bad", uploaded_file, "--frequency-cap", "lots")
    assert exc.value.returncode == 2


def test_a_tts_call_over_the_portal_wide_cap_is_refused(
    voice_app, sandbox, sandbox_state, settings
):
    settings.PORTAL_FREQUENCY_CAP = "1/24"
    args = ["send_code", "--app", voice_app.app_id, "--callee", "919876543210"]
    args += ["--language", "EN", "--text", "hello"]
    run(*args)
    with pytest.raises(CommandError, match="frequency cap"):
        run(*args)
    assert len(sandbox_state.requests_for("/voice/sendCode")) == 1
    assert Call.objects.count() == 1


def test_two_dispatchers_at_once_never_exceed_cap_1(uploaded_file, sandbox_state, settings):
    """Two running campaigns with the same 40 numbers, dispatched by two workers at the same
    moment: the sandbox accepts each number once in all."""

    settings.ITNIO_SEND_GROUP_MAX = 5
    first = create("First", uploaded_file, "--frequency-cap", "1/24")
    second = create("Second", uploaded_file, "--frequency-cap", "1/24")
    add_callees(first, 40)
    add_callees(second, 40)
    dispatch_at_once(first, second)
    accepted = sandbox_state.accepted_callees()
    assert len(accepted) == 40 and max(accepted.values()) == 1
    skipped = Callee.objects.filter(state="skipped", skip_reason="frequency-cap").count()
    assert skipped == 40


def test_a_campaign_that_waits_for_the_cap_calls_the_number_once_the_cap_allows(
    uploaded_file, sandbox_state, settings
):
    from datetime import timedelta

    from django.utils import timezone

    settings.ITNIO_SEND_GROUP_MAX = 4
    first = create("First", uploaded_file, "--frequency-cap", "1/24")
    second = create("Second", uploaded_file, "--frequency-cap", "1/24", "--cap-waits")
    assert second.cap_waits
    add_callees(first, 6, start=919800000001)
    add_callees(second, 6, start=919800000004)  # three shared
    dispatch(first)
    dispatch(second)
    waiting = Callee.objects.filter(campaign=second, state="waiting")
    assert waiting.count() == 3
    second.refresh_from_db()
    assert second.state == "running"  # not finished while callees wait
    assert "waiting=3" in run("campaign_status", "Second")
    assert max(sandbox_state.accepted_callees().values()) == 1
    # A day later the cap allows them: the next dispatch (the scheduler's tick) sends them.
    Call.objects.filter(campaign=first).update(submit_time=timezone.now() - timedelta(hours=25))
    dispatch(second)
    assert not Callee.objects.filter(campaign=second, state="waiting").exists()
    assert Callee.objects.filter(campaign=second, state="submitted").count() == 6
    assert Callee.objects.filter(campaign=second, skip_reason__isnull=False).count() == 0
    second.refresh_from_db()
    assert second.state == "completed"


def test_a_batch_sent_again_counts_against_a_claim_of_another_campaign_at_the_same_moment(
    uploaded_file, sandbox_state, monkeypatch
):
    """A batch that went back to pending (ITNIO unreachable) is claimed again while another
    capped campaign claims the same number: the number goes out in one of them only (the
    claim of a pending batch takes the cap lock as a new claim does; on SQLite its IMMEDIATE
    write transaction serialises them)."""
    import threading

    from django.db import connection
    from django.utils import timezone

    from campaigns.models import DispatchBatch
    from campaigns.services import dispatch as service

    first = create("First", uploaded_file, "--frequency-cap", "1/24")
    second = create("Second", uploaded_file, "--frequency-cap", "1/24")
    add_callees(first, 1)
    add_callees(second, 1)
    Campaign.objects.filter(pk__in=[first.pk, second.pk]).update(state="running")
    batch = DispatchBatch.objects.create(
        campaign=first, sequence=1, state="pending", size=1, attempts=1, reason="not sent"
    )
    Callee.objects.filter(campaign=first).update(batch=batch)
    again, new = service._Claimer(first), service._Claimer(second)
    read, claimed_new = threading.Event(), threading.Event()

    class PausedAfterRead:
        """The pending claim stops after it read its sendable callees, before it commits."""

        @staticmethod
        def now():
            if threading.current_thread().name == "again" and not read.is_set():
                read.set()
                claimed_new.wait(3)  # with the lock held, the new claim waits for this one
            return timezone.now()

    monkeypatch.setattr(service, "timezone", PausedAfterRead)
    claims = {}

    def claim(name, claimer):
        try:
            if name == "new":
                read.wait(5)
            claims[name] = claimer.claim()
            claimed_new.set()
        finally:
            connection.close()

    threads = [
        threading.Thread(target=claim, args=(name, c), name=name)
        for name, c in (("again", again), ("new", new))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [number for c in claims.values() if c for _id, number in c[1]]
    assert sent == ["919800000001"], claims


def test_two_tts_calls_to_one_number_at_the_same_moment_place_one_under_cap_1(
    voice_app, sandbox, sandbox_state, settings
):
    """The cap is counted and the call written under one lock: of two simultaneous TTS calls to
    a number with cap 1/24, ITNIO receives one, and the other is refused with the reason."""
    import threading

    from django.db import connection

    settings.PORTAL_FREQUENCY_CAP = "1/24"
    args = ["send_code", "--app", voice_app.app_id, "--callee", "919876543210"]
    args += ["--language", "EN", "--text", "hello"]
    start = threading.Barrier(4)
    outcomes = []

    def caller():
        try:
            start.wait()
            run(*args)
            outcomes.append("placed")
        except CommandError as exc:
            outcomes.append(str(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("placed") == 1, outcomes
    assert all("frequency cap" in o for o in outcomes if o != "placed"), outcomes
    assert len(sandbox_state.requests_for("/voice/sendCode")) == 1
    assert Call.objects.count() == 1


def test_an_uncapped_campaign_beside_a_capped_one_never_lets_the_capped_one_call_twice(
    uploaded_file, sandbox_state, settings
):
    """The uncapped campaign calls all its numbers; the capped one, dispatched at the same
    moment, never sends a number the other has already sent (its claims count the other's
    claims, which wait for the same lock)."""

    settings.ITNIO_SEND_GROUP_MAX = 5
    capped = create("Capped", uploaded_file, "--frequency-cap", "1/24")
    free = create("Free", uploaded_file)
    add_callees(capped, 40)
    add_callees(free, 40)
    dispatch_at_once(capped, free)
    # Batch ids follow the order in which claims committed (each batch is inserted by its
    # claim, under the lock on PostgreSQL, in SQLite's one write transaction).
    sent = dict(Callee.objects.filter(campaign=free).values_list("number", "batch_id"))
    assert len(sent) == 40 and all(sent.values())  # the uncapped one called every number
    taken = dict(
        Callee.objects.filter(campaign=capped, batch__isnull=False).values_list(
            "number", "batch_id"
        )
    )
    # The capped campaign took a number only before the other claimed it.
    assert [n for n, batch_id in taken.items() if batch_id > sent[n]] == []
    assert Callee.objects.filter(campaign=capped, skip_reason="frequency-cap").count() == 40 - len(
        taken
    )
