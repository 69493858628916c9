"""manage.py approve_campaign NAME --as USER: approve a launch that waits (and start it)."""

from django.utils.translation import gettext_lazy

from campaigns.management.campaign_commands import DecideCommand


class Command(DecideCommand):
    help = gettext_lazy(
        "Approve another person's launch of a campaign that waits for approval; it starts at "
        "once (this spends money)."
    )
    approve = True
