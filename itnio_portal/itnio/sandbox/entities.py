"""The plain records the sandbox state holds: accounts and their apps, uploaded voice files, SIP
phone groups, and every request received."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class App:
    app_id: str
    api_key: str
    kind: str = "voice"
    push_url: str | None = None
    currency: str = "USD"


@dataclass
class Account:
    api_key: str
    api_secret: str
    balance: Decimal
    gift: Decimal
    credit: Decimal
    apps: dict[str, App] = field(default_factory=dict)


@dataclass
class UploadedFile:
    file_id: str
    api_key: str
    file_name: str
    size: int
    uploaded_at: float


@dataclass
class SipGroup:
    app_id: str
    group_name: str
    phone_name: str
    quantity: int
    display_num: str
    phones: list[str]
    created_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "appId": self.app_id,
            "groupName": self.group_name,
            "phoneName": self.phone_name,
            "quantity": self.quantity,
            "displayNum": self.display_num,
            "phones": list(self.phones),
            "createdAt": self.created_at,
        }


@dataclass
class RequestRecord:
    """One request the sandbox received, and what it did with it."""

    seq: int
    time: float
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    response_status: int | None = None
    response: Any = None  # the JSON answer, or "dropped" / "http 502" / "http 404"
    accepted: list[tuple[str, str]] = field(default_factory=list)

    @property
    def business_status(self) -> str | None:
        if isinstance(self.response, dict):
            status = self.response.get("status")
            return None if status is None else str(status)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body,
            "responseStatus": self.response_status,
            "response": self.response,
            "accepted": [{"voiceId": v, "callee": c} for v, c in self.accepted],
        }
