"""manage.py test_call CAMPAIGN NUMBER: send the campaign as it stands to one number (a test
call: not counted in its figures or caps). Prints the voiceId."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error
from campaigns.management.campaign_commands import get_campaign
from campaigns.models import Call
from campaigns.services.actors import Actor
from campaigns.services.calls import CallError
from campaigns.services.test_calls import campaign_test_call


class Command(PortalCommand):
    help = gettext_lazy("Send a campaign's voice file as it stands to one number (a test call).")
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("campaign")
        parser.add_argument("number")

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        campaign = get_campaign(options["campaign"])
        try:
            call = campaign_test_call(
                campaign=campaign, number=options["number"], actor=Actor(label=label, user=user)
            )
        except CallError as exc:
            raise data_error(str(exc)) from exc
        if call.state == Call.State.SUBMITTED:
            self.stdout.write(call.voice_id)
            return
        raise data_error(f"{call.get_state_display()}: {call.state_reason} (call #{call.pk})")
