"""/api/v1/: every endpoint of the REST API, its OpenAPI schema and the reference page."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from campaigns.api import (
    views_ai,
    views_audience,
    views_calls,
    views_campaigns,
    views_catalog,
    views_webhooks,
)
from campaigns.api.errors import api_not_found

app_name = "api"
PUBLIC = {"authentication_classes": [], "permission_classes": [AllowAny]}

urlpatterns = [
    path("accounts/", views_catalog.AccountList.as_view(), name="accounts"),
    path("accounts/<int:pk>/", views_catalog.AccountDetail.as_view(), name="account"),
    path(
        "accounts/<int:pk>/balance/", views_catalog.AccountBalance.as_view(), name="account-balance"
    ),
    path("apps/", views_catalog.AppList.as_view(), name="apps"),
    path("voice-files/", views_catalog.VoiceFileList.as_view(), name="voice-files"),
    path(
        "voice-files/<int:pk>/upload/",
        views_catalog.VoiceFileUpload.as_view(),
        name="voice-file-upload",
    ),
    path("contact-lists/", views_audience.ContactLists.as_view(), name="contact-lists"),
    path(
        "contact-lists/<int:pk>/", views_audience.ContactListDetail.as_view(), name="contact-list"
    ),
    path(
        "contact-lists/<int:pk>/imports/",
        views_audience.ContactListImports.as_view(),
        name="contact-list-imports",
    ),
    path(
        "contact-imports/<int:pk>/",
        views_audience.ContactImportDetail.as_view(),
        name="contact-import",
    ),
    path("dnc/", views_audience.DncEntries.as_view(), name="dnc"),
    path("dnc/remove/", views_audience.DncRemove.as_view(), name="dnc-remove"),
    path("campaigns/", views_campaigns.Campaigns.as_view(), name="campaigns"),
    path("campaigns/<int:pk>/", views_campaigns.CampaignDetail.as_view(), name="campaign"),
    path(
        "campaigns/<int:pk>/plan/", views_campaigns.CampaignPlanView.as_view(), name="campaign-plan"
    ),
    path(
        "campaigns/<int:pk>/launch/",
        views_campaigns.CampaignLaunch.as_view(),
        name="campaign-launch",
    ),
    path(
        "campaigns/<int:pk>/pause/", views_campaigns.CampaignPause.as_view(), name="campaign-pause"
    ),
    path(
        "campaigns/<int:pk>/resume/",
        views_campaigns.CampaignResume.as_view(),
        name="campaign-resume",
    ),
    path(
        "campaigns/<int:pk>/cancel/",
        views_campaigns.CampaignCancel.as_view(),
        name="campaign-cancel",
    ),
    path(
        "campaigns/<int:pk>/budget/",
        views_campaigns.CampaignBudget.as_view(),
        name="campaign-budget",
    ),
    path(
        "campaigns/<int:pk>/status/",
        views_campaigns.CampaignStatus.as_view(),
        name="campaign-status",
    ),
    path("calls/", views_calls.Calls.as_view(), name="calls"),
    path("calls/export.csv", views_calls.CallExport.as_view(), name="calls-export"),
    path("calls/tts/", views_calls.CallTts.as_view(), name="calls-tts"),
    path("calls/<int:pk>/", views_calls.CallDetail.as_view(), name="call"),
    path("ai-tasks/", views_ai.AiTasks.as_view(), name="ai-tasks"),
    path("ai-tasks/<int:pk>/", views_ai.AiTaskDetail.as_view(), name="ai-task"),
    path("ai-tasks/<int:pk>/start/", views_ai.AiTaskStart.as_view(), name="ai-task-start"),
    path("ai-tasks/<int:pk>/records/", views_ai.AiTaskRecords.as_view(), name="ai-task-records"),
    path("webhooks/", views_webhooks.Webhooks.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", views_webhooks.WebhookDetail.as_view(), name="webhook"),
    path(
        "webhooks/<int:pk>/deliveries/",
        views_webhooks.WebhookDeliveries.as_view(),
        name="webhook-deliveries",
    ),
    # Public like the login page: what the API offers (no data), for `curl` and the browser.
    path("schema/", SpectacularAPIView.as_view(**PUBLIC), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **PUBLIC), name="docs"),
    # Last: every other path is a 404 in the API's error shape (no slash-appending redirect,
    # which would lose a POST's body).
    re_path(r"^(?P<path>.*)$", api_not_found, name="not-found"),
]
