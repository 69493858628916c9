"""Typed ITNIO errors: limits broken before sending, business codes per family, transport."""

from __future__ import annotations

from typing import Literal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

Family = Literal["voice", "aivoice"]
FAMILIES: tuple[Family, ...] = ("voice", "aivoice")

# Longest value echoed back in a limit error: enough to recognise it, short enough for a page.
_MAX_SHOWN = 40


class ItnioError(Exception):
    """Base of every error raised by the ITNIO client.

    `str()` is an English sentence fit for an admin page. It is built only from our own text,
    the vendor's reason and the endpoint: never from headers, so never the api secret, the
    Sign or the Api-Key value.
    """

    default_message = gettext_lazy("The ITNIO request failed.")

    def __init__(self, message: str | None = None, *, endpoint: str = "") -> None:
        # Translated when raised (the active language: the page's, or the command's).
        self.message = str(message or self.default_message)
        self.endpoint = endpoint
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.endpoint:
            return f"{self.message} [{self.endpoint}]"
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


# ---------------------------------------------------------------------------------------------
# Limits: raised before anything is sent.
# ---------------------------------------------------------------------------------------------


def show_value(value: object) -> str:
    """Render a rejected value for a limit message: strings quoted, long ones shortened."""
    if isinstance(value, str):
        text = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
        return f'"{text}"'
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


class ItnioLimitError(ItnioError, ValueError):
    """An argument breaks a documented limit; raised BEFORE sending, so nothing was spent.

    `field` is the ITNIO JSON field name (e.g. "callee", "loopCount"), `rule` the limit in
    words. Also a ValueError, so callers validating forms can catch it generically.
    """

    def __init__(
        self, field: str, rule: str, *, got: str | None = None, endpoint: str = ""
    ) -> None:
        self.field = field
        self.rule = rule
        self.got = got
        if got is not None:
            message = _("%(field)s: %(rule)s (got %(got)s)") % {
                "field": field,
                "rule": rule,
                "got": got,
            }
        else:
            message = _("%(field)s: %(rule)s") % {"field": field, "rule": rule}
        super().__init__(message, endpoint=endpoint)


# ---------------------------------------------------------------------------------------------
# Business codes: a non-zero status/code in the response envelope.
# ---------------------------------------------------------------------------------------------


class ItnioApiError(ItnioError):
    """ITNIO answered with a non-zero business code (a definite answer, nothing ambiguous).

    `code` is kept as received (a stripped string such as "-10"), `reason` is the vendor's
    text, `message` our English explanation chosen from the family's table.
    """

    default_message = gettext_lazy("ITNIO rejected the request.")

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str,
        reason: str = "",
        endpoint: str = "",
        family: Family = "voice",
    ) -> None:
        self.code = code
        self.reason = reason
        self.family = family
        super().__init__(message, endpoint=endpoint)

    def __str__(self) -> str:
        values = {"message": self.message, "code": self.code, "reason": self.reason}
        if self.reason:
            text = _("%(message)s (ITNIO code %(code)s: %(reason)s)") % values
        else:
            text = _("%(message)s (ITNIO code %(code)s)") % values
        if self.endpoint:
            text += f" [{self.endpoint}]"
        return text


class AuthenticationError(ItnioApiError):
    """Api-Key/Sign rejected."""


class IpRestrictedError(ItnioApiError):
    """The calling IP is not on the account's allow-list."""


class UserLockedError(ItnioApiError):
    """The ITNIO user account is locked."""


class InsufficientBalanceError(ItnioApiError):
    """Not enough balance to place the call."""


class TimestampExpiredError(ItnioApiError):
    """The Timestamp header is outside ITNIO's (undocumented) window: clock skew."""


class ItnioServiceError(ItnioApiError):
    """ITNIO reports an internal/system error."""


class DuplicateDataError(ItnioApiError):
    """The data already exists (e.g. a file or phone name that must be unique)."""


class DataValidationError(ItnioApiError):
    """ITNIO's data validation failed."""


class ParameterError(ItnioApiError):
    """ITNIO rejected a parameter."""


class LimitReachedError(ItnioApiError):
    """An account-side data cap was reached."""


class RateLookupError(ItnioApiError):
    """ITNIO could not price the call (no rate/quote)."""


class TaskNotFoundError(ItnioApiError):
    """The AI outbound task does not exist."""


class TaskNameExistsError(ItnioApiError):
    """An AI outbound task with that name already exists."""


class AppNotFoundError(ItnioApiError):
    """The application does not exist."""


class TaskStateError(ItnioApiError):
    """The AI task's current state does not allow the operation (pause/start)."""


class NoCustomersError(ItnioApiError):
    """The AI task has no customers imported, so it cannot start."""


class DialWindowError(ItnioApiError):
    """The AI task's daily dialling window is outside 09:00-20:00."""


class AccountNotVerifiedError(ItnioApiError):
    """The ITNIO account is not verified."""


class CustomerPropertiesError(ItnioApiError):
    """A customer's custom properties are incomplete for the script."""


class ConcurrencyLimitError(ItnioApiError):
    """Requested AI concurrency exceeds the account maximum."""


class ScriptUnboundError(ItnioApiError):
    """The script is unbound, so the operation is not allowed."""


class MissingHeaderError(ItnioApiError):
    """ITNIO says an auth header was empty: a client bug, not a user error."""


CodeTable = dict[str, tuple[type[ItnioApiError], str]]


def gettext_noop(message: str) -> str:
    """Marks a message for translation (makemessages reads this name) and returns it as it is.

    Not Django's gettext_noop, which reads the settings: these tables are built at import
    time, and the package is imported before settings exist (and by the sandbox, without them).
    """
    return message


# The messages are English, marked for translation (gettext_noop above): api_error_for translates
# the one it uses, so readers of these tables get plain strings.

# /voice and /sms endpoints: itnio-api.md §1-§3 and seeds 001-004. Codes mean different things
# in the aivoice family, hence two tables rather than one.
VOICE_CODES: CodeTable = {
    "-1": (
        AuthenticationError,
        gettext_noop("Authentication failed: check the ITNIO API key and secret."),
    ),
    "-2": (
        IpRestrictedError,
        gettext_noop("ITNIO refused this server's IP address (IP allow-list)."),
    ),
    "-10": (InsufficientBalanceError, gettext_noop("The ITNIO account balance is insufficient.")),
    "-13": (UserLockedError, gettext_noop("The ITNIO user account is locked.")),
    "-16": (
        TimestampExpiredError,
        gettext_noop("ITNIO rejected the request timestamp as expired: check the server clock."),
    ),
    "-18": (ItnioServiceError, gettext_noop("ITNIO reported a system error.")),
    "-20": (
        DuplicateDataError,
        gettext_noop("The data already exists at ITNIO (the name must be unique)."),
    ),
    "-21": (DataValidationError, gettext_noop("ITNIO reported a data validation error.")),
    "-22": (ParameterError, gettext_noop("ITNIO rejected a request parameter.")),
    "-23": (LimitReachedError, gettext_noop("The ITNIO data limit has been reached.")),
    "-26": (RateLookupError, gettext_noop("ITNIO could not get the rate/fee for this call.")),
}

# /aivoice endpoints: seed 000's full table and itnio-api.md §5.
AIVOICE_CODES: CodeTable = {
    "-1": (
        AuthenticationError,
        gettext_noop("Authentication failed: check the ITNIO API key and secret."),
    ),
    "-3": (InsufficientBalanceError, gettext_noop("The ITNIO account balance is insufficient.")),
    "-4": (
        TimestampExpiredError,
        gettext_noop("ITNIO rejected the request timestamp as expired: check the server clock."),
    ),
    "-5": (ItnioServiceError, gettext_noop("ITNIO reported a system error.")),
    "-6": (
        IpRestrictedError,
        gettext_noop("ITNIO refused this server's IP address (IP allow-list)."),
    ),
    "-27": (
        ParameterError,
        gettext_noop("ITNIO rejected a request parameter (validation failed)."),
    ),
    "-32": (TaskNotFoundError, gettext_noop("The AI outbound task does not exist.")),
    "-33": (
        TaskNameExistsError,
        gettext_noop("An AI outbound task with this name already exists."),
    ),
    "-37": (AppNotFoundError, gettext_noop("The ITNIO application does not exist.")),
    "-38": (TaskStateError, gettext_noop("The AI task cannot be paused in its current state.")),
    "-39": (TaskStateError, gettext_noop("The AI task cannot be started in its current state.")),
    "-45": (
        NoCustomersError,
        gettext_noop("No customers have been imported, so the AI task cannot start."),
    ),
    # ITNIO does not say which of the two it was; a parameter problem is the likelier one.
    "-46": (ParameterError, gettext_noop("ITNIO reported a network error or a bad parameter.")),
    "-48": (DialWindowError, gettext_noop("The daily dialling window must be within 09:00-20:00.")),
    "-49": (AccountNotVerifiedError, gettext_noop("The ITNIO account is not verified.")),
    # Listed in itnio-api.md §5 (taskList) though not in seed 000's table.
    "-50": (RateLookupError, gettext_noop("The ITNIO application has no quote (pricing).")),
    "-51": (
        CustomerPropertiesError,
        gettext_noop("A customer's custom properties are incomplete."),
    ),
    "-52": (
        ConcurrencyLimitError,
        gettext_noop("The requested concurrency exceeds the account maximum."),
    ),
    "-55": (
        ScriptUnboundError,
        gettext_noop("The script is unbound: this operation is not allowed."),
    ),
    "-57": (MissingHeaderError, gettext_noop("ITNIO received an empty Sign header.")),
    "-58": (MissingHeaderError, gettext_noop("ITNIO received an empty Timestamp header.")),
    "-59": (MissingHeaderError, gettext_noop("ITNIO received an empty Api-Key header.")),
}

CODE_TABLES: dict[Family, CodeTable] = {"voice": VOICE_CODES, "aivoice": AIVOICE_CODES}

UNKNOWN_CODE_MESSAGE = gettext_noop("ITNIO rejected the request with an undocumented code.")


def family_for_path(path: str) -> Family:
    """Pick the error-code family from a request path: /aivoice has its own table (§5)."""
    return "aivoice" if path.lstrip("/").startswith("aivoice/") else "voice"


def api_error_for(family: Family, code: object, reason: str, endpoint: str) -> ItnioApiError:
    """Build the typed error for a non-zero business code in the given family's table.

    An unknown code gives a plain ItnioApiError with a generic English message.
    """
    if family not in CODE_TABLES:
        raise ValueError(f"unknown ITNIO error family {family!r}")
    code_text = str(code).strip()
    cls, message = CODE_TABLES[family].get(code_text, (ItnioApiError, UNKNOWN_CODE_MESSAGE))
    # The tables hold the English (marked for translation); the error carries the active
    # language's sentence.
    return cls(_(message), code=code_text, reason=reason, endpoint=endpoint, family=family)


# ---------------------------------------------------------------------------------------------
# Transport: HTTP-level failures. `safe_to_retry` tells a caller whether repeating the call can
# spend money twice: ITNIO has no idempotency key (design.md convention 10).
# ---------------------------------------------------------------------------------------------


class ItnioTransportError(ItnioError):
    """The HTTP exchange with ITNIO failed or gave something we cannot read."""

    default_message = gettext_lazy("The ITNIO request failed at the HTTP level.")
    safe_to_retry = False

    def __init__(
        self,
        message: str | None = None,
        *,
        endpoint: str = "",
        method: str = "",
        path: str = "",
        http_status: int | None = None,
        attempts: int = 1,
    ) -> None:
        self.method = method
        self.path = path
        self.http_status = http_status
        self.attempts = attempts
        super().__init__(message, endpoint=endpoint)


class ItnioNotSentError(ItnioTransportError):
    """The connection could not be opened: nothing reached ITNIO, so a retry is safe."""

    default_message = gettext_lazy("Could not connect to ITNIO; the request was not sent.")
    safe_to_retry = True


class ItnioOutcomeUnknownError(ItnioTransportError):
    """A send may have reached ITNIO but we got no usable answer; never retried blindly.

    The caller marks the call UNKNOWN and reconciles it through the record queries.
    """

    default_message = gettext_lazy(
        "The request may have reached ITNIO, but its outcome is unknown."
    )


class ItnioUnavailableError(ItnioTransportError):
    """A read failed after all its retries; reads spend nothing, so trying later is safe."""

    default_message = gettext_lazy("ITNIO is unavailable; the read failed after retries.")
    safe_to_retry = True


class ItnioHttpError(ItnioTransportError):
    """An unexpected non-5xx HTTP status (e.g. 404, 401): a definite failure."""

    default_message = gettext_lazy("ITNIO answered with an unexpected HTTP status.")


class ItnioProtocolError(ItnioTransportError):
    """The body is not a valid ITNIO envelope (or its data has an unexpected shape)."""

    default_message = gettext_lazy(
        "ITNIO answered with a body that is not a valid response envelope."
    )
