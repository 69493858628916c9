"""The operations home (the admin index) for the user asking: the parts of
campaigns/services/home.py their permissions let them see, what needs attention, and the quick
actions they may take, each checked exactly as its page checks it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns.formatting import count as format_count
from campaigns.models import PushEvent
from campaigns.services import home
from campaigns.services.approvals import pending_approvals
from campaigns.templatetags.portal_status import background_status, overdue_job_warnings


@dataclass(frozen=True)
class QuickAction:
    key: str
    label: Any
    url_name: str
    model: str  # "app_label.ModelName"
    view: str  # the ModelAdmin view (its @requires declaration), or "add"


QUICK_ACTIONS = [
    QuickAction(
        "send-tts",
        gettext_lazy("Send TTS call"),
        "admin:campaigns_call_send_tts",
        "campaigns.Call",
        "send_tts_view",
    ),
    QuickAction(
        "new-campaign",
        gettext_lazy("New campaign"),
        "admin:campaigns_campaign_add",
        "campaigns.Campaign",
        "add",
    ),
    QuickAction(
        "import-callees",
        gettext_lazy("Import callees"),
        "admin:campaigns_callee_import",
        "campaigns.Callee",
        "import_action",
    ),
    QuickAction(
        "upload-voice-file",
        gettext_lazy("Upload voice file"),
        "admin:campaigns_voicefile_add",
        "campaigns.VoiceFile",
        "add",
    ),
]

BOARD_TITLES = {
    "running": gettext_lazy("Running"),
    "scheduled": gettext_lazy("Scheduled"),
    "paused": gettext_lazy("Paused"),
    "finished": gettext_lazy("Recently finished"),
}


def _model_admin(label: str) -> Any:
    return admin.site._registry.get(apps.get_model(label))


def quick_actions(request: HttpRequest) -> list[dict[str, Any]]:
    """The quick actions this user may take: the same has_*_permission checks as their pages."""
    allowed = []
    for action in QUICK_ACTIONS:
        model_admin = _model_admin(action.model)
        if model_admin is None:
            continue
        if action.view == "add":
            may = model_admin.has_add_permission(request)
        else:
            access = getattr(type(model_admin), action.view).portal_access
            may = model_admin.has_permissions(request, access.permissions)
        if may:
            allowed.append(
                {"key": action.key, "label": action.label, "url": reverse(action.url_name)}
            )
    return allowed


def _list_url(model: str, query: str = "") -> str:
    opts = apps.get_model(model)._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{query}" if query else url


def _count(capped: home.Capped) -> str:
    return f"{format_count(capped.n)}+" if capped.more else format_count(capped.n)


def attention(
    request: HttpRequest, status: list[dict[str, Any]], overdue: list[str]
) -> list[dict[str, Any]]:
    """What needs someone: one line each, linking to the list that shows it (when viewable);
    `status` and `overdue`: the background work's rows and late periodic jobs."""
    user = request.user
    items: list[dict[str, Any]] = []

    def add(key: str, text: str, url: str = "") -> None:
        items.append({"key": key, "text": text, "url": url})

    if user.has_perm("campaigns.view_callee"):
        for campaign, n in home.waiting_for_reconciliation()[: home.BOARD_LIMIT]:
            add(
                "reconcile",
                ngettext(
                    "%(campaign)s: %(n)s callee waits for reconciliation",
                    "%(campaign)s: %(n)s callees wait for reconciliation",
                    n,
                )
                % {"campaign": campaign.name, "n": format_count(n)},
                reverse("admin:campaigns_campaign_change", args=[campaign.pk]),
            )
    if user.has_perm("campaigns.approve_launch"):
        for request in pending_approvals()[: home.BOARD_LIMIT]:
            add(
                "approval",
                _("%(campaign)s: launch waits for approval (asked by %(user)s)")
                % {"campaign": request.campaign.name, "user": request.requested_by},
                reverse("admin:campaigns_campaign_approval", args=[request.campaign_id]),
            )
    if user.has_perm("campaigns.view_pushevent"):
        trouble = home.push_inbox_trouble()
        if trouble["failed"].n:
            add(
                "push-failed",
                ngettext(
                    "Push inbox: %(n)s entry failed",
                    "Push inbox: %(n)s entries failed",
                    trouble["failed"].n,
                )
                % {"n": _count(trouble["failed"])},
                _list_url("campaigns.PushEvent", f"state__exact={PushEvent.State.FAILED}"),
            )
        if trouble["late"].n:
            add(
                "push-pending",
                ngettext(
                    "Push inbox: %(n)s entry has waited over 5 minutes to be applied",
                    "Push inbox: %(n)s entries have waited over 5 minutes to be applied",
                    trouble["late"].n,
                )
                % {"n": _count(trouble["late"])},
                _list_url("campaigns.PushEvent", f"state__exact={PushEvent.State.PENDING}"),
            )
    if user.has_perm("campaigns.view_calleeimport"):
        waiting, n = home.imports_waiting()
        for row in waiting:
            add(
                "import-staged",
                _("Import %(file)s into %(campaign)s is waiting for confirmation")
                % {"file": row.original_name, "campaign": row.campaign.name},
                reverse("admin:campaigns_calleeimport_change", args=[row.pk]),
            )
        if n > len(waiting):
            add(
                "import-staged",
                ngettext(
                    "%(n)s more import waits for confirmation",
                    "%(n)s more imports wait for confirmation",
                    n - len(waiting),
                )
                % {"n": format_count(n - len(waiting))},
                _list_url("campaigns.CalleeImport", "state__exact=staged"),
            )
    if user.has_perm("campaigns.view_aitask"):
        refused = home.ai_tasks_refused()
        if refused:
            add(
                "ai-refused",
                ngettext(
                    "%(n)s AI task was refused by ITNIO",
                    "%(n)s AI tasks were refused by ITNIO",
                    refused,
                )
                % {"n": format_count(refused)},
                _list_url("campaigns.AiTask", "state__exact=failed"),
            )
    heartbeats = (
        _list_url("campaigns.Heartbeat") if user.has_perm("campaigns.view_heartbeat") else ""
    )
    for row in status:
        if row["ok"]:
            continue
        if row["last_seen_at"] is None:
            text = _("%(component)s has never been seen running") % {"component": row["label"]}
        else:
            text = _("%(component)s not seen for %(since)s") % {
                "component": row["label"],
                "since": timesince(row["last_seen_at"]),
            }
        add("not-seen", text, heartbeats)
    jobs = (
        _list_url("campaigns.ScheduledJobRun")
        if user.has_perm("campaigns.view_scheduledjobrun")
        else ""
    )
    for warning in overdue:
        add("overdue", warning, jobs)
    return items


def home_context(request: HttpRequest) -> dict[str, Any]:
    """What the index template shows this user."""
    user = request.user
    status = background_status()
    overdue = overdue_job_warnings(status)
    context: dict[str, Any] = {
        "background_rows": status,
        "overdue": overdue,
        "attention": attention(request, status, overdue),
        "quick_actions": quick_actions(request),
    }
    if user.has_perm("campaigns.view_itnioaccount"):
        context["balances"] = home.balances()
        context["low_balance"] = settings.PORTAL_LOW_BALANCE
    if user.has_perm("campaigns.view_campaign"):
        board = home.campaign_board()
        context["board"] = [
            {"key": key, "title": BOARD_TITLES[key], "rows": rows, "more": more}
            for key, (rows, more) in board.items()
        ]
    if user.has_perm("campaigns.view_call"):
        context["today"] = home.today_figures()
    return context
