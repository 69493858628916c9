"""Do-not-call: the suppression lists, their entries (add, import, remove) and the one SQL
condition "this number is suppressed for this app now" (`applicable`) that the claim, the
preflight, the one-number calls and the AI push share.

The claim compiles it into its own statement (design.md: each rule a join or a predicate,
never a lookup per number from Python) as a scalar probe of the entries' number index per row
it reads (`first_entry`: a bounded, id-ordered scan stops after a batch); whole-list counts
(the preflight) use it as an Exists (`suppressed`), which the database may run as a join.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.admin.models import DELETION, LogEntry
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import (
    Callee,
    Campaign,
    ItnioApp,
    SuppressionEntry,
    SuppressionList,
)
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.numbers import InvalidNumber, normalise_number

logger = logging.getLogger(__name__)

DELETE_ENTRY = "campaigns.delete_suppressionentry"


class SuppressionError(Exception):
    """Bad input to a do-not-call command or page (an unknown list, a bad number); the message
    says which."""


def portal_wide_list() -> SuppressionList:
    """The list that always exists (created by the migration; again here if someone removed it
    from the database by hand)."""
    found = SuppressionList.objects.filter(portal_wide=True).first()
    if found is None:
        found, _ = SuppressionList.objects.get_or_create(
            portal_wide=True, defaults={"name": "Portal-wide"}
        )
    return found


def suppression_list_named(name: str | None) -> SuppressionList:
    """The list called `name`, or the portal-wide list when no name is given."""
    if not name:
        return portal_wide_list()
    found = SuppressionList.objects.filter(name=name).first()
    if found is None:
        raise SuppressionError(gettext("No do-not-call list named %(name)r.") % {"name": name})
    return found


# ---------------------------------------------------------------------------
# The condition
# ---------------------------------------------------------------------------
def applicable(app_id: int | None, now: datetime | None = None) -> Q:
    """Entries that apply to calls of app `app_id` at `now`: of a list for every app or for
    this one, and not expired."""
    now = now or timezone.now()
    lists = Q(suppression_list__app__isnull=True)
    if app_id is not None:
        lists |= Q(suppression_list__app_id=app_id)
    return lists & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def suppressed(app_id: int | None, number: Any = None, now: datetime | None = None) -> Exists:
    """SQL: the row's `number` (an OuterRef by default) is on an applicable, unexpired entry."""
    number = OuterRef("number") if number is None else number
    return Exists(SuppressionEntry.objects.filter(applicable(app_id, now), number=number))


def first_entry(app_id: int | None, now: datetime | None = None) -> Subquery:
    """SQL: the id of an applicable entry for the row's number, else NULL. A scalar subquery,
    not an Exists, for the claim: PostgreSQL turns NOT EXISTS into an anti join over the whole
    list (it cannot know how few numbers are suppressed), while a scalar subquery stays a probe
    of the number index for each row the claim's id-ordered scan reads, which stops after a
    batch (1 ms instead of 100 ms at 200,000 callees and entries)."""
    entries = SuppressionEntry.objects.filter(applicable(app_id, now), number=OuterRef("number"))
    return Subquery(entries.values("pk")[:1])


def without_suppressed(queryset: QuerySet[Any], app_id: int | None, *, only: bool = False):
    """The rows of `queryset` (rows with a `number`) not suppressed for `app_id` now; with
    `only`, the suppressed ones. Per-row probes (first_entry): for the claim's bounded scans."""
    marked = queryset.alias(dnc_entry=first_entry(app_id))
    return marked.filter(dnc_entry__isnull=not only)


def suppression_of(number: str, app: ItnioApp | None) -> SuppressionEntry | None:
    """The entry that forbids calling `number` with `app` now, if any (one-number sends)."""
    return (
        SuppressionEntry.objects.filter(applicable(app.pk if app else None), number=number)
        .select_related("suppression_list")
        .order_by("created_at")
        .first()
    )


def refusal(entry: SuppressionEntry) -> str:
    """What a refused one-number call says."""
    reason = entry.reason or entry.get_source_display()
    return gettext(
        "%(number)s is on the do-not-call list %(list)s (%(reason)s): no call was placed."
    ) % {"number": entry.number, "list": entry.suppression_list.name, "reason": reason}


def skip_suppressed(campaign: Campaign, *, after_id: int, up_to_id: int | None) -> int:
    """Mark the campaign's unclaimed pending callees with ids in (after_id, up_to_id] whose
    number is suppressed as skipped (do-not-call): one UPDATE with the claim's condition. The
    claim calls it for the id range each batch passed over, and for the rest when nothing is
    left to claim, so a suppressed callee ends skipped, never pending for ever."""
    rows = Callee.objects.filter(
        campaign_id=campaign.pk,
        state=Callee.State.PENDING,
        batch__isnull=True,
        id__gt=after_id,
    )
    if up_to_id is not None:
        rows = rows.filter(id__lte=up_to_id)
    return without_suppressed(rows, campaign.app_id, only=True).update(
        state=Callee.State.SKIPPED,
        skip_reason=Callee.SkipReason.DO_NOT_CALL,
        reason=gettext("On a do-not-call list when its batch was claimed."),
    )


# ---------------------------------------------------------------------------
# Writing entries
# ---------------------------------------------------------------------------
@dataclass
class AddResult:
    added: int = 0
    updated: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (value, reason)


def _digits(raw: str) -> str:
    try:
        return raw if raw.isdigit() and 7 <= len(raw) <= 15 else normalise_number(raw)
    except InvalidNumber as exc:
        raise SuppressionError(
            gettext("%(value)s: %(reason)s") % {"value": raw, "reason": exc.reason}
        ) from exc


def entries_write(
    *,
    suppression_list: SuppressionList,
    numbers: Iterable[str],
    actor: Actor,
    reason: str = "",
    source: str = SuppressionEntry.Source.MANUAL,
    expires_at: datetime | None = None,
) -> tuple[int, int]:
    """Add (or renew) entries for already normalised numbers, set-based in chunks; returns
    (added, updated). A number already on the list gets the new reason and expiry."""
    numbers = list(dict.fromkeys(numbers))
    added = updated = 0
    for start in range(0, len(numbers), 5000):
        chunk = numbers[start : start + 5000]
        with transaction.atomic():
            existing = set(
                SuppressionEntry.objects.filter(
                    suppression_list=suppression_list, number__in=chunk
                ).values_list("number", flat=True)
            )
            SuppressionEntry.objects.bulk_create(
                [
                    SuppressionEntry(
                        suppression_list=suppression_list,
                        number=number,
                        reason=reason[:255],
                        source=source,
                        added_by=actor.label[:150],
                        expires_at=expires_at,
                    )
                    for number in chunk
                    if number not in existing
                ],
                ignore_conflicts=True,
                batch_size=1000,
            )
            if existing:
                SuppressionEntry.objects.filter(
                    suppression_list=suppression_list, number__in=existing
                ).update(reason=reason[:255], expires_at=expires_at)
        added += len(chunk) - len(existing)
        updated += len(existing)
    return added, updated


def dnc_add(
    *,
    numbers: Iterable[str],
    actor: Actor,
    list_name: str | None = None,
    reason: str = "",
    expires_at: datetime | None = None,
    source: str = SuppressionEntry.Source.MANUAL,
) -> AddResult:
    """Put numbers on a do-not-call list (the portal-wide one by default). Nothing is written
    when a number is not valid (SuppressionError names it)."""
    target = suppression_list_named(list_name)
    digits = [_digits(str(raw).strip()) for raw in numbers]
    result = AddResult()
    result.added, result.updated = entries_write(
        suppression_list=target,
        numbers=digits,
        actor=actor,
        reason=reason,
        source=source,
        expires_at=expires_at,
    )
    logger.info("Do-not-call %s by %s: %s added", target.name, actor.label, result.added)
    return result


def may_remove(actor: Actor) -> bool:
    return actor.user is not None and actor.user.has_perm(DELETE_ENTRY)


def dnc_remove(*, numbers: Iterable[str], actor: Actor, list_name: str | None = None) -> int:
    """Take numbers off a do-not-call list: Admins only, each removal in the admin history
    (LogEntry, as the admin's delete writes it). Returns how many entries were removed."""
    if not may_remove(actor):
        raise PermissionDeniedError(
            gettext("%(user)s may not remove numbers from a do-not-call list (Admins only).")
            % {"user": actor.label}
        )
    target = suppression_list_named(list_name)
    digits = [_digits(str(raw).strip()) for raw in numbers]
    with transaction.atomic():
        entries = list(SuppressionEntry.objects.filter(suppression_list=target, number__in=digits))
        for entry in entries:
            LogEntry.objects.log_actions(
                user_id=actor.user.pk,
                queryset=[entry],
                action_flag=DELETION,
                change_message=gettext("Removed from %(list)s") % {"list": target.name},
                single_object=True,
            )
        SuppressionEntry.objects.filter(pk__in=[e.pk for e in entries]).delete()
    return len(entries)
