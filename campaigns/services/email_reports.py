"""E-mail reports: each user's daily or weekly report of calls (UTC days, the dashboard's own
figures from reports.call_figures, its CSV attached), sent by the scheduler at the user's hour;
and the e-mail a campaign's creator and subscribers get when it pauses or completes.

A report is claimed (its period written) before it is sent, so two schedulers never send one
twice; a send that fails gives the claim back and is tried again at the next run."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from campaigns.formatting import count, money
from campaigns.models import Campaign, ReportSubscription
from campaigns.services.reports import CallSlice, call_figures, figures_csv, stat_totals

logger = logging.getLogger(__name__)


def report_period(frequency: str, today: date) -> tuple[date, date]:
    """The UTC days a report sent `today` covers: yesterday, or last Monday to Sunday."""
    if frequency == ReportSubscription.Frequency.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    yesterday = today - timedelta(days=1)
    return yesterday, yesterday


def reports_send_due(*, now: datetime | None = None) -> int:
    """Send every report whose period is over and whose hour has come (a period missed while
    the scheduler was down is sent at its next run). Returns how many were sent."""
    now = now or timezone.now()
    utc_now = now.astimezone(UTC)
    today = utc_now.date()
    sent = 0
    subscriptions = (
        ReportSubscription.objects.filter(active=True, user__is_active=True)
        .exclude(user__email="")
        .select_related("user", "app", "campaign")
        .order_by("pk")
    )
    for sub in subscriptions:
        since, until = report_period(sub.frequency, today)
        if sub.last_period is not None and sub.last_period >= since:
            continue
        if today == until + timedelta(days=1) and utc_now.hour < sub.hour:
            continue
        claimed = ReportSubscription.objects.filter(pk=sub.pk, last_period=sub.last_period).update(
            last_period=since
        )
        if not claimed:
            continue  # another scheduler took it
        try:
            report_message(sub, since, until).send()
        except Exception:
            logger.exception("E-mail report %s could not be sent", sub.pk)
            ReportSubscription.objects.filter(pk=sub.pk, last_period=since).update(
                last_period=sub.last_period
            )
            continue
        sent += 1
    return sent


def _scope(sub: ReportSubscription) -> str:
    if sub.campaign_id:
        return gettext("campaign %(name)s") % {"name": sub.campaign.name}
    if sub.app_id:
        return gettext("app %(app)s") % {"app": sub.app.app_id}
    return gettext("every app")


def summary_lines(figures: dict[str, Any]) -> list[str]:
    """The dashboard's summary as lines: counts grouped, money with its currency."""
    lines = []
    for name, value in figures["summary"].items():
        if name.startswith("Cost "):
            currency = name.removeprefix("Cost ")
            lines.append(f"{gettext('Cost')}: {money(value, currency)}")
        elif value is None:
            lines.append(f"{gettext(name)}: —")
        elif isinstance(value, int):
            lines.append(f"{gettext(name)}: {count(value)}")
        else:
            lines.append(f"{gettext(name)}: {value}")
    return lines


def _campaign_lines(slc: CallSlice) -> list[str]:
    rows = stat_totals(slc, ("campaign_id", "answered", "final", "currency"))
    totals: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"calls": 0, "answered": 0, "final": 0, "cost": defaultdict(float)}
    )
    for r in rows:
        if r["campaign_id"] is None:
            continue
        t = totals[r["campaign_id"]]
        t["calls"] += r["calls"]
        t["final"] += r["calls"] if r["final"] else 0
        t["answered"] += r["calls"] if r["answered"] else 0
        if r["priced"]:
            t["cost"][r["currency"] or "USD"] += float(r["cost_sum"] or 0)
    names = dict(Campaign.objects.filter(pk__in=totals).values_list("pk", "name"))
    lines = []
    for pk, t in sorted(totals.items(), key=lambda item: names.get(item[0], "")):
        asr = f"{100 * t['answered'] / t['final']:.1f} %" if t["final"] else "—"
        cost = ", ".join(money(v, c) for c, v in sorted(t["cost"].items())) or "—"
        lines.append(
            gettext("%(name)s: %(calls)s calls, ASR %(asr)s, cost %(cost)s")
            % {"name": names.get(pk, pk), "calls": count(t["calls"]), "asr": asr, "cost": cost}
        )
    return lines


def report_message(sub: ReportSubscription, since: date, until: date) -> EmailMessage:
    slc = CallSlice(app_id=sub.app_id, campaign_id=sub.campaign_id, since=since, until=until)
    with translation.override(settings.LANGUAGE_CODE):
        figures = call_figures(slc)
        days = since.isoformat() if since == until else f"{since.isoformat()} – {until.isoformat()}"
        subject = gettext("ITNIO Portal report, %(days)s (UTC): %(scope)s") % {
            "days": days,
            "scope": _scope(sub),
        }
        regions = figures["charts"]["regions"]
        body = [subject, "", *summary_lines(figures), ""]
        if regions["labels"]:
            body.append(gettext("Top regions (calls):"))
            body += [
                f"  {label}: {count(n)}"
                for label, n in zip(
                    regions["labels"], regions["series"][gettext("Calls")], strict=True
                )
            ]
            body.append("")
        campaigns = _campaign_lines(slc)
        if campaigns:
            body += [gettext("Per campaign:"), *(f"  {line}" for line in campaigns), ""]
        body.append(gettext("The figures are attached as CSV, as the dashboard exports them."))
    message = EmailMessage(subject, "\n".join(body), None, [sub.user.email])
    message.attach(f"calls-{since.isoformat()}-{until.isoformat()}.csv", figures_csv(figures))
    return message


def campaign_recipients(campaign: Campaign) -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    chosen = users.filter(
        Q(username=campaign.created_by)
        | Q(report_subscriptions__campaign=campaign, report_subscriptions__active=True)
    )
    return sorted(set(chosen.values_list("email", flat=True)))


def campaign_state_mail(campaign_id: int) -> int:
    """The campaign's pause or completion, with its figures, to its creator and subscribers."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None or campaign.state not in (
        Campaign.State.PAUSED,
        Campaign.State.COMPLETED,
    ):
        return 0
    recipients = campaign_recipients(campaign)
    if not recipients:
        return 0
    figures = call_figures(CallSlice(campaign_id=campaign.pk))
    with translation.override(settings.LANGUAGE_CODE):
        subject = gettext("Campaign %(name)s: %(state)s") % {
            "name": campaign.name,
            "state": campaign.get_state_display().lower(),
        }
        body = [
            subject,
            campaign.state_reason,
            "",
            *summary_lines(figures),
            "",
            f"{settings.PORTAL_PUBLIC_URL.rstrip('/')}/admin/campaigns/campaign/{campaign.pk}/"
            "change/",
        ]
    EmailMessage(subject, "\n".join(body), None, recipients).send()
    return len(recipients)
