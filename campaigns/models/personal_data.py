"""Numbers erased from the portal, kept only as salted digests so they can be refused later."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class ErasedNumber(models.Model):
    """A number erased from the portal (manage.py erase_number, the calls' admin action), kept
    only as a salted SHA-256 of its digits so it can be refused later without being stored."""

    digest = models.CharField(_("salted SHA-256 of the digits"), max_length=64, unique=True)
    erased_at = models.DateTimeField(_("erased"), default=timezone.now)
    erased_by = models.CharField(_("erased by"), max_length=150)

    class Meta:
        verbose_name = _("erased number")
        verbose_name_plural = _("erased numbers")
        ordering = ["-erased_at", "-id"]
        permissions = [
            ("erase_personal_data", "Can erase a person's number and name from every table"),
        ]

    def __str__(self) -> str:
        return gettext("erased number #%(id)s") % {"id": self.pk}
