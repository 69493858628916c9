"""AI voice: AI outbound-call tasks, their imported customers and the AI robot call records."""

from __future__ import annotations

from datetime import time

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioApp


class AiTask(models.Model):
    """An AI outbound-call task (/aivoice/taskAdd, itnio-api.md §5.1): a script over a line to a
    list of customers. Created here, then on ITNIO; `remote_*` fields come from taskList."""

    class Mode(models.TextChoices):
        MANUAL = "MANUAL", _("Manual (start with the Start button)")
        AUTO = "AUTO", _("Automatic (starts at the start time)")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft (not on ITNIO yet)")
        SENDING = "sending", _("Sending (create request in flight)")
        CREATED = "created", _("On ITNIO")
        FAILED = "failed", _("Refused by ITNIO")
        UNKNOWN = "unknown", _("Unknown (create outcome not known)")

    app = models.ForeignKey(
        ItnioApp, on_delete=models.PROTECT, related_name="ai_tasks", verbose_name=_("AI app")
    )
    name = models.CharField(
        _("name"),
        max_length=64,
        help_text=_(
            "Unique among the app's tasks at ITNIO (a duplicate is refused: ITNIO code -33)."
        ),
    )
    dialog_flow_id = models.PositiveBigIntegerField(
        _("script ID (dialogFlowId)"),
        null=True,
        blank=True,
        help_text=_("The script's ID from ITNIO's console (ITNIO's API cannot list scripts)."),
    )
    line_id = models.PositiveBigIntegerField(_("line ID (jobPhoneNumberId)"), null=True, blank=True)
    line_name = models.CharField(_("line"), max_length=100, blank=True)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.MANUAL)
    start_at = models.DateTimeField(_("start time (AUTO)"), null=True, blank=True)
    daily_start = models.TimeField(_("daily window from"), default=time(9, 0))
    daily_end = models.TimeField(_("daily window until"), default=time(20, 0))
    robot_count = models.PositiveSmallIntegerField(
        _("robots (concurrency)"),
        default=1,
        help_text=_("At most the account's maximum at ITNIO (more is refused: ITNIO code -52)."),
    )
    end_at = models.DateTimeField(_("end time"), null=True, blank=True)
    # [{"startTime": "HH:mm", "endTime": "HH:mm"}] and [{"startDate", "endDate"}], ≤ 3 each.
    inactive_times = models.JSONField(_("daily pause windows"), default=list, blank=True)
    inactive_dates = models.JSONField(_("inactive dates"), default=list, blank=True)
    days_of_week = models.JSONField(_("days of week"), default=list, blank=True)
    redial = models.BooleanField(_("redial"), default=False)
    redial_conditions = models.JSONField(_("redial when"), default=list, blank=True)
    call_record_dup = models.BooleanField(
        _("skip numbers already called"),
        default=False,
        help_text=_(
            "ITNIO refuses numbers this task already called (ITNIO's callRecordDup setting)."
        ),
    )

    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.DRAFT, editable=False
    )
    last_error = models.TextField(_("last error"), blank=True, editable=False)
    create_started_at = models.DateTimeField(_("create started"), null=True, blank=True)
    remote_job_id = models.PositiveBigIntegerField(_("ITNIO job ID"), null=True, blank=True)
    # What ITNIO last said about the task (taskList, §5.4); status values are not documented.
    remote_status = models.CharField(_("ITNIO status"), max_length=32, blank=True)
    remote_total = models.PositiveIntegerField(_("customers at ITNIO"), null=True, blank=True)
    remote_completed = models.PositiveIntegerField(_("called"), null=True, blank=True)
    remote_script_name = models.CharField(_("script"), max_length=100, blank=True)
    remote_line_name = models.CharField(_("line at ITNIO"), max_length=100, blank=True)
    remote_script_unbound = models.BooleanField(_("script unbound"), null=True, blank=True)
    remote_created_at = models.DateTimeField(_("created at ITNIO"), null=True, blank=True)
    synced_at = models.DateTimeField(_("last synced"), null=True, blank=True)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)
    pushed_at = models.DateTimeField(_("settings sent to ITNIO"), null=True, blank=True)
    started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    started_by = models.CharField(_("started by"), max_length=150, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("AI task")
        verbose_name_plural = _("AI tasks")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["app", "name"], name="aitask_unique_name_per_app"),
            models.UniqueConstraint(
                fields=["app", "remote_job_id"], name="aitask_unique_job_per_app"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def on_itnio(self) -> bool:
        return self.state == self.State.CREATED and self.remote_job_id is not None

    @property
    def has_unsent_changes(self) -> bool:
        return bool(
            self.on_itnio
            and self.edited_at
            and (self.pushed_at is None or self.edited_at > self.pushed_at)
        )


class AiCustomer(models.Model):
    """One customer of an AI task: imported here, pushed to ITNIO with importCustomer (§5.5)."""

    class Gender(models.TextChoices):
        MALE = "MALE", _("Male")
        FEMALE = "FEMALE", _("Female")

    class State(models.TextChoices):
        LOCAL = "local", _("Not on ITNIO yet")
        SENDING = "sending", _("Sending")
        PUSHED = "pushed", _("On ITNIO")
        REJECTED = "rejected", _("Rejected by ITNIO")
        UNKNOWN = "unknown", _("Unknown (push outcome not known)")
        REMOVED = "removed", _("Removed from ITNIO")
        SKIPPED = "skipped", _("Left out (do-not-call)")

    task = models.ForeignKey(
        AiTask, on_delete=models.CASCADE, related_name="customers", verbose_name=_("task")
    )
    name = models.CharField(_("name"), max_length=100)
    # ≤ 32 characters; may be an encrypted ID in ITNIO's "encryption scenarios" (§5.5).
    phone_number = models.CharField(_("phone number"), max_length=32)
    # "" = unknown: sent to ITNIO as nothing (JSON null), never as an empty string (§5.5).
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.LOCAL)
    reason = models.TextField(_("reason"), blank=True)
    row_number = models.PositiveIntegerField(_("row in file"), null=True, blank=True)
    pushed_at = models.DateTimeField(_("pushed"), null=True, blank=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)
    created_at = models.DateTimeField(_("imported"), auto_now_add=True)

    class Meta:
        verbose_name = _("AI customer")
        verbose_name_plural = _("AI customers")
        ordering = ["task", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "phone_number"], name="aicustomer_unique_number"
            )
        ]
        indexes = [models.Index(fields=["task", "state", "id"], name="aicustomer_task_state")]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone_number})"


class AiCallRecord(models.Model):
    """One AI robot call, from the AI push (§6.2) or recordQuery (§5.8), upserted by callId."""

    class Source(models.TextChoices):
        PUSH = "push", _("Push")
        RECORD_QUERY = "recordQuery", "recordQuery"

    call_id = models.CharField("callId", max_length=64, unique=True)
    app = models.ForeignKey(
        ItnioApp, on_delete=models.PROTECT, related_name="ai_call_records", verbose_name=_("app")
    )
    task = models.ForeignKey(
        AiTask,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_records",
        verbose_name=_("task"),
    )
    customer = models.ForeignKey(
        AiCustomer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_records",
        verbose_name=_("imported customer"),
    )
    remote_job_id = models.PositiveBigIntegerField(_("job ID"), null=True, blank=True)
    key_id = models.CharField("keyId", max_length=64, blank=True)
    call_record_id = models.CharField(_("callRecordId (third party)"), max_length=64, blank=True)
    dialog_flow_id = models.PositiveBigIntegerField(_("script ID"), null=True, blank=True)
    tenant_phone_number_id = models.CharField(_("line ID"), max_length=64, blank=True)
    called_phone_number = models.CharField(_("called number"), max_length=32, blank=True)
    customer_name = models.CharField(_("customer name"), max_length=100, blank=True)
    result_status = models.CharField(_("result"), max_length=32, blank=True)
    intent_level = models.CharField(_("intent level"), max_length=100, blank=True)
    hangup_by = models.CharField(_("hung up by"), max_length=32, blank=True)
    analysis_basis = models.TextField(_("analysis basis"), blank=True)
    start_time = models.DateTimeField(_("start"), null=True, blank=True)
    end_time = models.DateTimeField(_("end"), null=True, blank=True)
    chat_duration = models.PositiveIntegerField(_("chat duration (s)"), null=True, blank=True)
    chat_round = models.PositiveIntegerField(_("chat rounds"), null=True, blank=True)
    charged_duration = models.PositiveIntegerField(_("charged time (s)"), null=True, blank=True)
    cost = models.DecimalField(
        _("cost (USD)"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    robot_count = models.PositiveIntegerField(_("robots"), null=True, blank=True)
    call_count = models.PositiveIntegerField(_("call count"), null=True, blank=True)
    redial_times = models.PositiveIntegerField(_("redials"), null=True, blank=True)
    customer_concern = models.JSONField(_("customer concern"), default=list, blank=True)
    attributes = models.JSONField(_("attributes"), default=list, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    dynamic_properties = models.JSONField(_("dynamic properties"), null=True, blank=True)
    call_record_tags = models.JSONField(_("call tags"), default=list, blank=True)
    customer_tags = models.JSONField(_("customer tags"), default=list, blank=True)
    full_audio_url = models.URLField(_("recording"), max_length=1000, blank=True)
    customer_audio_url = models.URLField(_("customer recording"), max_length=1000, blank=True)
    call_detail_list = models.JSONField(_("transcript (callDetailList)"), default=list, blank=True)
    raw = models.JSONField(_("raw record"), default=dict, blank=True)
    source = models.CharField(_("last source"), max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)
    synced_at = models.DateTimeField(_("last updated"), null=True, blank=True)
    # Set when the number, name and transcript were removed (see Call.erased_at).
    erased_at = models.DateTimeField(
        _("personal data erased"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("AI call record")
        verbose_name_plural = _("AI call records")
        ordering = ["-start_time", "-id"]
        indexes = [
            models.Index(fields=["task", "start_time"], name="aicall_task_start"),
            models.Index(fields=["start_time"], name="aicall_start"),
            models.Index(fields=["called_phone_number"], name="aicall_number"),
        ]

    def __str__(self) -> str:
        return gettext("AI call %(call_id)s") % {"call_id": self.call_id}
