"""The admin's navigation by task: the index and the sidebar list the pages in the groups staff
work in (Setup, Campaigns, Calls, AI, Operations, Users), not Django's apps in alphabetical
order. Which page a user sees still follows their permissions (Django's own app list); the
internal tables have no permission for Viewers and Operators (campaigns/roles.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Page:
    """A page that is not a model's list (the calls dashboard): shown when `perm` is held."""

    key: str
    name: Any
    url_name: str
    perm: str


#: group key, its name, and its pages in order: "app_label.ModelName" or a Page.
TASK_GROUPS: list[tuple[str, Any, list[str | Page]]] = [
    (
        "setup",
        _("Setup"),
        [
            "campaigns.ItnioAccount",
            "campaigns.ItnioApp",
            "campaigns.AppRate",
            "campaigns.VoiceFile",
            "sipphones.SipGroup",
            "campaigns.ApiToken",
            "campaigns.WebhookSubscription",
        ],
    ),
    (
        "campaigns",
        _("Campaigns"),
        [
            "campaigns.Campaign",
            "campaigns.ContactList",
            "campaigns.Contact",
            "campaigns.ContactImport",
            "campaigns.SuppressionEntry",
            "campaigns.SuppressionList",
            "campaigns.Callee",
            "campaigns.CalleeImport",
        ],
    ),
    (
        "calls",
        _("Calls"),
        [
            "campaigns.Call",
            Page(
                "dashboard",
                _("Calls dashboard"),
                "admin:campaigns_call_dashboard",
                "campaigns.view_call",
            ),
            "campaigns.BillMismatch",
            "campaigns.ReportSubscription",
        ],
    ),
    ("ai", _("AI"), ["campaigns.AiTask", "campaigns.AiCustomer", "campaigns.AiCallRecord"]),
    (
        "operations",
        _("Operations"),
        [
            "campaigns.ApiRequestLog",
            "campaigns.PushEvent",
            "campaigns.ScheduledJobRun",
            "campaigns.Heartbeat",
            "django_tasks_database.DBTaskResult",
            "campaigns.ErasedNumber",
            "campaigns.WebhookMessage",
            "campaigns.WebhookDelivery",
        ],
    ),
    (
        "users",
        _("Users"),
        [
            "auth.User",
            "auth.Group",
            "axes.AccessAttempt",
            "axes.AccessLog",
            "axes.AccessFailureLog",
        ],
    ),
]

#: Where a registered model that no group names goes (a model added by later work).
FALLBACK_GROUP = "operations"


def group_app_list(app_list: list[dict[str, Any]], user: Any) -> list[dict[str, Any]]:
    """Django's app list (`AdminSite.get_app_list`) regrouped by task; empty groups are left
    out, so a user sees only the groups they have a page in."""
    models = {
        f"{app['app_label']}.{model['object_name']}": model
        for app in app_list
        for model in app["models"]
    }
    placed: set[str] = set()
    groups = []
    for key, name, pages in TASK_GROUPS:
        entries = []
        for page in pages:
            if isinstance(page, Page):
                if user.has_perm(page.perm):
                    entries.append(_page_entry(page))
            elif page in models:
                entries.append(models[page])
                placed.add(page)
        groups.append(_group(key, name, entries))
    leftovers = [model for label, model in models.items() if label not in placed]
    if leftovers:
        fallback = next(g for g in groups if g["app_label"] == FALLBACK_GROUP)
        fallback["models"].extend(sorted(leftovers, key=lambda m: str(m["name"])))
    return [group for group in groups if group["models"]]


def _group(key: str, name: Any, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "app_label": key,
        # The group's heading points at its box on the index (no page of its own); never a
        # prefix of a page's path, so the sidebar does not mark a group as the current one.
        "app_url": reverse("admin:index") + f"#group-{key}",
        "has_module_perms": True,
        "models": entries,
        "task_group": True,
    }


def _page_entry(page: Page) -> dict[str, Any]:
    return {
        "name": page.name,
        "object_name": page.key,
        "perms": {"view": True},
        "admin_url": reverse(page.url_name),
        "add_url": None,
        "view_only": True,
    }
