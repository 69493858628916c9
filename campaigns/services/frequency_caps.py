"""Frequency caps: at most K calls to one number within H hours, across every campaign, TTS and
SIP call of every app. The one SQL condition "this number is over the cap now" that the claim,
the preflight and the TTS call share.

Counted: every attempt ITNIO accepted or whose outcome is unknown (a Call submitted, final,
unknown or being sent), by its placed time (submit time, else creation), plus the callees of
other campaigns in a request in flight or unknown (their Call is written after the answer).
A campaign's cap is its own (`--frequency-cap K/H`); new campaigns start with the portal-wide
default (PORTAL_FREQUENCY_CAP, none unless set); campaigns from before caps have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import Call, Callee, Campaign

#: Call states that count as an attempt.
ATTEMPT_STATES = (Call.State.SENDING, Call.State.SUBMITTED, Call.State.FINAL, Call.State.UNKNOWN)


@dataclass(frozen=True)
class Cap:
    calls: int
    hours: int

    def __str__(self) -> str:
        return f"{self.calls}/{self.hours}"


def parse_cap(text: str) -> Cap | None:
    """ "K/H" (e.g. "1/24") → Cap; "" → None; ValueError with the rule otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    calls, sep, hours = text.partition("/")
    if not (sep and calls.strip().isdigit() and hours.strip().isdigit()):
        raise ValueError(
            gettext("A frequency cap is CALLS/HOURS (e.g. 1/24), not %(text)r.") % {"text": text}
        )
    cap = Cap(int(calls), int(hours))
    if not (1 <= cap.calls <= 1000 and 1 <= cap.hours <= 24 * 365):
        raise ValueError(gettext("A frequency cap allows 1 to 1000 calls within 1 to 8760 hours."))
    return cap


def default_cap() -> Cap | None:
    return parse_cap(getattr(settings, "PORTAL_FREQUENCY_CAP", ""))


def cap_of(campaign: Campaign) -> Cap | None:
    if campaign.frequency_cap_calls and campaign.frequency_cap_hours:
        return Cap(campaign.frequency_cap_calls, campaign.frequency_cap_hours)
    return None


def _count(queryset, key: str) -> Coalesce:
    counted = queryset.order_by().values(key).annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def attempts(cap: Cap, *, number=None, campaign_id: int | None = None, now: datetime | None = None):
    """SQL: the attempts to the row's `number` (an OuterRef by default) within the cap's hours,
    the callees of `campaign_id` itself not counted twice (its sent ones have a Call)."""
    now = now or timezone.now()
    since = now - timedelta(hours=cap.hours)
    number = OuterRef("number") if number is None else number
    calls = Call.objects.filter(
        callee=number, state__in=ATTEMPT_STATES, placed_at__gte=since, test_of__isnull=True
    )
    in_flight = Callee.objects.filter(
        number=number,
        state__in=(Callee.State.SENDING, Callee.State.UNKNOWN),
        batch__request_started_at__gte=since,
    ).filter(call__isnull=True)
    if campaign_id is not None:
        in_flight = in_flight.exclude(campaign_id=campaign_id)
    return _count(calls, "callee") + _count(in_flight, "number")


def under_cap(queryset: QuerySet[Any], campaign: Campaign, *, over: bool = False) -> QuerySet[Any]:
    """The rows of `queryset` (callees or contacts: rows with a `number`) whose number is under
    the campaign's cap now (all of them without a cap); with `over`, those at or over it (none
    without a cap)."""
    cap = cap_of(campaign)
    if cap is None:
        return queryset.none() if over else queryset
    counted = queryset.alias(fc_attempts=attempts(cap, campaign_id=campaign.pk))
    if over:
        return counted.filter(fc_attempts__gte=cap.calls)
    return counted.filter(fc_attempts__lt=cap.calls)


def over_cap_refusal(number: str) -> str | None:
    """Why a one-number call (TTS) to `number` is refused under the portal-wide cap, if it is."""
    cap = default_cap()
    if cap is None:
        return None
    since = timezone.now() - timedelta(hours=cap.hours)
    n = Call.objects.filter(
        callee=number, state__in=ATTEMPT_STATES, placed_at__gte=since, test_of__isnull=True
    ).count()
    if n < cap.calls:
        return None
    return gettext(
        "%(number)s was called %(n)s times within %(hours)s hours, the frequency cap "
        "(%(cap)s): no call was placed."
    ) % {"number": number, "n": n, "hours": cap.hours, "cap": str(cap)}


def caps_in_force(campaign: Campaign) -> bool:
    """Whether a claim of `campaign` must take the cap lock: it has a cap, or another running
    campaign or the portal-wide default (TTS and SIP calls) has one, whose counts this claim's
    calls join (an uncapped claim taken beside a capped one could otherwise send the same
    number at the same moment)."""
    if campaign.frequency_cap_calls or default_cap() is not None:
        return True
    return (
        Campaign.objects.filter(state=Campaign.State.RUNNING, frequency_cap_calls__isnull=False)
        .exclude(pk=campaign.pk)
        .exists()
    )


#: The advisory lock capped claims take on PostgreSQL (any constant; "fcap" in ASCII).
CAP_LOCK_KEY = 0x66636170


def cap_lock() -> None:
    """Serialise capped claims until the caller's transaction ends (PostgreSQL; SQLite's write
    transaction serialises them already). Coarse on purpose: a claim is one short statement,
    and a lock per number would cost a row lock for each of a batch's numbers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CAP_LOCK_KEY])
