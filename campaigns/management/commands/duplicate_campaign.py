"""manage.py duplicate_campaign NAME NEW_NAME: a new draft with every setting of NAME."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import Campaign
from campaigns.services.actors import Actor
from campaigns.services.duplicate import DuplicateError, campaign_duplicate


class Command(PortalCommand):
    help = gettext_lazy(
        "Duplicate a campaign: a new draft with every setting (audience, segment, variants, "
        "window, retries, cap, opt-out key), without its callees."
    )
    spends_money = True  # --as: the new draft is created by someone who may place calls

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("new_name")

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        campaign = Campaign.objects.filter(name=options["name"]).first()
        if campaign is None:
            raise usage_error(_("No campaign named %(name)s.") % {"name": repr(options["name"])})
        actor = Actor.from_user(user) if user else Actor(label=label)
        try:
            copy = campaign_duplicate(campaign=campaign, new_name=options["new_name"], actor=actor)
        except DuplicateError as exc:
            raise data_error(str(exc)) from exc
        self.stdout.write(
            _("Created draft campaign %(name)s (#%(id)s), a copy of %(original)s.")
            % {"name": copy.name, "id": copy.pk, "original": campaign.name}
        )
        self.stdout.write(f"campaign_id={copy.pk}")
