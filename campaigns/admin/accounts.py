"""Admin of the campaigns app: ITNIO accounts and apps, background-work status."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html

from campaigns.forms import ItnioAccountForm
from campaigns.models import Heartbeat, ItnioAccount, ItnioApp, ScheduledJobRun, new_push_token


class ItnioAppInline(admin.TabularInline):
    model = ItnioApp
    extra = 0
    fields = ["app_id", "kind", "label", "active"]
    show_change_link = True


@admin.register(ItnioAccount)
class ItnioAccountAdmin(admin.ModelAdmin):
    form = ItnioAccountForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "api_key", "app_count", "effective_base_url", "updated_at"]
    search_fields = ["name", "api_key"]
    inlines = [ItnioAppInline]

    @admin.display(description="apps")
    def app_count(self, obj: ItnioAccount) -> int:
        return obj.apps.count()

    @admin.display(description="ITNIO base URL")
    def effective_base_url(self, obj: ItnioAccount) -> str:
        return obj.effective_base_url

    def get_fieldsets(self, request: HttpRequest, obj: ItnioAccount | None = None) -> Any:
        fields = ["name", "api_key", "new_api_secret", "base_url"]
        return [(None, {"fields": fields})]

    def get_readonly_fields(self, request: HttpRequest, obj: ItnioAccount | None = None) -> Any:
        # The base URL decides where signed requests go: only superusers may redirect them.
        return [] if request.user.is_superuser else ["base_url"]


@admin.register(ItnioApp)
class ItnioAppAdmin(admin.ModelAdmin):
    list_display = ["app_id", "label", "kind", "account", "active"]
    list_filter = ["kind", "active", "account"]
    search_fields = ["app_id", "label"]
    fields = ["account", "app_id", "kind", "label", "active", "push_url_display"]
    readonly_fields = ["push_url_display"]
    actions = ["regenerate_push_token"]

    @admin.display(description="push URL")
    def push_url_display(self, obj: ItnioApp) -> str:
        if not obj.pk:
            return "Shown after saving."
        return format_html(
            '<code id="push-url">{}</code><br><span class="help">Paste this into ITNIO\'s '
            "console (Account Management → Voice App Management) as the status report address. "
            "ITNIO does not sign pushes, so this URL is the only key: keep it private.</span>",
            obj.push_url,
        )

    @admin.action(description="Regenerate push token (the old push URL stops working)")
    def regenerate_push_token(self, request: HttpRequest, queryset: Any) -> None:
        for app in queryset:
            app.push_token = new_push_token()
            app.save(update_fields=["push_token"])
        self.message_user(
            request,
            f"New push URL for {queryset.count()} app(s): update ITNIO's console.",
            messages.WARNING,
        )


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen_at", "detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ScheduledJobRun)
class ScheduledJobRunAdmin(admin.ModelAdmin):
    list_display = ["name", "last_enqueued_at", "last_result_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
