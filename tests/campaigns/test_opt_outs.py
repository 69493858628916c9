"""Opt-out by key: a call record (push or sync) with the campaign's opt-out key puts the number
on the portal-wide do-not-call list (source opt-out key, the campaign's name); the campaign page
and campaign_status count opt-outs, and the next campaign does not call the number."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from campaigns.models import Call, Callee, Campaign, SuppressionEntry
from campaigns.services.calls import call_upsert_record
from campaigns.services.dispatch import campaign_dispatch
from itnio_portal.itnio.types import VoiceRecord
from tests.campaigns.conftest import add_callees
from tests.conftest import apply_pushes
from tests.test_pushes import final_report

pytestmark = pytest.mark.django_db(transaction=True)


def dispatch(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(state="running")
    campaign_dispatch(campaign.pk)


def test_the_opt_out_key_puts_the_number_on_the_do_not_call_list(
    campaign, voice_app, sandbox_state, client, operator
):
    Campaign.objects.filter(pk=campaign.pk).update(opt_out_key="9")
    campaign.refresh_from_db()
    dispatch(campaign)
    calls = list(Call.objects.filter(campaign=campaign).order_by("id")[:3])
    # By push: one pressed 9, one pressed 1.
    body = [
        final_report(calls[0].voice_id, callee=calls[0].callee, feedbackValue="9"),
        final_report(calls[1].voice_id, callee=calls[1].callee, feedbackValue="1"),
    ]
    Client().post(voice_app.push_path, data=body, content_type="application/json")
    apply_pushes()
    # By the record sync.
    record = VoiceRecord.from_api(
        final_report(calls[2].voice_id, callee=calls[2].callee, feedbackValue="9")
    )
    call_upsert_record(app=voice_app, record=record, source="sync")

    entries = SuppressionEntry.objects.filter(source="opt_out")
    assert set(entries.values_list("number", flat=True)) == {calls[0].callee, calls[2].callee}
    entry = entries.first()
    assert entry.suppression_list.portal_wide and "Spring promo" in entry.reason
    out = StringIO()
    call_command("campaign_status", campaign.name, stdout=out)
    assert "opt_outs=2" in out.getvalue()
    client.force_login(operator)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert 'id="opt-outs"' in page

    # The next campaign to these numbers leaves the two out.
    again = Campaign.objects.create(
        name="Again", app=voice_app, voice_file=campaign.voice_file, called_info="again"
    )
    add_callees(again, 35)
    before = len(sandbox_state.requests_for("/voice/sendGroup"))
    dispatch(again)
    sent = [
        n
        for r in sandbox_state.requests_for("/voice/sendGroup")[before:]
        for n in r.body["callee"].split(",")
    ]
    assert len(sent) == 33 and calls[0].callee not in sent
    assert Callee.objects.filter(campaign=again, state="skipped").count() == 2
