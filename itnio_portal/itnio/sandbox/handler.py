"""What every endpoint handler works with: the request context, replies and business errors, the
Route record, and the checks the voice, SIP and AI endpoints share (voice app, balance, the
sandbox's rejected numbers)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .auth import Family, family_for
from .entities import Account, App, RequestRecord
from .state import SandboxState
from .validation import ParamError, Schema

# Sandbox rule (documented): a callee whose last four digits are 0000 is rejected.
REJECTED_SUFFIX = "0000"
# What the sandbox says of such a number, so a person reading the refusal knows it is on purpose.
REJECTED_REASON = f"invalid number (the sandbox rejects every number ending in {REJECTED_SUFFIX})"


class BusinessError(Exception):
    """A non-zero business status answered inside the usual envelope (data null)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


@dataclass
class Reply:
    """A business answer; ``top_level`` replaces ``data`` (getBalance puts fields at the top)."""

    status: str
    reason: str
    data: Any = None
    top_level: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        if self.top_level is not None:
            return {"status": self.status, "reason": self.reason, **self.top_level}
        return {"status": self.status, "reason": self.reason, "data": self.data}


def ok(data: Any = None) -> Reply:
    return Reply("0", "success", data)


@dataclass
class Ctx:
    """Everything a handler needs; handlers run with ``state.lock`` held."""

    state: SandboxState
    account: Account
    family: Family
    values: dict[str, Any]
    path_params: dict[str, str]
    record: RequestRecord
    accepted: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    schema: Schema | None = None
    send: bool = False  # spends money: hold/answered hooks and drop_after_accept_rate apply

    @property
    def family(self) -> Family:
        return family_for(self.template)

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template)))


# ---- shared checks -------------------------------------------------------------------------------


def voice_app(ctx: Ctx, app_id: str) -> App:
    app = ctx.account.apps.get(app_id)
    if app is None or app.kind != "voice":
        raise ParamError(f"appId {app_id!r} is not a voice application of this account")
    return app


def require_balance(ctx: Ctx) -> None:
    if ctx.account.balance <= 0:
        raise BusinessError(ctx.family.balance_error, "The customer's balance is insufficient")


def is_rejected(callee: str) -> bool:
    return callee.endswith(REJECTED_SUFFIX)
