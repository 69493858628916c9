"""SIP phone groups: created on ITNIO through /voice/sipAdd (itnio-api.md §3.9, seed 004)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy

from campaigns.models import ItnioApp

# The phone accounts sipAdd creates are not listed by any endpoint (itnio-api.md §3.9, §9); their
# names are derived as {phoneName}_{NNN}, the shape of §3.4's example "test_001".
ACCOUNT_NUMBER_DIGITS = 3


def derived_accounts(phone_name: str, quantity: int) -> list[str]:
    """The phone account names a group of `quantity` phones named `phone_name` should contain."""
    return [f"{phone_name}_{n:0{ACCOUNT_NUMBER_DIGITS}d}" for n in range(1, quantity + 1)]


class SipGroup(models.Model):
    """A group of SIP phones of one voice app, and whether ITNIO has created it."""

    class State(models.TextChoices):
        DRAFT = "draft", gettext_lazy("Draft (not on ITNIO yet)")
        SENDING = "sending", gettext_lazy("Sending (create request in flight)")
        CREATED = "created", gettext_lazy("Created")
        FAILED = "failed", gettext_lazy("Failed")
        UNKNOWN = "unknown", gettext_lazy("Unknown (create outcome not known)")

    #: States in which the group may be edited: ITNIO has (as far as we know) nothing yet.
    EDITABLE_STATES = (State.DRAFT, State.FAILED)

    app = models.ForeignKey(
        ItnioApp,
        on_delete=models.PROTECT,
        related_name="sip_groups",
        verbose_name=gettext_lazy("app"),
    )
    # Lengths, ranges and uniqueness are ITNIO's (§3.9); the form checks them with the rule.
    group_name = models.CharField(
        gettext_lazy("group name"),
        max_length=32,
        help_text=gettext_lazy("4–32 characters, unique within the app."),
    )
    phone_name = models.CharField(
        gettext_lazy("phone name"),
        max_length=32,
        help_text=gettext_lazy(
            "4–32 characters, unique within the app. The phones are named {phone name}_001, _002, …"
        ),
    )
    quantity = models.PositiveSmallIntegerField(
        gettext_lazy("quantity"), help_text=gettext_lazy("Number of phones, 1–50.")
    )
    display_num = models.CharField(
        gettext_lazy("display number"),
        max_length=13,
        help_text=gettext_lazy("Caller ID of the phones, 7–13 digits."),
    )
    state = models.CharField(
        gettext_lazy("state"),
        max_length=10,
        choices=State.choices,
        default=State.DRAFT,
        editable=False,
    )
    last_error = models.TextField(gettext_lazy("last error"), blank=True, editable=False)
    create_started_at = models.DateTimeField(
        gettext_lazy("create request started"), null=True, blank=True, editable=False
    )
    created_by = models.CharField(
        gettext_lazy("created on ITNIO by"), max_length=150, blank=True, editable=False
    )
    created_at = models.DateTimeField(
        gettext_lazy("created on ITNIO"), null=True, blank=True, editable=False
    )
    added_at = models.DateTimeField(gettext_lazy("added to the portal"), auto_now_add=True)

    class Meta:
        verbose_name = gettext_lazy("SIP phone group")
        verbose_name_plural = gettext_lazy("SIP phone groups")
        ordering = ["-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["app", "group_name"], name="sipgroup_unique_group_name_per_app"
            ),
            models.UniqueConstraint(
                fields=["app", "phone_name"], name="sipgroup_unique_phone_name_per_app"
            ),
        ]

    def __str__(self) -> str:
        return self.group_name

    @property
    def accounts(self) -> list[str]:
        """The phone account names, derived (ITNIO confirms none of them)."""
        if not self.phone_name or not self.quantity:
            return []
        return derived_accounts(self.phone_name, self.quantity)

    @property
    def editable(self) -> bool:
        return self.state in self.EDITABLE_STATES
