"""Admin of e-mail reports. Every user in a role subscribes, changes and unsubscribes their own
reports (to their account's e-mail address); an Admin (manage_report_subscriptions) those of
every user."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext as _

from campaigns.admin.base import PortalModelAdmin
from campaigns.admin.own_rows import OwnRowsMixin
from campaigns.models import ReportSubscription

IN_A_ROLE = "campaigns.view_reportsubscription"  # every role has it (view_ of the models)
MANAGE = "campaigns.manage_report_subscriptions"


class ReportSubscriptionForm(forms.ModelForm):
    class Meta:
        model = ReportSubscription
        fields = ["user", "frequency", "app", "campaign", "hour", "active"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        app, campaign = cleaned.get("app"), cleaned.get("campaign")
        if app is not None and campaign is not None and campaign.app_id != app.pk:
            self.add_error("campaign", _("This campaign belongs to another app."))
        return cleaned


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(OwnRowsMixin, PortalModelAdmin):
    in_a_role, manage_all = IN_A_ROLE, MANAGE
    form = ReportSubscriptionForm
    list_display = ["__str__", "user", "hour", "active", "last_period"]
    list_filter = ["frequency", "active"]
    list_select_related = ["user", "app", "campaign"]
    readonly_fields = ["last_period", "created_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(IN_A_ROLE)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(IN_A_ROLE)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["frequency", "app", "campaign", "hour", "active", *self.readonly_fields]
        return ["user", *fields] if self._manages_all(request) else fields

    def save_model(
        self, request: HttpRequest, obj: ReportSubscription, form: Any, change: bool
    ) -> None:
        if not self._manages_all(request):
            obj.user = request.user
        super().save_model(request, obj, form, change)
        if not obj.user.email:
            self.message_user(
                request,
                _("%(user)s has no e-mail address: no report is sent until one is set.")
                % {"user": obj.user.get_username()},
                level="warning",
            )
