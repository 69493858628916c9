"""manage.py resume_campaign NAME: resume a campaign."""

from django.utils.translation import gettext_lazy

from campaigns.management.campaign_commands import SteerCommand
from campaigns.services.campaigns import campaign_resume


class Command(SteerCommand):
    help = gettext_lazy("Resume a campaign.")
    steer = staticmethod(campaign_resume)
