"""The dashboard's filter form: app, campaign and a date range of UTC days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import Campaign, ItnioApp
from campaigns.services.reports import CallSlice

DEFAULT_DAYS = 30


def today_utc():
    return datetime.now(UTC).date()


class DashboardForm(forms.Form):
    app = forms.ModelChoiceField(
        ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE).order_by("label"),
        required=False,
        label=gettext_lazy("App"),
        empty_label=gettext_lazy("All voice apps"),
    )
    campaign = forms.ModelChoiceField(
        Campaign.objects.order_by("-id"),
        required=False,
        label=gettext_lazy("Campaign"),
        empty_label=gettext_lazy("All calls"),
    )
    since = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # An empty query string is the default view (the last 30 days), not an invalid form.
        until = today_utc()
        kwargs.setdefault(
            "initial", {"since": until - timedelta(days=DEFAULT_DAYS - 1), "until": until}
        )
        super().__init__(data if data else None, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(_("“From” must not be after “To”."))
        longest = settings.DASHBOARD_MAX_DAYS
        if since and until and (until - since).days + 1 > longest:
            raise forms.ValidationError(
                _("Choose at most %(longest)s days (DASHBOARD_MAX_DAYS); this range has %(days)s.")
                % {"longest": longest, "days": (until - since).days + 1}
            )
        campaign, app = data.get("campaign"), data.get("app")
        if campaign and app and campaign.app_id != app.pk:
            self.add_error(
                "campaign",
                _("Campaign “%(campaign)s” belongs to another app.") % {"campaign": campaign},
            )
        return data

    def call_slice(self) -> CallSlice:
        """The slice the filters describe; the last 30 days when no range was given."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        until = data.get("until")
        since = data.get("since")
        if since is None and until is None and data.get("campaign") is None:
            until = today_utc()
            since = until - timedelta(days=DEFAULT_DAYS - 1)
        return CallSlice(
            app_id=data["app"].pk if data.get("app") else None,
            campaign_id=data["campaign"].pk if data.get("campaign") else None,
            since=since,
            until=until,
        )
