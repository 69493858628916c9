"""manage.py cancel_campaign NAME: cancel a campaign."""

from campaigns.management.campaign_commands import SteerCommand
from campaigns.services.campaigns import campaign_cancel


class Command(SteerCommand):
    help = "Cancel a campaign."
    steer = staticmethod(campaign_cancel)
