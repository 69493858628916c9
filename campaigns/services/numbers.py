"""One phone-number normaliser, built on `phonenumbers` (Google's libphonenumber): the digits
ITNIO is sent for a cell (country code and national number, no +) and, when it can tell, the
number's country, or the reason it is not a callable number.

Without a default region a number must carry its country code, as it always had to: 7–15 digits
once spaces, dashes, dots, brackets and a leading + or 00 are removed. That check is plain
string work (about a microsecond); the country then comes from the calling-code prefix, and
only a code that several countries share (+1, +44, +7 …) costs a full parse.

With a default region (e.g. "SG"), a number without + or 00 is national ("9123 4567" becomes
6591234567) and every number is checked by libphonenumber against its own country's numbering
plan: "not a valid Singapore number". A number valid as written costs one validity check
(about 10 µs); other spellings go through libphonenumber's parser too (about 35 µs more).

`strip_number` is the lenient form for what is not yet a whole number: a search prefix, or a
form field whose own ITNIO limit check states the rule.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache, partial
from pathlib import Path
from typing import Any

import phonenumbers
from django.utils.translation import gettext, gettext_noop, ngettext
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
)

MIN_DIGITS, MAX_DIGITS = 7, 15


class InvalidNumber(ValueError):
    """A cell that is not a callable number; `reason` is shown next to the row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Number:
    """A callable number: ITNIO's digits and its ISO 3166 country ("" when it cannot tell)."""

    digits: str
    country: str = ""


# Spaces (also no-break and thin ones), dashes (ASCII, Unicode hyphens, en/em dash), dots,
# brackets. Not slashes: "12/05/2024" is a date, not the number 12052024.
_SEPARATORS = str.maketrans(
    "", "", " \t\u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2014\u2212.()[]"
)
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")

#: Calling code (as digits) → the regions that share it; calling codes are prefix-free.
_REGIONS_BY_CODE = {str(code): regions for code, regions in COUNTRY_CODE_TO_REGION_CODE.items()}


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def strip_number(text: str) -> str:
    """`text` without separators and a leading + or 00, nothing checked: a search term (a prefix
    of a number), or a form field whose own limit check then states the rule."""
    digits = text.strip().translate(_SEPARATORS)
    if digits.startswith("+"):
        return digits[1:]
    return digits[2:] if digits.startswith("00") else digits


def _text_of(raw: Any) -> str:
    if raw is None:
        raise InvalidNumber(gettext("empty"))
    if isinstance(raw, bool):
        raise InvalidNumber(gettext("not a phone number: %(value)s") % {"value": raw})
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        # A spreadsheet cell holding a number: fine when it is whole (precise up to 15 digits).
        if not raw.is_integer():
            raise InvalidNumber(gettext("not a whole number: %(value)r") % {"value": raw})
        return str(int(raw))
    if isinstance(raw, datetime | date | time):
        raise InvalidNumber(
            gettext("a date or time, not a phone number: %(value)s") % {"value": raw}
        )
    return str(raw).strip()


def _clean(raw: Any) -> tuple[str, str, bool]:
    """(the cell's text, its digits, whether it began with + or 00), or InvalidNumber when
    anything but separators and digits is left."""
    text = _text_of(raw)
    if not text:
        raise InvalidNumber(gettext("empty"))
    digits = text.translate(_SEPARATORS)
    international = digits.startswith(("+", "00"))
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if digits.isascii() and digits.isdigit():
        return text, digits, international
    if not digits:
        raise InvalidNumber(gettext("no digits: %(text)s") % {"text": _shown(text)})
    if _SCIENTIFIC.match(text):
        raise InvalidNumber(
            gettext(
                "in scientific notation, digits are lost: %(text)s "
                "(format the column as text in the spreadsheet)"
            )
            % {"text": _shown(text)}
        )
    if any(c.isalpha() for c in digits):
        raise InvalidNumber(gettext("has letters: %(text)s") % {"text": _shown(text)})
    if "+" in digits:
        raise InvalidNumber(
            gettext("'+' is only allowed at the start: %(text)s") % {"text": _shown(text)}
        )
    others = sorted({c for c in digits if not ("0" <= c <= "9")})
    shown = ", ".join(repr(c) for c in others[:5])
    raise InvalidNumber(
        gettext("has characters other than digits (%(chars)s): %(text)s")
        % {"chars": shown, "text": _shown(text)}
    )


def _check_length(text: str, digits: str) -> str:
    n = len(digits)
    if not MIN_DIGITS <= n <= MAX_DIGITS:
        values = {"n": n, "min": MIN_DIGITS, "max": MAX_DIGITS}
        if digits != text:
            raise InvalidNumber(
                ngettext(
                    "%(n)s digit after removing spaces, dashes, dots, brackets and a leading + "
                    "or 00: must be %(min)s–%(max)s",
                    "%(n)s digits after removing spaces, dashes, dots, brackets and a leading + "
                    "or 00: must be %(min)s–%(max)s",
                    n,
                )
                % values
            )
        raise InvalidNumber(
            ngettext(
                "%(n)s digit: must be %(min)s–%(max)s", "%(n)s digits: must be %(min)s–%(max)s", n
            )
            % values
        )
    return digits


def normalise_number(raw: Any) -> str:
    """The digits ITNIO is sent for a cell: separators and a leading `+` or `00` removed,
    7–15 digits left; otherwise InvalidNumber with the reason."""
    if type(raw) is str:
        # The common case, cheaply (str.replace runs at C speed); anything else, and every
        # invalid value, takes the long way for the same result or the reason.
        digits = raw.replace(" ", "").replace("-", "").replace(".", "")
        digits = digits.replace("(", "").replace(")", "")
        if digits[:1] == "+":
            digits = digits[1:]
        elif digits[:2] == "00":
            digits = digits[2:]
        if MIN_DIGITS <= len(digits) <= MAX_DIGITS and digits.isdigit() and digits.isascii():
            return digits
    text, digits, _ = _clean(raw)
    return _check_length(text, digits)


def calling_code(digits: str) -> str:
    """The calling code ITNIO digits start with ("86", "1", "65"), "" when none: the
    destination prefix of the rate tables (calling codes are prefix-free)."""
    for size in (1, 2, 3):
        if digits[:size] in _REGIONS_BY_CODE:
            return digits[:size]
    return ""


def country_of(digits: str) -> str:
    """The ISO country of ITNIO digits (country code first), "" when it cannot tell: from the
    calling code alone, or, for a code several countries share, by libphonenumber."""
    for size in (1, 2, 3):
        regions = _REGIONS_BY_CODE.get(digits[:size])
        if regions is None:
            continue
        if len(regions) == 1:
            return regions[0] if regions[0].isalpha() else ""  # "001": non-geographic
        try:
            return phonenumbers.region_code_for_number(phonenumbers.parse("+" + digits)) or ""
        except NumberParseException:
            return ""
    return ""


def check_region(code: str) -> str:
    """A default region as libphonenumber knows it ("sg" → "SG"); ValueError when unknown."""
    region = (code or "").strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            gettext("Unknown region %(code)s: give a two-letter country code such as SG.")
            % {"code": _shown(code or "", 10)}
        )
    return region


#: Regions libphonenumber's locale table has no English name for.
_MISSING_NAMES = {"AC": "Ascension Island", "TA": "Tristan da Cunha", "XK": "Kosovo"}


@cache
def _english_names() -> dict[str, str]:
    """Region → English name, from libphonenumber's locale table, read on its own: importing
    `phonenumbers.geocoder` would load all its geocoding data (~100 MB) for a few names."""
    path = Path(phonenumbers.__file__).with_name("geodata") / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    names = dict(_MISSING_NAMES)
    if spec is None or spec.loader is None:
        return names
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for region, by_language in module.LOCALE_DATA.items():
        name = by_language.get("en", "")
        while name.startswith("*"):  # "*aa": the same as in language aa
            name = by_language.get(name[1:], "")
        if name:
            names[region] = name
    return names


def region_name(region: str) -> str:
    """The country's name in English ("SG" → "Singapore"), else its code."""
    return _english_names().get(region, region)


_NO_COUNTRY = gettext_noop("not a valid number: no country has the calling code it begins with")


def _not_valid(region: str) -> InvalidNumber:
    return InvalidNumber(
        gettext("not a valid %(country)s number") % {"country": region_name(region)}
    )


def _valid_as_written(digits: str, international: bool, region: str) -> PhoneNumber | None:
    """The number as written when it is valid so: country code first if international, else a
    national number of `region` without its trunk prefix, or one with the region's country code
    but no +. About a third of what libphonenumber's parser costs; the other spellings (a trunk
    prefix, "+44 (0)20…") still go through the parser."""
    if not international:
        code = phonenumbers.country_code_for_region(region)
        number = _valid(code, digits)
        if number is not None or not digits.startswith(str(code)):
            return number
    for size in (1, 2, 3):
        if digits[:size] in _REGIONS_BY_CODE:
            return _valid(int(digits[:size]), digits[size:])
    return None


def _valid(code: int, national: str) -> PhoneNumber | None:
    if not national:
        return None
    number = PhoneNumber(country_code=code, national_number=int(national))
    if national[0] == "0" and len(national) > 1:  # as libphonenumber keeps leading zeros
        number.italian_leading_zero = True
        zeros = len(national) - len(national.lstrip("0"))
        number.number_of_leading_zeros = min(zeros, len(national) - 1)
    return number if phonenumbers.is_valid_number(number) else None


def parse_number(raw: Any, default_region: str | None = None) -> Number:
    """A cell as ITNIO's digits and its country, or InvalidNumber with the reason.

    With `default_region`, a number without + or 00 is read as a national number of that region
    and every number must be valid for its own country; without one, a number is accepted as
    `normalise_number` accepts it."""
    if not default_region:
        digits = normalise_number(raw)
        return Number(digits, country_of(digits))
    region = check_region(default_region)
    text, digits, international = _clean(raw)
    if international or len(digits) > MAX_DIGITS + 2:  # room for a trunk prefix
        _check_length(text, digits)
    parsed = _valid_as_written(digits, international, region)
    if parsed is None:
        try:
            parsed = phonenumbers.parse(("+" if international else "") + digits, region)
        except NumberParseException:
            if international:
                raise InvalidNumber(gettext(_NO_COUNTRY)) from None
            raise _not_valid(region) from None
        if not phonenumbers.is_valid_number(parsed):
            raise _invalid_for_its_country(parsed, region, international)
    digits = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)[1:]
    return Number(_check_length(text, digits), phonenumbers.region_code_for_number(parsed) or "")


def _invalid_for_its_country(
    parsed: PhoneNumber, region: str, international: bool
) -> InvalidNumber:
    code = phonenumbers.region_code_for_country_code(parsed.country_code)
    if code not in phonenumbers.SUPPORTED_REGIONS:
        return InvalidNumber(gettext(_NO_COUNTRY))
    return _not_valid(region if not international else code)


def normaliser(default_region: str | None = None) -> Callable[[Any], str]:
    """The function from a cell to ITNIO's digits for an import: `normalise_number`, or, with a
    default region, the checked national-or-international reading of `parse_number`."""
    if not default_region:
        return normalise_number
    return partial(_region_digits, region=check_region(default_region))


def _region_digits(raw: Any, region: str) -> str:
    return parse_number(raw, region).digits
