"""Pacing: a campaign's rate limit (numbers per minute), kept across all of its senders.

A token bucket stored in the campaign's own row (`pace_tokens`, refilled at `pace_at`): each
claim takes its batch size from it under a row lock, so however many senders (or dispatchers
after a restart) draw from it, the numbers sent in any minute stay at the rate, with a burst of
at most BURST_SECONDS of it. A claim always gets at least one number (the bucket may go below
zero), and the senders wait (`wait_s`) until the bucket is positive again, so the average
stays at the rate. Without a rate, claims are full sendGroup batches and nobody waits.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.formatting import count as count_text
from campaigns.models import Campaign

#: The bucket holds at most this many seconds of the rate (the largest batch at a low rate).
BURST_SECONDS = 5.0


def _capacity(rate: int) -> float:
    return max(1.0, rate * BURST_SECONDS / 60.0)


def _refilled(tokens: float, at: datetime | None, rate: int, now: datetime) -> float:
    if at is None:
        return _capacity(rate)
    return min(_capacity(rate), tokens + max(0.0, (now - at).total_seconds()) * rate / 60.0)


class Pacer:
    """The dispatcher's view of its campaign's bucket (one per dispatcher, shared by its
    senders; every read and write goes to the campaign row)."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign_id = campaign.pk
        self.rate = campaign.rate_per_minute or 0

    def take(self, wanted: int) -> int:
        """How many numbers the next claim may take (1 ≤ n ≤ wanted), taken from the bucket."""
        if not self.rate or wanted <= 0:
            return wanted
        now = timezone.now()
        with transaction.atomic():
            row = (
                Campaign.objects.select_for_update()
                .only("pace_tokens", "pace_at")
                .get(pk=self.campaign_id)
            )
            tokens = _refilled(row.pace_tokens, row.pace_at, self.rate, now)
            taken = max(1, min(wanted, math.floor(tokens)))
            Campaign.objects.filter(pk=self.campaign_id).update(
                pace_tokens=tokens - taken, pace_at=now
            )
        return taken

    def wait_s(self) -> float:
        """Seconds until the bucket holds a whole number again (0: claim now)."""
        if not self.rate:
            return 0.0
        try:
            row = (
                Campaign.objects.filter(pk=self.campaign_id)
                .values("pace_tokens", "pace_at")
                .first()
            )
        except DatabaseError:  # a lost connection: the claim that follows waits it out
            return 0.0
        if row is None:
            return 0.0
        tokens = _refilled(row["pace_tokens"], row["pace_at"], self.rate, timezone.now())
        return 0.0 if tokens >= 1 else (1 - tokens) * 60.0 / self.rate


def expected_duration(
    *, callees: int, rate: int | None, window_minutes: float | None, days_a_week: int = 7
) -> timedelta | None:
    """The calling time a rate needs for `callees`, stretched over the daily window (None: no
    rate, so the duration depends on ITNIO's speed)."""
    if not rate or callees <= 0:
        return None
    minutes = callees / rate
    if not window_minutes or window_minutes >= 24 * 60:
        return timedelta(minutes=minutes)
    full_days, rest = divmod(minutes, window_minutes)
    # Each full window is a calling day; a week has `days_a_week` of them.
    weeks, days = divmod(full_days, max(1, days_a_week))
    return timedelta(days=weeks * 7 + days, minutes=rest)


def duration_text(duration: timedelta | None, rate: int | None) -> str:
    if duration is None:
        return gettext("no rate limit: as fast as ITNIO accepts")
    hours, rest = divmod(duration.total_seconds() / 60, 60)
    days, hours = divmod(int(hours), 24)
    return gettext("about %(days)sd %(hours)sh %(minutes)smin at %(rate)s numbers/min") % {
        "days": days,
        "hours": hours,
        "minutes": round(rest),
        "rate": count_text(rate or 0),
    }
