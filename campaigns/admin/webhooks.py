"""Admin of outbound webhooks (Admins only: campaigns/roles.py): subscriptions, whose signing
secret is shown once on the page right after creation and never in a list, a filter, a search or
an export; the outbox messages with Replay; the delivery log of every attempt."""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.admin.base import PortalModelAdmin, badge
from campaigns.exports import neutralise
from campaigns.models import WebhookDelivery, WebhookMessage, WebhookSubscription
from campaigns.models.webhooks import EVENT_CHOICES
from campaigns.services.outbound_hooks import (
    WebhookError,
    check_url,
    parse_events,
    webhook_subscribe,
)
from campaigns.services.outbound_hooks_delivery import webhooks_replay


class WebhookSubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=gettext_lazy("events"),
        choices=EVENT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookSubscription
        fields = ["url", "events", "description", "active"]

    def clean_url(self) -> str:
        try:
            return check_url(self.cleaned_data.get("url", ""))
        except WebhookError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_events(self) -> list[str]:
        try:
            return parse_events(self.cleaned_data.get("events") or [])
        except WebhookError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(PortalModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "events_display", "active", "pending", "dead", "log", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    readonly_fields = ["created_at", "created_by"]
    ordering = ["id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookSubscription]:
        return (
            super()
            .get_queryset(request)
            .defer("secret")
            .annotate(
                pending_count=Count(
                    "messages", filter=Q(messages__state=WebhookMessage.State.PENDING)
                ),
                dead_count=Count("messages", filter=Q(messages__state=WebhookMessage.State.DEAD)),
            )
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["url", "events", "description", "active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    @admin.display(description=gettext_lazy("events"))
    def events_display(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.events or [])

    @admin.display(description=gettext_lazy("pending"))
    def pending(self, obj: WebhookSubscription) -> int:
        return obj.pending_count

    @admin.display(description=gettext_lazy("dead"))
    def dead(self, obj: WebhookSubscription) -> int:
        return obj.dead_count

    @admin.display(description=gettext_lazy("delivery log"))
    def log(self, obj: WebhookSubscription) -> str:
        url = reverse("admin:campaigns_webhookdelivery_changelist")
        return format_html(
            '<a href="{}?subscription__id__exact={}">{}</a>', url, obj.pk, _("Deliveries")
        )

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None):
        # One way out of the form: Save, to the page that shows the secret.
        extra = {"show_save_and_add_another": False, "show_save_and_continue": False}
        return super().add_view(request, form_url, {**(extra_context or {}), **extra})

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = webhook_subscribe(
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            description=form.cleaned_data.get("description") or "",
            created_by=request.user.get_username(),
            active=form.cleaned_data.get("active", True),
        )
        obj.pk = created.subscription.pk
        request._webhook_created = created  # per request: the admin is shared

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # no relations of its own

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None):
        created = request._webhook_created
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Webhook created"),
            "subscription": created.subscription,
            "secret": created.secret,
        }
        response = TemplateResponse(
            request, "admin/campaigns/webhooksubscription/created.html", context
        )
        response["Cache-Control"] = "no-store"
        return response


class WrittenByThePortal(PortalModelAdmin):
    """Rows the portal writes: never added or edited by hand; an Admin may delete them (as
    deleting their subscription does)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookMessage)
class WebhookMessageAdmin(WrittenByThePortal):
    # The subscription (a filter) and the last error are on the message's page: the list fits
    # 1366 px without scrolling.
    list_display = [
        "event_type",
        "state_badge",
        "attempts",
        "next_attempt_at",
        "last_status",
        "created_at",
    ]
    list_filter = ["state", "event_type", "subscription"]
    list_select_related = ["subscription"]
    search_fields = ["=msg_id"]
    ordering = ["-id"]
    actions = ["replay"]
    fields = [
        "msg_id",
        "event_type",
        "subscription",
        "state_badge",
        "attempts",
        "next_attempt_at",
        "created_at",
        "delivered_at",
        "last_status",
        "last_error",
        "payload",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookMessage]:
        queryset = super().get_queryset(request)
        return queryset.defer("payload", "subscription__secret")

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: WebhookMessage) -> str:
        return badge(obj.state, obj.get_state_display())

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.change_webhookmessage")

    @admin.action(
        description=gettext_lazy("Replay selected messages (same webhook-id)"),
        permissions=["replay"],
    )
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookMessage]) -> None:
        count = webhooks_replay(queryset)
        self.message_user(
            request,
            ngettext(
                "%(n)s message will be sent again.", "%(n)s messages will be sent again.", count
            )
            % {"n": f"{count:,}"},
            messages.SUCCESS,
        )


EXPORT_COLUMNS = [
    "started_at",
    "subscription",
    "message",
    "attempt",
    "status_code",
    "ok",
    "duration_ms",
    "error",
    "response_excerpt",
]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(WrittenByThePortal):
    # The subscription is the list's filter, and the status code says whether it was taken.
    list_display = ["started_at", "message", "attempt", "status_code", "duration_ms", "error"]
    list_filter = ["ok", "subscription"]
    list_select_related = ["subscription", "message"]
    ordering = ["-id"]
    actions = ["export_csv"]
    fields = [*EXPORT_COLUMNS]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return super().get_queryset(request).defer("subscription__secret", "message__payload")

    @admin.action(description=gettext_lazy("Export selected as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> Any:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [str(WebhookDelivery._meta.get_field(name).verbose_name) for name in EXPORT_COLUMNS]
        )
        for row in queryset.select_related("subscription", "message").order_by("id"):
            writer.writerow(
                [
                    neutralise(
                        row.subscription.url
                        if name == "subscription"
                        else row.message.msg_id
                        if name == "message"
                        else getattr(row, name)
                    )
                    for name in EXPORT_COLUMNS
                ]
            )
        response = HttpResponse(out.getvalue().encode("utf-8-sig"), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="webhook-deliveries.csv"'
        return response
