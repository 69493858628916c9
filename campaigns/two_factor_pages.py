"""Two-factor pages: the admin's login in two steps (the password, then the code of the user's
TOTP device or one of their backup codes) and django-two-factor-auth's own pages (set up a
device, backup codes, account security, disable), shown as admin pages.

Every URL here says who may use it (`portal_access`, like `@requires` on admin views): the login
is public, the rest are for a signed-in staff user managing their own device. tests/
test_two_factor.py walks them from the URL resolver, so a page added here is checked too.

django-axes counts both steps: a wrong password through its authentication backend, a wrong
code here (as a failed login of that username), and a locked-out username gets the lockout page
at either step."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django.views.generic import RedirectView
from two_factor import views as tf_views
from two_factor.forms import AuthenticationTokenForm, BackupTokenForm
from two_factor.utils import totp_digits

from campaigns.services.two_factor import device_required

PUBLIC = "public"
OWN_ACCOUNT = "own account"  # a signed-in, active staff user, on their own devices only
ISSUER = "ITNIO Portal"  # the name authenticator apps show beside the account


class AxesCountedCodeMixin:
    """A wrong code is a failed login for django-axes, as a wrong password is."""

    request: HttpRequest | None = None

    def __init__(self, user: Any, initial_device: Any, request: HttpRequest | None = None, **kw):
        super().__init__(user, initial_device, **kw)
        self.request = request
        self.fields["otp_token"].label = self.code_label

    def clean(self) -> dict[str, Any]:
        credentials = {"username": self.user.get_username()}
        if self.request is not None and AxesProxyHandler.is_locked(self.request, credentials):
            self.request.axes_locked_out = True  # AxesMiddleware answers with the lockout page
            raise forms.ValidationError(_("Too many failed logins."), code="locked_out")
        try:
            return super().clean()
        except forms.ValidationError as error:
            # A wrong code counts; one refused unchecked (django-otp's pause after a wrong code,
            # "wait a few seconds") does not.
            codes = {getattr(e, "code", None) for e in error.error_list}
            if "invalid_token" in codes and self.request is not None:
                user_login_failed.send(
                    sender=type(self), credentials=credentials, request=self.request
                )
            raise


_MESSAGES = {
    "token_required": _("Enter the code."),
    "invalid_token": _(
        "That code is not right: enter the code your authenticator app shows now "
        "(a backup code works once only)."
    ),
    "verification_not_allowed": _("Codes cannot be checked for this account right now."),
    "device_required": _("This account has no two-factor device."),
}


WAIT_AFTER_WRONG_CODES = ngettext_lazy(
    "After %(failure_count)d wrong code, the next one is checked after a pause: wait a few "
    "seconds and try again.",
    "After %(failure_count)d wrong codes in a row, the next one is checked after a pause: wait "
    "a few seconds and try again.",
    "failure_count",
)


class CodeForm(AxesCountedCodeMixin, AuthenticationTokenForm):
    code_label = _("Code")
    otp_error_messages = {
        **AuthenticationTokenForm.otp_error_messages,
        **_MESSAGES,
        "n_failed_attempts": WAIT_AFTER_WRONG_CODES,
    }


class BackupCodeForm(AxesCountedCodeMixin, BackupTokenForm):
    code_label = _("Backup code")
    otp_error_messages = {
        **BackupTokenForm.otp_error_messages,
        **_MESSAGES,
        "invalid_token": _("That backup code is not right, or it was already used."),
        "n_failed_attempts": WAIT_AFTER_WRONG_CODES,
    }


class AdminPageMixin:
    """The admin's header, user tools and language switcher around the package's pages."""

    title: Any = ""
    request: HttpRequest

    def get_context_data(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(*args, **kwargs)  # type: ignore[misc]
        user = self.request.user
        return {
            **admin.site.each_context(self.request),
            # The user tools (log out) even before a required device is set up.
            "has_permission": user.is_active and user.is_staff,
            "is_nav_sidebar_enabled": False,
            "title": self.title,
            **context,
        }


class OwnAccountMixin(AdminPageMixin):
    """For a signed-in staff user, on their own devices: others go to the login page (403 for
    a signed-in user who is not staff)."""

    portal_access = OWN_ACCOUNT

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not (user.is_active and user.is_staff):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


class PortalLoginView(AdminPageMixin, tf_views.LoginView):
    """The admin's login page (/admin/login/): the admin's own form and fields first (`username`,
    `password`: scripts and the admin's template post them as before), then, for a user with a
    device, the code."""

    portal_access = PUBLIC
    title = _("Log in")
    form_list = (
        (tf_views.LoginView.AUTH_STEP, AdminAuthenticationForm),
        (tf_views.LoginView.TOKEN_STEP, CodeForm),
        (tf_views.LoginView.BACKUP_STEP, BackupCodeForm),
    )

    def get_form_list(self) -> Any:
        # The package puts its own token form in at each request; ours count wrong codes.
        form_list = super().get_form_list()
        for step, form_class in ((self.TOKEN_STEP, CodeForm), (self.BACKUP_STEP, BackupCodeForm)):
            if step in form_list:
                form_list[step] = form_class
        return form_list

    def get_form_prefix(self, step: str | None = None, form: Any = None) -> str | None:
        return None if step == self.AUTH_STEP else super().get_form_prefix(step, form)

    def get_template_names(self) -> list[str]:
        if self.steps.current == self.AUTH_STEP:
            return ["admin/login.html"]
        return ["two_factor/core/login.html"]

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        request = self.request
        step_field = f"{self.prefix}-current_step"
        if step_field not in request.POST and "wizard_goto_step" not in request.POST:
            # A POST without the wizard's step is the password form (the admin's own template,
            # a script): it starts the login afresh.
            data = request.POST.copy()
            data[step_field] = self.AUTH_STEP
            request.POST = data
            self.storage.reset()
        return super().post(*args, **kwargs)

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form, **kwargs)
        request = self.request
        context.update(
            {
                "has_permission": False,
                "subtitle": None,
                "app_path": request.get_full_path(),
                "username": request.user.get_username(),
                REDIRECT_FIELD_NAME: self.get_redirect_url() or reverse("admin:index"),
                "totp_digits": totp_digits(),
            }
        )
        return context


class SetupView(OwnAccountMixin, tf_views.SetupView):
    title = _("Set up two-factor authentication")

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form, **kwargs)
        if "otpauth_url" in context:
            from two_factor.utils import get_otpauth_url

            context["issuer"] = ISSUER
            context["otpauth_url"] = get_otpauth_url(
                self.request.user.get_username(), context["secret_key"], ISSUER, totp_digits()
            )
        context["cancel_url"] = reverse("two_factor:profile")
        context["required"] = device_required(self.request.user)
        return context


class QRGeneratorView(OwnAccountMixin, tf_views.QRGeneratorView):
    def get_issuer(self) -> str:
        return ISSUER


class SetupCompleteView(OwnAccountMixin, tf_views.SetupCompleteView):
    title = _("Two-factor authentication is on")


class BackupTokensView(OwnAccountMixin, tf_views.BackupTokensView):
    title = _("Backup codes")


class ProfileView(OwnAccountMixin, tf_views.ProfileView):
    title = _("Two-factor authentication")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["required"] = device_required(self.request.user)
        context["is_profile"] = True
        return context


class DisableView(OwnAccountMixin, tf_views.DisableView):
    """Refused while TWO_FACTOR_REQUIRED applies to the user (an Admin can still reset it)."""

    title = _("Turn off two-factor authentication")

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and device_required(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class LoginRedirectView(RedirectView):
    """The package's own name for the login page: the admin's."""

    portal_access = PUBLIC
    pattern_name = "admin:login"
    query_string = True


def _page(route: str, view: Any, name: str) -> Any:
    if getattr(view, "portal_access", None) is None:
        raise TypeError(f"{view.__name__} must declare portal_access")
    callback = view.as_view()
    callback.portal_access = view.portal_access  # type: ignore[attr-defined]
    return path(route, callback, name=name)


urlpatterns = [
    _page("account/login/", LoginRedirectView, "login"),
    _page("account/two_factor/", ProfileView, "profile"),
    _page("account/two_factor/setup/", SetupView, "setup"),
    _page("account/two_factor/qrcode/", QRGeneratorView, "qr"),
    _page("account/two_factor/setup/complete/", SetupCompleteView, "setup_complete"),
    _page("account/two_factor/backup/tokens/", BackupTokensView, "backup_tokens"),
    _page("account/two_factor/disable/", DisableView, "disable"),
]
app_name = "two_factor"


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin site's login (campaigns/admin_site.py)."""
    if request.method == "GET" and admin.site.has_permission(request):
        return redirect("admin:index")
    return PortalLoginView.as_view()(request)
