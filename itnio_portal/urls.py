"""URL routes: the admin is the product; the root redirects to it."""

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from campaigns import webhooks

admin.site.site_header = "ITNIO Portal"
admin.site.site_title = "ITNIO Portal"
admin.site.index_title = "Operations"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("itnio/push/<str:token>/voice/", webhooks.voice_push, name="itnio-push-voice"),
    path("itnio/push/<str:token>/ai/", webhooks.ai_push, name="itnio-push-ai"),
]
