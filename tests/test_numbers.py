"""The one phone-number normaliser (campaigns/services/numbers.py): ITNIO digits and the
number's country, national numbers with a default region, and what it does with hostile cells."""

from __future__ import annotations

import time

import pytest

from campaigns.services.numbers import (
    InvalidNumber,
    Number,
    check_region,
    normalise_number,
    normaliser,
    parse_number,
    region_name,
    strip_number,
)


def reason_of(raw, region=None) -> str:
    with pytest.raises(InvalidNumber) as caught:
        parse_number(raw, region)
    return caught.value.reason


# ---------------------------------------------------------------------------
# Without a default region: today's rule, and the country when it can tell
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+65 9123 4567", Number("6591234567", "SG")),
        ("0065-9123-4567", Number("6591234567", "SG")),
        ("+44 20 7946 0958", Number("442079460958", "GB")),
        ("+1 (202) 555-0143", Number("12025550143", "US")),
        ("+1 416 555 0143", Number("14165550143", "CA")),
        ("6281234567890", Number("6281234567890", "ID")),
        # Accepted as today, whatever libphonenumber thinks of them.
        ("(0812) 345 6789", Number("08123456789", "")),
        ("1234567", Number("1234567", "")),  # +1 shared, and not valid
        ("  +1 (555) 010-9999 ", Number("15550109999", "")),
        (6281234567.0, Number("6281234567", "ID")),
        ("+800 1234 5678", Number("80012345678", "")),
    ],
)
def test_country_is_told_from_the_calling_code(raw, expected):
    assert parse_number(raw) == expected


def test_todays_accepted_inputs_give_todays_digits():
    for raw in (
        "+62 812 3456 7890",
        "62.812.3456.7890",
        "[0812] 345-6789",
        "00628123456",
        "+62\u00a0812\u2013345\u20136789",
        "123456789012345",
        6281234567,
    ):
        assert parse_number(raw).digits == normalise_number(raw)
        assert normaliser()(raw) == normalise_number(raw)


def test_todays_rejections_keep_their_reasons():
    assert reason_of("12ab") == "has letters: '12ab'"
    assert reason_of("123456") == "6 digits: must be 7–15"
    assert reason_of("12/05/2024").startswith("has characters other than digits ('/')")


# ---------------------------------------------------------------------------
# With a default region
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9123 4567", Number("6591234567", "SG")),
        ("6123-4567", Number("6561234567", "SG")),
        (91234567.0, Number("6591234567", "SG")),
        ("+65 9123 4567", Number("6591234567", "SG")),
        ("0065 9123 4567", Number("6591234567", "SG")),
        ("6591234567", Number("6591234567", "SG")),  # the + lost by a spreadsheet
        ("+44 20 7946 0958", Number("442079460958", "GB")),  # international: its own country
    ],
)
def test_a_default_region_makes_national_numbers_international(raw, expected):
    assert parse_number(raw, "SG") == expected
    assert normaliser("sg")(raw) == expected.digits


def test_a_trunk_prefix_is_dropped():
    assert parse_number("020 7946 0958", "GB") == Number("442079460958", "GB")
    assert parse_number("0811 0000 0007", "ID") == Number("6281100000007", "ID")


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("1234 5678", "SG", "not a valid Singapore number"),
        ("123", "SG", "not a valid Singapore number"),
        ("020 7946 095", "GB", "not a valid United Kingdom number"),
        ("+44 20 7946 095", "SG", "not a valid United Kingdom number"),
        ("+999 1234 5678", "SG", "not a valid number: no country has the calling code"),
        ("+65 123", "SG", "5 digits after removing"),
        ("9123 ABCD", "SG", "has letters: '9123 ABCD'"),
    ],
)
def test_a_number_not_valid_for_its_country_says_so(raw, region, reason):
    assert reason_of(raw, region).startswith(reason)


def test_an_unknown_region_is_refused_plainly():
    assert check_region(" sg ") == "SG"
    for code in ("XX", "SGP", "", "1"):
        with pytest.raises(ValueError, match=r"Unknown region .*: give a two-letter country code"):
            check_region(code)
    assert region_name("SG") == "Singapore" and region_name("XK") == "Kosovo"


# ---------------------------------------------------------------------------
# Hostile cells: a clear reason, quickly, with or without a region
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("region", [None, "SG"])
@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("9" * 1_000_000, "1000000 digits: must be 7–15"),
        ("+" + "9" * 1_000_000, "1000000 digits after removing"),
        ("x" * 1_000_000, "has letters: 'xxxxxxx"),
        ("1-" * 500_000, "500000 digits after removing"),
        ("9123\x004567", "has characters other than digits ('\\x00')"),
        ("\x00", "has characters other than digits ('\\x00')"),
        ("٩١٢٣٤٥٦٧", "has characters other than digits ("),  # Arabic-Indic digits
        ("９１２３４５６７", "has characters other than digits ("),  # full-width digits
        ("\u200b91234567", "has characters other than digits ('\\u200b')"),
    ],
)
def test_hostile_cells_get_a_short_reason_quickly(raw, reason, region):
    started = time.perf_counter()
    found = reason_of(raw, region)
    assert time.perf_counter() - started < 1.0
    assert found.startswith(reason)
    assert len(found) < 200


# ---------------------------------------------------------------------------
# strip_number: search terms and typed fields
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+65 9123-4567", "6591234567"),
        ("0065 91", "6591"),
        (" +62 (811) ", "62811"),
        ("12ab", "12ab"),  # left for the caller's own rule to refuse
        ("", ""),
    ],
)
def test_strip_number_removes_what_people_type_around_a_number(typed, expected):
    assert strip_number(typed) == expected


@pytest.mark.parametrize(
    ("raw", "region", "digits", "country"),
    [
        ("+44 (0)20 7946 0958", "SG", "442079460958", "GB"),  # a trunk prefix after the code
        ("+39 02 1234 5678", "SG", "390212345678", "IT"),  # Italy keeps its leading 0
        ("02 1234 5678", "IT", "390212345678", "IT"),
        ("(202) 555-0143", "US", "12025550143", "US"),
        ("1 202 555 0143", "US", "12025550143", "US"),
        ("+1 416 555 0143", "SG", "14165550143", "CA"),
        ("6281100000007", "ID", "6281100000007", "ID"),
    ],
)
def test_every_spelling_gives_what_libphonenumber_would(raw, region, digits, country):
    import phonenumbers

    assert parse_number(raw, region) == Number(digits, country)
    text = "+" + raw.lstrip("+") if raw.startswith("+") else raw
    parsed = phonenumbers.parse(text, region)
    assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == "+" + digits
