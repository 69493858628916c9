"""AI voice: AI outbound-call tasks, their imported customers and the AI robot call records."""

from __future__ import annotations

from datetime import time

from django.db import models

from campaigns.models.accounts import ItnioApp


class AiTask(models.Model):
    """An AI outbound-call task (/aivoice/taskAdd, itnio-api.md §5.1): a script over a line to a
    list of customers. Created here, then on ITNIO; `remote_*` fields come from taskList."""

    class Mode(models.TextChoices):
        MANUAL = "MANUAL", "Manual (start with the Start button)"
        AUTO = "AUTO", "Automatic (starts at the start time)"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft (not on ITNIO yet)"
        SENDING = "sending", "Sending (create request in flight)"
        CREATED = "created", "On ITNIO"
        FAILED = "failed", "Refused by ITNIO"
        UNKNOWN = "unknown", "Unknown (create outcome not known)"

    app = models.ForeignKey(
        ItnioApp, on_delete=models.PROTECT, related_name="ai_tasks", verbose_name="AI app"
    )
    name = models.CharField(
        "name", max_length=64, help_text="Unique among the app's tasks at ITNIO (-33)."
    )
    dialog_flow_id = models.PositiveBigIntegerField(
        "script ID (dialogFlowId)",
        null=True,
        blank=True,
        help_text="The script's ID from ITNIO's console: the API has no script list (§9).",
    )
    line_id = models.PositiveBigIntegerField("line ID (jobPhoneNumberId)", null=True, blank=True)
    line_name = models.CharField("line", max_length=100, blank=True)
    mode = models.CharField("mode", max_length=8, choices=Mode.choices, default=Mode.MANUAL)
    start_at = models.DateTimeField("start time (AUTO)", null=True, blank=True)
    daily_start = models.TimeField("daily window from", default=time(9, 0))
    daily_end = models.TimeField("daily window until", default=time(20, 0))
    robot_count = models.PositiveSmallIntegerField(
        "robots (concurrency)",
        default=1,
        help_text="At most the account's maximum at ITNIO (-52).",
    )
    end_at = models.DateTimeField("end time", null=True, blank=True)
    # [{"startTime": "HH:mm", "endTime": "HH:mm"}] and [{"startDate", "endDate"}], ≤ 3 each.
    inactive_times = models.JSONField("daily pause windows", default=list, blank=True)
    inactive_dates = models.JSONField("inactive dates", default=list, blank=True)
    days_of_week = models.JSONField("days of week", default=list, blank=True)
    redial = models.BooleanField("redial", default=False)
    redial_conditions = models.JSONField("redial when", default=list, blank=True)
    call_record_dup = models.BooleanField(
        "skip numbers already called",
        default=False,
        help_text="importCustomer's callRecordDup: ITNIO refuses numbers this task already called.",
    )

    state = models.CharField(
        "state", max_length=10, choices=State.choices, default=State.DRAFT, editable=False
    )
    last_error = models.TextField("last error", blank=True, editable=False)
    create_started_at = models.DateTimeField("create started", null=True, blank=True)
    remote_job_id = models.PositiveBigIntegerField("ITNIO job ID", null=True, blank=True)
    # What ITNIO last said about the task (taskList, §5.4); status values are not documented.
    remote_status = models.CharField("ITNIO status", max_length=32, blank=True)
    remote_total = models.PositiveIntegerField("customers at ITNIO", null=True, blank=True)
    remote_completed = models.PositiveIntegerField("called", null=True, blank=True)
    remote_script_name = models.CharField("script", max_length=100, blank=True)
    remote_line_name = models.CharField("line at ITNIO", max_length=100, blank=True)
    remote_script_unbound = models.BooleanField("script unbound", null=True, blank=True)
    remote_created_at = models.DateTimeField("created at ITNIO", null=True, blank=True)
    synced_at = models.DateTimeField("last synced", null=True, blank=True)
    edited_at = models.DateTimeField("edited", null=True, blank=True)
    pushed_at = models.DateTimeField("settings sent to ITNIO", null=True, blank=True)
    started_at = models.DateTimeField("last started", null=True, blank=True)
    started_by = models.CharField("started by", max_length=150, blank=True)
    created_by = models.CharField("created by", max_length=150, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "AI task"
        verbose_name_plural = "AI tasks"
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
        MALE = "MALE", "Male"
        FEMALE = "FEMALE", "Female"

    class State(models.TextChoices):
        LOCAL = "local", "Not on ITNIO yet"
        SENDING = "sending", "Sending"
        PUSHED = "pushed", "On ITNIO"
        REJECTED = "rejected", "Rejected by ITNIO"
        UNKNOWN = "unknown", "Unknown (push outcome not known)"
        REMOVED = "removed", "Removed from ITNIO"

    task = models.ForeignKey(AiTask, on_delete=models.CASCADE, related_name="customers")
    name = models.CharField("name", max_length=100)
    # ≤ 32 characters; may be an encrypted ID in ITNIO's "encryption scenarios" (§5.5).
    phone_number = models.CharField("phone number", max_length=32)
    # "" = unknown: sent to ITNIO as nothing (JSON null), never as an empty string (§5.5).
    gender = models.CharField("gender", max_length=8, choices=Gender.choices, blank=True)
    properties = models.JSONField("properties", default=dict, blank=True)
    state = models.CharField("state", max_length=10, choices=State.choices, default=State.LOCAL)
    reason = models.TextField("reason", blank=True)
    row_number = models.PositiveIntegerField("row in file", null=True, blank=True)
    pushed_at = models.DateTimeField("pushed", null=True, blank=True)
    removed_at = models.DateTimeField("removed", null=True, blank=True)
    created_at = models.DateTimeField("imported", auto_now_add=True)

    class Meta:
        verbose_name = "AI customer"
        verbose_name_plural = "AI customers"
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
        PUSH = "push", "Push"
        RECORD_QUERY = "recordQuery", "recordQuery"

    call_id = models.CharField("callId", max_length=64, unique=True)
    app = models.ForeignKey(ItnioApp, on_delete=models.PROTECT, related_name="ai_call_records")
    task = models.ForeignKey(
        AiTask, on_delete=models.SET_NULL, null=True, blank=True, related_name="call_records"
    )
    customer = models.ForeignKey(
        AiCustomer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="call_records",
        verbose_name="imported customer",
    )
    remote_job_id = models.PositiveBigIntegerField("job ID", null=True, blank=True)
    key_id = models.CharField("keyId", max_length=64, blank=True)
    call_record_id = models.CharField("callRecordId (third party)", max_length=64, blank=True)
    dialog_flow_id = models.PositiveBigIntegerField("script ID", null=True, blank=True)
    tenant_phone_number_id = models.CharField("line ID", max_length=64, blank=True)
    called_phone_number = models.CharField("called number", max_length=32, blank=True)
    customer_name = models.CharField("customer name", max_length=100, blank=True)
    result_status = models.CharField("result", max_length=32, blank=True)
    intent_level = models.CharField("intent level", max_length=100, blank=True)
    hangup_by = models.CharField("hung up by", max_length=32, blank=True)
    analysis_basis = models.TextField("analysis basis", blank=True)
    start_time = models.DateTimeField("start", null=True, blank=True)
    end_time = models.DateTimeField("end", null=True, blank=True)
    chat_duration = models.PositiveIntegerField("chat duration (s)", null=True, blank=True)
    chat_round = models.PositiveIntegerField("chat rounds", null=True, blank=True)
    charged_duration = models.PositiveIntegerField("charged time (s)", null=True, blank=True)
    cost = models.DecimalField("cost (USD)", max_digits=18, decimal_places=6, null=True, blank=True)
    robot_count = models.PositiveIntegerField("robots", null=True, blank=True)
    call_count = models.PositiveIntegerField("call count", null=True, blank=True)
    redial_times = models.PositiveIntegerField("redials", null=True, blank=True)
    customer_concern = models.JSONField("customer concern", default=list, blank=True)
    attributes = models.JSONField("attributes", default=list, blank=True)
    properties = models.JSONField("properties", default=dict, blank=True)
    dynamic_properties = models.JSONField("dynamic properties", null=True, blank=True)
    call_record_tags = models.JSONField("call tags", default=list, blank=True)
    customer_tags = models.JSONField("customer tags", default=list, blank=True)
    full_audio_url = models.URLField("recording", max_length=1000, blank=True)
    customer_audio_url = models.URLField("customer recording", max_length=1000, blank=True)
    call_detail_list = models.JSONField("transcript (callDetailList)", default=list, blank=True)
    raw = models.JSONField("raw record", default=dict, blank=True)
    source = models.CharField("last source", max_length=16, choices=Source.choices)
    created_at = models.DateTimeField("first seen", auto_now_add=True)
    synced_at = models.DateTimeField("last updated", null=True, blank=True)
    # Set when the number, name and transcript were removed (see Call.erased_at).
    erased_at = models.DateTimeField("personal data erased", null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "AI call record"
        verbose_name_plural = "AI call records"
        ordering = ["-start_time", "-id"]
        indexes = [
            models.Index(fields=["task", "start_time"], name="aicall_task_start"),
            models.Index(fields=["start_time"], name="aicall_start"),
            models.Index(fields=["called_phone_number"], name="aicall_number"),
        ]

    def __str__(self) -> str:
        return f"AI call {self.call_id}"
