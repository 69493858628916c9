"""§1 authentication: headers, Sign, Timestamp window, Content-Type, per-family codes."""

from __future__ import annotations

import pytest

from itnio_portal.itnio.sandbox import ManualClock, expected_sign

from .conftest import AI_APP, AI_JOB, KEY, SECRET, Api, sign

BALANCE = "/sms/getBalance"
TASK_START = "/aivoice/taskStart"
TASK_BODY = {"appId": AI_APP, "jobId": AI_JOB}


def test_vendor_worked_example_vector() -> None:
    assert expected_sign("bDqJFiq9", "7bz1lzh9", "1630468800") == "05d7a50893e22a5c4bb3216ae3396c7c"
    assert sign("bDqJFiq9", "7bz1lzh9", "1630468800") == "05d7a50893e22a5c4bb3216ae3396c7c"


def test_seed_headers_verbatim_are_accepted_at_the_seed_time(api: Api, clock: ManualClock) -> None:
    clock.set(1630468800)
    response = api.session.get(
        api.base_url + BALANCE,
        headers={
            "Content-Type": "application/json;charset=UTF-8",
            "Sign": "05d7a50893e22a5c4bb3216ae3396c7c",
            "Timestamp": "1630468800",
            "Api-Key": "bDqJFiq9",
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "0",
        "reason": "success",
        "balance": "100.00",
        "gift": "0.00",
        "credit": "0.00",
    }


def test_good_signature_balance_fields_are_top_level_strings(api: Api) -> None:
    answer = api.call("GET", BALANCE)
    assert answer["status"] == "0"
    assert "data" not in answer
    assert all(isinstance(answer[name], str) for name in ("status", "balance", "gift", "credit"))


@pytest.mark.parametrize(("path", "body"), [(BALANCE, None), (TASK_START, TASK_BODY)])
def test_bad_sign_is_minus_1_in_both_families(api: Api, path: str, body: object) -> None:
    method = "POST" if body else "GET"
    answer = api.call(method, path, body, secret="wrong-secret")
    assert answer["status"] == "-1"
    assert answer["data"] is None


def test_unknown_api_key_is_minus_1(api: Api) -> None:
    assert api.call("GET", BALANCE, key="nobody")["status"] == "-1"


def test_sign_in_upper_case_is_accepted(api: Api) -> None:
    assert api.call("GET", BALANCE, upper=True)["status"] == "0"


@pytest.mark.parametrize(
    ("header", "voice_code", "ai_code"),
    [("Api-Key", "-1", "-59"), ("Timestamp", "-1", "-58"), ("Sign", "-1", "-57")],
)
def test_missing_header_codes_per_family(
    api: Api, header: str, voice_code: str, ai_code: str
) -> None:
    assert api.call("GET", BALANCE, omit=(header,))["status"] == voice_code
    assert api.call("POST", TASK_START, TASK_BODY, omit=(header,))["status"] == ai_code


def test_empty_header_counts_as_missing(api: Api) -> None:
    headers = api.headers() | {"Sign": ""}
    answer = api.session.post(api.base_url + TASK_START, json=TASK_BODY, headers=headers).json()
    assert answer["status"] == "-57"


@pytest.mark.parametrize(
    ("offset", "voice_code", "ai_code"),
    [(-301, "-16", "-4"), (301, "-16", "-4"), (-299, "0", "0"), (299, "0", "0")],
)
def test_timestamp_window(api: Api, offset: int, voice_code: str, ai_code: str) -> None:
    ts = str(int(api.state.now()) + offset)
    assert api.call("GET", BALANCE, timestamp=ts)["status"] == voice_code
    ai = api.call("POST", TASK_START, TASK_BODY, timestamp=ts)["status"]
    assert ai == ai_code


def test_timestamp_tolerance_is_configurable(api: Api) -> None:
    api.state.timestamp_tolerance = 10
    ts = str(int(api.state.now()) - 11)
    assert api.call("GET", BALANCE, timestamp=ts)["status"] == "-16"


@pytest.mark.parametrize(
    "timestamp", ["{ms}", "{s}.0", "abc", "-5"], ids=["milliseconds", "decimal", "text", "neg"]
)
def test_timestamp_must_be_integer_seconds(api: Api, timestamp: str) -> None:
    now = int(api.state.now())
    ts = timestamp.format(ms=now * 1000, s=now)
    answer = api.call("GET", BALANCE, timestamp=ts)
    assert answer["status"] == "-16"
    if timestamp == "{ms}":
        assert "milliseconds" in answer["reason"]


def test_sign_is_checked_before_the_timestamp(api: Api) -> None:
    stale = str(int(api.state.now()) - 1000)
    assert api.call("GET", BALANCE, timestamp=stale, secret="bad")["status"] == "-1"


@pytest.mark.parametrize(
    ("content_type", "voice_code", "ai_code"),
    [
        (None, "-22", "-27"),
        ("text/plain", "-22", "-27"),
        ("application/x-www-form-urlencoded", "-22", "-27"),
        ("application/json", "0", "0"),
        ("Application/JSON; charset=utf-8", "0", "0"),
    ],
)
def test_content_type_is_required_even_on_get(
    api: Api, content_type: str | None, voice_code: str, ai_code: str
) -> None:
    answer = api.call("GET", BALANCE, content_type=content_type)
    assert answer["status"] == voice_code
    if voice_code != "0":
        assert "Content-Type" in answer["reason"]
    assert api.call("POST", TASK_START, TASK_BODY, content_type=content_type)["status"] == ai_code


def test_record_masks_the_sign_and_never_holds_the_secret(api: Api) -> None:
    api.call("GET", BALANCE)
    api.call("GET", BALANCE, secret="wrong")
    good, bad = api.state.requests_for(BALANCE)
    assert good.headers["Sign"] == "<sign ok>"
    assert bad.headers["Sign"] == "<sign BAD>"
    dumped = repr([good.to_dict(), bad.to_dict()])
    assert SECRET not in dumped
    assert good.headers["Api-Key"] == KEY
