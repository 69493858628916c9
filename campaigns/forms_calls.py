"""Forms for placing calls from the admin."""

from __future__ import annotations

import dataclasses
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from campaigns.models import ItnioApp
from campaigns.services.itnio import itnio_limits
from campaigns.services.numbers import strip_number
from itnio_portal.itnio import LANGUAGES, ItnioLimitError, SendCode

# The TTS language a page in this language starts with (the portal's languages to ITNIO's codes).
PAGE_TO_TTS_LANGUAGE = {
    "en": "EN",
    "ja": "JP",
    "ar": "ARB",
    "de": "DE",
    "hi": "IN",
    "it": "IT",
    "ko": "KR",
    "ru": "RU",
    "es": "ES",
    "pt": "PT",
    "id": "IDN",
    "bn": "BD",
    "th": "TH",
    "vi": "VN",
}


def tts_language_for(page_language: str) -> str:
    """ITNIO's language code for a page language such as "en-us" (English when none fits)."""
    return PAGE_TO_TTS_LANGUAGE.get((page_language or "").split("-")[0].lower(), "EN")


class SendTtsForm(forms.Form):
    """POST /voice/sendCode (itnio-api.md §3.3). Every limit is checked here, before sending."""

    app = forms.ModelChoiceField(
        queryset=ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE, active=True),
        label=gettext_lazy("App"),
        help_text=gettext_lazy("The voice app the call is placed and billed under."),
    )
    callee = forms.CharField(
        max_length=20,
        label=gettext_lazy("Callee"),
        help_text=gettext_lazy("Country code and number, 7–15 digits (e.g. 919876543210)."),
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        choices=lambda: [(code, f"{name} ({code})") for code, name in LANGUAGES.items()],
    )
    text = forms.CharField(
        label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 4, "cols": 60})
    )
    display_num = forms.CharField(
        label=gettext_lazy("display number"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("Caller ID, 7–15 digits (optional)."),
    )
    loop_count = forms.IntegerField(
        required=False,
        label=gettext_lazy("Loop count"),
        help_text=gettext_lazy("Times the text is read, 1–%(max)s (default 1)."),
    )
    recall_count = forms.IntegerField(
        required=False,
        label=gettext_lazy("Recall count"),
        help_text=gettext_lazy("Automatic re-calls on failure, 0–9 (default 0)."),
    )
    recall_interval = forms.IntegerField(
        required=False,
        label=gettext_lazy("Recall interval"),
        help_text=gettext_lazy("Minutes between re-calls, 1–999 (only with a recall count)."),
    )
    max_duration = forms.IntegerField(
        required=False,
        label=gettext_lazy("Max duration"),
        help_text=gettext_lazy("Hang up this many seconds after answer, 1–120 (optional)."),
    )
    max_ringing_time = forms.IntegerField(
        required=False,
        label=gettext_lazy("Max ringing time"),
        help_text=gettext_lazy("Seconds to ring, 20–120 (default 60)."),
    )
    called_info = forms.CharField(
        label="calledInfo",
        required=False,
        max_length=1000,
        help_text=gettext_lazy("Free text echoed in records and pushes (up to 1000 characters)."),
    )

    # The second step: the summary's "Yes, place this call" sends it (a call costs money).
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, language: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if language:
            self.fields["language"].initial = language
        limits = itnio_limits()
        self.fields["loop_count"].help_text = self.fields["loop_count"].help_text % {
            "max": limits.loop_count_max
        }
        # The live counter reads these (templates/admin/campaigns/call/send_tts.html).
        self.fields["text"].widget.attrs.update(
            {
                "data-limit": str(limits.text_max),
                "data-limit-short": str(limits.text_max_short_languages),
                "data-short-languages": ",".join(limits.short_languages),
            }
        )

    def clean_callee(self) -> str:
        return self._digits("callee")

    def clean_display_num(self) -> str:
        return self._digits("display_num") if self.cleaned_data.get("display_num") else ""

    def _digits(self, name: str) -> str:
        # What people type around a number goes; anything else is refused by the digit rule.
        return strip_number(self.cleaned_data[name])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # ITNIO's documented limits, the same checks the client makes before sending.
        try:
            itnio_limits().check_send_code(self.send_code())
        except ItnioLimitError as exc:
            field = {
                "callee": "callee",
                "displayNum": "display_num",
                "language": "language",
                "text": "text",
                "loopCount": "loop_count",
                "recallCount": "recall_count",
                "recallInterval": "recall_interval",
                "maxDuration": "max_duration",
                "maxRingingTime": "max_ringing_time",
                "calledInfo": "called_info",
            }.get(exc.field)
            self.add_error(field, str(exc))
        return cleaned

    def confirming(self) -> bool:
        """Valid, and not yet confirmed: show the summary instead of sending."""
        return not self.cleaned_data.get("confirmed")

    def send_code(self) -> SendCode:
        """The call the form describes: the form fields are SendCode's, with the app's ID."""
        data = self.cleaned_data
        fields = {f.name for f in dataclasses.fields(SendCode)} - {"app_id"}
        return SendCode(app_id=data["app"].app_id, **{name: data.get(name) for name in fields})
