"""Who is behind an action: a portal user (admin, `--as`), the OS user of a command, or a task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    label: str
    user: Any = None  # a django.contrib.auth user, when a portal user is behind it

    @classmethod
    def from_user(cls, user: Any) -> Actor:
        return cls(label=user.get_username(), user=user)

    @classmethod
    def system(cls, what: str) -> Actor:
        return cls(label=f"system:{what}")

    def may_place_calls(self) -> bool:
        """Commands run by the OS user (no --as) are trusted like any shell access to the server."""
        return self.user is None or self.user.has_perm("campaigns.place_calls")


class PermissionDeniedError(Exception):
    """The actor lacks the permission a spending action needs."""
