"""manage.py pause_campaign NAME: pause a campaign."""

from __future__ import annotations

from typing import Any

from campaigns.management.base import PortalCommand, data_error
from campaigns.management.campaign_commands import get_campaign
from campaigns.services.actors import Actor
from campaigns.services.campaigns import CampaignError, campaign_pause


class Command(PortalCommand):
    help = "Pause a campaign."
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        campaign = get_campaign(options["name"])
        try:
            campaign = campaign_pause(campaign=campaign, actor=Actor(label=label, user=user))
        except CampaignError as exc:
            raise data_error(str(exc)) from exc
        self.stdout.write(
            f"{campaign.name}: {campaign.get_state_display()} ({campaign.state_reason})."
        )
