"""Campaign templates: duplicate a campaign into a new draft with every setting, no callees.

What is copied is decided generically, so settings added to Campaign later are copied too:
every concrete field except the identity (the primary key, the name), the state and its
history, the dispatcher's lease, timestamps (`…_at` date-times) and fields that are not
editable (counters the portal keeps); every many-to-many relation (the contact lists); and the
related settings rows named in DUPLICATED_RELATIONS (the A/B variants). Callees, batches,
imports and calls belong to the original only.
"""

from __future__ import annotations

from django.db import models, transaction
from django.utils.translation import gettext

from campaigns.models import Campaign
from campaigns.services.actors import Actor, PermissionDeniedError

#: Fields that say what happened to a campaign, not how it is set up.
NOT_COPIED = frozenset(
    {
        "id",
        "name",
        "state",
        "state_reason",
        "state_changed_by",
        "created_by",
        "dispatch_lease",
    }
)
#: Reverse relations holding settings (one row per setting): copied row by row with the new
#: campaign. A helper adding such a model (e.g. excluded dates) adds its related name here.
DUPLICATED_RELATIONS = ("variants",)


class DuplicateError(Exception):
    """The duplicate cannot be made; the message says why (nothing was written)."""


def copied_fields() -> list[models.Field]:
    fields = []
    for field in Campaign._meta.concrete_fields:
        if field.primary_key or field.name in NOT_COPIED or not field.editable:
            continue
        if isinstance(field, models.DateTimeField) and (
            field.name.endswith("_at") or field.auto_now or field.auto_now_add
        ):
            continue
        fields.append(field)
    return fields


def campaign_duplicate(*, campaign: Campaign, new_name: str, actor: Actor) -> Campaign:
    """A new draft named `new_name` with every setting of `campaign`, without its callees."""
    if actor.user is not None and not actor.user.has_perm("campaigns.add_campaign"):
        raise PermissionDeniedError(
            gettext("%(actor)s may not create campaigns.") % {"actor": actor.label}
        )
    new_name = new_name.strip()
    max_length = Campaign._meta.get_field("name").max_length
    if not new_name or len(new_name) > max_length:
        raise DuplicateError(
            gettext("The new name must be 1 to %(max)s characters long.") % {"max": max_length}
        )
    if Campaign.objects.filter(name=new_name).exists():
        raise DuplicateError(
            gettext("A campaign named %(name)s exists already.") % {"name": repr(new_name)}
        )
    with transaction.atomic():
        copy = Campaign(
            name=new_name,
            state=Campaign.State.DRAFT,
            created_by=actor.label[:150],
            state_reason=gettext("Duplicated from %(name)s by %(actor)s")
            % {"name": campaign.name, "actor": actor.label},
        )
        for field in copied_fields():
            setattr(copy, field.attname, getattr(campaign, field.attname))
        copy.save()
        for field in Campaign._meta.many_to_many:
            getattr(copy, field.name).set(getattr(campaign, field.name).all())
        for name in DUPLICATED_RELATIONS:
            relation = Campaign._meta.get_field(name)
            for row in getattr(campaign, name).all():
                row.pk = None
                row._state.adding = True
                setattr(row, relation.field.attname, copy.pk)
                row.save()
    return copy


def free_copy_name(name: str) -> str:
    """ "Spring (copy)", or "Spring (copy 2)" … : a name no campaign has yet."""
    max_length = Campaign._meta.get_field("name").max_length
    for n in range(1, 1000):
        suffix = gettext(" (copy)") if n == 1 else gettext(" (copy %(n)s)") % {"n": n}
        candidate = name[: max_length - len(suffix)] + suffix
        if not Campaign.objects.filter(name=candidate).exists():
            return candidate
    raise DuplicateError(gettext("No free name for a copy of %(name)s.") % {"name": name})
