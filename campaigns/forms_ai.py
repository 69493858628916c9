"""The AI task form (itnio-api.md §5.1): the line comes from channelList, lists as short text."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import AiTask, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.ai_errors import AiTaskError
from campaigns.services.ai_tasks import ai_channels
from campaigns.services.itnio import itnio_limits
from itnio_portal.itnio import DAYS_OF_WEEK, ItnioLimitError

# §5.1 lists these redial conditions before the page was cut off ("…"): the ones known.
REDIAL_CONDITIONS = (
    ("CALL_LOSS", gettext_lazy("Call lost")),
    ("NO_ANSWER", gettext_lazy("No answer")),
    ("BUSY", gettext_lazy("Busy")),
    ("REFUSED", gettext_lazy("Refused")),
    ("POWER_OFF", gettext_lazy("Phone off")),
    ("OUT_OF_SERVICE", gettext_lazy("Out of service")),
    ("CAN_NOT_CONNECT", gettext_lazy("Cannot connect")),
    ("FROM_PHONE_ERROR", gettext_lazy("Caller line in arrears")),
    ("SYSTEM_ERROR", gettext_lazy("System error")),
    ("VACANT_NUMBER", gettext_lazy("Vacant number")),
)

# ITNIO's day names (DAYS_OF_WEEK) as the page shows them.
DAY_NAMES = {
    "MONDAY": gettext_lazy("Monday"),
    "TUESDAY": gettext_lazy("Tuesday"),
    "WEDNESDAY": gettext_lazy("Wednesday"),
    "THURSDAY": gettext_lazy("Thursday"),
    "FRIDAY": gettext_lazy("Friday"),
    "SATURDAY": gettext_lazy("Saturday"),
    "SUNDAY": gettext_lazy("Sunday"),
}

TIME_SEPARATORS = ("..", "–", " to ", "-")
DATE_SEPARATORS = ("..", "–", " to ", " - ")

TASK_FIELDS = [
    "app",
    "name",
    "dialog_flow_id",
    "line",
    "mode",
    "start_at",
    "daily_start",
    "daily_end",
    "robot_count",
    "end_at",
    "inactive_times",
    "inactive_dates",
    "days_of_week",
    "redial",
    "redial_conditions",
    "call_record_dup",
]


def _ranges(text: str, example: str, separators: tuple[str, ...]) -> list[tuple[str, str]]:
    """Comma- or line-separated "A<sep>B" ranges; the first separator found splits."""
    out = []
    for part in (p.strip() for p in re.split(r"[,;\n]+", text or "")):
        if not part:
            continue
        for separator in separators:
            first, found, second = part.partition(separator)
            if found and first.strip() and second.strip():
                out.append((first.strip(), second.strip()))
                break
        else:
            raise forms.ValidationError(
                _("“%(part)s” is not a range like %(example)s.")
                % {"part": part, "example": example}
            )
    return out


class AiTaskForm(forms.ModelForm):
    """Validates what ITNIO documents before anything is sent; leaves the account-specific
    bounds (the 09:00–20:00 window, -48; the robot maximum, -52) to ITNIO."""

    line = forms.ChoiceField(
        label=gettext_lazy("Line"),
        help_text=gettext_lazy(
            "The outbound line (jobPhoneNumberId), as ITNIO's channelList lists it."
        ),
    )
    inactive_times = forms.CharField(
        label=gettext_lazy("Daily pause windows"),
        required=False,
        help_text=gettext_lazy(
            "Up to 3, e.g. “12:00-13:30, 17:00-17:15”: no calls in these hours."
        ),
    )
    inactive_dates = forms.CharField(
        label=gettext_lazy("Inactive dates"),
        required=False,
        help_text=gettext_lazy(
            "Up to 3 date ranges, e.g. “2025-12-24..2025-12-26”: no calls on these days."
        ),
    )
    days_of_week = forms.MultipleChoiceField(
        label=gettext_lazy("Days of week"),
        required=False,
        choices=[(d, DAY_NAMES.get(d, d.title())) for d in DAYS_OF_WEEK],
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("None ticked: ITNIO's default (every day)."),
    )
    redial_conditions = forms.MultipleChoiceField(
        label=gettext_lazy("Redial when"),
        required=False,
        choices=REDIAL_CONDITIONS,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Required when redial is on."),
    )

    class Meta:
        model = AiTask
        fields = [f for f in TASK_FIELDS if f != "line"]
        widgets = {
            "daily_start": forms.TimeInput(format="%H:%M", attrs={"size": 6}),
            "daily_end": forms.TimeInput(format="%H:%M", attrs={"size": 6}),
        }
        help_texts = {
            "daily_start": gettext_lazy(
                "HH:mm, in your ITNIO account's time zone (ITNIO's API names none; check the "
                "console). ITNIO allows 09:00–20:00 by default and refuses a task outside "
                "that window (code -48)."
            ),
            "start_at": gettext_lazy("Only for the automatic mode: when ITNIO starts calling."),
        }

    def __init__(self, *args: Any, actor: Actor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor or Actor.system("form")
        self.line_errors: list[str] = []
        self.line_names: dict[str, str] = {}  # choice value -> the line's name
        if "app" in self.fields:
            self.fields["app"].queryset = ItnioApp.objects.filter(kind=ItnioApp.Kind.AI)
            self.fields["app"].help_text = _("The AI voice app the task runs and is billed under.")
        if "dialog_flow_id" not in self.fields:
            return  # view-only: nothing is edited, ITNIO is not asked for lines
        self.fields["dialog_flow_id"].required = True
        self.fields["line"].choices = self._line_choices()
        if self.line_errors:
            self.fields["line"].help_text = " ".join(self.line_errors)
        task = self.instance
        if task.pk:
            self.initial["inactive_times"] = ", ".join(
                f"{w.get('startTime')}-{w.get('endTime')}" for w in task.inactive_times or []
            )
            self.initial["inactive_dates"] = ", ".join(
                f"{w.get('startDate')}..{w.get('endDate')}" for w in task.inactive_dates or []
            )
            if task.line_id:
                self.initial["line"] = f"{task.app_id}:{task.line_id}"

    def _apps(self) -> list[ItnioApp]:
        if self.instance.pk:
            return [self.instance.app]
        return list(
            ItnioApp.objects.filter(kind=ItnioApp.Kind.AI, active=True).select_related("account")
        )

    def _line_choices(self) -> list[tuple[str, Any]]:
        """(value "app pk:line id", label) per line of each AI app, grouped by app."""
        choices: list[tuple[str, Any]] = [("", "---------")]
        task = self.instance
        for app in self._apps():
            try:
                lines = ai_channels(app=app, actor=self.actor)
            except AiTaskError as exc:
                self.line_errors.append(str(exc))
                lines = []
            group = []
            for line_id, name in lines:
                self.line_names[f"{app.pk}:{line_id}"] = name
                group.append(
                    (
                        f"{app.pk}:{line_id}",
                        _("%(name)s (line %(line)s)") % {"name": name, "line": line_id},
                    )
                )
            if (
                task.pk
                and task.line_id
                and not any(v.endswith(f":{task.line_id}") for v, _label in group)
            ):
                # Keep the current line selectable when ITNIO cannot be asked (or dropped it).
                name = task.line_name or _("current line")
                label = _("%(name)s (line %(line)s, not checked)") % {
                    "name": name,
                    "line": task.line_id,
                }
                self.line_names[f"{app.pk}:{task.line_id}"] = name
                group.append((f"{app.pk}:{task.line_id}", label))
            if group:
                choices.append((str(app), group))
        return choices

    # --- cleaning ----------------------------------------------------------------
    def clean_inactive_times(self) -> list[dict[str, str]]:
        windows = [
            {"startTime": start, "endTime": end}
            for start, end in _ranges(
                self.cleaned_data.get("inactive_times", ""), "12:00-13:30", TIME_SEPARATORS
            )
        ]
        try:
            return itnio_limits().check_inactive_times(windows)
        except ItnioLimitError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_inactive_dates(self) -> list[dict[str, str]]:
        ranges = [
            {"startDate": start, "endDate": end}
            for start, end in _ranges(
                self.cleaned_data.get("inactive_dates", ""),
                "2025-12-24..2025-12-26",
                DATE_SEPARATORS,
            )
        ]
        try:
            return itnio_limits().check_inactive_dates(ranges)
        except ItnioLimitError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_robot_count(self) -> int:
        value = self.cleaned_data["robot_count"]
        if value < 1:
            raise forms.ValidationError(_("At least one robot."))
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        app = cleaned.get("app") or (self.instance.app if self.instance.pk else None)
        line = cleaned.get("line") or ""
        app_pk, _colon, line_id = line.partition(":")
        if line and app is not None and app_pk != str(app.pk):
            self.add_error(
                "line",
                _("This line belongs to another app than %(app)s.") % {"app": app.app_id},
            )
        elif line:
            self.instance.line_id = int(line_id)
            self.instance.line_name = self.line_names.get(line, "")[:100]
        if cleaned.get("mode") == AiTask.Mode.AUTO and not cleaned.get("start_at"):
            self.add_error("start_at", _("The automatic mode needs a start time."))
        start, end = cleaned.get("daily_start"), cleaned.get("daily_end")
        if start and end and start >= end:
            self.add_error("daily_end", _("The daily window must end after it starts."))
        if cleaned.get("redial") and not cleaned.get("redial_conditions"):
            self.add_error("redial_conditions", _("Tick at least one condition to redial on."))
        if not cleaned.get("redial"):
            cleaned["redial_conditions"] = []
        end_at, start_at = cleaned.get("end_at"), cleaned.get("start_at")
        if end_at and start_at and end_at <= start_at:
            self.add_error("end_at", _("The end time must be after the start time."))
        return cleaned
