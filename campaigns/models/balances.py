"""The balance watch's history: each account's balance as ITNIO reported it, every few minutes."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class BalanceReading(models.Model):
    """One getBalance answer (or the reason there was none)."""

    account = models.ForeignKey(
        "campaigns.ItnioAccount",
        on_delete=models.CASCADE,
        related_name="balance_readings",
        verbose_name=_("ITNIO account"),
    )
    read_at = models.DateTimeField(_("read"), db_index=True)
    balance = models.DecimalField(_("balance"), max_digits=18, decimal_places=6, null=True)
    gift = models.DecimalField(_("gift"), max_digits=18, decimal_places=6, null=True)
    credit = models.DecimalField(_("credit"), max_digits=18, decimal_places=6, null=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("balance reading")
        verbose_name_plural = _("balance readings")
        ordering = ["-read_at"]
        indexes = [models.Index(fields=["account", "-read_at"], name="balance_reading_recent")]

    def __str__(self) -> str:
        return f"{self.account} {self.read_at:%Y-%m-%d %H:%M}"

    @property
    def total(self):
        if self.balance is None:
            return None
        return self.balance + (self.gift or 0) + (self.credit or 0)
