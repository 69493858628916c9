"""The campaign form's calling window (fixed zone or callee-local, days, excluded dates) and
pacing (numbers per minute), and the page's "waiting for their window" lines. Mixed into
CampaignForm and CampaignAdmin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from campaigns.models import Campaign
from campaigns.services.windows import (
    ALL_DAYS,
    DAY_NAMES,
    WindowError,
    check_zone,
    day_names,
    parse_skip_dates,
    waiting_for_window,
)

DAY_LABELS = (
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
)
#: Model fields the form edits (besides window_start, window_end and window_tz).
WINDOW_MODEL_FIELDS = ["window_callee_local", "fallback_zone", "rate_per_minute"]
#: The "When" fieldset's fields: model fields and the form's own (days, excluded dates).
WHEN_FIELDS = [
    "scheduled_start",
    "window_start",
    "window_end",
    "window_tz",
    "window_callee_local",
    "fallback_zone",
    "calling_days",
    "excluded_dates",
    "rate_per_minute",
]


class WindowFormMixin(forms.Form):
    """Days as checkboxes and excluded dates as text, stored on the campaign's window_days and
    skip_dates; zone names checked against the IANA database."""

    calling_days = forms.MultipleChoiceField(
        label=gettext_lazy("Calling days"),
        choices=list(zip(DAY_NAMES, DAY_LABELS, strict=True)),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=gettext_lazy("None ticked means every day."),
    )
    excluded_dates = forms.CharField(
        label=gettext_lazy("Excluded dates"),
        required=False,
        help_text=gettext_lazy("Up to 50, YYYY-MM-DD separated by commas (e.g. holidays)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if instance is not None and "calling_days" in self.fields:
            if instance.window_days not in (None, ALL_DAYS):
                self.initial["calling_days"] = day_names(instance.window_days)
            self.initial["excluded_dates"] = ", ".join(instance.skip_dates or [])

    def clean_window_tz(self) -> str:
        return self._zone("window_tz", default="UTC")

    def clean_fallback_zone(self) -> str:
        return self._zone("fallback_zone", default="")

    def _zone(self, name: str, default: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if not value:
            return default
        try:
            return check_zone(value)
        except WindowError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_excluded_dates(self) -> list[str]:
        try:
            return parse_skip_dates(self.cleaned_data.get("excluded_dates") or "")
        except WindowError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_rate_per_minute(self) -> int | None:
        rate = self.cleaned_data.get("rate_per_minute")
        if rate is not None and rate < 1:
            raise forms.ValidationError(gettext("At least 1 number a minute (or blank)."))
        return rate

    def window_clean(self, cleaned: dict[str, Any]) -> None:
        """Called by the form's clean(): the window's ends and the callee-local mode."""
        if bool(cleaned.get("window_start")) != bool(cleaned.get("window_end")):
            self.add_error(
                "window_end", gettext("Give both ends of the calling window, or neither.")
            )
        elif cleaned.get("window_start") and cleaned["window_start"] == cleaned.get("window_end"):
            self.add_error(
                "window_end", gettext("A window must not start and end at the same time.")
            )
        if cleaned.get("window_callee_local") and not cleaned.get("window_start"):
            self.add_error(
                "window_callee_local",
                gettext("A window in the callee's local time needs its two ends."),
            )
        if "calling_days" in self.fields:
            days = cleaned.get("calling_days") or []
            mask = sum(1 << DAY_NAMES.index(d) for d in days) if days else ALL_DAYS
            self.instance.window_days = mask
        if "excluded_dates" in self.fields and "excluded_dates" in cleaned:
            self.instance.skip_dates = cleaned["excluded_dates"]


def when_fieldset() -> tuple[Any, dict[str, Any]]:
    return (
        gettext_lazy("When"),
        {
            "fields": WHEN_FIELDS,
            "description": gettext_lazy(
                "No calling window means any time of day. The window is read in the time zone "
                "given, or, in the callee's local time, in every zone of the callee's number "
                "(all of them must be inside it; an unknown zone reads the fallback zone). "
                "It is checked between batches."
            ),
        },
    )


class CampaignWindowsMixin:
    """CampaignAdmin's part for the windows: the page's waiting lines."""

    def windows_context(self, request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
        """The campaign page's "waiting for their window" lines (CampaignAdmin.change_view)."""
        return {"window_waiting": [g.text() for g in waiting_for_window(campaign)]}
