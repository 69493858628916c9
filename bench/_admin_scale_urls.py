"""URLconf of bench/admin_scale.py: the portal's own routes (its admin at /admin/) plus a PLAIN
admin at /plain/ that shows calls with nothing but stock Django.

The plain ModelAdmin takes list_display, list_filter, search_fields and list_per_page from the
portal's CallAdmin at import time (so it follows CallAdmin as it changes), copies the display
methods list_display names (state_badge, cost_display, ...), and uses Django's stock templates
rather than the portal's admin/campaigns/call/*.html overrides. Nothing else: no
list_select_related, no custom paginator, no get_search_results, show_full_result_count on.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.urls import path

from campaigns.admin.calls import CallAdmin
from campaigns.models import Call
from itnio_portal.urls import urlpatterns as portal_urlpatterns


def _class_attr(name: str) -> Any:
    for klass in CallAdmin.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def plain_call_admin() -> type[admin.ModelAdmin]:
    attrs: dict[str, Any] = {
        "__module__": __name__,
        "list_display": list(CallAdmin.list_display),
        "list_filter": list(CallAdmin.list_filter),  # filter classes are reused as they are
        "search_fields": list(CallAdmin.search_fields),
        # Copied for fairness: both lists render the same number of rows per page.
        "list_per_page": CallAdmin.list_per_page,
        # Stock templates: otherwise Django would pick the portal's call templates by path.
        "change_list_template": "admin/change_list.html",
        "change_form_template": "admin/change_form.html",
    }
    for name in CallAdmin.list_display:
        if isinstance(name, str) and not hasattr(Call, name):
            method = _class_attr(name)
            if not callable(method):
                raise RuntimeError(f"CallAdmin.list_display names {name!r}, which is not a method")
            attrs[name] = method
    return type("PlainCallAdmin", (admin.ModelAdmin,), attrs)


PlainCallAdmin = plain_call_admin()
plain_site = admin.AdminSite(name="plain")
plain_site.register(Call, PlainCallAdmin)

urlpatterns = [path("plain/", plain_site.urls), *portal_urlpatterns]
