"""Admin of the campaigns app: ITNIO accounts and apps, background-work status."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin, ReadOnlyAdmin
from campaigns.admin.campaign_budget import DailyCapForm
from campaigns.formatting import balance_currency, money, money_html
from campaigns.forms import ItnioAccountForm
from campaigns.models import (
    ApiRequestLog,
    Heartbeat,
    ItnioAccount,
    ItnioApp,
    ScheduledJobRun,
    new_push_token,
)
from campaigns.services.accounts import account_verify, app_rotate_push_token
from campaigns.services.actors import Actor
from campaigns.services.balance_watch import balance_history
from itnio_portal.itnio import ItnioError

# The new tokens shown on the confirmation page are carried to its POST signed, so the second
# step applies exactly the URLs the Admin saw, and nothing a form could choose.
ROTATE_SALT = "campaigns.itnioapp.rotate"
ROTATE_MAX_AGE = 3600


class ItnioAppInline(admin.TabularInline):
    model = ItnioApp
    extra = 0
    fields = ["app_id", "kind", "label", "active"]
    show_change_link = True


@admin.register(ItnioAccount)
class ItnioAccountAdmin(PortalModelAdmin):
    form = ItnioAccountForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "api_key", "app_count", "effective_base_url", "updated_at"]
    search_fields = ["name", "api_key"]
    inlines = [ItnioAppInline]

    @admin.display(description=gettext_lazy("apps"))
    def app_count(self, obj: ItnioAccount) -> int:
        return obj.apps.count()

    @admin.display(description=gettext_lazy("ITNIO base URL"))
    def effective_base_url(self, obj: ItnioAccount) -> str:
        return obj.effective_base_url

    def get_fieldsets(self, request: HttpRequest, obj: ItnioAccount | None = None) -> Any:
        credentials = ["name", "api_key", "new_api_secret", "base_url"]
        if obj is not None and not self.has_change_permission(request, obj):
            credentials.remove("new_api_secret")  # a form field: read-only it would say "None"
        fieldsets: list[Any] = [(_("Credentials"), {"fields": credentials})]
        if obj is not None:
            fieldsets.append(
                (
                    _("Balance (Verify credentials)"),
                    {
                        "fields": [
                            "balance_display",
                            "gift_display",
                            "credit_display",
                            "verified_at",
                            "verify_error",
                        ],
                        "description": _(
                            "As ITNIO last reported it (the balance watch, or “Verify "
                            "credentials”)."
                        ),
                    },
                )
            )
            fieldsets.append(
                (
                    _("Low-balance warning"),
                    {"fields": ["low_balance_threshold", "low_balance_since"]},
                )
            )
        return fieldsets

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        account = self.get_object(request, object_id)
        if account is not None:
            extra_context["balance_history"] = balance_history(account)
            extra_context["watch_minutes"] = settings.BALANCE_WATCH_MINUTES
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=gettext_lazy("balance"))
    def balance_display(self, obj: ItnioAccount) -> str:
        return money_html(obj.balance, balance_currency())

    @admin.display(description=gettext_lazy("gift"))
    def gift_display(self, obj: ItnioAccount) -> str:
        return money_html(obj.gift, balance_currency())

    @admin.display(description=gettext_lazy("credit"))
    def credit_display(self, obj: ItnioAccount) -> str:
        return money_html(obj.credit, balance_currency())

    def get_readonly_fields(self, request: HttpRequest, obj: ItnioAccount | None = None) -> Any:
        readonly = [
            "balance_display",
            "gift_display",
            "credit_display",
            "verified_at",
            "verify_error",
            "low_balance_since",
        ]
        # The base URL decides where signed requests go: only superusers may redirect them.
        if not request.user.is_superuser:
            readonly.append("base_url")
        return readonly

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(self.verify_view)
        return [
            path("<int:pk>/verify/", view, name="campaigns_itnioaccount_verify"),
            *super().get_urls(),
        ]

    @requires("query_itnio", methods=["POST"])
    def verify_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        account = get_object_or_404(ItnioAccount, pk=pk)
        if not self.has_view_permission(request, account):
            raise PermissionDenied
        try:
            account = account_verify(account=account, actor=Actor.from_user(request.user))
        except ItnioError as exc:
            self.message_user(
                request, _("Credentials check failed: %(error)s") % {"error": exc}, messages.ERROR
            )
        else:
            self.message_user(
                request,
                _("Credentials work. Balance %(balance)s, gift %(gift)s, credit %(credit)s.")
                % {
                    "balance": money(account.balance, balance_currency()),
                    "gift": money(account.gift, balance_currency()),
                    "credit": money(account.credit, balance_currency()),
                },
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:campaigns_itnioaccount_change", args=[pk]))


@admin.register(ItnioApp)
class ItnioAppAdmin(PortalModelAdmin):
    form = DailyCapForm
    list_display = ["app_id", "label", "kind", "account", "active"]
    list_filter = ["kind", "active", "account"]
    search_fields = ["app_id", "label"]
    readonly_fields = ["push_url_display"]
    actions = ["regenerate_push_token"]

    def get_fields(self, request: HttpRequest, obj: ItnioApp | None = None) -> list[str]:
        fields = ["account", "app_id", "kind", "label", "active", "rate_unit"]
        fields += ["daily_cap_amount", "daily_cap_currency"]  # money: Admins only
        # The push URL is the only key to the push receiver: show it to who may change apps.
        if request.user.has_perm("campaigns.change_itnioapp"):
            fields.append("push_url_display")
        return fields

    def has_rotate_push_token_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.rotate_push_token")

    @admin.display(description=gettext_lazy("push URL"))
    def push_url_display(self, obj: ItnioApp) -> str:
        if not obj.pk:
            return _("Shown after saving.")
        old = ""
        if obj.previous_push_url_works:
            old = format_html(
                '<br><span class="help" id="previous-push-url">{}</span>',
                _("The previous push URL still works until %(when)s.")
                % {"when": date_format(obj.previous_push_token_expires_at, "DATETIME_FORMAT")},
            )
        return format_html(
            '<code id="push-url">{}</code>{}<br><span class="help">{}</span>',
            obj.push_url,
            old,
            _(
                "Paste this into ITNIO's console (Account Management → Voice App Management) as "
                "the status report address. ITNIO does not sign pushes, so this URL is the only "
                "key: keep it private. A leaked one is replaced with the list action "
                "“Regenerate push URL”."
            ),
        )

    @admin.action(
        description=gettext_lazy("Regenerate push URL…"), permissions=["rotate_push_token"]
    )
    def regenerate_push_token(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        """Convention 4 (design.md): the first POST shows the new URLs; post=yes applies them."""
        apps = list(queryset)
        if request.POST.get("post") == "yes":
            return self._apply_new_tokens(request, apps)
        planned = {str(app.pk): new_push_token() for app in apps}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Regenerate push URL?"),
            "rows": [(app, app.push_url, app.push_url_with(planned[str(app.pk)])) for app in apps],
            "tokens": signing.dumps(planned, salt=ROTATE_SALT),
            "grace": _duration(settings.PUSH_TOKEN_GRACE_SECONDS),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/campaigns/itnioapp/regenerate_confirm.html", context
        )

    def _apply_new_tokens(self, request: HttpRequest, apps: list[ItnioApp]) -> None:
        try:
            planned = signing.loads(
                request.POST.get("tokens", ""), salt=ROTATE_SALT, max_age=ROTATE_MAX_AGE
            )
        except signing.BadSignature:
            self.message_user(
                request,
                _(
                    "That confirmation page is too old or was altered: nothing was changed. "
                    "Start again."
                ),
                messages.ERROR,
            )
            return None
        revoke = request.POST.get("revoke_now") == "on"
        done = []
        for app in apps:
            token = planned.get(str(app.pk))
            if token is None:
                continue  # not on the page the Admin confirmed
            app = app_rotate_push_token(app=app, new_token=token, revoke_now=revoke)
            self.log_change(
                request,
                app,
                _("Regenerated the push URL; the old one was revoked at once.")
                if revoke
                else _("Regenerated the push URL; the old one works until %(when)s.")
                % {"when": app.previous_push_token_expires_at},
            )
            done.append(app)
        if done:
            self.message_user(
                request,
                (
                    _(
                        "New push URL for %(n)s app(s); the old URL was revoked. "
                        "Update ITNIO's console now."
                    )
                    if revoke
                    else _(
                        "New push URL for %(n)s app(s); the old URL keeps working for now. "
                        "Update ITNIO's console."
                    )
                )
                % {"n": len(done)},
                messages.WARNING,
            )
        return None


def _duration(seconds: int) -> str:
    """“2 hours”, “1 hour, 30 minutes”: how long an old push URL keeps working."""
    now = timezone.now()
    return timeuntil(now + timedelta(seconds=seconds), now=now)


@admin.register(Heartbeat)
class HeartbeatAdmin(PortalModelAdmin):
    list_display = ["name", "last_seen_at", "detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ScheduledJobRun)
class ScheduledJobRunAdmin(PortalModelAdmin):
    list_display = ["name", "last_enqueued_at", "last_result_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiRequestLog)
class ApiRequestLogAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "endpoint",
        "outcome",
        "code",
        "duration_ms",
        "triggered_by",
        "concerns",
    ]
    list_filter = ["outcome", "endpoint", "account"]
    search_fields = ["=object_id", "triggered_by", "=code"]
    date_hierarchy = "started_at"
    list_select_related = ["account"]

    @admin.display(description=gettext_lazy("concerns"))
    def concerns(self, obj: ApiRequestLog) -> str:
        return f"{obj.object_type} {obj.object_id}".strip()
