"""manage.py pause_campaign NAME: pause a campaign."""

from django.utils.translation import gettext_lazy

from campaigns.management.campaign_commands import SteerCommand
from campaigns.services.campaigns import campaign_pause


class Command(SteerCommand):
    help = gettext_lazy("Pause a campaign.")
    steer = staticmethod(campaign_pause)
