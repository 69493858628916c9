"""One sender more than ITNIO_DISPATCH_CONCURRENCY claims its batch while the others' requests
are in flight, so a claim never waits for an answer; never more requests than that are in
flight at once. A batch claimed ahead whose dispatch stops (a pause) while it waits for a
request slot is never sent: it goes back to pending with its reservation, and is sent once
after the resume. Nor is a batch whose claim ended after another request was refused."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from campaigns.models import Callee, Campaign, DispatchBatch
from campaigns.services import dispatch

pytestmark = pytest.mark.django_db(transaction=True)
SEND = "/voice/sendGroup"


def _sent(sandbox_state) -> list[str]:
    return [n for r in sandbox_state.requests_for(SEND) for n in r.body["callee"].split(",")]


def test_a_batch_claimed_ahead_is_not_sent_after_a_pause(campaign, sandbox_state, settings):
    settings.ITNIO_DISPATCH_CONCURRENCY = 1  # one request in flight, a second sender claiming
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    in_flight, most = Counter(), Counter()
    lock = threading.Lock()

    def held(record) -> None:  # ITNIO holds the first request: the other sender claims, waits
        if record.path != SEND:
            return
        with lock:
            in_flight["now"] += 1
            most["max"] = max(most["max"], in_flight["now"])
            first = len(sandbox_state.requests_for(SEND)) <= 1
        if first:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and (
                DispatchBatch.objects.filter(campaign=campaign, state="sending").count() < 2
            ):
                time.sleep(0.05)
            Campaign.objects.filter(pk=campaign.pk).update(state="paused")
            time.sleep(1.5)  # the supervisor sees the pause and stops the senders
        with lock:
            in_flight["now"] -= 1

    sandbox_state.on_send_held = held
    dispatch.campaign_dispatch(campaign.pk)

    assert len(sandbox_state.requests_for(SEND)) == 1
    assert most["max"] == 1  # never two requests in flight
    back = DispatchBatch.objects.get(campaign=campaign, sequence=2)
    assert back.state == "pending" and "stopped before its request" in back.reason
    assert not Callee.objects.filter(campaign=campaign, state="sending").exists()

    sandbox_state.on_send_held = None
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    dispatch.campaign_dispatch(campaign.pk)
    numbers = _sent(sandbox_state)
    total = Callee.objects.filter(campaign=campaign).count()
    assert len(numbers) == len(set(numbers)) == total


def test_a_batch_claimed_as_a_refusal_arrives_is_not_sent(
    campaign, sandbox_state, settings, monkeypatch
):
    """The second batch's claim ends only once the first request was refused and its slot
    freed: that sender takes a free slot at once, and still sends nothing."""
    settings.ITNIO_DISPATCH_CONCURRENCY = 1
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    sandbox_state.faults.business_code_next(SEND, "-10", "insufficient balance")
    claim = dispatch._Claimer.claim

    def claim_outlasting_the_refusal(self):
        claimed = claim(self)
        if claimed is not None and claimed[0].sequence == 2:
            deadline = time.monotonic() + 5
            while (
                time.monotonic() < deadline
                and not DispatchBatch.objects.filter(
                    campaign=campaign, sequence=1, state="pending"
                ).exists()
            ):
                time.sleep(0.02)
        return claimed

    monkeypatch.setattr(dispatch._Claimer, "claim", claim_outlasting_the_refusal)
    dispatch.campaign_dispatch(campaign.pk)

    assert len(sandbox_state.requests_for(SEND)) == 1  # the refused one alone
    campaign.refresh_from_db()
    assert campaign.state == "paused" and "insufficient" in campaign.state_reason
    back = DispatchBatch.objects.get(campaign=campaign, sequence=2)
    assert back.state == "pending" and "stopped before its request" in back.reason
    # Nothing went out: every callee is pending again.
    states = set(Callee.objects.filter(campaign=campaign).values_list("state", flat=True))
    assert states == {Callee.State.PENDING}
