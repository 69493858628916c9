"""Admin of REST API tokens. Every user in a role sees, creates and revokes their own tokens;
an Admin (manage_api_tokens) those of every user. The key is shown once, on the page right
after it is created (never stored, never in a message or the session); the stored digest is
never shown, searched, sorted or filtered on."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.admin.base import PortalModelAdmin
from campaigns.admin.own_rows import OwnRowsMixin
from campaigns.models import ApiToken
from campaigns.services.api_tokens import ApiTokenError, api_token_create

IN_A_ROLE = "campaigns.view_apitoken"  # every role has it (view_ of the portal's models)
MANAGE = "campaigns.manage_api_tokens"


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]

    def clean_expires_at(self) -> Any:
        from django.utils import timezone

        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("The expiry must be in the future."))
        return value


@admin.register(ApiToken)
class ApiTokenAdmin(OwnRowsMixin, PortalModelAdmin):
    in_a_role, manage_all = IN_A_ROLE, MANAGE
    form = ApiTokenForm
    list_select_related = ["user"]
    list_display = ["name", "user", "prefix", "status", "expires_at", "last_used_at", "created_at"]
    list_filter = []
    search_fields = ["name", "user__username"]
    readonly_fields = ["prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]
    ordering = ["user__username", "name"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a token is revoked and a new one made, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked tokens stay listed (who had one, when it was last used); an Admin may delete
        # them, as deleting a user does.
        return self._manages_all(request)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(IN_A_ROLE)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return (
                ["user", "name", "expires_at"]
                if self._manages_all(request)
                else ["name", "expires_at"]
            )
        return ["user", "name", "prefix", "expires_at", *self.readonly_fields[1:]]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return ["user", "name", "expires_at", *self.readonly_fields]

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if obj is None and "user" in form.base_fields:
            form.base_fields["user"].queryset = get_user_model().objects.filter(is_active=True)
        return form

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None):
        # One way out of the form: Save, to the page that shows the key.
        extra = {"show_save_and_add_another": False, "show_save_and_continue": False}
        return super().add_view(request, form_url, {**(extra_context or {}), **extra})

    @admin.display(description=gettext_lazy("status"))
    def status(self, obj: ApiToken) -> str:
        if obj.revoked_at:
            return _("Revoked")
        return _("Active") if obj.live else _("Expired")

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        user = form.cleaned_data.get("user") if self._manages_all(request) else request.user
        try:
            token, key = api_token_create(
                user=user or request.user,
                name=form.cleaned_data["name"],
                expires_at=form.cleaned_data.get("expires_at"),
                created_by=request.user.get_username(),
            )
        except ApiTokenError as exc:
            request._api_token_refused = str(exc)  # per request: the admin is shared
            return
        obj.pk, obj.user, obj.name = token.pk, token.user, token.name
        request._api_token_created = (token, key)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None  # no relations of its own

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if obj.pk:
            return super().log_addition(request, obj, message)
        return None

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: Any = None):
        refused = getattr(request, "_api_token_refused", None)
        if refused:
            self.message_user(request, refused, messages.ERROR)
            from django.http import HttpResponseRedirect

            return HttpResponseRedirect(request.path)
        token, key = request._api_token_created
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("API token created"),
            "token": token,
            "key": key,
        }
        response = TemplateResponse(request, "admin/campaigns/apitoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=gettext_lazy("Revoke selected tokens"), permissions=["revoke"])
    def revoke_selected(
        self, request: HttpRequest, queryset: QuerySet[ApiToken]
    ) -> HttpResponse | None:
        from django.utils import timezone

        revoked = (
            self.get_queryset(request)
            .filter(pk__in=queryset.values("pk"), revoked_at__isnull=True)
            .update(revoked_at=timezone.now())
        )
        self.message_user(
            request,
            ngettext("%(n)s token revoked.", "%(n)s tokens revoked.", revoked)
            % {"n": f"{revoked:,}"},
            messages.SUCCESS,
        )
        return None
