"""Forms of the SIP phones: a group (sipAdd's rules, itnio-api.md §3.9) and a call (§3.4)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext, gettext_lazy

from campaigns.models import ItnioApp
from campaigns.services.itnio import itnio_limits
from campaigns.services.numbers import strip_number
from itnio_portal.itnio import ItnioLimitError, SendSip
from sipphones.models import SipGroup
from sipphones.services import sip_phone_accounts


def _rule_error(label: str, exc: ItnioLimitError) -> forms.ValidationError:
    # "The group name must be 4–32 characters (got 3 characters)."
    if exc.got is not None:
        message = gettext("The %(label)s %(rule)s (got %(got)s).")
    else:
        message = gettext("The %(label)s %(rule)s.")
    return forms.ValidationError(message % {"label": label, "rule": exc.rule, "got": exc.got})


class SipGroupForm(forms.ModelForm):
    """Every sipAdd rule is checked here, before anything is sent: the documented 4–32
    characters for both names (seed 004 itself sends a 3-character phoneName; the portal keeps
    to its table, the stricter value), 1–50 phones, a 7–13 digit display number, and names
    unique within the app."""

    group_name = forms.CharField(
        label=gettext_lazy("Group name"),
        help_text=gettext_lazy("4–32 characters, unique within the app."),
    )
    phone_name = forms.CharField(
        label=gettext_lazy("Phone name"),
        help_text=gettext_lazy(
            "4–32 characters, unique within the app. The phone accounts are named "
            "{phone name}_001, {phone name}_002, …"
        ),
    )
    quantity = forms.IntegerField(
        label=gettext_lazy("Quantity"), help_text=gettext_lazy("Number of phones, 1–50.")
    )
    display_num = forms.CharField(
        label=gettext_lazy("Display number"),
        help_text=gettext_lazy("Caller ID of the phones, 7–13 digits."),
    )

    class Meta:
        model = SipGroup
        fields = ["app", "group_name", "phone_name", "quantity", "display_num"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "app" in self.fields:
            self.fields["app"].queryset = ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE)

    def clean_group_name(self) -> str:
        return self._name("group_name", "groupName", gettext("group name"))

    def clean_phone_name(self) -> str:
        return self._name("phone_name", "phoneName", gettext("phone name"))

    def _name(self, field: str, itnio_field: str, label: str) -> str:
        value = self.cleaned_data[field]
        try:
            itnio_limits().check_sip_name(itnio_field, value)
        except ItnioLimitError as exc:
            raise _rule_error(label, exc) from exc
        return value

    def clean_quantity(self) -> int:
        value = self.cleaned_data["quantity"]
        try:
            itnio_limits().check_sip_quantity(value)
        except ItnioLimitError as exc:
            raise _rule_error(gettext("quantity"), exc) from exc
        return value

    def clean_display_num(self) -> str:
        # What people type around a number goes; anything else is refused by the digit rule.
        value = strip_number(self.cleaned_data["display_num"])
        try:
            itnio_limits().check_display_num(value, sip=True)
        except ItnioLimitError as exc:
            raise _rule_error(gettext("display number"), exc) from exc
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        app = cleaned.get("app") or getattr(self.instance, "app", None)
        if app is None:
            return cleaned
        others = SipGroup.objects.filter(app=app)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        for field, label in (
            ("group_name", gettext("group name")),
            ("phone_name", gettext("phone name")),
        ):
            value = cleaned.get(field)
            if value and others.filter(**{field: value}).exists():
                self.add_error(
                    field,
                    gettext(
                        "App %(app)s already has a SIP group with the %(label)s %(value)s; "
                        "the %(label)s must be unique within the app."
                    )
                    % {"app": app.app_id, "label": label, "value": repr(value)},
                )
        return cleaned


class SipCallForm(forms.Form):
    """POST /voice/sendSip (itnio-api.md §3.4): a phone account calls one number."""

    app = forms.ModelChoiceField(
        queryset=ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE, active=True),
        label=gettext_lazy("App"),
        help_text=gettext_lazy("The voice app the phones belong to; the call is billed under it."),
    )
    account = forms.ChoiceField(
        label=gettext_lazy("phone account"),
        help_text=gettext_lazy(
            "The phones of the groups created on ITNIO (names derived from the phone "
            "name, not confirmed by ITNIO)."
        ),
    )
    callee = forms.CharField(
        label=gettext_lazy("Callee"),
        max_length=20,
        help_text=gettext_lazy("Country code and number, 7–15 digits (e.g. 919876543210)."),
    )
    display_num = forms.CharField(
        label=gettext_lazy("display number"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("Caller ID, 7–15 digits (optional)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.group: SipGroup | None = None
        choices: list[Any] = [("", "---------")]
        for group, accounts in sip_phone_accounts():
            label = f"{group.group_name} ({group.app.label or group.app.app_id})"
            choices.append((label, [(f"{group.pk}:{name}", name) for name in accounts]))
        self.fields["account"].choices = choices
        apps = self.fields["app"].queryset
        if apps.count() == 1:
            self.fields["app"].initial = apps.first().pk

    def clean_account(self) -> str:
        pk, _, name = self.cleaned_data["account"].partition(":")
        group = SipGroup.objects.filter(pk=pk, state=SipGroup.State.CREATED).first()
        if group is None or name not in group.accounts:
            raise forms.ValidationError(gettext("Choose a phone of a group created on ITNIO."))
        self.group = group
        return name

    def clean_callee(self) -> str:
        return strip_number(self.cleaned_data["callee"])

    def clean_display_num(self) -> str:
        value = self.cleaned_data.get("display_num") or ""
        return strip_number(value) if value else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        app, group = cleaned.get("app"), self.group
        if app is not None and group is not None and group.app_id != app.pk:
            self.add_error(
                "account",
                gettext(
                    "Phone %(account)s belongs to app %(group_app)s, not %(app)s: choose that "
                    "app or another phone."
                )
                % {"account": cleaned["account"], "group_app": group.app.app_id, "app": app.app_id},
            )
        if self.errors:
            return cleaned
        # ITNIO's documented limits, the same checks the client makes before sending.
        try:
            itnio_limits().check_send_sip(self.send_sip())
        except ItnioLimitError as exc:
            field = {"callee": "callee", "displayNum": "display_num", "account": "account"}
            self.add_error(field.get(exc.field), str(exc))
        return cleaned

    def send_sip(self) -> SendSip:
        data = self.cleaned_data
        return SendSip(
            app_id=data["app"].app_id,
            account=data["account"],
            callee=data["callee"],
            display_num=data.get("display_num") or None,
        )
