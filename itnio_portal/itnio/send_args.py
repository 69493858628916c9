"""The arguments of ITNIO's one-number sends (sendCode §3.3, sendSip §3.4) as frozen values, so
every layer (form, command, service, client) passes one value instead of re-listing them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


def request_body(*pairs: tuple[str, Any]) -> dict[str, Any]:
    """A request body in the seeds' key order, leaving out fields that are None."""
    return {key: value for key, value in pairs if value is not None}


def _blank_to_none(value: object, names: tuple[str, ...]) -> None:
    # Optional text fields are omitted rather than sent empty: "" means "not given".
    for name in names:
        if getattr(value, name) == "":
            object.__setattr__(value, name, None)


class _Send:
    """What both sends share."""

    def given(self) -> dict[str, Any]:
        """The arguments that were given (not None), without the app: what a Call keeps."""
        fields = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: v for k, v in fields.items() if v is not None and k != "app_id"}


@dataclass(frozen=True)
class SendCode(_Send):
    """One TTS call to one number (POST /voice/sendCode, seed 001). Limits are checked by
    `Limits.check_send_code`, not here: a SendCode may hold what a person typed."""

    app_id: str
    callee: str
    language: str
    text: str
    display_num: str | None = None
    loop_count: int | None = None
    called_info: str | None = None
    recall_count: int | None = None
    recall_interval: int | None = None
    max_duration: int | None = None
    max_ringing_time: int | None = None

    def __post_init__(self) -> None:
        _blank_to_none(self, ("display_num", "called_info"))

    def body(self) -> dict[str, Any]:
        """The request body in seed 001's key order; unset optional fields are left out."""
        return request_body(
            ("callee", self.callee),
            ("displayNum", self.display_num),
            ("language", self.language),
            ("text", self.text),
            ("appId", self.app_id),
            ("loopCount", self.loop_count),
            ("calledInfo", self.called_info),
            ("recallCount", self.recall_count),
            ("recallInterval", self.recall_interval),
            ("maxDuration", self.max_duration),
            ("maxRingingTime", self.max_ringing_time),
        )


@dataclass(frozen=True)
class SendSip(_Send):
    """One call from a SIP phone account to one number (POST /voice/sendSip)."""

    app_id: str
    account: str
    callee: str
    display_num: str | None = None

    def __post_init__(self) -> None:
        _blank_to_none(self, ("display_num",))

    def body(self) -> dict[str, Any]:
        # The key order of the page's sample; appId is listed under the response by mistake
        # (§3.4) but the sample body sends it.
        return request_body(
            ("callee", self.callee),
            ("displayNum", self.display_num),
            ("account", self.account),
            ("appId", self.app_id),
        )
