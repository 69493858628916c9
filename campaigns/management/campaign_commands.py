"""Shared parts of the campaign commands: finding the campaign by its unique name."""

from __future__ import annotations

from campaigns.management.base import usage_error
from campaigns.models import Campaign


def get_campaign(name: str) -> Campaign:
    campaign = (
        Campaign.objects.select_related("app__account", "voice_file").filter(name=name).first()
    )
    if campaign is None:
        raise usage_error(f"No campaign named {name!r}.")
    return campaign
