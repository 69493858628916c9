"""Business-code tables per family, typed errors and their safe str()."""

from __future__ import annotations

import pytest
import responses

from itnio_portal.itnio import (
    AIVOICE_CODES,
    VOICE_CODES,
    AccountNotVerifiedError,
    AppNotFoundError,
    AuthenticationError,
    ConcurrencyLimitError,
    CustomerPropertiesError,
    DataValidationError,
    DialWindowError,
    DuplicateDataError,
    InsufficientBalanceError,
    IpRestrictedError,
    ItnioApiError,
    ItnioClient,
    ItnioError,
    ItnioLimitError,
    ItnioServiceError,
    LimitReachedError,
    MissingHeaderError,
    NoCustomersError,
    ParameterError,
    RateLookupError,
    ScriptUnboundError,
    TaskNameExistsError,
    TaskNotFoundError,
    TaskStateError,
    TimestampExpiredError,
    UserLockedError,
    api_error_for,
)
from itnio_portal.itnio.errors import UNKNOWN_CODE_MESSAGE, family_for_path

# The tables as the brief and the docs state them: written out here so a wrong row fails.
EXPECTED_VOICE = {
    "-1": AuthenticationError,
    "-2": IpRestrictedError,
    "-10": InsufficientBalanceError,
    "-13": UserLockedError,
    "-16": TimestampExpiredError,
    "-18": ItnioServiceError,
    "-20": DuplicateDataError,
    "-21": DataValidationError,
    "-22": ParameterError,
    "-23": LimitReachedError,
    "-26": RateLookupError,
}
EXPECTED_AIVOICE = {
    "-1": AuthenticationError,
    "-3": InsufficientBalanceError,
    "-4": TimestampExpiredError,
    "-5": ItnioServiceError,
    "-6": IpRestrictedError,
    "-27": ParameterError,
    "-32": TaskNotFoundError,
    "-33": TaskNameExistsError,
    "-37": AppNotFoundError,
    "-38": TaskStateError,
    "-39": TaskStateError,
    "-45": NoCustomersError,
    "-46": ParameterError,
    "-48": DialWindowError,
    "-49": AccountNotVerifiedError,
    "-50": RateLookupError,
    "-51": CustomerPropertiesError,
    "-52": ConcurrencyLimitError,
    "-55": ScriptUnboundError,
    "-57": MissingHeaderError,
    "-58": MissingHeaderError,
    "-59": MissingHeaderError,
}
# A word each English message must contain, so a message swapped between rows fails.
KEYWORDS = {
    ("voice", "-1"): "Authentication",
    ("voice", "-2"): "IP",
    ("voice", "-10"): "balance",
    ("voice", "-13"): "locked",
    ("voice", "-16"): "timestamp",
    ("voice", "-18"): "system",
    ("voice", "-20"): "already exists",
    ("voice", "-21"): "validation",
    ("voice", "-22"): "parameter",
    ("voice", "-23"): "limit",
    ("voice", "-26"): "rate",
    ("aivoice", "-1"): "Authentication",
    ("aivoice", "-3"): "balance",
    ("aivoice", "-4"): "timestamp",
    ("aivoice", "-5"): "system",
    ("aivoice", "-6"): "IP",
    ("aivoice", "-27"): "parameter",
    ("aivoice", "-32"): "does not exist",
    ("aivoice", "-33"): "already exists",
    ("aivoice", "-37"): "application",
    ("aivoice", "-38"): "paused",
    ("aivoice", "-39"): "started",
    ("aivoice", "-45"): "customers",
    ("aivoice", "-46"): "network",
    ("aivoice", "-48"): "09:00-20:00",
    ("aivoice", "-49"): "verified",
    ("aivoice", "-50"): "quote",
    ("aivoice", "-51"): "properties",
    ("aivoice", "-52"): "concurrency",
    ("aivoice", "-55"): "unbound",
    ("aivoice", "-57"): "Sign",
    ("aivoice", "-58"): "Timestamp",
    ("aivoice", "-59"): "Api-Key",
}


def test_tables_hold_exactly_the_documented_codes():
    assert {code: cls for code, (cls, _) in VOICE_CODES.items()} == EXPECTED_VOICE
    assert {code: cls for code, (cls, _) in AIVOICE_CODES.items()} == EXPECTED_AIVOICE


@pytest.mark.parametrize(
    ("family", "code"),
    [("voice", c) for c in EXPECTED_VOICE] + [("aivoice", c) for c in EXPECTED_AIVOICE],
)
def test_every_code_maps_to_its_class_and_english_message(family, code):
    table = VOICE_CODES if family == "voice" else AIVOICE_CODES
    expected_cls = (EXPECTED_VOICE if family == "voice" else EXPECTED_AIVOICE)[code]
    err = api_error_for(family, code, "vendor text", "/x/y")
    assert type(err) is expected_cls
    assert isinstance(err, ItnioApiError)
    assert err.message == table[code][1]
    assert KEYWORDS[(family, code)].lower() in err.message.lower()
    assert err.code == code
    assert err.reason == "vendor text"
    assert err.family == family
    assert err.endpoint == "/x/y"


def test_same_code_means_different_things_per_family():
    assert type(api_error_for("aivoice", "-4", "", "")) is TimestampExpiredError
    assert type(api_error_for("voice", "-4", "", "")) is ItnioApiError
    assert type(api_error_for("aivoice", "-6", "", "")) is IpRestrictedError
    assert type(api_error_for("voice", "-6", "", "")) is ItnioApiError
    assert type(api_error_for("aivoice", "-3", "", "")) is InsufficientBalanceError
    assert type(api_error_for("voice", "-10", "", "")) is InsufficientBalanceError
    assert type(api_error_for("aivoice", "-10", "", "")) is ItnioApiError
    assert type(api_error_for("voice", "-16", "", "")) is TimestampExpiredError
    assert type(api_error_for("aivoice", "-16", "", "")) is ItnioApiError


def test_unknown_code_gives_plain_api_error_with_generic_message():
    err = api_error_for("voice", "-999", "mystery", "/voice/sendCode")
    assert type(err) is ItnioApiError
    assert err.message == UNKNOWN_CODE_MESSAGE
    assert str(err) == f"{UNKNOWN_CODE_MESSAGE} (ITNIO code -999: mystery) [/voice/sendCode]"


def test_numeric_codes_are_normalised_to_strings():
    err = api_error_for("voice", -10, "x", "")
    assert isinstance(err, InsufficientBalanceError)
    assert err.code == "-10"


def test_unknown_family_is_a_programming_error():
    with pytest.raises(ValueError, match="family"):
        api_error_for("sms", "-1", "", "")  # type: ignore[arg-type]


def test_api_error_str_shows_message_code_reason_and_endpoint():
    err = api_error_for(
        "voice", "-10", "The customer's balance is insufficient", "/voice/sendGroup"
    )
    assert str(err) == (
        "The ITNIO account balance is insufficient. "
        "(ITNIO code -10: The customer's balance is insufficient) [/voice/sendGroup]"
    )
    assert repr(err).startswith("InsufficientBalanceError(")
    assert isinstance(err, ItnioError)


def test_limit_error_is_a_value_error_with_field_and_rule():
    err = ItnioLimitError("callee", "each number must be 7\N{EN DASH}15 digits", got='"12345"')
    assert isinstance(err, ValueError)
    assert isinstance(err, ItnioError)
    assert err.field == "callee"
    assert err.rule == "each number must be 7\N{EN DASH}15 digits"
    assert str(err) == 'callee: each number must be 7\N{EN DASH}15 digits (got "12345")'


def test_family_follows_the_path():
    assert family_for_path("/aivoice/taskStart") == "aivoice"
    assert family_for_path("/voice/sendGroup") == "voice"
    assert family_for_path("/sms/getBalance") == "voice"


@responses.activate
def test_client_maps_codes_through_the_endpoint_family():
    base = "https://itnio.test"
    responses.add(
        responses.POST, f"{base}/aivoice/taskStart", json={"status": "-4", "reason": "时间戳过期"}
    )
    responses.add(responses.POST, f"{base}/voice/sipAdd", json={"status": "-4", "reason": "?"})
    client = ItnioClient(base, "key12345", "secret99")

    with pytest.raises(TimestampExpiredError) as info:
        client.ai_task_start(app_id="LILIN888", job_id=10886)
    assert info.value.family == "aivoice"
    assert info.value.reason == "时间戳过期"
    assert info.value.endpoint == "/aivoice/taskStart"

    with pytest.raises(ItnioApiError) as info:
        client.sip_add(
            app_id="4luaKsL2",
            group_name="sipGroup",
            phone_name="sip1",
            quantity=3,
            display_num="861000000",
        )
    assert type(info.value) is ItnioApiError
    assert info.value.family == "voice"
