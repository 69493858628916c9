"""A campaign's audience: reusable contact lists and the do-not-call (suppression) lists."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioApp

#: The name of the suppression list that always exists and applies to every app.
PORTAL_WIDE_LIST = "Portal-wide"


class ContactList(models.Model):
    """A named, reusable set of contacts; campaigns name lists as their audience."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact list")
        verbose_name_plural = _("contact lists")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """One number of a contact list (ITNIO digits), its country, a name and any other columns
    of the imported file as custom fields (column → text)."""

    contact_list = models.ForeignKey(
        ContactList,
        on_delete=models.CASCADE,
        related_name="contacts",
        verbose_name=_("contact list"),
        db_index=False,  # (list, number) starts with it
    )
    number = models.CharField(_("number"), max_length=15)
    name = models.CharField(_("name"), max_length=200, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    row_number = models.PositiveIntegerField(_("row in file"), null=True, blank=True)
    # The background import that wrote it (a failed one removes what it wrote).
    source = models.ForeignKey(
        "ContactImport",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        verbose_name=_("import"),
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["contact_list", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact_list", "number"], name="contact_unique_list_number"
            )
        ]
        indexes = [models.Index(fields=["number"], name="contact_number")]

    def __str__(self) -> str:
        return self.number


class SuppressionList(models.Model):
    """A do-not-call list: for every app (app empty) or for one app. The portal-wide list
    (created by the migration) always exists."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    app = models.ForeignKey(
        ItnioApp,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="suppression_lists",
        verbose_name=_("app"),
        help_text=_("Empty: the list applies to every app."),
    )
    portal_wide = models.BooleanField(_("portal-wide"), default=False, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("do-not-call list")
        verbose_name_plural = _("do-not-call lists")
        ordering = ["-portal_wide", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["portal_wide"],
                condition=models.Q(portal_wide=True),
                name="suppression_one_portal_wide",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SuppressionEntry(models.Model):
    """A number that must not be called (by the apps its list applies to), until it expires."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("manual")
        IMPORT = "import", _("import")
        OPT_OUT = "opt_out", _("opt-out key")
        API = "api", _("API")

    suppression_list = models.ForeignKey(
        SuppressionList,
        on_delete=models.CASCADE,
        related_name="entries",
        verbose_name=_("do-not-call list"),
        db_index=False,  # (list, number) starts with it
    )
    number = models.CharField(_("number"), max_length=15)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, default=Source.MANUAL
    )
    added_by = models.CharField(_("added by"), max_length=150, blank=True)
    # The campaign whose opt-out key put the number here (source: opt-out key).
    campaign = models.ForeignKey(
        "Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="opt_outs",
        verbose_name=_("campaign"),
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)

    class Meta:
        verbose_name = _("do-not-call entry")
        verbose_name_plural = _("do-not-call entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["suppression_list", "number"], name="suppression_unique_list_number"
            )
        ]
        # The claim probes entries by number (suppression.first_entry), one per row it reads.
        indexes = [models.Index(fields=["number"], name="suppression_number")]

    def __str__(self) -> str:
        return self.number


class ContactImport(models.Model):
    """A contact file read into a list: its progress, counts and rejected rows. A large file is
    read by a task worker; a small one at once (the command, the admin's confirm), and a small
    one refused halfway leaves no record (contact_imports.contacts_import)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Reading")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    contact_list = models.ForeignKey(
        ContactList,
        on_delete=models.CASCADE,
        related_name="imports",
        verbose_name=_("contact list"),
    )
    file = models.FileField(_("file"), upload_to="contact-imports/")
    original_name = models.CharField(_("file name"), max_length=255)
    default_region = models.CharField(_("default region"), max_length=2, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default="queued")
    total_bytes = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    processed_bytes = models.PositiveBigIntegerField(_("bytes read"), default=0)
    rows = models.PositiveIntegerField(_("rows read"), default=0)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    rejected_file = models.FileField(
        _("rejected rows"), upload_to="contact-imports/rejected/", blank=True
    )
    error = models.TextField(_("error"), blank=True)
    created_by = models.CharField(_("imported by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact import")
        verbose_name_plural = _("contact imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.contact_list}"

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return min(100, self.processed_bytes * 100 // self.total_bytes) if self.total_bytes else 0
