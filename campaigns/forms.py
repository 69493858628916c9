"""Admin forms of the campaigns app."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import ItnioAccount


def https_url_formfield(field: models.Field, **kwargs: Any) -> forms.Field | None:
    """URL fields assume https:// when the scheme is left out (Django 6's default)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class ItnioAccountForm(forms.ModelForm):
    """The secret is write-only: never rendered back, blank on edit keeps the stored one."""

    new_api_secret = forms.CharField(
        label=gettext_lazy("API secret"),
        required=False,
        strip=True,
        max_length=128,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy(
            "Stored encrypted and never shown again. Leave blank to keep the current secret."
        ),
    )

    class Meta:
        model = ItnioAccount
        fields = ["name", "api_key", "base_url", "low_balance_threshold"]
        formfield_callback = https_url_formfield

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("new_api_secret"):
            self.add_error("new_api_secret", _("An API secret is required for a new account."))
        return cleaned

    def save(self, commit: bool = True) -> ItnioAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("new_api_secret"):
            account.api_secret = self.cleaned_data["new_api_secret"]
        if commit:
            account.save()
        return account
