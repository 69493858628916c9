"""Admin of portal users and roles: Admins manage Viewers, Operators and Admins; only a superuser
grants superuser status, grants single permissions, edits a superuser or changes a role.

Without this an Admin could tick "superuser" on their own page and then point an account's
signed requests at any host (the base URL override is superuser-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, SetUnusablePasswordMixin
from django.contrib.auth.models import Group, User
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from campaigns.admin.access import LeastPrivilegeMixin, requires
from campaigns.services.actors import Actor
from campaigns.services.two_factor import TwoFactorError, two_factor_reset

admin.site.unregister(User)
admin.site.unregister(Group)
# Two-factor devices are managed by their owners (the account security pages) and reset by an
# Admin with the users' action below: django-otp's own admin would show device secrets.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


def _password_help() -> str:
    return format_html(
        '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}</li></ul>',
        SetUnusablePasswordMixin.usable_password_help_text,
        gettext_lazy("If disabled, the current password for this user will be lost."),
    )


class PasswordChangeForm(AdminPasswordChangeForm):
    """Django's form, its help text in the page's language (Django joins it once, at import,
    in English)."""

    usable_password_help_text = lazy(_password_help, SafeString)()


def _touches_superuser(request: HttpRequest, obj: Any) -> bool:
    return obj is not None and obj.is_superuser and not request.user.is_superuser


@admin.register(User)
class PortalUserAdmin(LeastPrivilegeMixin, UserAdmin):
    change_password_form = PasswordChangeForm
    actions = ["reset_two_factor"]
    list_display = (*UserAdmin.list_display, "two_factor_on")

    def get_queryset(self, request: HttpRequest) -> Any:
        confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(_two_factor_on=Exists(confirmed))

    @admin.display(boolean=True, description=gettext_lazy("Two-factor"))
    def two_factor_on(self, obj: Any) -> bool:
        return bool(getattr(obj, "_two_factor_on", False))

    @admin.action(permissions=["change"], description=gettext_lazy("Reset two-factor devices"))
    def reset_two_factor(self, request: HttpRequest, queryset: Any) -> None:
        """Each selected user's TOTP device and backup codes are deleted (audited in their
        history): their next login asks for the password only, then for a new device when
        one is required."""
        actor, done, removed = Actor.from_user(request.user), 0, 0
        for user in queryset:
            try:
                removed += two_factor_reset(user=user, actor=actor)
                done += 1
            except TwoFactorError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        if done:
            self.message_user(
                request,
                ngettext(
                    "Two-factor devices reset for %(count)d user (%(removed)d removed).",
                    "Two-factor devices reset for %(count)d users (%(removed)d removed).",
                    done,
                )
                % {"count": done, "removed": removed},
                messages.SUCCESS,
            )
        elif not queryset:
            self.message_user(request, _("No user was selected."), messages.WARNING)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Roles (groups) are what an Admin hands out; these go beyond any role.
            readonly += ["is_superuser", "user_permissions"]
        return readonly

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if _touches_superuser(request, obj):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if _touches_superuser(request, obj):
            return False
        return super().has_delete_permission(request, obj)

    @requires("change")
    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        # Django checks the user being changed too (has_change_permission with the object).
        return super().user_change_password(request, id, form_url)


@admin.register(Group)
class PortalGroupAdmin(LeastPrivilegeMixin, GroupAdmin):
    """The roles are rules in code (campaigns/roles.py), brought up to date after every
    migrate: an Admin sees what each role may do, only a superuser changes one."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser
