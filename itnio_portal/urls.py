"""URL routes: the admin is the product (its site: campaigns/admin_site.py); the REST API
under /api/v1/ (campaigns/api); the two-factor pages under /account/; the root redirects to
the admin, the icon to its file."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from campaigns import webhooks

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    # Two-factor login's own pages (campaigns/two_factor_pages.py: each says who may use it);
    # the login itself is the admin's.
    path("", include("campaigns.two_factor_pages")),
    path("api/v1/", include("campaigns.api.urls")),
    # Public like the login page: the language switcher in every page's header posts here
    # (it only sets the language cookie and goes back to a page of this site).
    path("i18n/", include("django.conf.urls.i18n")),
    # Public, like the static files: browsers ask for it before any page names its icon.
    path("favicon.ico", RedirectView.as_view(url="/static/portal/favicon.svg", permanent=True)),
    # With or without the trailing slash: a redirect (APPEND_SLASH) would lose ITNIO's POST.
    re_path(r"^itnio/push/(?P<token>[^/]+)/voice/?$", webhooks.voice_push, name="itnio-push-voice"),
    re_path(r"^itnio/push/(?P<token>[^/]+)/ai/?$", webhooks.ai_push, name="itnio-push-ai"),
]
