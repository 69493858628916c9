"""manage.py reconcile_campaign NAME: resolve unknown callees from ITNIO's records."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.management.campaign_commands import get_campaign
from campaigns.services.actors import Actor
from campaigns.services.campaigns import (
    CampaignError,
    campaign_reconcile,
    campaign_release_unknown,
)


class Command(PortalCommand):
    help = gettext_lazy(
        "Look the campaign's unknown callees up in ITNIO's records (recordGroupQuery around each "
        "batch) and resolve those that were placed. --release-unknown --yes then puts the rest "
        "back to pending: they will be sent again and MAY BE CALLED TWICE."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("--release-unknown", action="store_true")
        parser.add_argument(
            "--yes", action="store_true", help=gettext_lazy("confirm --release-unknown")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        actor = Actor(label=label, user=user)
        campaign = get_campaign(options["name"])
        if options["release_unknown"] and not options["yes"]:
            raise usage_error(
                _(
                    "--release-unknown resends numbers that may already have been called: "
                    "add --yes to confirm."
                )
            )
        report = campaign_reconcile(campaign=campaign, actor=actor)
        self.stdout.write(str(report))
        if options["release_unknown"]:
            try:
                released = campaign_release_unknown(campaign=campaign, actor=actor)
            except CampaignError as exc:
                raise data_error(str(exc)) from exc
            self.stdout.write(
                f"released={released} "
                + _("(back to pending and sent by the next dispatch; they may be called twice)")
            )
        campaign.refresh_from_db()
        self.stdout.write(
            _("%(name)s: %(state)s. %(reason)s")
            % {
                "name": campaign.name,
                "state": campaign.get_state_display(),
                "reason": campaign.state_reason,
            }
        )
