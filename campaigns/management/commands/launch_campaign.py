"""manage.py launch_campaign NAME [--for-real]: print the plan; with --for-real, launch it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error
from campaigns.management.campaign_commands import get_campaign
from campaigns.services.actors import Actor
from campaigns.services.campaign_plan import campaign_plan
from campaigns.services.campaigns import CampaignError, campaign_launch


class Command(PortalCommand):
    help = gettext_lazy(
        "Show what launching a campaign will do; with --for-real, launch it (this spends money)."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--for-real",
            action="store_true",
            help=gettext_lazy("launch: without it only the plan is printed"),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        campaign = get_campaign(options["name"])
        plan = campaign_plan(campaign)
        for line in plan.lines():
            self.stdout.write(line)
        for line in plan.preflight.key_lines():  # plain keys and integers, for scripts
            self.stdout.write(line)
        for line in plan.estimate.key_lines():  # worst_case=… expected=… per currency
            self.stdout.write(line)
        for problem in plan.problems:
            self.stderr.write(_("Cannot launch: %(problem)s") % {"problem": problem})
        if not options["for_real"]:
            self.stdout.write(_("Plan only: nothing was sent. Add --for-real to launch."))
            if plan.problems:
                raise data_error(_("The campaign cannot be launched as it is."))
            return
        try:
            campaign = campaign_launch(campaign=campaign, actor=Actor(label=label, user=user))
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
