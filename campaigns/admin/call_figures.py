"""The call list's filters and the daily figures, both ways: a list's filters as a slice of the
figures (for its counts and totals), and the figures block of the dashboard and the campaign page
with a link to the call list filtered the same way."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin.views.main import ERROR_FLAG, IGNORED_PARAMS, PAGE_VAR, SEARCH_VAR
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from campaigns.forms_reports import DashboardForm
from campaigns.services.reports import CallSlice, call_figures


def _utc_day(value: str) -> date | None:
    """The UTC day a date filter's boundary starts, or None when it is not a UTC midnight."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            return None
        moment = datetime.combine(day, datetime.min.time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    moment = moment.astimezone(UTC)
    if moment.time() != datetime.min.time():
        return None
    return moment.date()


def list_slice(params: QueryDict) -> CallSlice | None:
    """The call list's filters as a slice of the daily figures, or None if they cannot say.

    Only plain filters map (no search, no "has no date"); anything else is counted directly."""
    fields: dict[str, Any] = {}
    for key, values in params.lists():
        value = values[-1] if values else ""
        if key == SEARCH_VAR:
            if value.strip():
                return None
            continue
        if key in IGNORED_PARAMS or key in (PAGE_VAR, ERROR_FLAG):
            continue
        if len(values) != 1:
            return None
        if key in ("app__id__exact", "campaign__id__exact"):
            if not value.isdigit():
                return None
            fields[key.split("__")[0] + "_id"] = int(value)
        elif key in ("kind__exact", "state__exact"):
            fields[key.split("__")[0]] = value
        elif key == "answered":
            if value == "yes":
                fields["answered"] = True
            elif value == "no":
                fields.update(answered=False, final=True)
        elif key in ("placed_at__gte", "placed_at__lt"):
            day = _utc_day(value)
            if day is None:
                return None
            if key.endswith("gte"):
                fields["since"] = day
            else:
                fields["until"] = day - timedelta(days=1)
        else:
            return None
    return CallSlice(**fields)


# --- figures shown on the dashboard and the campaign page ----------------------------------------
def figures_context(slc: CallSlice) -> dict[str, Any]:
    """What templates/admin/campaigns/call/figures.html needs, for the dashboard and campaigns."""
    figures = call_figures(slc)
    return {"figures": figures, "summary": summary_display(figures), "calls_url": calls_url(slc)}


def summary_display(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, label in the page's language, value) per summary card; the keys stay English
    (the home page and the tests read them), the labels are translated here."""
    out = []
    for name, value in figures["summary"].items():
        if value is None:
            text = "–"
        elif name.startswith("Cost "):
            text = f"{value:,.4f}".rstrip("0").rstrip(".")
        elif isinstance(value, float):
            text = f"{value:,.1f}"
        else:
            text = f"{value:,}"
        if name.startswith("Cost "):
            label = _("Cost %(currency)s") % {"currency": name.removeprefix("Cost ")}
        else:
            label = _(name)
        out.append((name, label, text))
    return out


def describe_slice(slc: CallSlice, form: DashboardForm | None = None) -> str:
    data = form.cleaned_data if form is not None and form.is_bound else {}
    since = f"{slc.since:%Y-%m-%d}" if slc.since else ""
    until = f"{slc.until:%Y-%m-%d}" if slc.until else ""
    if slc.since and slc.until:
        span = _("%(since)s to %(until)s") % {"since": since, "until": until}
    elif slc.since:
        span = _("from %(since)s") % {"since": since}
    elif slc.until:
        span = _("until %(until)s") % {"until": until}
    else:
        span = _("every day")
    if data.get("app"):
        app = _("app %(app)s") % {"app": data["app"]}
    else:
        app = _("all voice apps")
    if data.get("campaign"):
        campaign = _("campaign “%(campaign)s”") % {"campaign": data["campaign"]}
    else:
        campaign = _("all calls")
    return _("Calls of %(span)s, %(app)s, %(campaign)s.") % {
        "span": span,
        "app": app,
        "campaign": campaign,
    }


def calls_url(slc: CallSlice) -> str:
    """The call list with the same filters (the list's date filter takes UTC midnights)."""
    params: dict[str, Any] = {}
    if slc.app_id:
        params["app__id__exact"] = slc.app_id
    if slc.campaign_id:
        params["campaign__id__exact"] = slc.campaign_id
    if slc.since:
        params["placed_at__gte"] = f"{slc.since:%Y-%m-%d} 00:00:00+00:00"
    if slc.until:
        params["placed_at__lt"] = f"{slc.until + timedelta(days=1):%Y-%m-%d} 00:00:00+00:00"
    return reverse("admin:campaigns_call_changelist") + ("?" + urlencode(params) if params else "")
