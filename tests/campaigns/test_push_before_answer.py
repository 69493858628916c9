"""A status push can beat the sendGroup answer: ITNIO pushes a call's final record before the
dispatcher has written the answer that links the call to its campaign. The answer's writer
then finds those calls and, because only then can one of its calls be final already, charges
them to the budget and makes the not reached wait for their retry at once. An answer no push
beat skips both (the writer tells which)."""

from __future__ import annotations

import json
import threading

import pytest

from campaigns.models import Call, Callee, Campaign, PushEvent
from campaigns.services import dispatch
from tests.campaigns.test_budget import billed_for_real, import_card, start
from tests.campaigns.test_retries import not_answered
from tests.conftest import apply_pushes

pytestmark = pytest.mark.django_db(transaction=True)


def _push_before_each_answer(monkeypatch, sandbox_state, voice_app) -> list[int]:
    """Each sendGroup answer is held back until the sandbox's final records of its calls are
    pushed and applied (calls with no campaign yet). Returns how many were applied per answer."""
    applied: list[int] = []
    post = dispatch._post
    one_at_a_time = threading.Lock()  # the senders' applies would take each other's entries

    def post_then_push(client, campaign, batch, numbers):
        results = post(client, campaign, batch, numbers)
        with one_at_a_time:
            _push_and_apply(results)
        return results

    def _push_and_apply(results):
        sandbox_state.advance()
        ours = {r.voice_id for r in results if getattr(r, "voice_id", "")}
        bodies = [c.push_body() for c in sandbox_state.calls.values() if c.voice_id in ours]
        PushEvent.objects.create(app=voice_app, kind=PushEvent.Kind.VOICE, body=json.dumps(bodies))
        apply_pushes()
        applied.append(Call.objects.filter(voice_id__in=ours, campaign__isnull=True).count())

    monkeypatch.setattr(dispatch, "_post", post_then_push)
    return applied


def test_calls_pushed_before_their_answer_are_charged_and_retried(
    campaign, sandbox_state, voice_app, monkeypatch
):
    import_card(voice_app)
    start(campaign, "5.00 USD")
    Campaign.objects.filter(pk=campaign.pk).update(retries=1, retry_after_minutes=0)
    applied = _push_before_each_answer(monkeypatch, sandbox_state, voice_app)

    dispatch.campaign_dispatch(campaign.pk)

    assert applied and all(applied), applied  # every answer came after its calls' records
    campaign.refresh_from_db()
    calls = Call.objects.filter(campaign=campaign)
    assert calls.count() == 35 and not calls.filter(hangup_time__isnull=True).exists()
    # Charged once each, though the push came before the call was the campaign's.
    assert campaign.budget_billed == billed_for_real(campaign) > 0
    assert not calls.filter(budget_charged__isnull=True).exists()
    # The not reached wait for their retry: marked when the answer linked their final record.
    waiting = set(
        Callee.objects.filter(campaign=campaign, state="retry").values_list("number", flat=True)
    )
    assert waiting == not_answered(sandbox_state) and waiting


def test_an_answer_no_push_beat_leaves_its_calls_open(campaign, sandbox_state, voice_app):
    import_card(voice_app)
    start(campaign, "5.00 USD")
    Campaign.objects.filter(pk=campaign.pk).update(retries=1, retry_after_minutes=0)

    dispatch.campaign_dispatch(campaign.pk)

    campaign.refresh_from_db()
    assert campaign.budget_billed == 0 and campaign.budget_reserved > 0
    assert not Callee.objects.filter(campaign=campaign, state="retry").exists()
    assert Callee.objects.filter(campaign=campaign, state="submitted").count() == 35
