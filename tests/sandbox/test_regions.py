"""The record's region follows the callee's country calling code (+65 is Singapore, always)."""

from __future__ import annotations

import phonenumbers

from itnio_portal.itnio.sandbox.calls import make_life
from itnio_portal.itnio.sandbox.countries import COUNTRY_CODES, country_of

from .conftest import Api


def test_a_singapore_number_is_always_singapore() -> None:
    for n in range(300):
        life = make_life(f"2201181442401{n:06d}", f"65{8000_0000 + n * 3217:08d}")
        assert life.code.startswith("Singapore("), life.code
        assert life.code.removeprefix("Singapore(").rstrip(")") in {"Singtel", "StarHub", "M1"}


def test_records_name_the_country_of_each_callee(api: Api) -> None:
    callees = {
        "6591234567": "Singapore",
        "84912345678": "Vietnam",
        "919876543210": "India",
        "628123456789": "Indonesia",
        "447911123456": "United Kingdom",
        "85291234567": "Hong Kong",
        "8613800138000": "China",
        "12025550123": "United States",
        "4915112345678": "Germany",
    }
    items = api.send_group(list(callees))
    for item in items:
        record = api.ok("GET", f"/voice/recordGroup/{item['voiceId']}")
        country = callees[item["callee"]]
        assert record["code"].startswith(country + "("), (item["callee"], record["code"])


def test_a_number_without_a_calling_code_is_accepted_as_unknown(api: Api) -> None:
    (item,) = api.send_group(["2812345678"])  # +28x is not assigned
    record = api.ok("GET", f"/voice/recordGroup/{item['voiceId']}")
    assert record["code"] == "Unknown"
    assert record["rate"] and record["billPeriod"]


def test_the_table_agrees_with_libphonenumber() -> None:
    geographic = {
        str(code): regions[0]
        for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items()
        if regions[0] != "001"
    }
    assert {code: region for code, (region, _) in COUNTRY_CODES.items()} == geographic
    assert all(name for _, name in COUNTRY_CODES.values())
    # a prefix code: no key starts another one, so the first match is the only one
    for code in COUNTRY_CODES:
        assert not any(other != code and other.startswith(code) for other in COUNTRY_CODES)
    assert country_of("6591234567") == ("65", "SG", "Singapore")
