"""Do-not-call in the claim: suppressed numbers are never sent (not even when added after
launch, before their batch is claimed), they end skipped with the reason, and the campaign still
completes with the skipped counts on its status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from campaigns.models import Call, Callee, Campaign, ItnioApp, SuppressionList
from campaigns.services import dispatch
from campaigns.services.actors import Actor
from campaigns.services.dispatch import campaign_dispatch
from campaigns.services.suppression import dnc_add
from tests.campaigns.conftest import add_callees

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("test")


def run(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    return campaign_dispatch(campaign.pk)


def sent_numbers(sandbox_state) -> list[str]:
    return [
        number
        for request in sandbox_state.requests_for("/voice/sendGroup")
        for number in request.body["callee"].split(",")
    ]


def test_suppressed_numbers_are_skipped_and_never_sent(campaign, sandbox_state, capsys):
    numbers = list(Callee.objects.filter(campaign=campaign).values_list("number", flat=True))
    dnc_add(numbers=[numbers[0], "+" + numbers[17]], actor=SYSTEM, reason="asked by phone")
    run(campaign)
    sent = sent_numbers(sandbox_state)
    assert numbers[0] not in sent and numbers[17] not in sent
    assert len(sent) == 33 and len(set(sent)) == 33
    skipped = Callee.objects.get(campaign=campaign, number=numbers[0])
    assert (skipped.state, skipped.skip_reason) == ("skipped", "do-not-call")
    campaign.refresh_from_db()
    assert campaign.state == "completed", campaign.state_reason
    call_command("campaign_status", campaign.name)
    out = capsys.readouterr().out
    assert "skipped_dnc=2 skipped_frequency_cap=0" in out
    assert "skipped=2" in out


def test_a_number_added_after_launch_is_not_sent_if_its_batch_was_not_claimed(
    campaign, sandbox_state, settings, monkeypatch
):
    settings.ITNIO_DISPATCH_CONCURRENCY = 1
    numbers = list(
        Callee.objects.filter(campaign=campaign).order_by("id").values_list("number", flat=True)
    )
    late, in_flight = numbers[30], numbers[1]  # batch 4 of 10s; batch 1, already claimed
    real_post = dispatch._post
    added = []

    def post_then_add(client, campaign_, batch, callee_numbers):
        if not added:  # while the first batch is out, someone adds two numbers to the list
            dnc_add(numbers=[late, in_flight], actor=SYSTEM, reason="opted out")
            added.append(batch.sequence)
        return real_post(client, campaign_, batch, callee_numbers)

    monkeypatch.setattr(dispatch, "_post", post_then_add)
    run(campaign)
    sent = sent_numbers(sandbox_state)
    assert late not in sent
    assert in_flight in sent  # its batch was claimed before the add: it went out
    assert Callee.objects.get(campaign=campaign, number=late).state == "skipped"
    assert Callee.objects.get(campaign=campaign, number=in_flight).state == "submitted"
    campaign.refresh_from_db()
    assert campaign.state == "completed"


def test_expired_entries_and_other_apps_lists_do_not_suppress(
    campaign, sandbox_state, account, voice_app
):
    numbers = list(
        Callee.objects.filter(campaign=campaign).order_by("id").values_list("number", flat=True)
    )
    other = ItnioApp.objects.create(account=account, app_id="OTHER001", label="Other")
    SuppressionList.objects.create(name="Other app only", app=other)
    SuppressionList.objects.create(name="Voice app only", app=voice_app)
    dnc_add(numbers=[numbers[0]], actor=SYSTEM, list_name="Other app only")
    dnc_add(numbers=[numbers[1]], actor=SYSTEM, list_name="Voice app only")
    dnc_add(numbers=[numbers[2]], actor=SYSTEM, expires_at=timezone.now() - timedelta(minutes=1))
    run(campaign)
    sent = sent_numbers(sandbox_state)
    assert numbers[0] in sent and numbers[2] in sent
    assert numbers[1] not in sent
    assert Callee.objects.filter(campaign=campaign, state="skipped").count() == 1


def test_a_tts_call_to_a_suppressed_number_is_refused_with_the_reason(
    voice_app, sandbox, sandbox_state, client, operator
):
    dnc_add(numbers=["919876543210"], actor=SYSTEM, reason="asked never again")
    with pytest.raises(CommandError, match="do-not-call list Portal-wide") as exc:
        call_command(
            "send_code",
            "--app",
            voice_app.app_id,
            "--callee",
            "+91 98765 43210",
            "--language",
            "EN",
            "--text",
            "hello",
        )
    assert "asked never again" in str(exc.value)
    client.force_login(operator)
    form = {
        "app": voice_app.pk,
        "callee": "+91 98765-43210",
        "language": "EN",
        "text": "Your code is 4711",
        "confirmed": "on",
    }
    page = client.post("/admin/campaigns/call/send-tts/", form).content.decode()
    assert "do-not-call list" in page
    assert sandbox_state.requests_for("/voice/sendCode") == []
    assert not Call.objects.exists()


def test_a_sip_phone_call_to_a_suppressed_number_is_refused(voice_app, sandbox_state):
    from campaigns.services.calls import CallError
    from sipphones.services import sip_call
    from tests.sipphones.conftest import make_group

    make_group(voice_app)
    dnc_add(numbers=["919876543210"], actor=SYSTEM, reason="complained")
    with pytest.raises(CallError, match="complained"):
        sip_call(app=voice_app, account_name="desk_002", callee="919876543210", actor=SYSTEM)
    assert sandbox_state.requests_for("/voice/sendSip") == []
    assert not Call.objects.exists()


def test_numbers_added_while_the_campaign_runs_are_never_sent_after_the_add_commits(
    campaign, sandbox_state, settings
):
    """Four senders dispatch 600 callees in batches of 10 while another thread keeps putting
    callees on the do-not-call list: no number whose entry committed before its batch was
    claimed is ever sent (the sandbox's record is the judge)."""
    import random
    import threading
    import time

    from django.db import connection

    from campaigns.models import DispatchBatch

    settings.ITNIO_SEND_GROUP_MAX = 10
    settings.ITNIO_DISPATCH_CONCURRENCY = 4
    add_callees(campaign, 565, start=919800100000)  # 600 in all
    numbers = list(Callee.objects.filter(campaign=campaign).values_list("number", flat=True))
    random.Random(3).shuffle(numbers)
    committed: dict[str, float] = {}
    done = threading.Event()

    def adder():
        try:
            for number in numbers[:150]:
                if done.is_set():
                    return
                dnc_add(numbers=[number], actor=SYSTEM)
                committed[number] = time.time()  # after its transaction committed
                time.sleep(0.002)
        finally:
            connection.close()

    thread = threading.Thread(target=adder)
    thread.start()
    run(campaign)
    done.set()
    thread.join()
    sent = set(sent_numbers(sandbox_state))
    claimed_at = {
        number: started.timestamp()
        for number, started in Callee.objects.filter(
            campaign=campaign, batch__isnull=False
        ).values_list("number", "batch__request_started_at")
    }
    late = [n for n in sent if n in committed and committed[n] < claimed_at[n]]
    assert late == []
    assert DispatchBatch.objects.filter(campaign=campaign, state="unknown").count() == 0
    skipped = set(
        Callee.objects.filter(campaign=campaign, state="skipped").values_list("number", flat=True)
    )
    assert skipped and skipped <= set(committed) and not (skipped & sent)
    assert len(sent) + len(skipped) == 600
    campaign.refresh_from_db()
    assert campaign.state == "completed"


def test_what_the_claims_passed_over_is_skipped_when_the_dispatch_pauses(
    campaign, sandbox_state, settings, monkeypatch
):
    """The claims' passed-over callees are marked a second apart: a run that stops sooner
    (a pause after the second batch) still marks what its claims passed over."""
    from campaigns.services.audience import PassedOver

    settings.ITNIO_DISPATCH_CONCURRENCY = 1
    monkeypatch.setattr(PassedOver, "EVERY_SECONDS", 3600.0)
    numbers = list(
        Callee.objects.filter(campaign=campaign).order_by("id").values_list("number", flat=True)
    )
    dnc_add(numbers=[numbers[3], numbers[13], numbers[33]], actor=SYSTEM)
    real_post = dispatch._post

    def pause_at_the_second(client, campaign_, batch, callee_numbers):
        if batch.sequence == 2:
            Campaign.objects.filter(pk=campaign.pk).update(state="paused")
        return real_post(client, campaign_, batch, callee_numbers)

    monkeypatch.setattr(dispatch, "_post", pause_at_the_second)
    run(campaign)
    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert len(sent_numbers(sandbox_state)) == 20
    states = dict(Callee.objects.filter(campaign=campaign).values_list("number", "state"))
    assert states[numbers[3]] == states[numbers[13]] == "skipped"
    assert states[numbers[33]] == "pending"  # not reached by any claim yet
