"""Injected faults for chaos tests: latency, HTTP 502s, dropped connections, forced codes, hooks."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

Hook = Callable[[Any], None]


def path_matches(key: str, path: str) -> bool:
    """``key`` matches its path, any path below it ("/voice/recordGroup" -> ".../1"), or "*"."""
    if key == "*":
        return True
    key = key.rstrip("/")
    return path == key or path.startswith(key + "/")


@dataclass
class _Next:
    path: str
    count: int
    status: int = 502
    code: str = ""
    reason: str = ""


class Faults:
    """Fault settings; rates draw from the state's seeded random.Random so runs repeat."""

    def __init__(self, rng: random.Random, lock: AbstractContextManager[Any] | None = None) -> None:
        self._lock = lock if lock is not None else threading.RLock()  # the state's one lock
        self._rng = rng
        self.latency: float = 0.0
        self.latency_by_path: dict[str, float] = {}
        self.http_502_rate: float = 0.0
        self.drop_after_accept_rate: float = 0.0
        self.on_send_held: Hook | None = None
        self.on_send_answered: Hook | None = None
        self._fail_next: list[_Next] = []
        self._drop_next: list[_Next] = []
        self._business_next: list[_Next] = []
        self.misbill: list[str] = []  # kinds of wrong bill for the next answered calls

    def reset(self) -> None:
        with self._lock:
            self.latency = 0.0
            self.latency_by_path = {}
            self.http_502_rate = 0.0
            self.drop_after_accept_rate = 0.0
            self.on_send_held = None
            self.on_send_answered = None
            self.misbill = []
            self._fail_next.clear()
            self._drop_next.clear()
            self._business_next.clear()

    def fail_next(self, path: str, count: int = 1, status: int = 502) -> None:
        """Answer the next ``count`` requests to ``path`` with HTTP ``status``, unprocessed."""
        with self._lock:
            self._fail_next.append(_Next(path, count, status=status))

    def drop_next(self, path: str, count: int = 1) -> None:
        """Fully process the next ``count`` requests to ``path``, then close without answering."""
        with self._lock:
            self._drop_next.append(_Next(path, count))

    def business_code_next(self, path: str, code: str | int, reason: str, count: int = 1) -> None:
        """Answer the next ``count`` requests to ``path`` with business ``code``, unprocessed."""
        with self._lock:
            self._business_next.append(_Next(path, count, code=str(code), reason=reason))

    def misbill_next(self, count: int = 1, *, kind: str = "cost") -> None:
        """Bill the next ``count`` answered calls wrongly: "cost" charges half as much again as
        rate × billed time; "duration" bills one more billPeriod step than the talk time needs
        (and its cost follows). For testing a bill check."""
        assert kind in ("cost", "duration")
        with self._lock:
            self.misbill.extend([kind] * count)

    def take_misbill(self) -> str | None:
        with self._lock:
            return self.misbill.pop(0) if self.misbill else None

    def latency_for(self, path: str) -> float:
        with self._lock:
            extra = [s for key, s in self.latency_by_path.items() if path_matches(key, path)]
            return self.latency + (max(extra) if extra else 0.0)

    @staticmethod
    def _take(queue: list[_Next], path: str) -> _Next | None:
        for item in queue:
            if item.count > 0 and path_matches(item.path, path):
                item.count -= 1
                if item.count == 0:
                    queue.remove(item)
                return item
        return None

    def _roll(self, rate: float) -> bool:
        # Only draw when the rate is on, so turning faults off does not shift other draws.
        return rate > 0 and self._rng.random() < rate

    def take_http_failure(self, path: str) -> int | None:
        """An HTTP status to answer with instead of processing, or None."""
        with self._lock:
            item = self._take(self._fail_next, path)
            if item is not None:
                return item.status
            return 502 if self._roll(self.http_502_rate) else None

    def take_business_code(self, path: str) -> tuple[str, str] | None:
        with self._lock:
            item = self._take(self._business_next, path)
            return None if item is None else (item.code, item.reason)

    def take_drop(self, path: str, is_send: bool) -> bool:
        """Whether to drop the connection after processing (the rate applies to sends only)."""
        with self._lock:
            if self._take(self._drop_next, path) is not None:
                return True
            return is_send and self._roll(self.drop_after_accept_rate)

    def configure(self, data: dict[str, Any]) -> None:
        """Apply a control-API document (see control.py)."""
        if "latency" in data:
            self.latency = float(data["latency"])
        if "latency_ms" in data:
            self.latency = float(data["latency_ms"]) / 1000
        if "latency_by_path" in data:
            self.latency_by_path = {str(k): float(v) for k, v in data["latency_by_path"].items()}
        if "http_502_rate" in data:
            self.http_502_rate = float(data["http_502_rate"])
        if "drop_after_accept_rate" in data:
            self.drop_after_accept_rate = float(data["drop_after_accept_rate"])
        for item in _as_list(data.get("fail_next")):
            self.fail_next(item["path"], int(item.get("count", 1)), int(item.get("status", 502)))
        for item in _as_list(data.get("drop_next")):
            self.drop_next(item["path"], int(item.get("count", 1)))
        for item in _as_list(data.get("business_code_next")):
            self.business_code_next(
                item["path"], item["code"], str(item.get("reason", "")), int(item.get("count", 1))
            )

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency": self.latency,
                "latency_by_path": dict(self.latency_by_path),
                "http_502_rate": self.http_502_rate,
                "drop_after_accept_rate": self.drop_after_accept_rate,
                "fail_next": [
                    {"path": n.path, "count": n.count, "status": n.status} for n in self._fail_next
                ],
                "drop_next": [{"path": n.path, "count": n.count} for n in self._drop_next],
                "business_code_next": [
                    {"path": n.path, "count": n.count, "code": n.code, "reason": n.reason}
                    for n in self._business_next
                ],
                "on_send_held": self.on_send_held is not None,
                "on_send_answered": self.on_send_answered is not None,
            }


def _as_list(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    return [value] if isinstance(value, dict) else list(value)
