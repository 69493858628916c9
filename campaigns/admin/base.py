"""Helpers shared by the admin modules: object-tool buttons that POST, permission checks."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

PLACE_CALLS = "campaigns.place_calls"


class PortalModelAdmin(admin.ModelAdmin):
    """A ModelAdmin with the `place_calls` permission used by spending actions."""

    def has_place_calls_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(PLACE_CALLS)


class ReadOnlyAdmin(PortalModelAdmin):
    """Rows written only by the portal itself: viewable, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
