"""A campaign's audience: its direct callees plus the contacts of its contact lists (optionally
one segment `field = value`), the preflight that counts who will be called and who is skipped
and why, and the launch step that makes the lists' contacts callees.

Every count is one SQL statement over the lists (no per-number loop); the do-not-call count
uses the claim's own condition (suppression.suppressed), so the preflight says what the
dispatcher will do, as of now.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Min, Q, QuerySet
from django.utils.translation import gettext, gettext_lazy

from campaigns.models import Callee, Campaign, Contact, ContactList
from campaigns.services.frequency_caps import under_cap
from campaigns.services.retries import retries_passed_over
from campaigns.services.suppression import skip_suppressed, suppressed
from campaigns.services.windows import no_window_count

#: The preflight's reasons, in the order shown, with their plain keys (launch_campaign prints
#: `skipped_<key>=N`; never translated).
SKIP_REASONS = (
    ("dnc", gettext_lazy("on a do-not-call list")),
    ("frequency_cap", gettext_lazy("over the frequency cap")),
    ("invalid", gettext_lazy("not a valid number for its country")),
    ("duplicate", gettext_lazy("duplicate (in several lists, or already a callee)")),
    ("segment", gettext_lazy("outside the segment")),
    ("no_window", gettext_lazy("no window: their zones leave no common time inside it")),
)


class AudienceError(Exception):
    """Bad audience input (an unknown list, a segment field no contact has); nothing written."""


@dataclass
class Preflight:
    """Who launching would call now, and who would be skipped, by reason."""

    audience: int = 0
    will_call: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: {k: 0 for k, _ in SKIP_REASONS})

    def key_lines(self) -> list[str]:
        """`will_call=N` and one `skipped_<reason>=N` line each: plain integers for scripts."""
        return [f"will_call={self.will_call}"] + [
            f"skipped_{key}={self.skipped[key]}" for key, _label in SKIP_REASONS
        ]

    def rows(self) -> list[tuple[str, Any, int]]:
        return [(key, label, self.skipped[key]) for key, label in SKIP_REASONS]


def _listed(campaign: Campaign) -> QuerySet[Callee]:
    return Callee.objects.filter(campaign=campaign).exclude(state=Callee.State.STAGED)


def _contacts(campaign: Campaign) -> QuerySet[Contact]:
    return Contact.objects.filter(contact_list__in=campaign.contact_lists.all())


def _in_segment(campaign: Campaign, contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    if not campaign.segment_field:
        return contacts
    # parse_segment refuses a field name holding "__", so the key is one JSON key.
    return contacts.filter(**{f"fields__{campaign.segment_field}": campaign.segment_value})


def _new_numbers(campaign: Campaign) -> QuerySet[Contact]:
    """The distinct valid numbers of the lists' segment that are not callees yet."""
    valid = _in_segment(campaign, _contacts(campaign)).exclude(country="")
    return (
        valid.exclude(number__in=_listed(campaign).values("number"))
        .values("number")
        .distinct()
        .order_by()
    )


def audience_preflight(campaign: Campaign) -> Preflight:
    """The preflight of a campaign not launched yet (its lists not made callees yet): the
    audience is every direct pending callee and every contact row of its lists."""
    result = Preflight()
    pending = Callee.objects.filter(campaign=campaign, state=Callee.State.PENDING)
    direct = pending.count()
    direct_dnc = pending.filter(suppressed(campaign.app_id)).count()
    direct_cap = under_cap(pending.filter(~suppressed(campaign.app_id)), campaign, over=True)
    capped = direct_cap.count()
    rows = in_segment = invalid = new = new_dnc = 0
    if campaign.pk and campaign.contact_lists.exists():
        contacts = _contacts(campaign)
        rows = contacts.count()
        segment = _in_segment(campaign, contacts)
        in_segment = segment.count() if campaign.segment_field else rows
        invalid = segment.filter(country="").count()
        numbers = _new_numbers(campaign)
        new = numbers.count()
        new_dnc = numbers.filter(suppressed(campaign.app_id)).count()
        not_dnc = numbers.filter(~suppressed(campaign.app_id))
        capped += under_cap(not_dnc, campaign, over=True).count()
    result.audience = direct + rows
    result.skipped["dnc"] = direct_dnc + new_dnc
    result.skipped["segment"] = rows - in_segment
    result.skipped["invalid"] = invalid
    result.skipped["duplicate"] = in_segment - invalid - new
    result.skipped["frequency_cap"] = capped
    # Direct callees only: the lists' contacts get their zones when they become callees.
    result.skipped["no_window"] = no_window_count(
        campaign, pending.filter(~suppressed(campaign.app_id))
    )
    result.will_call = direct + new - result.skipped["dnc"] - capped - result.skipped["no_window"]
    return result


def preflight_skipped(campaign: Campaign) -> Iterator[tuple[str, str, str]]:
    """Every number the preflight skips, as (number, contact list or "", reason key), in the
    order of SKIP_REASONS; streamed (each reason one query, read in chunks)."""
    app = campaign.app_id
    pending = Callee.objects.filter(campaign=campaign, state=Callee.State.PENDING)
    direct = pending.values_list("number", flat=True).order_by("id")
    has_lists = bool(campaign.pk) and campaign.contact_lists.exists()
    contacts = _contacts(campaign) if has_lists else Contact.objects.none()
    segment = _in_segment(campaign, contacts)
    valid = segment.exclude(country="")
    new = _new_numbers(campaign) if has_lists else Contact.objects.none().values("number")

    def rows(queryset: QuerySet[Any], named: bool, key: str) -> Iterator[tuple[str, str, str]]:
        fields = ("number", "contact_list__name") if named else ("number",)
        for row in queryset.values_list(*fields).iterator(chunk_size=5000):
            yield row[0], row[1] if named else "", key

    yield from rows(pending.filter(suppressed(app)).order_by("id"), False, "dnc")
    yield from rows(new.filter(suppressed(app)), False, "dnc")
    yield from rows(
        under_cap(direct.filter(~suppressed(app)), campaign, over=True), False, "frequency_cap"
    )
    yield from rows(
        under_cap(new.filter(~suppressed(app)), campaign, over=True), False, "frequency_cap"
    )
    yield from rows(segment.filter(country="").order_by("id"), True, "invalid")
    firsts = valid.order_by().values("number").annotate(first=Min("id")).values("first")
    duplicates = valid.filter(
        Q(number__in=_listed(campaign).values("number")) | ~Q(id__in=firsts)
    ).order_by("id")
    yield from rows(duplicates, True, "duplicate")
    if campaign.segment_field:
        yield from rows(
            contacts.exclude(pk__in=segment.values("pk")).order_by("id"), True, "segment"
        )


def audience_materialise(campaign: Campaign) -> int:
    """Make the lists' contacts (of the segment, valid, each number once, not a callee yet)
    pending callees of the campaign: one INSERT … SELECT. Runs in the launch's transaction;
    returns how many callees it added. Suppressed numbers are added too: the claim skips them
    (do-not-call) if they are still suppressed when their batch is claimed."""
    if not campaign.contact_lists.exists():
        return 0
    sql, params = _new_numbers(campaign).query.get_compiler(connection=connection).as_sql()
    table = connection.ops.quote_name(Callee._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, number, state, voice_id, reason) "
            f"SELECT %s, q.number, %s, '', '' FROM ({sql}) q WHERE true ON CONFLICT DO NOTHING",
            [campaign.pk, Callee.State.PENDING, *params],
        )
        return cursor.rowcount


# ---------------------------------------------------------------------------
# Input: lists and the segment, checked before anything is written
# ---------------------------------------------------------------------------
def contact_list_create(*, name: str, actor: Any) -> ContactList:
    """A new, empty contact list (its contacts come by imports); AudienceError if the name is
    empty or taken."""
    name = (name or "").strip()
    if not name:
        raise AudienceError(gettext("A contact list needs a name."))
    if ContactList.objects.filter(name=name).exists():
        raise AudienceError(gettext("A contact list named %(name)s exists.") % {"name": repr(name)})
    return ContactList.objects.create(name=name[:100], created_by=actor.label[:150])


def contact_lists_named(names: list[str]) -> list[ContactList]:
    names = [n.strip() for n in names if n.strip()]
    found = {c.name: c for c in ContactList.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise AudienceError(
            gettext("No contact list named %(names)s.") % {"names": ", ".join(map(repr, missing))}
        )
    if not names:
        raise AudienceError(gettext("Name at least one contact list."))
    return [found[n] for n in dict.fromkeys(names)]


def parse_segment(text: str) -> tuple[str, str]:
    """`field=value` → (field, value)."""
    field_name, sep, value = text.partition("=")
    if not sep or not field_name.strip() or "__" in field_name:
        raise AudienceError(
            gettext("A segment is FIELD=VALUE (e.g. tier=gold), not %(text)r.") % {"text": text}
        )
    return field_name.strip(), value.strip()


def check_segment(lists: list[ContactList], field_name: str) -> None:
    """A segment field must be a custom field of at least one contact of the lists."""
    if not field_name:
        return
    has = Contact.objects.filter(contact_list__in=lists, fields__has_key=field_name).exists()
    if not has:
        raise AudienceError(
            gettext("No contact of these lists has a custom field %(field)r.")
            % {"field": field_name}
        )


# ---------------------------------------------------------------------------
# In the claim
# ---------------------------------------------------------------------------
def skip_passed_over(
    campaign: Campaign, *, after_id: int, up_to_id: int | None, taken: int = 0
) -> int:
    """Mark the unclaimed pending callees with ids in (after_id, up_to_id] that the claim left
    out as skipped, with the reason: do-not-call first, then the frequency cap. One UPDATE
    each, with the claim's own conditions. A claim that took `taken` callees, every id of the
    range, passed over none: no UPDATE (most claims of a list imported in one go)."""
    if up_to_id is not None and up_to_id - after_id == taken:
        return 0
    retries_passed_over(campaign, after_id=after_id, up_to_id=up_to_id)  # first: not skipped
    skipped = skip_suppressed(campaign, after_id=after_id, up_to_id=up_to_id)
    if campaign.frequency_cap_calls:
        rows = Callee.objects.filter(
            campaign_id=campaign.pk,
            state=Callee.State.PENDING,
            batch__isnull=True,
            id__gt=after_id,
        )
        if up_to_id is not None:
            rows = rows.filter(id__lte=up_to_id)
        over = under_cap(rows, campaign, over=True).values("pk")
        if campaign.cap_waits:  # it waits, pending for the claim, until the cap allows it
            Callee.objects.filter(pk__in=over).update(
                state=Callee.State.WAITING,
                skip_reason=Callee.SkipReason.FREQUENCY_CAP,
                reason=gettext("Waiting: over the frequency cap when its batch was claimed."),
            )
            return skipped
        skipped += Callee.objects.filter(pk__in=over).update(
            state=Callee.State.SKIPPED,
            skip_reason=Callee.SkipReason.FREQUENCY_CAP,
            reason=gettext("Over the frequency cap when its batch was claimed."),
        )
    return skipped


class PassedOver:
    """What a dispatcher's claims passed over, marked skipped together: the ranges of one
    cursor's claims follow each other, so they add up to one range, marked once it is a second
    old (two UPDATEs a second, not two a claim: every hundredth callee on a do-not-call list
    made every claim pay them), when a claim starts elsewhere (a full look, another A/B
    variant), at the end of the list and when the run stops (`flush`). Marking later is safe:
    a claim never takes what this marks, it only counts it."""

    EVERY_SECONDS = 1.0

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.after_id: int | None = None  # the range (after_id, up_to_id] not marked yet
        self.up_to_id = 0
        self.passed = 0  # ids of the range its claims did not take
        self.since = time.monotonic()

    def add(self, *, after_id: int, up_to_id: int | None, taken: int) -> None:
        """A claim's range (after_id, up_to_id], `taken` of its ids claimed; up_to_id None:
        the end, everything above after_id that is left."""
        if self.after_id is not None and after_id != self.up_to_id:
            self.flush()
        if up_to_id is None:
            start = after_id if self.after_id is None else self.after_id
            self.after_id = None
            skip_passed_over(self.campaign, after_id=start, up_to_id=None)
            return
        if self.after_id is None:
            self.after_id, self.passed, self.since = after_id, 0, time.monotonic()
        self.up_to_id = up_to_id
        self.passed += up_to_id - after_id - taken
        if time.monotonic() - self.since >= self.EVERY_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.after_id is not None and self.passed:
            skip_passed_over(self.campaign, after_id=self.after_id, up_to_id=self.up_to_id)
        self.after_id = None
