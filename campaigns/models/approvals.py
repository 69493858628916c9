"""Two-person approval of a launch: a request bound to a snapshot of the plan it approves."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class LaunchApproval(models.Model):
    """A launch that waits for a second person. It approves exactly the plan in `snapshot`
    (audience, voice files, budget, worst case): a launch of any other plan voids it."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        VOID = "void", _("Void (the plan changed)")
        USED = "used", _("Approved and launched")

    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.CASCADE,
        related_name="approvals",
        verbose_name=_("campaign"),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    snapshot = models.JSONField(_("plan approved"), default=dict)
    requested_by = models.CharField(_("requested by"), max_length=150)
    requested_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("launch approval")
        verbose_name_plural = _("launch approvals")
        ordering = ["-requested_at"]
        constraints = [
            # At most one request waits per campaign.
            models.UniqueConstraint(
                fields=["campaign"],
                condition=Q(state="pending"),
                name="launchapproval_one_pending_per_campaign",
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign} ({self.get_state_display()})"
