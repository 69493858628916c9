"""Both response envelopes, string and numeric codes, getBalance's top-level fields."""

from __future__ import annotations

import pytest

from itnio_portal.itnio import ItnioProtocolError, parse_envelope


@pytest.mark.parametrize("code", ["0", 0, " 0 ", "0\n"])
def test_status_envelope_success_as_string_or_number(code):
    env = parse_envelope({"status": code, "reason": "success", "data": "2203031113381000002"})
    assert env.ok
    assert env.code == "0"
    assert env.reason == "success"
    assert env.data == "2203031113381000002"
    assert env.shape == "status"


@pytest.mark.parametrize("code", ["0", 0])
def test_code_msg_envelope(code):
    env = parse_envelope({"code": code, "msg": "ok", "data": {"keyId": 7}})
    assert env.ok
    assert env.reason == "ok"
    assert env.data == {"keyId": 7}
    assert env.shape == "code"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"status": "-10", "reason": "balance"}, "-10"),
        ({"status": -10, "reason": "balance"}, "-10"),
        ({"code": -22, "msg": "param"}, "-22"),
        ({"code": "-22 ", "msg": "param"}, "-22"),
    ],
)
def test_non_zero_codes_are_kept_as_stripped_strings(payload, code):
    env = parse_envelope(payload)
    assert not env.ok
    assert env.code == code
    assert env.data is None


def test_missing_reason_is_empty_string():
    assert parse_envelope({"status": "0"}).reason == ""


def test_get_balance_fields_are_returned_whole_when_top_level():
    payload = {"status": "0", "reason": "success", "balance": "12.5", "gift": "0", "credit": ""}
    env = parse_envelope(payload, top_level_data=True)
    assert env.ok
    assert env.data == payload
    # Without the flag the (absent) data key is what comes back.
    assert parse_envelope(payload).data is None


@pytest.mark.parametrize("payload", [[], [{"status": "0"}], "0", 0, None, True])
def test_a_body_that_is_not_an_object_is_a_protocol_error(payload):
    with pytest.raises(ItnioProtocolError, match="not an object"):
        parse_envelope(payload, endpoint="/voice/sendCode")


@pytest.mark.parametrize(
    "payload",
    [{}, {"data": "x"}, {"reason": "success"}, {"status": None, "code": None}],
)
def test_an_object_without_status_or_code_is_a_protocol_error(payload):
    with pytest.raises(ItnioProtocolError, match="neither"):
        parse_envelope(payload)


@pytest.mark.parametrize("bad", [True, 0.0, [], {}, ""])
def test_an_unreadable_code_value_is_a_protocol_error(bad):
    with pytest.raises(ItnioProtocolError):
        parse_envelope({"status": bad})


def test_protocol_error_names_the_endpoint():
    with pytest.raises(ItnioProtocolError) as info:
        parse_envelope([], endpoint="/voice/recordGroup")
    assert info.value.endpoint == "/voice/recordGroup"
    assert "[/voice/recordGroup]" in str(info.value)
