"""Admin of the campaigns app: ITNIO accounts and apps, background-work status."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from campaigns.admin.base import ReadOnlyAdmin
from campaigns.forms import ItnioAccountForm
from campaigns.models import (
    ApiRequestLog,
    Heartbeat,
    ItnioAccount,
    ItnioApp,
    ScheduledJobRun,
    new_push_token,
)
from campaigns.services.accounts import account_verify
from campaigns.services.actors import Actor
from itnio_portal.itnio import ItnioError


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
        fieldsets: list[Any] = [
            ("Credentials", {"fields": ["name", "api_key", "new_api_secret", "base_url"]})
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "Balance (Verify credentials)",
                    {
                        "fields": ["balance", "gift", "credit", "verified_at", "verify_error"],
                        "description": "From GET /sms/getBalance when someone last pressed "
                        "“Verify credentials”.",
                    },
                )
            )
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: ItnioAccount | None = None) -> Any:
        readonly = ["balance", "gift", "credit", "verified_at", "verify_error"]
        # The base URL decides where signed requests go: only superusers may redirect them.
        if not request.user.is_superuser:
            readonly.append("base_url")
        return readonly

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(require_POST(self.verify_view))
        return [
            path("<int:pk>/verify/", view, name="campaigns_itnioaccount_verify"),
            *super().get_urls(),
        ]

    def verify_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        account = get_object_or_404(ItnioAccount, pk=pk)
        if not self.has_view_permission(request, account):
            raise PermissionDenied
        try:
            account = account_verify(account=account, actor=Actor.from_user(request.user))
        except ItnioError as exc:
            self.message_user(request, f"Credentials check failed: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Credentials work. Balance {account.balance}, gift {account.gift}, "
                f"credit {account.credit}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:campaigns_itnioaccount_change", args=[pk]))


@admin.register(ItnioApp)
class ItnioAppAdmin(admin.ModelAdmin):
    list_display = ["app_id", "label", "kind", "account", "active"]
    list_filter = ["kind", "active", "account"]
    search_fields = ["app_id", "label"]
    readonly_fields = ["push_url_display"]

    def get_fields(self, request: HttpRequest, obj: ItnioApp | None = None) -> list[str]:
        fields = ["account", "app_id", "kind", "label", "active"]
        # The push URL is the only key to the push receiver: show it to who may change apps.
        if request.user.has_perm("campaigns.change_itnioapp"):
            fields.append("push_url_display")
        return fields

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


@admin.register(ApiRequestLog)
class ApiRequestLogAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "method",
        "endpoint",
        "outcome",
        "code",
        "http_status",
        "duration_ms",
        "triggered_by",
        "concerns",
    ]
    list_filter = ["outcome", "endpoint", "account"]
    search_fields = ["=object_id", "triggered_by", "=code"]
    date_hierarchy = "started_at"
    list_select_related = ["account"]

    @admin.display(description="concerns")
    def concerns(self, obj: ApiRequestLog) -> str:
        return f"{obj.object_type} {obj.object_id}".strip()
