"""manage.py reject_campaign NAME --as USER --reason R: reject a launch that waits."""

from django.utils.translation import gettext_lazy

from campaigns.management.campaign_commands import DecideCommand


class Command(DecideCommand):
    help = gettext_lazy("Reject another person's launch of a campaign, with the reason.")
    approve = False
