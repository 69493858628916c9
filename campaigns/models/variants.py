"""A/B tests of voice files: a campaign's variants, each a voice file played to a share of its
callees (campaigns/services/variants.py assigns them)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns.models.campaigns import Campaign
from campaigns.models.voice import VoiceFile


class CampaignVariant(models.Model):
    """One voice file of an A/B campaign and the percentage of its callees who hear it."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="variants", verbose_name=_("campaign")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    voice_file = models.ForeignKey(
        VoiceFile,
        on_delete=models.PROTECT,
        related_name="campaign_variants",
        verbose_name=_("voice file"),
    )
    percent = models.PositiveSmallIntegerField(
        _("share (%)"), validators=[MinValueValidator(1), MaxValueValidator(99)]
    )

    class Meta:
        verbose_name = _("A/B variant")
        verbose_name_plural = _("A/B variants")
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="variant_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.label}: {self.voice_file} ({self.percent} %)"

    @property
    def label(self) -> str:
        """A, B, C, D by position."""
        return "ABCD"[self.position - 1] if 1 <= self.position <= 4 else str(self.position)
