"""Header authentication exactly as itnio-api.md §1 describes it, with per-family error codes."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from .entities import Account
from .state import SandboxState

_INTEGER = re.compile(r"[0-9]+")


class Headers(Protocol):
    def get(self, name: str, default: Any = None) -> Any: ...


@dataclass(frozen=True)
class Family:
    """Business codes that differ between the voice family and /aivoice (itnio-api.md §1, §5)."""

    name: str
    expired: str
    param_error: str
    param_reason: str
    system_error: str
    balance_error: str
    missing: dict[str, tuple[str, str]] = field(default_factory=dict)


VOICE = Family(
    name="voice",
    expired="-16",
    param_error="-22",
    param_reason="Parameter exception",
    system_error="-18",
    balance_error="-10",
    missing={
        "Api-Key": ("-1", "Authentication error: Api-Key header is missing"),
        "Timestamp": ("-1", "Authentication error: Timestamp header is missing"),
        "Sign": ("-1", "Authentication error: Sign header is missing"),
    },
)
# itnio-api.md §1 / §5: -59 Api-Key empty, -58 Timestamp empty, -57 Sign empty; -4 expired.
AIVOICE = Family(
    name="aivoice",
    expired="-4",
    param_error="-27",
    param_reason="parameter validation error",
    system_error="-5",
    balance_error="-3",
    missing={
        "Api-Key": ("-59", "apikey cannot be empty"),
        "Timestamp": ("-58", "timestamp cannot be empty"),
        "Sign": ("-57", "sign cannot be empty"),
    },
)


def family_for(path: str) -> Family:
    return AIVOICE if path.startswith("/aivoice/") else VOICE


class AuthError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def expected_sign(api_key: str, api_secret: str, timestamp: str) -> str:
    """itnio-api.md §1: Sign = MD5(ApiKey + ApiSecret + Timestamp), no separators, hex."""
    return hashlib.md5(f"{api_key}{api_secret}{timestamp}".encode()).hexdigest()


def _header(headers: Headers, name: str) -> str:
    return (headers.get(name) or "").strip()


def sign_label(state: SandboxState, headers: Headers) -> str:
    """What the request record shows instead of the Sign value."""
    with state.lock:
        account = state.accounts.get(_header(headers, "Api-Key"))
    sign, timestamp = _header(headers, "Sign"), _header(headers, "Timestamp")
    if account is None or not sign:
        return "<sign BAD>"
    good = hmac.compare_digest(
        sign.lower(), expected_sign(account.api_key, account.api_secret, timestamp)
    )
    return "<sign ok>" if good else "<sign BAD>"


def authenticate(state: SandboxState, headers: Headers, family: Family) -> Account:
    """Check the headers in order; return the account or raise AuthError with the family code."""
    # 1. presence (aivoice has one code per header; the voice family answers -1)
    for name in ("Api-Key", "Timestamp", "Sign"):
        if not _header(headers, name):
            code, reason = family.missing[name]
            raise AuthError(code, reason)
    api_key, timestamp = _header(headers, "Api-Key"), _header(headers, "Timestamp")
    sign = _header(headers, "Sign")
    # 2. known key
    with state.lock:
        account = state.accounts.get(api_key)
    if account is None:
        raise AuthError("-1", "Authentication error: unknown Api-Key")
    # 3. signature; the docs call the hex case-insensitive
    if not hmac.compare_digest(sign.lower(), expected_sign(api_key, account.api_secret, timestamp)):
        raise AuthError(
            "-1", "Authentication error: Sign must be md5(Api-Key + API secret + Timestamp)"
        )
    # 4. Timestamp: an integer string of Unix seconds near the sandbox clock
    if not _INTEGER.fullmatch(timestamp):
        raise AuthError(family.expired, "Timestamp expires: it must be integer Unix seconds")
    skew = int(timestamp) - state.now()
    if abs(skew) > state.timestamp_tolerance:
        hint = " (it looks like milliseconds)" if len(timestamp) >= 13 else ""
        raise AuthError(
            family.expired,
            f"Timestamp expires: {timestamp} is {abs(skew):.0f} s away from the server clock, "
            f"allowed {state.timestamp_tolerance:.0f} s{hint}",
        )
    # 5. §1: every request, GETs included, sends Content-Type application/json
    content_type = _header(headers, "Content-Type")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise AuthError(
            family.param_error,
            f"{family.param_reason}: Content-Type must be application/json, "
            f"got {content_type or 'nothing'!r}",
        )
    return account
