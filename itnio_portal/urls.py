"""URL routes: the admin is the product; the root redirects to it."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "ITNIO Portal"
admin.site.site_title = "ITNIO Portal"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
