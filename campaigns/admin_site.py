"""The portal's AdminSite: Django's admin with the navigation grouped by task
(campaigns/admin/navigation.py) and the index as the operations home (campaigns/admin/home.py).
Installed as the default site by campaigns.apps.PortalAdminConfig, so `admin.site` and
`@admin.register` stay Django's.

Outside the campaigns.admin package on purpose: the first `@admin.register` anywhere builds
the site from this module, and importing that package would register its ModelAdmins on a
site still being built."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

#: Site pages a user who still has to set up a required device may use.
OPEN_BEFORE_SETUP = {"logout", "i18n_javascript"}


class PortalAdminSite(admin.AdminSite):
    site_header = "ITNIO Portal"
    site_title = "ITNIO Portal"
    index_title = _("Operations")
    # One placeholder for "nothing here" on every page: the portal's own cells use it too.
    empty_value_display = "–"

    # --- two-factor login (campaigns/two_factor_pages.py, campaigns/services/two_factor.py) ---
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        """The password, then the code for a user with a device (django-two-factor-auth)."""
        from campaigns.two_factor_pages import admin_login

        request.current_app = self.name
        return admin_login(request)

    def has_permission(self, request: HttpRequest) -> bool:
        """A user with a device whose session did not give the code is not let in (one who must
        have a device and has none: see admin_view)."""
        from campaigns.services.two_factor import code_given_if_device

        return super().has_permission(request) and code_given_if_device(request.user)

    def admin_view(self, view: Callable, cacheable: bool = False) -> Callable:
        """A staff user who must have a device and has none is sent to set one up first
        (logging out stays open)."""
        inner = super().admin_view(view, cacheable)
        if getattr(view, "__self__", None) is self and view.__name__ in OPEN_BEFORE_SETUP:
            return inner

        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            from campaigns.services.two_factor import needs_setup

            user = request.user
            if user.is_active and user.is_staff and needs_setup(user):
                return HttpResponseRedirect(reverse("two_factor:setup"))
            return inner(request, *args, **kwargs)

        return checked

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
