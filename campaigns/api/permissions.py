"""What each API view needs, declared beside it: `permissions = {"GET": (...), "POST": (...)}`
of the admin's permission codenames (the roles of campaigns/roles.py). A method not declared
is not allowed (405). tests/api/test_permission_matrix.py reads the same declarations."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

PLACE_CALLS = "campaigns.place_calls"
QUERY_ITNIO = "campaigns.query_itnio"


class MissingPermission(exceptions.PermissionDenied):
    def __init__(self, permission: str) -> None:
        self.permission = permission
        super().__init__(
            _("Your token's user lacks the permission %(permission)s.") % {"permission": permission}
        )


def declared(view: Any, method: str) -> tuple[str, ...] | None:
    return getattr(view, "permissions", {}).get(method.upper())


class DeclaredPermissions(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        # HEAD is GET without the body (DRF answers it with the GET handler).
        needed = declared(view, "GET" if request.method == "HEAD" else request.method)
        if needed is None:
            if request.method == "OPTIONS":
                return True
            raise exceptions.MethodNotAllowed(request.method)
        for permission in needed:
            if not request.user.has_perm(permission):
                raise MissingPermission(permission)
        return True
