"""The campaign's approval page: a launch that waits for a second person, the plan it was asked
for beside the plan as it is now, Approve (which starts it) and Reject with a reason. A mixin of
CampaignAdmin (campaigns.py), which registers its URL."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy

from campaigns.admin.access import requires
from campaigns.formatting import count
from campaigns.models import Campaign, LaunchApproval
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.approvals import (
    APPROVE,
    ApprovalError,
    approval_decide,
    may_decide,
    plan_snapshot,
)
from campaigns.services.campaign_plan import campaign_plan
from campaigns.services.campaigns import CampaignError

SNAPSHOT_LABELS = {
    "audience": gettext_lazy("Will be called"),
    "app": gettext_lazy("App"),
    "voice_file": gettext_lazy("Voice file"),
    "variants": gettext_lazy("A/B variants"),
    "budget": gettext_lazy("Budget"),
    "worst_case": gettext_lazy("Worst case"),
}


class ApprovalInline(admin.TabularInline):
    """The campaign's approval requests, newest first (read-only: decided on their page)."""

    model = LaunchApproval
    fields = ["state", "requested_by", "requested_at", "decided_by", "decided_at", "reason"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = gettext_lazy("launch approvals")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def approval_inlines(campaign: Campaign) -> list[Any]:
    """The approvals table, on the pages of campaigns that have had a request."""
    return [ApprovalInline] if campaign.approvals.exists() else []


class ApprovalViews:
    """The approval page's view (self is the CampaignAdmin)."""

    def approval_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/approval/",
                wrap(self.approval_view),
                name="campaigns_campaign_approval",
            )
        ]

    def approval_context(self, request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
        waiting = campaign.approvals.filter(state=LaunchApproval.State.PENDING).first()
        return {
            "waiting_approval": waiting,
            "can_approve": waiting is not None and self.has_approve_launch_permission(request),
        }

    def has_approve_launch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE)

    @requires("approve_launch")
    def approval_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = get_object_or_404(
            Campaign.objects.select_related("app__account", "voice_file"), pk=pk
        )
        waiting = campaign.approvals.filter(state=LaunchApproval.State.PENDING).first()
        actor = Actor.from_user(request.user)
        if request.method == "POST" and waiting is not None:
            decision = request.POST.get("decision")
            if decision in ("approve", "reject") and not _second_factor(request):
                self.message_user(
                    request,
                    gettext(
                        "Deciding on a launch needs a session signed in with your second factor "
                        "(two-factor authentication)."
                    ),
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.path)
            if decision in ("approve", "reject"):
                try:
                    done = approval_decide(
                        campaign=campaign,
                        actor=actor,
                        approve=decision == "approve",
                        reason=request.POST.get("reason", ""),
                    )
                except (ApprovalError, CampaignError, PermissionDeniedError) as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                    return HttpResponseRedirect(request.path)
                campaign.refresh_from_db()
                self.message_user(
                    request,
                    gettext("%(name)s: %(decision)s; the campaign is %(state)s.")
                    % {
                        "name": campaign.name,
                        "decision": done.get_state_display(),
                        "state": campaign.get_state_display().lower(),
                    },
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[pk]))
        plan = campaign_plan(campaign)
        now = plan_snapshot(plan)
        rows = [
            (
                SNAPSHOT_LABELS.get(key, key),
                _shown(waiting.snapshot.get(key)) if waiting else "",
                _shown(value),
                bool(waiting) and waiting.snapshot.get(key) != value,
            )
            for key, value in now.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Approve the launch of %(name)s?") % {"name": campaign.name},
            "campaign": campaign,
            "waiting": waiting,
            "rows": rows,
            "plan": plan,
            "may_decide": waiting is not None and may_decide(actor, waiting),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/approval.html", context)


def _second_factor(request: HttpRequest) -> bool:
    """With two-factor login on, only a session that gave its code decides (never a password
    alone); the API has no way to decide at all."""
    from django.conf import settings

    from campaigns.services.two_factor import second_factor_passed

    return settings.TWO_FACTOR_REQUIRED == "false" or second_factor_passed(request.user)


def _shown(value: Any) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, int):
        return count(value)
    return str(value)
