"""Opt-out by key: a campaign may name a DTMF key meaning "do not call me again"; a call
record of the campaign (push or sync) with that feedbackValue puts the number on the
portal-wide do-not-call list with source *opt-out key* and the campaign's name.

Called by the record writers with the calls they just wrote: one query for the campaigns'
keys and one bulk INSERT for a whole batch of records (never a lookup per number)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext

from campaigns.models import Call, Campaign, SuppressionEntry
from campaigns.services.suppression import portal_wide_list

#: The keys a campaign may name (DTMF).
KEYS = tuple("0123456789*#")


def optouts_from_calls(calls: Iterable[Call]) -> int:
    """Put on the portal-wide list the numbers of `calls` whose record pressed their campaign's
    opt-out key; returns how many entries were added (a number already there stays as it is)."""
    pressed = [c for c in calls if c.campaign_id and c.feedback_value]
    if not pressed:
        return 0
    keys = dict(
        Campaign.objects.filter(pk__in={c.campaign_id for c in pressed})
        .exclude(opt_out_key="")
        .values_list("pk", "opt_out_key")
    )
    hits = [c for c in pressed if keys.get(c.campaign_id) == c.feedback_value.strip()]
    if not hits:
        return 0
    names = dict(
        Campaign.objects.filter(pk__in={c.campaign_id for c in hits}).values_list("pk", "name")
    )
    target = portal_wide_list()
    entries = {
        c.callee: SuppressionEntry(
            suppression_list=target,
            number=c.callee,
            source=SuppressionEntry.Source.OPT_OUT,
            campaign_id=c.campaign_id,
            added_by="portal",
            reason=(
                gettext("Pressed the opt-out key %(key)s in campaign %(campaign)s")
                % {"key": keys[c.campaign_id], "campaign": names[c.campaign_id]}
            )[:255],
        )
        for c in hits
        if c.callee
    }
    before = SuppressionEntry.objects.filter(
        suppression_list=target, number__in=list(entries)
    ).count()
    SuppressionEntry.objects.bulk_create(list(entries.values()), ignore_conflicts=True)
    return len(entries) - before


def opt_out_count(campaign: Campaign) -> int:
    return SuppressionEntry.objects.filter(
        campaign=campaign, source=SuppressionEntry.Source.OPT_OUT
    ).count()
