"""One phone-number normaliser: the digits ITNIO is sent for a cell, or the reason it is not a
callable number."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

MIN_DIGITS, MAX_DIGITS = 7, 15


class InvalidNumber(ValueError):
    """A cell that is not a callable number; `reason` is shown next to the row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Spaces (also no-break and thin ones), dashes (ASCII, Unicode hyphens, en/em dash), dots, brackets.
_SEPARATORS = str.maketrans(
    "", "", " \t\u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2014\u2212.()[]"
)
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def normalise_number(raw: Any) -> str:
    """The digits ITNIO is sent for a cell: spaces, dashes, dots, brackets and a leading `+` or
    `00` removed, 7–15 digits left; otherwise InvalidNumber with the reason."""
    if raw is None:
        raise InvalidNumber("empty")
    if isinstance(raw, bool):
        raise InvalidNumber(f"not a phone number: {raw}")
    if isinstance(raw, int):
        text = str(raw)
    elif isinstance(raw, float):
        # A spreadsheet cell holding a number: fine when it is whole (precise up to 15 digits).
        if not raw.is_integer():
            raise InvalidNumber(f"not a whole number: {raw!r}")
        text = str(int(raw))
    elif isinstance(raw, datetime | date | time):
        raise InvalidNumber(f"a date or time, not a phone number: {raw}")
    else:
        text = str(raw).strip()
    if not text:
        raise InvalidNumber("empty")
    digits = text.translate(_SEPARATORS)
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit()):
        if not digits:
            raise InvalidNumber(f"no digits: {_shown(text)}")
        if _SCIENTIFIC.match(text):
            raise InvalidNumber(
                f"in scientific notation, digits are lost: {_shown(text)} "
                "(format the column as text in the spreadsheet)"
            )
        if any(c.isalpha() for c in digits):
            raise InvalidNumber(f"has letters: {_shown(text)}")
        if "+" in digits:
            raise InvalidNumber(f"'+' is only allowed at the start: {_shown(text)}")
        others = sorted({c for c in digits if not ("0" <= c <= "9")})
        shown = ", ".join(repr(c) for c in others[:5])
        raise InvalidNumber(f"has characters other than digits ({shown}): {_shown(text)}")
    n = len(digits)
    if not MIN_DIGITS <= n <= MAX_DIGITS:
        removed = digits != text
        how = (
            " after removing spaces, dashes, dots, brackets and a leading + or 00"
            if removed
            else ""
        )
        raise InvalidNumber(
            f"{n} digit{'s' if n != 1 else ''}{how}: must be {MIN_DIGITS}–{MAX_DIGITS}"
        )
    return digits
