"""A campaign's launch plan (what a launch would do) and its progress (what it has done)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.formatting import count as count_text
from campaigns.models import Callee, Campaign, DispatchBatch, ItnioApp, VoiceFile
from campaigns.services.audience import Preflight, audience_preflight
from campaigns.services.budgets import budget_text, cost_currency
from campaigns.services.campaign_state import (
    callee_counts,
    state_display,
    stored_state_counts,
    terminal_count,
)
from campaigns.services.estimate import Estimate, campaign_estimate, plain
from campaigns.services.pacing import duration_text, expected_duration
from campaigns.services.retries import attempt_figures, plan_rows
from campaigns.services.variants import variant_problems
from campaigns.services.windows import waiting_for_window, window_minutes, window_text


# ---------------------------------------------------------------------------
# Plans and progress
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    campaign: Campaign
    callees: int
    requests: int
    per_request: int
    staged: int
    problems: list[str]
    preflight: Preflight = field(default_factory=Preflight)
    #: The cost estimate (estimate.py): worst case and expected per currency, unknown rates.
    estimate: Estimate = field(default_factory=Estimate)

    def lines(self) -> list[str]:
        """The plan as the command line prints it: labels padded to one column."""
        # 17 characters in English; the page shows rows() as a table (aligned in any script).
        return [f"{label:<16} {value}" for label, value in self.rows()]

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) per line of the plan, in the active language."""
        c = self.campaign
        window = window_text(c)
        rows = [
            (gettext("Campaign:"), c.name),
            (
                gettext("Callees:"),
                gettext("%(count)s pending") % {"count": count_text(self.callees)},
            ),
            (
                gettext("Requests:"),
                gettext("%(count)s sendGroup requests of up to %(size)s")
                % {"count": count_text(self.requests), "size": self.per_request},
            ),
            (gettext("App:"), f"{c.app.app_id} ({c.app.account.name})"),
            (
                gettext("Voice file:"),
                gettext("%(file)s (ITNIO file ID %(file_id)s)")
                % {"file": c.voice_file.file_name, "file_id": c.voice_file.remote_file_id or "—"},
            ),
            (gettext("Display number:"), c.display_num or gettext("(ITNIO default)")),
            (gettext("Loop count:"), str(c.loop_count or 1)),
            (
                gettext("Start:"),
                c.scheduled_start.isoformat() if c.scheduled_start else gettext("now"),
            ),
            (gettext("Calling window:"), window),
            (
                gettext("Rate:"),
                gettext("%(rate)s numbers/min") % {"rate": count_text(c.rate_per_minute)}
                if c.rate_per_minute
                else gettext("no limit"),
            ),
            (gettext("Expected duration:"), duration_text(plan_duration(self), c.rate_per_minute)),
            *plan_rows(c),
            (gettext("Audience:"), count_text(self.preflight.audience)),
            (gettext("Will be called:"), count_text(self.preflight.will_call)),
            *(
                (gettext("Skipped:"), f"{count_text(n)} {label}")
                for _key, label, n in self.preflight.rows()
            ),
            *self.estimate.rows(),
        ]
        if c.budget_amount is not None:
            rows.append((gettext("Budget:"), budget_text(c)))
        return rows


def plan_duration(plan: Plan) -> timedelta | None:
    """The calling time of the plan's audience at the campaign's rate, within its window."""
    c = plan.campaign
    return expected_duration(
        callees=plan.preflight.will_call,
        rate=c.rate_per_minute,
        window_minutes=window_minutes(c),
        days_a_week=bin(c.window_days & 127).count("1"),
    )


def campaign_plan(campaign: Campaign) -> Plan:
    """What launching would do, and what stops it."""
    counts = stored_state_counts(campaign)
    pending = counts.get(Callee.State.PENDING, 0)
    preflight = audience_preflight(campaign)
    per = settings.ITNIO_SEND_GROUP_MAX
    problems = []
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.SCHEDULED):
        problems.append(
            gettext("The campaign is %(state)s; only a draft can be launched.")
            % {"state": campaign.get_state_display().lower()}
        )
    if campaign.app.kind != ItnioApp.Kind.VOICE or not campaign.app.active:
        problems.append(
            gettext("App %(app_id)s is not an active voice app.") % {"app_id": campaign.app.app_id}
        )
    if campaign.voice_file.state != VoiceFile.State.UPLOADED:
        problems.append(
            gettext("Voice file %(file)s is not uploaded to ITNIO yet.")
            % {"file": campaign.voice_file.file_name}
        )
    elif campaign.voice_file.account_id != campaign.app.account_id:
        problems.append(gettext("The voice file belongs to another ITNIO account than the app."))
    problems += variant_problems(campaign)
    if preflight.audience == 0:
        problems.append(gettext("No pending callees: import a list (and confirm it) first."))
    elif preflight.will_call == 0:
        problems.append(gettext("Nobody to call: every number of the audience is skipped."))
    estimate = campaign_estimate(campaign)
    problems += budget_problems(campaign, estimate)
    return Plan(
        campaign=campaign,
        estimate=estimate,
        callees=pending,
        requests=math.ceil(preflight.will_call / per) if preflight.will_call else 0,
        per_request=per,
        staged=counts.get(Callee.State.STAGED, 0),
        problems=problems,
        preflight=preflight,
    )


def budget_problems(campaign: Campaign, estimate: Estimate) -> list[str]:
    """A budgeted campaign calls only numbers whose rate it knows in the budget's currency; so
    does one without a budget on an app whose daily cap counts it (budgets.py)."""
    if campaign.budget_amount is None:
        return _cap_problems(campaign, estimate)
    other = sum(n for c, n in estimate.callees.items() if c != campaign.budget_currency)
    problems = []
    if estimate.unknown:
        problems.append(
            gettext(
                "%(n)s callees have no known rate (%(prefixes)s): a campaign with a budget "
                "calls only numbers whose rate the portal knows. Import a rate card for them."
            )
            % {"n": f"{estimate.unknown:,}", "prefixes": estimate.prefixes_text()}
        )
    if other:
        problems.append(
            gettext(
                "%(n)s callees have a rate in another currency than the budget's %(currency)s; "
                "costs in other currencies are never netted against it."
            )
            % {"n": f"{other:,}", "currency": campaign.budget_currency}
        )
    return problems


def _cap_problems(campaign: Campaign, estimate: Estimate) -> list[str]:
    app = campaign.app
    currency = cost_currency(campaign)
    if app.daily_cap_amount is None or app.daily_cap_currency != currency:
        return []
    missing = estimate.unknown + sum(n for c, n in estimate.callees.items() if c != currency)
    if not missing:
        return []
    return [
        gettext(
            "%(n)s callees have no known rate in %(currency)s: the app's daily cap of %(cap)s "
            "counts every call of its campaigns, so the portal calls only numbers whose rate "
            "it knows. Import a rate card for them."
        )
        % {
            "n": f"{missing:,}",
            "currency": currency,
            "cap": f"{plain(app.daily_cap_amount)} {currency}",
        }
    ]


@dataclass
class Progress:
    """A campaign's callees by the state table (campaign_state.CALLEE_STATES); `done` counts
    the terminal ones, `percent` is done ÷ total, `waiting` the unknown callees that wait for
    reconciliation."""

    counts: dict[str, int]
    total: int
    done: int
    percent: float
    rate_per_minute: float | None
    eta: datetime | None
    batches: dict[str, int] = field(default_factory=dict)
    state_display: str = ""
    #: Callees reached and attempts, counted separately (retries.attempt_figures).
    attempts: dict[str, int] = field(default_factory=dict)

    @property
    def waiting(self) -> int:
        return self.counts.get(Callee.State.UNKNOWN, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "total": self.total,
            "done": self.done,
            "percent": round(self.percent, 1),
            "rate_per_minute": self.rate_per_minute,
            "eta": self.eta.isoformat() if self.eta else None,
            "batches": self.batches,
            "waiting_for_reconciliation": self.waiting,
            "attempts": self.attempts,
        }


def campaign_progress(campaign: Campaign, *, now: datetime | None = None) -> Progress:
    now = now or timezone.now()
    counts = callee_counts(campaign, now=now)
    total = sum(counts.values())
    done = terminal_count(counts)
    batches = dict(
        DispatchBatch.objects.filter(campaign=campaign)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    # Throughput over the last five minutes of finished requests gives the estimate.
    since = now - timedelta(minutes=5)
    recent = DispatchBatch.objects.filter(
        campaign=campaign, request_finished_at__gte=since
    ).aggregate(n=Count("id"), first=Max("request_finished_at"))
    recent_sizes = sum(
        DispatchBatch.objects.filter(campaign=campaign, request_finished_at__gte=since).values_list(
            "size", flat=True
        )
    )
    rate = eta = None
    if recent["n"]:
        first_started = (
            DispatchBatch.objects.filter(campaign=campaign, request_finished_at__gte=since)
            .order_by("request_started_at")
            .values_list("request_started_at", flat=True)
            .first()
        )
        minutes = max((now - first_started).total_seconds() / 60, 1 / 60) if first_started else None
        if minutes:
            rate = round(recent_sizes / minutes, 1)
            remaining = counts[Callee.State.PENDING] + counts[Callee.State.SENDING]
            if rate and campaign.state == Campaign.State.RUNNING and remaining:
                eta = _finish(campaign, now, remaining, rate)
    return Progress(
        counts=counts,
        total=total,
        done=done,
        percent=(100.0 * done / total) if total else 0.0,
        rate_per_minute=rate,
        eta=eta,
        batches=batches,
        state_display=state_display(campaign, counts[Callee.State.UNKNOWN]),
        attempts=attempt_figures(campaign),
    )


def _finish(campaign: Campaign, now: datetime, remaining: int, rate: float) -> datetime:
    """At the recent rate: the callees whose window is open from now, each zone group waiting
    for its window from its next opening (after the groups before it); a group whose window
    does not open within the look-ahead is left out."""
    groups = waiting_for_window(campaign, now)
    open_now = max(remaining - sum(group.count for group in groups), 0)
    finish = now + timedelta(minutes=open_now / rate)
    for group in groups:  # by next opening
        if group.next_open is not None:
            finish = max(finish, group.next_open) + timedelta(minutes=group.count / rate)
    return finish
