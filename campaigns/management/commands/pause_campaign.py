"""manage.py pause_campaign NAME: pause a campaign."""

from campaigns.management.campaign_commands import SteerCommand
from campaigns.services.campaigns import campaign_pause


class Command(SteerCommand):
    help = "Pause a campaign."
    steer = staticmethod(campaign_pause)
