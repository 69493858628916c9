"""The portal's AdminSite: Django's admin with the navigation grouped by task
(campaigns/admin/navigation.py) and the index as the operations home (campaigns/admin/home.py).
Installed as the default site by campaigns.apps.PortalAdminConfig, so `admin.site` and
`@admin.register` stay Django's.

Outside the campaigns.admin package on purpose: the first `@admin.register` anywhere builds
the site from this module, and importing that package would register its ModelAdmins on a
site still being built."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _


class PortalAdminSite(admin.AdminSite):
    site_header = "ITNIO Portal"
    site_title = "ITNIO Portal"
    index_title = _("Operations")
    # One placeholder for "nothing here" on every page: the portal's own cells use it too.
    empty_value_display = "–"

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        from campaigns.admin.navigation import group_app_list

        app_list = super().get_app_list(request, app_label)
        if app_label is not None:  # an app's own page (/admin/campaigns/): Django's list
            return app_list
        return group_app_list(app_list, request.user)

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        from campaigns.admin.home import home_context

        return super().index(request, {**home_context(request), **(extra_context or {})})
