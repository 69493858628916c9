"""Pages of rows that belong to a user (API tokens, e-mail reports): every user in a role sees
and makes their own; a user with the page's "manage" permission those of every user.

A subclass names `in_a_role` (a permission every role has: the view_ of its model) and
`manage_all`; which rows a user sees is `get_queryset`'s: another user's row "does not exist".
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest


class OwnRowsMixin:
    in_a_role: str
    manage_all: str

    def _manages_all(self, request: HttpRequest) -> bool:
        return request.user.has_perm(self.manage_all)

    def _in_a_role(self, request: HttpRequest) -> bool:
        return request.user.has_perm(self.in_a_role)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._in_a_role(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._in_a_role(request)  # whose rows: get_queryset

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._in_a_role(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)  # type: ignore[misc]
        if self._manages_all(request) or not self._in_a_role(request):
            return rows  # all: a manager's; someone without a role is refused every page
        return rows.filter(user=request.user)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)  # type: ignore[misc]
        return {"user": request.user.pk, **initial}
