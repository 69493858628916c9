"""The claim and the budget: a claim reserves its batch's worst case in the same commit as the
batch (so a claim cut by a lost connection gives back exactly that); a budget with room for
whole batches of the dearest callee lets the claim take full batches without summing them one
by one, and still no callee whose worst case is unknown is sent (one imported after launch,
before anyone priced it)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from campaigns.models import Callee, DispatchBatch
from campaigns.services import dispatch
from tests.campaigns.test_budget import WORST, import_card, sent, start

pytestmark = pytest.mark.django_db(transaction=True)


def test_plenty_of_room_sends_every_priced_callee_and_reserves_their_worst_case(
    campaign, sandbox_state, voice_app
):
    import_card(voice_app)
    start(campaign, "100.00 USD")  # room for 35 callees many times over
    late = Callee.objects.create(campaign=campaign, number="919800009999")  # not priced

    dispatch.campaign_dispatch(campaign.pk)

    numbers = sent(sandbox_state)
    assert len(numbers) == len(set(numbers)) == 35 and late.number not in numbers
    campaign.refresh_from_db()
    assert campaign.budget_reserved == 35 * WORST
    late.refresh_from_db()
    assert late.state == "pending" and late.worst_cost is None
    assert campaign.budget_billed + campaign.budget_reserved <= Decimal("100.00")


def test_a_claim_cut_by_a_lost_connection_gives_its_reservation_back(campaign, voice_app):
    import_card(voice_app)
    start(campaign, "0.10 USD")  # 8 callees' worst case: the claim sums them one by one
    claimer = dispatch._Claimer(campaign)

    claimed = claimer._claim_new()  # committed with its reservation; the sender never got it
    assert claimed is not None and claimer.claiming is not None
    batch, pairs = claimed
    campaign.refresh_from_db()
    assert len(pairs) == 8 and campaign.budget_reserved == 8 * WORST

    claimer.after_lost_connection()

    campaign.refresh_from_db()
    assert campaign.budget_reserved == 0
    assert DispatchBatch.objects.get(pk=batch.pk).state == "pending"
    assert not Callee.objects.filter(campaign=campaign, state="sending").exists()
    # Claimed again, it is reserved once more, not twice.
    again = claimer.claim()
    campaign.refresh_from_db()
    assert again is not None and campaign.budget_reserved == len(again[1]) * WORST
