"""The AI task form (itnio-api.md §5.1): the line comes from channelList, lists as short text."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from campaigns.models import AiTask, ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.ai_errors import AiTaskError
from campaigns.services.ai_tasks import ai_channels
from campaigns.services.itnio import itnio_limits
from itnio_portal.itnio import DAYS_OF_WEEK, ItnioLimitError

# §5.1 lists these redial conditions before the page was cut off ("…"): the ones known.
REDIAL_CONDITIONS = (
    ("CALL_LOSS", "Call lost"),
    ("NO_ANSWER", "No answer"),
    ("BUSY", "Busy"),
    ("REFUSED", "Refused"),
    ("POWER_OFF", "Phone off"),
    ("OUT_OF_SERVICE", "Out of service"),
    ("CAN_NOT_CONNECT", "Cannot connect"),
    ("FROM_PHONE_ERROR", "Caller line in arrears"),
    ("SYSTEM_ERROR", "System error"),
    ("VACANT_NUMBER", "Vacant number"),
)

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
            raise forms.ValidationError(f"“{part}” is not a range like {example}.")
    return out


class AiTaskForm(forms.ModelForm):
    """Validates what ITNIO documents before anything is sent; leaves the account-specific
    bounds (the 09:00–20:00 window, -48; the robot maximum, -52) to ITNIO."""

    line = forms.ChoiceField(
        label="Line",
        help_text="The outbound line (jobPhoneNumberId), as ITNIO's channelList lists it.",
    )
    inactive_times = forms.CharField(
        label="Daily pause windows",
        required=False,
        help_text="Up to 3, e.g. “12:00-13:30, 17:00-17:15”: no calls in these hours.",
    )
    inactive_dates = forms.CharField(
        label="Inactive dates",
        required=False,
        help_text="Up to 3 date ranges, e.g. “2025-12-24..2025-12-26”: no calls on these days.",
    )
    days_of_week = forms.MultipleChoiceField(
        label="Days of week",
        required=False,
        choices=[(d, d.title()) for d in DAYS_OF_WEEK],
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: ITNIO's default (every day).",
    )
    redial_conditions = forms.MultipleChoiceField(
        label="Redial when",
        required=False,
        choices=REDIAL_CONDITIONS,
        widget=forms.CheckboxSelectMultiple,
        help_text="Required when redial is on.",
    )

    class Meta:
        model = AiTask
        fields = [f for f in TASK_FIELDS if f != "line"]
        widgets = {
            "daily_start": forms.TimeInput(format="%H:%M", attrs={"size": 6}),
            "daily_end": forms.TimeInput(format="%H:%M", attrs={"size": 6}),
        }
        help_texts = {
            "daily_start": (
                "HH:mm, in your ITNIO account's time zone (ITNIO's API names none; check the "
                "console). ITNIO allows 09:00–20:00 by default and refuses a task outside "
                "that window (code -48)."
            ),
            "start_at": "Only for the automatic mode: when ITNIO starts calling.",
        }

    def __init__(self, *args: Any, actor: Actor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor or Actor.system("form")
        self.line_errors: list[str] = []
        if "app" in self.fields:
            self.fields["app"].queryset = ItnioApp.objects.filter(kind=ItnioApp.Kind.AI)
            self.fields["app"].help_text = "The AI voice app the task runs and is billed under."
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
            group = [(f"{app.pk}:{line_id}", f"{name} (line {line_id})") for line_id, name in lines]
            if (
                task.pk
                and task.line_id
                and not any(v.endswith(f":{task.line_id}") for v, _ in group)
            ):
                # Keep the current line selectable when ITNIO cannot be asked (or dropped it).
                label = f"{task.line_name or 'current line'} (line {task.line_id}, not checked)"
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
            raise forms.ValidationError("At least one robot.")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        app = cleaned.get("app") or (self.instance.app if self.instance.pk else None)
        line = cleaned.get("line") or ""
        app_pk, _, line_id = line.partition(":")
        if line and app is not None and app_pk != str(app.pk):
            self.add_error("line", f"This line belongs to another app than {app.app_id}.")
        elif line:
            self.instance.line_id = int(line_id)
            label = dict(
                (value, text)
                for _group, options in self.fields["line"].choices[1:]
                for value, text in options
            ).get(line, "")
            self.instance.line_name = label.rsplit(" (line ", 1)[0][:100]
        if cleaned.get("mode") == AiTask.Mode.AUTO and not cleaned.get("start_at"):
            self.add_error("start_at", "The automatic mode needs a start time.")
        start, end = cleaned.get("daily_start"), cleaned.get("daily_end")
        if start and end and start >= end:
            self.add_error("daily_end", "The daily window must end after it starts.")
        if cleaned.get("redial") and not cleaned.get("redial_conditions"):
            self.add_error("redial_conditions", "Tick at least one condition to redial on.")
        if not cleaned.get("redial"):
            cleaned["redial_conditions"] = []
        end_at, start_at = cleaned.get("end_at"), cleaned.get("start_at")
        if end_at and start_at and end_at <= start_at:
            self.add_error("end_at", "The end time must be after the start time.")
        return cleaned
