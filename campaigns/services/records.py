"""Windowed record queries: the span ITNIO may be asked about, in 31-day windows, pages of 100.

One home for the record backfill (recordGroupQuery, calls.py), the SIP backfill
(recordSipQuery, sipphones) and a campaign's reconciliation (campaigns.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from itnio_portal.itnio import VoiceRecord

#: itnio-api.md §3.6: strTime..endTime spans at most 31 days (recordSipQuery presumably the
#: same, §3.8); §8: a page holds at most 100 records.
WINDOW = timedelta(days=31)
PAGE_SIZE = 100

#: fetch(start, end, current page, page size) → a page with .records and .pages
FetchPage = Callable[[datetime, datetime, int, int], Any]


def record_windows(
    since: datetime, until: datetime | None = None, *, latest: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The [start, end) windows to ask for: no later than `latest` (now by default), no earlier
    than ITNIO keeps records (itnio-api.md §3.5), at most 31 days each (§3.6)."""
    now = timezone.now()
    latest = latest or now
    until = min(until or latest, latest)
    floor = now - timedelta(days=settings.ITNIO_RECORD_RETENTION_DAYS) + timedelta(minutes=5)
    start = max(since, floor)
    windows = []
    while start < until:
        end = min(start + WINDOW, until)
        windows.append((start, end))
        start = end
    return windows


def records_in(fetch: FetchPage, windows: list[tuple[datetime, datetime]]) -> Iterator[VoiceRecord]:
    """Every record of every window, page after page. Lazy: a caller that has found what it
    looked for stops iterating, and no further page is asked for."""
    for start, end in windows:
        page = 1
        while True:
            result = fetch(start, end, page, PAGE_SIZE)
            yield from result.records
            if page >= result.pages or not result.records:
                break
            page += 1


def next_second(moment: datetime) -> datetime:
    """Query times go out in whole seconds: round up so this second's records count."""
    return moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond else 0)
