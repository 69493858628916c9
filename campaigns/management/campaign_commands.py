"""Shared parts of the campaign commands: finding a campaign by its unique name, steering."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

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


class DecideCommand(PortalCommand):
    """approve_campaign, reject_campaign: a second person's decision on a waiting launch."""

    approve: bool

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--as",
            dest="acting_username",
            metavar="USER",
            required=True,
            help=gettext_lazy("a user with the permission approve_launch, not the requester"),
        )
        parser.add_argument("--reason", default="", help=gettext_lazy("why (required to reject)"))

    def handle(self, *args: Any, **options: Any) -> None:
        from django.contrib.auth import get_user_model

        from campaigns.services.actors import PermissionDeniedError
        from campaigns.services.approvals import ApprovalError, approval_decide

        user = get_user_model().objects.filter(username=options["acting_username"]).first()
        if user is None:
            raise usage_error(
                _("--as: no portal user named %(user)r") % {"user": options["acting_username"]}
            )
        campaign = get_campaign(options["name"])
        try:
            request = approval_decide(
                campaign=campaign,
                actor=Actor.from_user(user),
                approve=self.approve,
                reason=options["reason"],
            )
        except PermissionDeniedError as exc:
            raise usage_error(str(exc)) from exc
        except (ApprovalError, CampaignError) as exc:
            raise data_error(str(exc)) from exc
        campaign.refresh_from_db()
        self.stdout.write(
            _("%(name)s: %(decision)s; the campaign is %(state)s.")
            % {
                "name": campaign.name,
                "decision": request.get_state_display(),
                "state": campaign.get_state_display().lower(),
            }
        )
