"""A campaign's test call: the campaign as it stands to one number, from the plan page and
test_call; recorded as a test call, not counted in the campaign's calls or caps."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import Call, Campaign
from campaigns.services.actors import Actor
from campaigns.services.audience import audience_preflight
from campaigns.services.suppression import dnc_add

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_test_call_from_the_plan_page_and_the_command(campaign, sandbox_state, client, operator):
    client.force_login(operator)
    url = f"/admin/campaigns/campaign/{campaign.pk}/launch/"
    assert 'id="test-call-form"' in client.get(url).content.decode()
    response = client.post(url + "test-call/", {"number": "+65 9123 4567"}, follow=True)
    assert "Test call to 6591234567: Submitted" in response.content.decode()
    (request,) = sandbox_state.requests_for("/voice/sendGroup")
    assert request.body["callee"] == "6591234567"
    assert request.body["loopCount"] == 2 and request.body["displayNum"] == "1008122211"
    assert request.body["calledInfo"] == "spring [test]"
    call = Call.objects.get()
    assert call.test_of == campaign and call.campaign is None  # not one of its calls

    out = StringIO()
    call_command("test_call", campaign.name, "6591234568", stdout=out)
    assert Call.objects.get(voice_id=out.getvalue().strip()).test_of == campaign
    # Not counted in the caps: a cap of 1 still lets the campaign call the number.
    Campaign.objects.filter(pk=campaign.pk).update(frequency_cap_calls=1, frequency_cap_hours=24)
    campaign.refresh_from_db()
    from tests.campaigns.conftest import add_callees

    add_callees(campaign, 1, start=6591234567)
    assert audience_preflight(campaign).skipped["frequency_cap"] == 0


def test_a_test_call_to_a_suppressed_number_is_refused(campaign, sandbox_state):
    dnc_add(numbers=["6591234567"], actor=Actor.system("test"), reason="asked")
    with pytest.raises(CommandError, match="do-not-call"):
        call_command("test_call", campaign.name, "6591234567", stdout=StringIO())
    assert sandbox_state.requests_for("/voice/sendGroup") == []
