"""Shared parts of the campaign commands: finding a campaign by its unique name, steering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import Campaign
from campaigns.services.actors import Actor
from campaigns.services.campaigns import CampaignError


def get_campaign(name: str) -> Campaign:
    campaign = (
        Campaign.objects.select_related("app__account", "voice_file").filter(name=name).first()
    )
    if campaign is None:
        raise usage_error(_("No campaign named %(name)s.") % {"name": repr(name)})
    return campaign


class SteerCommand(PortalCommand):
    """pause_campaign, resume_campaign, cancel_campaign: one service call on a named campaign."""

    spends_money = True
    steer: Callable[..., Campaign]

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        campaign = get_campaign(options["name"])
        try:
            campaign = self.steer(campaign=campaign, actor=Actor(label=label, user=user))
        except CampaignError as exc:
            raise data_error(str(exc)) from exc
        self.stdout.write(
            _("%(name)s: %(state)s (%(reason)s).")
            % {
                "name": campaign.name,
                "state": campaign.get_state_display(),
                "reason": campaign.state_reason,
            }
        )
