"""Two-person approval of a launch (off unless LAUNCH_APPROVAL_ABOVE_CALLEES is set).

Above the threshold a launch (admin, command, API) does not start the campaign: it files a
request bound to a snapshot of the plan. A second person with `campaigns.approve_launch`, never
the requester, approves it (which launches the campaign as approved) or rejects it with a
reason. Any change to what the snapshot holds (audience, voice files, app, budget) voids the
request: the campaign's next launch compares the plan it computes under the campaign's lock
with the approved snapshot, so only the plan that was approved can start. The API has no way
to approve: an approval needs a person, in the browser or with `approve_campaign --as`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from campaigns.models import Campaign, LaunchApproval
from campaigns.services.actors import Actor, PermissionDeniedError

APPROVE = "campaigns.approve_launch"
VOIDED = gettext_noop("The plan changed after the request (%(what)s).")


class ApprovalError(ValueError):
    """A decision that cannot be taken (nothing waits, the plan changed, the wrong person)."""


def approval_required(plan: Any) -> bool:
    """Above LAUNCH_APPROVAL_ABOVE_CALLEES callees, or a worst case above
    LAUNCH_APPROVAL_ABOVE_COST ("100.00 USD") in that currency."""
    limit = settings.LAUNCH_APPROVAL_ABOVE_CALLEES
    if limit is not None and plan.preflight.will_call > limit:
        return True
    cost = cost_limit()
    return cost is not None and plan.estimate.worst.get(cost[1], Decimal(0)) > cost[0]


def cost_limit() -> tuple[Decimal, str] | None:
    text = (settings.LAUNCH_APPROVAL_ABOVE_COST or "").split()
    if not text:
        return None
    return Decimal(text[0]), text[1].upper()


def plan_snapshot(plan: Any) -> dict[str, Any]:
    """What an approval approves: plain JSON values, compared as a whole."""
    campaign = plan.campaign
    variants = [
        f"{_file(v.voice_file)}: {v.percent} %"
        for v in campaign.variants.select_related("voice_file").order_by("position")
    ]
    return {
        "audience": plan.preflight.will_call,
        "app": campaign.app.app_id,
        "voice_file": _file(campaign.voice_file) if campaign.voice_file_id else None,
        "variants": ", ".join(variants) or None,
        "budget": _budget(campaign),
        "worst_case": ", ".join(
            f"{amount} {currency}" for currency, amount in sorted(plan.estimate.worst.items())
        )
        or None,
    }


def _file(voice_file: Any) -> str:
    return f"{voice_file.file_name} (#{voice_file.pk})"


def _budget(campaign: Campaign) -> str | None:
    amount = getattr(campaign, "budget_amount", None)
    return None if amount is None else f"{amount} {campaign.budget_currency}"


def _changed(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(key for key in new if old.get(key) != new[key]) or "?"


def approval_gate(campaign: Campaign, plan: Any, actor: Actor) -> LaunchApproval | None:
    """Called by the launch under the campaign's lock. None: launch now (no approval needed,
    or the approved snapshot is this plan, now used). Otherwise the request that waits."""
    if not approval_required(plan):
        return None
    snapshot = plan_snapshot(plan)
    now = timezone.now()
    open_ones = list(
        campaign.approvals.filter(
            state__in=[LaunchApproval.State.PENDING, LaunchApproval.State.APPROVED]
        )
    )
    for request in open_ones:
        if request.snapshot != snapshot:
            request.state = LaunchApproval.State.VOID
            request.decided_at, request.decided_by = now, "portal"
            request.reason = VOIDED % {"what": _changed(request.snapshot, snapshot)}
            request.save(update_fields=["state", "decided_at", "decided_by", "reason"])
        elif request.state == LaunchApproval.State.APPROVED:
            request.state = LaunchApproval.State.USED
            request.save(update_fields=["state"])
            return None
        else:
            return request  # the same plan is already waiting
    return LaunchApproval.objects.create(
        campaign=campaign,
        snapshot=snapshot,
        requested_by=actor.label[:150],
        requested_by_user=actor.user,
    )


def pending_approvals() -> QuerySet[LaunchApproval]:
    """Oldest first: the requests an approver sees on the home page."""
    return (
        LaunchApproval.objects.filter(state=LaunchApproval.State.PENDING)
        .select_related("campaign")
        .order_by("requested_at")
    )


def may_decide(actor: Actor, request: LaunchApproval) -> bool:
    user = actor.user
    if user is None or not user.has_perm(APPROVE):
        return False
    if request.requested_by_user_id is not None:
        return request.requested_by_user_id != user.pk
    return request.requested_by != actor.label


def approval_decide(
    *, campaign: Campaign, actor: Actor, approve: bool, reason: str = ""
) -> LaunchApproval:
    """Approve (and launch) or reject the campaign's waiting request."""
    from campaigns.services.campaign_plan import campaign_plan
    from campaigns.services.campaigns import campaign_launch

    with transaction.atomic():
        request = (
            campaign.approvals.select_for_update()
            .filter(state=LaunchApproval.State.PENDING)
            .first()
        )
        if request is None:
            raise ApprovalError(
                gettext("No launch of %(name)s is waiting for approval.") % {"name": campaign.name}
            )
        if not may_decide(actor, request):
            raise PermissionDeniedError(_refusal(actor, request))
        if not approve and not reason.strip():
            raise ApprovalError(gettext("Say why the launch is rejected."))
        current = plan_snapshot(campaign_plan(campaign))
        if approve and current != request.snapshot:
            request.state = LaunchApproval.State.VOID
            request.reason = VOIDED % {"what": _changed(request.snapshot, current)}
        else:
            request.state = (
                LaunchApproval.State.APPROVED if approve else LaunchApproval.State.REJECTED
            )
            request.reason = reason.strip()
        request.decided_by, request.decided_at = actor.label[:150], timezone.now()
        request.save(update_fields=["state", "reason", "decided_by", "decided_at"])
        _history(actor, campaign, request)
    if request.state == LaunchApproval.State.VOID:
        raise ApprovalError(
            gettext("%(reason)s Nothing was approved: the campaign has to be launched again.")
            % {"reason": gettext(VOIDED) % {"what": _changed(request.snapshot, current)}}
        )
    if approve:
        campaign_launch(campaign=campaign, actor=actor)
        request.refresh_from_db()
    return request


def _refusal(actor: Actor, request: LaunchApproval) -> str:
    if actor.user is not None and actor.user.has_perm(APPROVE):
        return gettext("%(user)s asked for this launch: a second person has to approve it.") % {
            "user": request.requested_by
        }
    return gettext("%(user)s may not approve launches (the permission approve_launch).") % {
        "user": actor.label
    }


def _history(actor: Actor, campaign: Campaign, request: LaunchApproval) -> None:
    """The decision in the campaign's admin history, by the approver."""
    if actor.user is None:
        return
    words = {
        LaunchApproval.State.APPROVED: gettext_noop("Launch approved (requested by %(user)s)"),
        LaunchApproval.State.REJECTED: gettext_noop("Launch rejected (requested by %(user)s)"),
        LaunchApproval.State.VOID: gettext_noop("Launch approval void: the plan changed"),
    }
    message = words[request.state] % {"user": request.requested_by}
    if request.reason:
        message = f"{message}: {request.reason}"
    LogEntry.objects.log_actions(
        user_id=actor.user.pk,
        queryset=[campaign],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )
