"""Voice: the audio files uploaded for group calls, and the calls (TTS code, group file, SIP)
with every field of their ITNIO record."""

from __future__ import annotations

import os
from typing import Any

from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioAccount, ItnioApp


def voice_file_upload_to(instance: VoiceFile, filename: str) -> str:
    # The ITNIO file name is checked to be a plain name; this keeps the path inside voice/ even
    # for a name that was not (an older row, a script).
    name = os.path.basename(instance.file_name.replace("\\", "/")).lstrip(".") or "audio"
    return f"voice/{instance.app.account_id}/{name}"


class VoiceFile(models.Model):
    """An audio file to play in group calls, uploaded to ITNIO through /voice/fileUpload."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft (not on ITNIO yet)")
        SENDING = "sending", _("Uploading (request in flight)")
        UPLOADED = "uploaded", _("Uploaded")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown (upload outcome not known)")

    app = models.ForeignKey(
        ItnioApp, on_delete=models.PROTECT, related_name="voice_files", verbose_name=_("app")
    )
    # Denormalised from app: ITNIO requires fileName unique per account (itnio-api.md §3.1).
    account = models.ForeignKey(
        ItnioAccount, on_delete=models.PROTECT, related_name="voice_files", editable=False
    )
    file_name = models.CharField(
        _("file name"),
        max_length=32,
        help_text=_(
            "5–32 characters including the extension (.mp3, .m4a or .wav); "
            "unique per ITNIO account and never reusable on ITNIO."
        ),
    )
    audio = models.FileField(_("audio"), upload_to=voice_file_upload_to)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0, editable=False)
    content_type = models.CharField(_("detected type"), max_length=64, blank=True, editable=False)
    remote_file_id = models.CharField(
        _("ITNIO file ID"), max_length=128, blank=True, editable=False
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.DRAFT, editable=False
    )
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    upload_started_at = models.DateTimeField(
        _("upload started"), null=True, blank=True, editable=False
    )
    uploaded_at = models.DateTimeField(_("uploaded"), null=True, blank=True, editable=False)
    uploaded_by = models.CharField(_("uploaded by"), max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("voice file")
        verbose_name_plural = _("voice files")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "file_name"], name="voicefile_unique_name_per_account"
            )
        ]

    def __str__(self) -> str:
        return self.file_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.app_id and not self.account_id:
            self.account_id = self.app.account_id
        super().save(*args, **kwargs)


class Call(models.Model):
    """One call the portal placed or learned about, with every field of its ITNIO record."""

    class Kind(models.TextChoices):
        TTS = "tts", _("TTS code")
        GROUP = "group", _("Group file")
        SIP = "sip", _("SIP phone")

    class State(models.TextChoices):
        SENDING = "sending", _("Sending")
        SUBMITTED = "submitted", _("Submitted")
        FINAL = "final", _("Final")
        REJECTED = "rejected", _("Rejected")
        UNKNOWN = "unknown", _("Unknown (send outcome not known)")
        EXPIRED = "expired", _("Expired (no final record within 60 days)")

    #: States whose record may still change at ITNIO.
    OPEN_STATES = (State.SUBMITTED,)

    # No index of their own: (app, placed_at) and (campaign, placed_at) serve both.
    app = models.ForeignKey(
        ItnioApp,
        on_delete=models.PROTECT,
        related_name="calls",
        db_index=False,
        verbose_name=_("app"),
    )
    campaign = models.ForeignKey(
        "Campaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls",
        db_index=False,
        verbose_name=_("campaign"),
    )
    # A test call of a campaign (its voice file to one number before launch): not one of its
    # calls, so neither its figures nor the frequency caps count it.
    test_of = models.ForeignKey(
        "Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="test_calls",
        db_index=False,
        verbose_name=_("test call of"),
    )
    # A campaign call's callee and attempt number (1 first, 2 its first retry, …).
    campaign_callee = models.ForeignKey(
        "Callee",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attempt_calls",
        verbose_name=_("campaign callee"),
    )
    attempt = models.PositiveSmallIntegerField(_("attempt"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    state_reason = models.TextField(_("state reason"), blank=True)
    callee = models.CharField(_("callee"), max_length=20)
    display_num = models.CharField(_("display number"), max_length=20, blank=True)
    called_info = models.CharField("calledInfo", max_length=1000, blank=True)
    voice_id = models.CharField("voiceId", max_length=64, null=True, blank=True, unique=True)
    # What was asked for (TTS text, language, loop count…), redacted of nothing secret.
    request = models.JSONField(_("request"), default=dict, blank=True)
    created_by = models.CharField(_("placed by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    # --- the record (itnio-api.md §3.5, seed 003; pushes §6.1)
    code = models.CharField(_("region and operator"), max_length=128, blank=True)
    submit_time = models.DateTimeField(_("submit time"), null=True, blank=True)
    call_time = models.DateTimeField(_("call time"), null=True, blank=True)
    ringing_time = models.DateTimeField(_("ringing time"), null=True, blank=True)
    answer_time = models.DateTimeField(_("answer time"), null=True, blank=True)
    hangup_time = models.DateTimeField(_("hangup time"), null=True, blank=True)
    call_duration = models.PositiveIntegerField(_("call duration (s)"), null=True, blank=True)
    charged_duration = models.PositiveIntegerField(_("charged duration (s)"), null=True, blank=True)
    # Shown as received, never interpreted: the docs disagree on its meaning (itnio-api.md §8).
    termination_code = models.CharField("terminationCode", max_length=32, blank=True)
    termination_reason = models.CharField("terminationReason", max_length=255, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=18, decimal_places=6, null=True, blank=True)
    rate = models.DecimalField(_("rate"), max_digits=18, decimal_places=6, null=True, blank=True)
    base_cost = models.DecimalField(
        _("base cost (USD)"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    bill_period = models.CharField(_("bill period"), max_length=16, blank=True)
    # Blank in the record means USD (itnio-api.md §3.5).
    currency = models.CharField(_("currency"), max_length=8, blank=True, default="USD")
    settle_rate = models.DecimalField(
        _("settlement rate"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    quote_exchange = models.DecimalField(
        _("exchange rate"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    settle_pay = models.DecimalField(
        _("settled amount"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    voice_file_id = models.CharField("voiceFileId", max_length=128, blank=True)
    feedback_value = models.CharField(_("DTMF key (feedbackValue)"), max_length=16, blank=True)
    # SIP columns, filled by recordSip (the SIP issue).
    sip_group_name = models.CharField(_("SIP group"), max_length=64, blank=True)
    phone_name = models.CharField(_("phone"), max_length=64, blank=True)
    recording_file_id = models.CharField(_("recording file ID"), max_length=128, blank=True)
    raw_record = models.JSONField(_("raw record"), null=True, blank=True)
    record_source = models.CharField(_("record source"), max_length=16, blank=True)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    # The cost already counted in its campaign's billed total (budgets.py): a final record
    # applied again adds only the difference, and releases the callee's reservation once.
    budget_charged = models.DecimalField(
        _("counted in the budget"),
        max_digits=18,
        decimal_places=6,
        null=True,
        blank=True,
        editable=False,
    )
    # Set when the callee's number was removed (erase_number, or the retention job): later
    # records of this call keep their figures, never the number (services/personal_data.py).
    erased_at = models.DateTimeField(
        _("personal data erased"), null=True, blank=True, editable=False
    )
    # When the call was placed: ITNIO's submit time, or our creation while it has not told us.
    # Computed by the database (a stored generated column), so raw SQL writers keep it right;
    # lists sort by it and the date filter and the daily figures select on it.
    placed_at = models.GeneratedField(
        expression=Coalesce("submit_time", "created_at"),
        output_field=models.DateTimeField(),
        db_persist=True,
        verbose_name=_("placed"),
    )

    # When the bill check looked at this call's charge (services/bill_check.py): once it is final
    # and priced.
    bill_checked_at = models.DateTimeField(_("bill checked"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-placed_at", "-id"]
        indexes = [
            models.Index(fields=["state", "created_at"], name="call_state_created"),
            models.Index(fields=["placed_at"], name="call_placed"),
            models.Index(fields=["app", "placed_at"], name="call_app_placed"),
            models.Index(fields=["kind", "placed_at"], name="call_kind_placed"),
            models.Index(fields=["campaign", "placed_at"], name="call_campaign_placed"),
            models.Index(fields=["submit_time"], name="call_submit_time"),
            # varchar_pattern_ops on PostgreSQL: the callee-prefix search (LIKE '8613%') and
            # exact callee lookups both use it whatever the database's collation.
            models.Index(
                fields=["callee"], name="call_callee_prefix", opclasses=["varchar_pattern_ops"]
            ),
            # The bill check's queue: priced final calls not checked yet (bill_check.py).
            models.Index(
                fields=["id"],
                name="call_bill_unchecked",
                condition=models.Q(
                    bill_checked_at__isnull=True, hangup_time__isnull=False, cost__isnull=False
                ),
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s call to %(callee)s") % {
            "kind": self.get_kind_display(),
            "callee": self.callee,
        }

    @property
    def is_final(self) -> bool:
        return self.hangup_time is not None

    @property
    def answered(self) -> bool:
        return self.answer_time is not None
