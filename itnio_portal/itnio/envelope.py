"""Response envelopes: {status, reason, data} and {code, msg, data}; "0" and 0 both mean OK."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from .errors import ItnioProtocolError

SUCCESS = "0"


@dataclass(frozen=True)
class Envelope:
    """A parsed response envelope; `code` is the business code as a stripped string."""

    code: str
    reason: str
    data: Any
    shape: str  # "status" or "code": which envelope the body used
    raw: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS


def _code_text(value: object) -> str | None:
    # Samples show both "0" and 0 (itnio-api.md §1), so compare as stripped strings. A bool,
    # float or container is not a business code: treat it as a broken envelope.
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


def parse_envelope(payload: Any, *, top_level_data: bool = False, endpoint: str = "") -> Envelope:
    """Parse either envelope shape; raise ItnioProtocolError when it is neither.

    `top_level_data` is for /sms/getBalance, whose fields sit beside status instead of under
    data (itnio-api.md §2): the whole object is returned as data.
    """
    if not isinstance(payload, dict):
        raise ItnioProtocolError(
            _("ITNIO answered with a JSON %(type)s, not an object.")
            % {"type": type(payload).__name__},
            endpoint=endpoint,
        )
    for shape, code_key, reason_key in (("status", "status", "reason"), ("code", "code", "msg")):
        if payload.get(code_key) is None:
            continue
        code = _code_text(payload[code_key])
        if code is None:
            raise ItnioProtocolError(
                _("ITNIO answered with an unreadable %(key)s value.") % {"key": repr(code_key)},
                endpoint=endpoint,
            )
        reason = payload.get(reason_key)
        data = payload if top_level_data else payload.get("data")
        return Envelope(
            code=code,
            reason="" if reason is None else str(reason),
            data=data,
            shape=shape,
            raw=payload,
        )
    raise ItnioProtocolError(
        _("ITNIO answered with an object that has neither 'status' nor 'code'."),
        endpoint=endpoint,
    )
