"""manage.py cancel_campaign NAME: cancel a campaign."""

from django.utils.translation import gettext_lazy

from campaigns.management.campaign_commands import SteerCommand
from campaigns.services.campaigns import campaign_cancel


class Command(SteerCommand):
    help = gettext_lazy("Cancel a campaign.")
    steer = staticmethod(campaign_cancel)
