"""Calling windows: in one fixed zone or in each callee's local time, by days and excluded dates.

A window is read in zone names (zoneinfo), never in fixed offsets, so daylight-saving changes
move it with the local clock. Callees carry their number's zones as a ZoneSet (few rows, shared
by every number with the same zones): `zone_sets_assign` fills them in bulk when numbers become
callees, from a contact's `timezone` column when it has one, else from the number's prefix
(phonenumbers.timezone). A number with several zones is inside the window only while its local
time is inside it in every one of them; no zone (or Etc/Unknown) reads the campaign's fallback
zone. The claim (claim_rules.py) takes only callees whose zone set is open now: the open ids
are computed here in Python (few zone sets) and tested in SQL.
"""

from __future__ import annotations

import time as monotonic_clock
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext
from phonenumbers import timezone as number_zones

from campaigns.models import Callee, Campaign, Contact, ZoneSet

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = 0b1111111
MAX_SKIP_DATES = 50
UNKNOWN_ZONE = "Etc/Unknown"
#: Header names of a time zone column (case-insensitive): a contact's custom field of that name,
#: and the column of a callee file, give the number its zone.
TIMEZONE_HEADERS = ("timezone", "time zone", "time_zone", "tz")
#: How far ahead a window's next opening is looked for (excluded dates may push it).
LOOK_AHEAD_DAYS = 70
CHUNK = 5000


class WindowError(ValueError):
    """A window setting that cannot be used; the message names the fix."""


# ---------------------------------------------------------------------------
# Parsing (the command and the form)
# ---------------------------------------------------------------------------
def check_zone(name: str) -> str:
    """An IANA zone name as zoneinfo knows it; WindowError otherwise."""
    name = (name or "").strip()
    if name in _zone_names():
        return name
    raise WindowError(
        gettext("Unknown time zone %(zone)s: give an IANA name such as Europe/London.")
        % {"zone": repr(name[:64])}
    )


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_window(text: str) -> tuple[time, time]:
    """ "09:00-20:00" → (09:00, 20:00); a window may cross midnight (22:00-02:00)."""
    start, sep, end = (text or "").replace("–", "-").partition("-")
    try:
        if not sep:
            raise ValueError
        parsed = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    except ValueError:
        raise WindowError(
            gettext("A window is written HH:MM-HH:MM, e.g. 09:00-20:00 (got %(text)s).")
            % {"text": repr(text[:40])}
        ) from None
    if parsed[0] == parsed[1]:
        raise WindowError(gettext("A window must not start and end at the same time."))
    return parsed


def parse_days(text: str) -> int:
    """ "mon-fri", "mon,wed,sat", "sat-sun" → a bit mask (bit 0 Monday)."""
    mask = 0
    for part in (text or "").lower().replace(" ", "").split(","):
        first, sep, last = part.partition("-")
        if first not in DAY_NAMES or (sep and last not in DAY_NAMES):
            raise WindowError(
                gettext("Days are written mon-fri or mon,wed,fri (got %(text)s).")
                % {"text": repr(text[:40])}
            )
        i, j = DAY_NAMES.index(first), DAY_NAMES.index(last if sep else first)
        for day in range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)]:
            mask |= 1 << day
    return mask


def day_names(mask: int | None) -> list[str]:
    """The days of a `window_days` mask, Monday first ("mon", …); None is every day."""
    mask = ALL_DAYS if mask is None else mask
    return [name for i, name in enumerate(DAY_NAMES) if mask & (1 << i)]


def days_text(mask: int) -> str:
    return ",".join(day_names(mask))


def parse_skip_dates(text: str) -> list[str]:
    """ "2026-12-25,2027-01-01" → sorted ISO dates, at most MAX_SKIP_DATES."""
    found: set[str] = set()
    for part in (text or "").replace(" ", "").split(","):
        if not part:
            continue
        try:
            found.add(date.fromisoformat(part).isoformat())
        except ValueError:
            raise WindowError(
                gettext("Excluded dates are written YYYY-MM-DD (got %(text)s).")
                % {"text": repr(part[:20])}
            ) from None
    if len(found) > MAX_SKIP_DATES:
        raise WindowError(
            gettext("At most %(n)s excluded dates (got %(count)s).")
            % {"n": MAX_SKIP_DATES, "count": len(found)}
        )
    return sorted(found)


# ---------------------------------------------------------------------------
# The window of a campaign, read in one zone
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Window:
    start: time | None
    end: time | None
    days: int = ALL_DAYS
    skip: frozenset[date] = frozenset()

    @property
    def any_time(self) -> bool:
        return self.start is None and self.days == ALL_DAYS and not self.skip

    def open_in(self, zone: str, now: datetime) -> bool:
        """Is the local time of `zone` at `now` inside the window? A window crossing midnight
        belongs to the day it starts on."""
        local = now.astimezone(ZoneInfo(zone))
        day, clock = local.date(), local.time().replace(tzinfo=None)
        if self.start is not None and self.end is not None:
            if self.start <= self.end:
                if not self.start <= clock < self.end:
                    return False
            elif clock < self.end:
                day -= timedelta(days=1)
            elif clock < self.start:
                return False
        return bool(self.days & (1 << day.weekday())) and day not in self.skip

    def openings(self, zone: str, after: datetime, days: int) -> list[datetime]:
        """The instants the window opens in `zone` over the next `days` days (local starts)."""
        tz = ZoneInfo(zone)
        first = after.astimezone(tz).date() - timedelta(days=1)
        start = self.start or time(0, 0)
        found = []
        for i in range(days + 1):
            when = datetime.combine(first + timedelta(days=i), start, tzinfo=tz)
            when = when.astimezone(UTC)
            if when > after:
                found.append(when)
        return found


def campaign_window(campaign: Campaign) -> Window:
    skip = frozenset(date.fromisoformat(d) for d in campaign.skip_dates or ())
    if campaign.window_start and campaign.window_end:
        return Window(campaign.window_start, campaign.window_end, campaign.window_days, skip)
    return Window(None, None, campaign.window_days, skip)


def fallback_zone(campaign: Campaign) -> str:
    return campaign.fallback_zone or settings.TIME_ZONE


def zones_of(campaign: Campaign, zone_set_key: str) -> tuple[str, ...]:
    """The zones a callee's window is read in: the campaign's fixed zone, or the callee's."""
    if not campaign.window_callee_local:
        return (campaign.window_tz or "UTC",)
    return tuple(zone_set_key.split(",")) if zone_set_key else (fallback_zone(campaign),)


def open_now(window: Window, zones: tuple[str, ...], now: datetime) -> bool:
    return all(window.open_in(zone, now) for zone in zones)


def next_opening(window: Window, zones: tuple[str, ...], now: datetime) -> datetime | None:
    """When the window next opens in every zone at once (None: not within LOOK_AHEAD_DAYS).
    A common opening is always one zone's own opening: the latest of the starts."""
    candidates = sorted({t for zone in zones for t in window.openings(zone, now, LOOK_AHEAD_DAYS)})
    return next((t for t in candidates if open_now(window, zones, t)), None)


@lru_cache(maxsize=4096)
def never_open(window: Window, zones: tuple[str, ...], around: date | None = None) -> bool:
    """No common time inside the window on any allowed day (excluded dates aside) in the two
    weeks from `around` (today by default), e.g. +1 800 in summer, whose zones run from Guam to
    Pago Pago (in winter they share 23:00–23:30 UTC of a 09:00–20:00 window). Read from today,
    not once for all: daylight saving opens and closes such a common half hour."""
    plain = Window(window.start, window.end, window.days)
    day = around or timezone.now().date()
    start = datetime.combine(day - timedelta(days=day.weekday()), time(0), tzinfo=UTC)
    candidates = {t for zone in zones for t in plain.openings(zone, start, 14)}
    return not any(open_now(plain, zones, t) for t in candidates)


def window_minutes(campaign: Campaign) -> float | None:
    """The daily window's length in minutes (None: the whole day)."""
    if not (campaign.window_start and campaign.window_end):
        return None
    start = campaign.window_start.hour * 60 + campaign.window_start.minute
    end = campaign.window_end.hour * 60 + campaign.window_end.minute
    return float((end - start) % (24 * 60))


def window_text(campaign: Campaign) -> str:
    """ "09:00–20:00 callee-local (fallback Europe/London), mon,tue,…; 2 excluded dates"."""
    if campaign.window_start and campaign.window_end:
        where = (
            gettext("callee-local (fallback %(zone)s)") % {"zone": fallback_zone(campaign)}
            if campaign.window_callee_local
            else campaign.window_tz
        )
        text = f"{campaign.window_start:%H:%M}–{campaign.window_end:%H:%M} {where}"
    else:
        text = gettext("any time")
    if campaign.window_days != ALL_DAYS:
        text += f", {days_text(campaign.window_days)}"
    if campaign.skip_dates:
        text += ", " + gettext("not on %(dates)s") % {"dates": ", ".join(campaign.skip_dates)}
    return text


# ---------------------------------------------------------------------------
# Zone sets of numbers, assigned in bulk
# ---------------------------------------------------------------------------
def known_zone(name: object) -> str:
    """The IANA zone a cell names, in zoneinfo's spelling (any case: "europe/london" is
    Europe/London); "" when it names none, or Etc/Unknown."""
    text = "" if name is None else str(name).strip()
    zone = _zone_names_folded().get(text.casefold(), "") if text else ""
    return "" if zone == UNKNOWN_ZONE else zone


@lru_cache(maxsize=1)
def _zone_names_folded() -> dict[str, str]:
    return {name.casefold(): name for name in _zone_names()}


def zone_cell(value: object) -> tuple[str, str]:
    """A callee file's `timezone` cell: (zone, "") when it names one; ("", "") when it is empty
    or Etc/Unknown (the number's zones are used); ("", reason) for a name zoneinfo does not
    know: the row is rejected with that reason."""
    text = "" if value is None else str(value).strip()
    if not text or text.casefold() == UNKNOWN_ZONE.casefold():
        return "", ""
    zone = known_zone(text)
    if zone:
        return zone, ""
    return "", gettext("unknown time zone %(zone)s") % {"zone": repr(text[:64])}


def zones_for_number(digits: str, given: str = "") -> tuple[str, ...]:
    """A number's zones: the import's `timezone` cell when it names a zone, else the number
    prefix's zones (phonenumbers), without Etc/Unknown; () when none is known."""
    zone = known_zone(given)
    if zone:
        return (zone,)
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return ()
    found = number_zones.time_zones_for_number(parsed)
    return tuple(sorted({z for z in found if z != UNKNOWN_ZONE and z in _zone_names()}))


def zone_set_ids(keys: set[str]) -> dict[str, int]:
    """The ZoneSet id of each key, creating the missing ones (one INSERT, one SELECT); the
    claim's list of zone sets is read again at once."""
    ZoneSet.objects.bulk_create([ZoneSet(key=k) for k in keys], ignore_conflicts=True)
    _cache.clear()  # new zone sets: the claim must see them at once
    return dict(ZoneSet.objects.filter(key__in=keys).values_list("key", "id"))


def zone_sets_assign(campaign: Campaign) -> int:
    """Give the campaign's callees without one their zone set: read in chunks of ids, zones
    computed per number, then one UPDATE per zone set and chunk (never a query per callee).
    A contact's `timezone` custom field, when the callee came from a contact list, comes first.
    Returns how many callees were assigned."""
    assigned, last_id = 0, 0
    lists = list(campaign.contact_lists.values_list("pk", flat=True))
    while True:
        rows = list(
            Callee.objects.filter(campaign=campaign, zone_set__isnull=True, id__gt=last_id)
            .exclude(state=Callee.State.STAGED)
            .order_by("id")
            .values_list("id", "number")[:CHUNK]
        )
        if not rows:
            return assigned
        last_id = rows[-1][0]
        given: dict[str, str] = {}
        if lists:
            for number, fields in Contact.objects.filter(
                contact_list_id__in=lists, number__in=[n for _i, n in rows]
            ).values_list("number", "fields"):
                cell = _timezone_cell(fields)
                if cell:
                    given.setdefault(number, cell)
        by_key: dict[str, list[int]] = defaultdict(list)
        for callee_id, number in rows:
            by_key[",".join(zones_for_number(number, given.get(number, "")))].append(callee_id)
        ids = zone_set_ids(set(by_key))
        for key, callee_ids in by_key.items():
            assigned += Callee.objects.filter(id__in=callee_ids).update(zone_set_id=ids[key])


def _timezone_cell(fields: object) -> str:
    if not isinstance(fields, dict):
        return ""
    for name, value in fields.items():
        if str(name).strip().casefold() in TIMEZONE_HEADERS:
            return str(value or "")
    return ""


# ---------------------------------------------------------------------------
# The claim's filter, the skipped and the waiting
# ---------------------------------------------------------------------------
_cache: dict[str, tuple[float, list[tuple[int, str]]]] = {}


def _all_zone_sets() -> list[tuple[int, str]]:
    """Every zone set (few), kept a few seconds: a claim per batch must not re-read them."""
    now = monotonic_clock.monotonic()
    hit = _cache.get("all")
    if hit is None or now - hit[0] > 5:
        hit = (now, list(ZoneSet.objects.values_list("id", "key")))
        _cache["all"] = hit
    return hit[1]


def open_zone_set_ids(campaign: Campaign, now: datetime) -> tuple[list[int], bool]:
    """The zone sets whose window is open now, and whether callees without one (read in the
    fallback zone) are."""
    window = campaign_window(campaign)
    fallback = open_now(window, (fallback_zone(campaign),), now)
    return [i for i, key in _all_zone_sets() if open_now(window, zones_of(campaign, key), now)], (
        fallback
    )


def window_open_case(campaign: Campaign, now: datetime) -> Case:
    """The claim's predicate, 1 when the callee's zone set is open now (filtered IS NOT NULL).
    Written as CASE, not a plain `zone_set_id IN (…)`: PostgreSQL then keeps the claim's
    ordered scan of the (campaign, state, id) index (an IN list made it pick a bitmap scan and
    a sort). -1 names no zone set: nothing open still compiles to SQL (an empty IN would not)."""
    ids, fallback = open_zone_set_ids(campaign, now)
    whens = [When(zone_set_id__in=ids or [-1], then=Value(1))]
    if fallback:
        whens.append(When(zone_set_id__isnull=True, then=Value(1)))
    return Case(*whens, default=None, output_field=IntegerField())


def within_window(callees: QuerySet[Callee], campaign: Campaign) -> QuerySet[Callee]:
    """claim_rules' step: only callees inside their window now (no filter for a fixed-zone
    window: the dispatcher checks that one for the whole campaign between batches)."""
    if not campaign.window_callee_local or campaign_window(campaign).any_time:
        return callees
    return callees.alias(window_open=window_open_case(campaign, timezone.now())).filter(
        window_open__isnull=False
    )


def never_open_ids(campaign: Campaign) -> list[int]:
    window = campaign_window(campaign)
    if not campaign.window_callee_local or window.start is None:
        return []
    today = timezone.now().date()
    return [i for i, key in _all_zone_sets() if never_open(window, zones_of(campaign, key), today)]


def skip_no_window(campaign: Campaign) -> int:
    """Pending callees whose zones have no common time inside the window on any allowed day
    become skipped (no window): one UPDATE."""
    ids = never_open_ids(campaign)
    if not ids:
        return 0
    return Callee.objects.filter(
        campaign=campaign, state=Callee.State.PENDING, zone_set_id__in=ids
    ).update(
        state=Callee.State.SKIPPED,
        skip_reason=Callee.SkipReason.NO_WINDOW,
        reason=gettext("Its time zones leave no common time inside the calling window."),
    )


def windows_prepare(campaign: Campaign) -> int:
    """At launch (and when an import is confirmed): zone sets assigned, no-window skipped."""
    if not campaign.window_callee_local:
        return 0
    zone_sets_assign(campaign)
    return skip_no_window(campaign)


def no_window_count(campaign: Campaign, callees: QuerySet[Callee]) -> int:
    """The preflight's count of `callees` that launching would skip (no window); their zone
    sets are assigned first if they have none yet (derived data, written once)."""
    if not campaign.pk or not campaign.window_callee_local or campaign.window_start is None:
        return 0
    if callees.filter(zone_set__isnull=True).exists():
        zone_sets_assign(campaign)
        _cache.clear()
    ids = never_open_ids(campaign)
    return callees.filter(zone_set_id__in=ids).count() if ids else 0


@dataclass(frozen=True)
class WaitingGroup:
    zones: str
    count: int
    next_open: datetime | None

    def text(self) -> str:
        opens = f"{self.next_open:%H:%M} UTC" if self.next_open else gettext("not within 70 days")
        return gettext("%(zones)s: waiting for their window: %(n)s, next opens %(at)s") % {
            "zones": self.zones,
            "n": f"{self.count:,}",
            "at": opens,
        }


def waiting_for_window(campaign: Campaign, now: datetime | None = None) -> list[WaitingGroup]:
    """Callees that may be claimed but whose window is closed now, per zone group, with the
    window's next opening (UTC). One GROUP BY over the campaign's claimable callees."""
    now = now or timezone.now()
    window = campaign_window(campaign)
    if window.any_time or campaign.state not in (Campaign.State.RUNNING, Campaign.State.PAUSED):
        return []
    if not campaign.window_callee_local:
        if open_now(window, zones_of(campaign, ""), now):
            return []
        n = Callee.objects.filter(campaign=campaign, state__in=_WAITING_STATES).count()
        zones = zones_of(campaign, "")
        return [WaitingGroup(zones[0], n, next_opening(window, zones, now))] if n else []
    rows = (
        Callee.objects.filter(campaign=campaign, state__in=_WAITING_STATES)
        .values("zone_set__key")
        .annotate(n=Count("id"))
        .order_by()
    )
    groups = []
    for row in rows:
        key = row["zone_set__key"] or ""
        zones = zones_of(campaign, key)
        if open_now(window, zones, now):
            continue
        label = ", ".join(zones[:3]) + (f" (+{len(zones) - 3})" if len(zones) > 3 else "")
        groups.append(WaitingGroup(label, row["n"], next_opening(window, zones, now)))
    return sorted(groups, key=lambda g: (g.next_open is None, g.next_open or now, g.zones))


_WAITING_STATES = (Callee.State.PENDING, Callee.State.WAITING)


def any_window_open(campaign: Campaign, now: datetime) -> bool:
    """For the tick: may a dispatcher find anything to send now (a callee, or a due retry, in
    an open window)?"""
    if not campaign.window_callee_local or campaign_window(campaign).any_time:
        return True
    return (
        Callee.objects.filter(campaign=campaign)
        .filter(Q(state__in=_WAITING_STATES) | Q(state=Callee.State.RETRY, retry_due_at__lte=now))
        .alias(window_open=window_open_case(campaign, now))
        .filter(window_open__isnull=False)
        .exists()
    )


def window_settings(
    *, window: str | None, zone: str | None, fallback: str | None, days: str | None, skip: str
) -> dict[str, object]:
    """The command line's window options as Campaign fields; WindowError names the option."""
    fields: dict[str, object] = {}
    try:
        if window:
            fields["window_start"], fields["window_end"] = parse_window(window)
    except WindowError as exc:
        raise WindowError(f"--window: {exc}") from None
    if fallback and not window:
        raise WindowError(gettext("--fallback-zone needs --window."))
    zone = (zone or "").strip()
    if zone.lower() == "callee":
        if not window:
            raise WindowError(gettext("--window-zone callee needs --window."))
        fields["window_callee_local"] = True
    elif zone:
        try:
            fields["window_tz"] = check_zone(zone)
        except WindowError as exc:
            raise WindowError(f"--window-zone: {exc}") from None
    if fallback:
        try:
            fields["fallback_zone"] = check_zone(fallback)
        except WindowError as exc:
            raise WindowError(f"--fallback-zone: {exc}") from None
    try:
        if days:
            fields["window_days"] = parse_days(days)
    except WindowError as exc:
        raise WindowError(f"--days: {exc}") from None
    try:
        if skip:
            fields["skip_dates"] = parse_skip_dates(skip)
    except WindowError as exc:
        raise WindowError(f"--skip-dates: {exc}") from None
    return fields
