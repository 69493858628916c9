"""Models of the campaigns app: ITNIO accounts and apps, and the background-work heartbeat."""

from __future__ import annotations

import os
import secrets
from datetime import time
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.fields import SecretField
from campaigns.validators import validate_base_url


def new_push_token() -> str:
    """An unguessable path segment: ITNIO signs no push (itnio-api.md §6), so the URL is the key."""
    return secrets.token_urlsafe(24)


class ItnioAccount(models.Model):
    """One ITNIO account: the API key and secret every request is signed with."""

    name = models.CharField("name", max_length=100, unique=True)
    api_key = models.CharField(
        "API key",
        max_length=128,
        help_text="ITNIO's “API authentication name” (Home → Developers).",
    )
    api_secret = SecretField(
        "API secret",
        max_length=128,
        help_text="Stored encrypted. Leave blank when editing to keep the current secret.",
    )
    base_url = models.URLField(
        "base URL override",
        blank=True,
        validators=[validate_base_url],
        help_text="Empty: the portal's ITNIO_BASE_URL. Only superusers may change it; "
        "https:// only.",
    )
    # Last "Verify credentials" (GET /sms/getBalance, itnio-api.md §2).
    balance = models.DecimalField("balance", max_digits=18, decimal_places=6, null=True, blank=True)
    gift = models.DecimalField("gift", max_digits=18, decimal_places=6, null=True, blank=True)
    credit = models.DecimalField("credit", max_digits=18, decimal_places=6, null=True, blank=True)
    verified_at = models.DateTimeField("last verified", null=True, blank=True)
    verify_error = models.TextField("last verification error", blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        verbose_name = "ITNIO account"
        verbose_name_plural = "ITNIO accounts"
        ordering = ["name"]
        permissions = [
            ("place_calls", "Can place calls and spend money through ITNIO"),
            ("manage_credentials", "Can see and change ITNIO credentials"),
            ("query_itnio", "Can ask ITNIO for records, balances and lists (spends nothing)"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_base_url(self) -> str:
        return (self.base_url or settings.ITNIO_BASE_URL).rstrip("/")


class ItnioApp(models.Model):
    """An ITNIO application (voice or AI voice) of an account, with its push token."""

    class Kind(models.TextChoices):
        VOICE = "voice", "Voice"
        AI = "ai", "AI voice"

    account = models.ForeignKey(
        ItnioAccount, on_delete=models.PROTECT, related_name="apps", verbose_name="account"
    )
    app_id = models.CharField(
        "ITNIO app ID",
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", "Letters, digits, _ and - only.")],
    )
    kind = models.CharField("kind", max_length=8, choices=Kind.choices, default=Kind.VOICE)
    label = models.CharField("label", max_length=100, blank=True)
    active = models.BooleanField("active", default=True)
    push_token = models.CharField(
        "push token", max_length=64, unique=True, default=new_push_token, editable=False
    )
    # After a regeneration the old token keeps working until this moment (ITNIO retries a
    # failed push for about 90 minutes, itnio-api.md §6.4), so no push is lost meanwhile.
    previous_push_token = models.CharField(
        "previous push token", max_length=64, null=True, blank=True, unique=True, editable=False
    )
    previous_push_token_expires_at = models.DateTimeField(
        "previous push URL works until", null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "ITNIO app"
        verbose_name_plural = "ITNIO apps"
        ordering = ["account__name", "app_id"]
        permissions = [("rotate_push_token", "Can regenerate an app's push URL")]

    def __str__(self) -> str:
        return f"{self.label or self.app_id} ({self.get_kind_display()})"

    @property
    def push_path(self) -> str:
        return push_path_for(self.push_token, self.kind)

    @property
    def push_url(self) -> str:
        return self.push_url_with(self.push_token)

    def push_url_with(self, token: str) -> str:
        """This app's push URL as it is (or will be) with this token."""
        return settings.PORTAL_PUBLIC_URL.rstrip("/") + push_path_for(token, self.kind)

    @property
    def previous_push_url_works(self) -> bool:
        expires = self.previous_push_token_expires_at
        return bool(self.previous_push_token) and expires is not None and expires > timezone.now()


def push_path_for(token: str, kind: str) -> str:
    """The path of an app's push receiver: the token in it is the only key (ITNIO signs none)."""
    segment = "ai" if kind == ItnioApp.Kind.AI else "voice"
    return f"/itnio/push/{token}/{segment}/"


class Heartbeat(models.Model):
    """Last sign of life of a background component (scheduler tick, worker task run)."""

    name = models.CharField("component", max_length=64, unique=True)
    last_seen_at = models.DateTimeField("last seen", default=timezone.now)
    detail = models.CharField("detail", max_length=255, blank=True)

    class Meta:
        verbose_name = "background heartbeat"
        verbose_name_plural = "background heartbeats"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScheduledJobRun(models.Model):
    """When the scheduler last enqueued a periodic job, so restarts and twin schedulers agree."""

    name = models.CharField("job", max_length=100, unique=True)
    last_enqueued_at = models.DateTimeField("last enqueued", null=True, blank=True)
    last_result_id = models.CharField("last task result ID", max_length=64, blank=True)
    # When the oldest run enqueued since the last one finished was enqueued (None: none waits).
    waiting_since = models.DateTimeField("waiting since", null=True, blank=True)
    last_finished_at = models.DateTimeField("last finished", null=True, blank=True)

    class Meta:
        verbose_name = "scheduled job"
        verbose_name_plural = "scheduled jobs"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def voice_file_upload_to(instance: VoiceFile, filename: str) -> str:
    # The ITNIO file name is checked to be a plain name; this keeps the path inside voice/ even
    # for a name that was not (an older row, a script).
    name = os.path.basename(instance.file_name.replace("\\", "/")).lstrip(".") or "audio"
    return f"voice/{instance.app.account_id}/{name}"


class VoiceFile(models.Model):
    """An audio file to play in group calls, uploaded to ITNIO through /voice/fileUpload."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft (not on ITNIO yet)"
        UPLOADED = "uploaded", "Uploaded"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (upload outcome not known)"

    app = models.ForeignKey(
        ItnioApp, on_delete=models.PROTECT, related_name="voice_files", verbose_name="app"
    )
    # Denormalised from app: ITNIO requires fileName unique per account (itnio-api.md §3.1).
    account = models.ForeignKey(
        ItnioAccount, on_delete=models.PROTECT, related_name="voice_files", editable=False
    )
    file_name = models.CharField(
        "file name",
        max_length=32,
        help_text="5–32 characters including the extension (.mp3, .m4a or .wav); "
        "unique per ITNIO account and never reusable on ITNIO.",
    )
    audio = models.FileField("audio", upload_to=voice_file_upload_to)
    size = models.PositiveIntegerField("size (bytes)", default=0, editable=False)
    content_type = models.CharField("detected type", max_length=64, blank=True, editable=False)
    remote_file_id = models.CharField("ITNIO file ID", max_length=128, blank=True, editable=False)
    state = models.CharField(
        "state", max_length=10, choices=State.choices, default=State.DRAFT, editable=False
    )
    last_error = models.TextField("last error", blank=True, editable=False)
    upload_started_at = models.DateTimeField(
        "upload started", null=True, blank=True, editable=False
    )
    uploaded_at = models.DateTimeField("uploaded", null=True, blank=True, editable=False)
    uploaded_by = models.CharField("uploaded by", max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField("created", auto_now_add=True)

    class Meta:
        verbose_name = "voice file"
        verbose_name_plural = "voice files"
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
        TTS = "tts", "TTS code"
        GROUP = "group", "Group file"
        SIP = "sip", "SIP phone"

    class State(models.TextChoices):
        SENDING = "sending", "Sending"
        SUBMITTED = "submitted", "Submitted"
        FINAL = "final", "Final"
        REJECTED = "rejected", "Rejected"
        UNKNOWN = "unknown", "Unknown (send outcome not known)"
        EXPIRED = "expired", "Expired (no final record within 60 days)"

    #: States whose record may still change at ITNIO.
    OPEN_STATES = (State.SUBMITTED,)

    # No index of their own: (app, placed_at) and (campaign, placed_at) serve both.
    app = models.ForeignKey(
        ItnioApp, on_delete=models.PROTECT, related_name="calls", db_index=False
    )
    campaign = models.ForeignKey(
        "Campaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls",
        db_index=False,
    )
    kind = models.CharField("kind", max_length=8, choices=Kind.choices)
    state = models.CharField("state", max_length=10, choices=State.choices)
    state_reason = models.TextField("state reason", blank=True)
    callee = models.CharField("callee", max_length=20)
    display_num = models.CharField("display number", max_length=20, blank=True)
    called_info = models.CharField("calledInfo", max_length=1000, blank=True)
    voice_id = models.CharField("voiceId", max_length=64, null=True, blank=True, unique=True)
    # What was asked for (TTS text, language, loop count…), redacted of nothing secret.
    request = models.JSONField("request", default=dict, blank=True)
    created_by = models.CharField("placed by", max_length=150, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)

    # --- the record (itnio-api.md §3.5, seed 003; pushes §6.1)
    code = models.CharField("region and operator", max_length=128, blank=True)
    submit_time = models.DateTimeField("submit time", null=True, blank=True)
    call_time = models.DateTimeField("call time", null=True, blank=True)
    ringing_time = models.DateTimeField("ringing time", null=True, blank=True)
    answer_time = models.DateTimeField("answer time", null=True, blank=True)
    hangup_time = models.DateTimeField("hangup time", null=True, blank=True)
    call_duration = models.PositiveIntegerField("call duration (s)", null=True, blank=True)
    charged_duration = models.PositiveIntegerField("charged duration (s)", null=True, blank=True)
    # Shown as received, never interpreted: the docs disagree on its meaning (itnio-api.md §8).
    termination_code = models.CharField("terminationCode", max_length=32, blank=True)
    termination_reason = models.CharField("terminationReason", max_length=255, blank=True)
    cost = models.DecimalField("cost", max_digits=18, decimal_places=6, null=True, blank=True)
    rate = models.DecimalField("rate", max_digits=18, decimal_places=6, null=True, blank=True)
    base_cost = models.DecimalField(
        "base cost (USD)", max_digits=18, decimal_places=6, null=True, blank=True
    )
    bill_period = models.CharField("bill period", max_length=16, blank=True)
    # Blank in the record means USD (itnio-api.md §3.5).
    currency = models.CharField("currency", max_length=8, blank=True, default="USD")
    settle_rate = models.DecimalField(
        "settlement rate", max_digits=18, decimal_places=6, null=True, blank=True
    )
    quote_exchange = models.DecimalField(
        "exchange rate", max_digits=18, decimal_places=6, null=True, blank=True
    )
    settle_pay = models.DecimalField(
        "settled amount", max_digits=18, decimal_places=6, null=True, blank=True
    )
    voice_file_id = models.CharField("voiceFileId", max_length=128, blank=True)
    feedback_value = models.CharField("DTMF key (feedbackValue)", max_length=16, blank=True)
    # SIP columns, filled by recordSip (the SIP issue).
    sip_group_name = models.CharField("SIP group", max_length=64, blank=True)
    phone_name = models.CharField("phone", max_length=64, blank=True)
    recording_file_id = models.CharField("recording file ID", max_length=128, blank=True)
    raw_record = models.JSONField("raw record", null=True, blank=True)
    record_source = models.CharField("record source", max_length=16, blank=True)
    synced_at = models.DateTimeField("last synced", null=True, blank=True)
    # Set when the callee's number was removed (erase_number, or the retention job): later
    # records of this call keep their figures, never the number (services/personal_data.py).
    erased_at = models.DateTimeField("personal data erased", null=True, blank=True, editable=False)
    # When the call was placed: ITNIO's submit time, or our creation while it has not told us.
    # Computed by the database (a stored generated column), so raw SQL writers keep it right;
    # lists sort by it and the date filter and the daily figures select on it.
    placed_at = models.GeneratedField(
        expression=Coalesce("submit_time", "created_at"),
        output_field=models.DateTimeField(),
        db_persist=True,
        verbose_name="placed",
    )

    class Meta:
        verbose_name = "call"
        verbose_name_plural = "calls"
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
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} call to {self.callee}"

    @property
    def is_final(self) -> bool:
        return self.hangup_time is not None

    @property
    def answered(self) -> bool:
        return self.answer_time is not None


class PushEvent(models.Model):
    """The inbox of every ITNIO push, and the durable queue of the apply worker.

    The receiver only stores the body (and answers); `manage.py apply_pushes` applies pending
    entries in batches (campaigns/services/pushes.py). Transient errors put an entry back with a
    later `next_attempt_at`; errors that will not fix themselves mark it failed with the reason.
    """

    class Kind(models.TextChoices):
        VOICE = "voice", _("Voice status report")
        AI = "ai", _("AI call record")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be applied")
        PROCESSED = "processed", _("Applied")
        FAILED = "failed", _("Failed")

    # No database constraint: every concurrent insert would take a KEY SHARE lock on the same
    # app row (a MultiXact under load), which serialised the receiver; PROTECT still holds in
    # Django, and the receiver only stores rows for an app it has just read.
    app = models.ForeignKey(
        ItnioApp,
        on_delete=models.PROTECT,
        related_name="push_events",
        db_constraint=False,
        db_index=False,
    )
    kind = models.CharField("kind", max_length=8, choices=Kind.choices)
    body = models.TextField("raw body")
    # The exact bytes, kept only when the text above cannot hold them (not UTF-8, NUL bytes).
    body_bytes = models.BinaryField("raw bytes", null=True, blank=True, editable=False)
    remote_addr = models.GenericIPAddressField("sender", null=True, blank=True)
    received_at = models.DateTimeField("received", default=timezone.now)
    state = models.CharField("state", max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField("error", blank=True)
    processed_at = models.DateTimeField("processed", null=True, blank=True)
    reports = models.PositiveIntegerField("reports in body", default=0)
    attempts = models.PositiveSmallIntegerField("apply attempts", default=0)
    next_attempt_at = models.DateTimeField("next attempt", null=True, blank=True)
    foreign = models.PositiveIntegerField(
        "reports for another app's calls",
        default=0,
        help_text="Reports whose voiceId belongs to a call of another app: never applied.",
    )

    class Meta:
        verbose_name = "push event"
        verbose_name_plural = "push inbox"
        # Ids follow arrival. Two indexes only (the key and the queue): every push is one insert
        # and one update of this table, so each index more is paid hundreds of times a second.
        ordering = ["-id"]
        indexes = [
            # The apply worker's queue: only the pending entries, oldest first.
            models.Index(
                fields=["id"], condition=models.Q(state="pending"), name="push_pending_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} push #{self.pk}"


class ApiRequestLog(models.Model):
    """Every ITNIO request the portal makes, redacted: who, what, how it ended."""

    account = models.ForeignKey(
        ItnioAccount, on_delete=models.SET_NULL, null=True, related_name="request_logs"
    )
    endpoint = models.CharField("endpoint", max_length=64, db_index=True)
    method = models.CharField("method", max_length=8)
    path = models.CharField("path", max_length=255)
    started_at = models.DateTimeField("started", db_index=True)
    duration_ms = models.PositiveIntegerField("duration (ms)", default=0)
    http_status = models.PositiveSmallIntegerField("HTTP status", null=True, blank=True)
    code = models.CharField("business code", max_length=16, blank=True)
    reason = models.TextField("reason", blank=True)
    outcome = models.CharField("outcome", max_length=16, db_index=True)
    attempts = models.PositiveSmallIntegerField("attempts", default=1)
    triggered_by = models.CharField("triggered by", max_length=150, blank=True)
    object_type = models.CharField("concerns (type)", max_length=64, blank=True)
    object_id = models.CharField("concerns (ID)", max_length=64, blank=True)
    summary = models.JSONField("request summary", default=dict, blank=True)

    class Meta:
        verbose_name = "API request"
        verbose_name_plural = "API request log"
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="apilog_object")]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.outcome}"


class Campaign(models.Model):
    """A voice broadcast: one uploaded voice file played to a list of callees via sendGroup."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField("name", max_length=100, unique=True)
    app = models.ForeignKey(ItnioApp, on_delete=models.PROTECT, related_name="campaigns")
    voice_file = models.ForeignKey(VoiceFile, on_delete=models.PROTECT, related_name="campaigns")
    display_num = models.CharField("display number", max_length=15, blank=True)
    loop_count = models.PositiveSmallIntegerField("loop count", null=True, blank=True)
    max_duration = models.PositiveSmallIntegerField("max duration (s)", null=True, blank=True)
    max_ringing_time = models.PositiveSmallIntegerField(
        "max ringing time (s)", null=True, blank=True
    )
    called_info = models.CharField(
        "calledInfo",
        max_length=1000,
        blank=True,
        help_text="Sent with every request, followed by a short batch tag so records and "
        "pushes can be traced to their batch.",
    )
    scheduled_start = models.DateTimeField("scheduled start", null=True, blank=True)
    window_start = models.TimeField("calling window from", null=True, blank=True)
    window_end = models.TimeField("calling window until", null=True, blank=True)
    window_tz = models.CharField("window time zone", max_length=64, default="UTC")
    state = models.CharField("state", max_length=10, choices=State.choices, default=State.DRAFT)
    state_reason = models.TextField("reason for the last change", blank=True)
    state_changed_at = models.DateTimeField("state changed", null=True, blank=True)
    state_changed_by = models.CharField("state changed by", max_length=150, blank=True)
    created_by = models.CharField("created by", max_length=150, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    launched_at = models.DateTimeField("launched", null=True, blank=True)
    completed_at = models.DateTimeField("finished", null=True, blank=True)
    # The running dispatcher's lease: only the holder sends; a stale lease means it died.
    dispatch_lease = models.CharField("dispatcher", max_length=64, blank=True)
    dispatch_heartbeat_at = models.DateTimeField("dispatcher last seen", null=True, blank=True)

    class Meta:
        verbose_name = "campaign"
        verbose_name_plural = "campaigns"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class CalleeImport(models.Model):
    """One callee file imported into a campaign: progress, counts, rejected rows."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Reading"
        STAGED = "staged", "Read: waiting for confirmation"
        CONFIRMING = "confirming", "Confirming: callees becoming pending"
        CONFIRMED = "confirmed", "Confirmed"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField("file", upload_to="imports/")
    original_name = models.CharField("file name", max_length=255)
    state = models.CharField("state", max_length=10, choices=State.choices, default=State.QUEUED)
    total_bytes = models.PositiveBigIntegerField("size (bytes)", default=0)
    processed_bytes = models.PositiveBigIntegerField("bytes read", default=0)
    rows = models.PositiveIntegerField("rows read", default=0)
    imported = models.PositiveIntegerField("imported", default=0)
    rejected = models.PositiveIntegerField("rejected", default=0)
    duplicates = models.PositiveIntegerField("duplicates", default=0)
    confirmed = models.PositiveIntegerField("made pending", default=0)
    rejected_file = models.FileField("rejected rows", upload_to="imports/rejected/", blank=True)
    error = models.TextField("error", blank=True)
    created_by = models.CharField("imported by", max_length=150, blank=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    finished_at = models.DateTimeField("finished", null=True, blank=True)
    # The worker reading the file holds a lease renewed with every chunk it commits; a lease
    # silent for IMPORT_LEASE_SECONDS belongs to a worker that stopped, and the import resumes.
    lease = models.CharField("worker lease", max_length=32, blank=True)
    heartbeat_at = models.DateTimeField("worker last seen", null=True, blank=True)
    resumes = models.PositiveSmallIntegerField("times resumed", default=0)
    resumed_after_rows = models.PositiveIntegerField("rows read before the last resume", default=0)

    class Meta:
        verbose_name = "callee import"
        verbose_name_plural = "callee imports"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.campaign}"


class DispatchBatch(models.Model):
    """One sendGroup request of a campaign (≤ ITNIO_SEND_GROUP_MAX callees)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (outcome not known)"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    sequence = models.PositiveIntegerField("sequence")
    state = models.CharField("state", max_length=10, choices=State.choices, default=State.PENDING)
    size = models.PositiveIntegerField("callees", default=0)
    called_info = models.CharField("calledInfo sent", max_length=1000, blank=True)
    request_started_at = models.DateTimeField("request started", null=True, blank=True)
    request_finished_at = models.DateTimeField("request finished", null=True, blank=True)
    code = models.CharField("business code", max_length=16, blank=True)
    reason = models.TextField("reason", blank=True)
    accepted = models.PositiveIntegerField("accepted", default=0)
    rejected = models.PositiveIntegerField("rejected", default=0)
    attempts = models.PositiveSmallIntegerField("attempts", default=0)

    class Meta:
        verbose_name = "dispatch batch"
        verbose_name_plural = "dispatch batches"
        ordering = ["campaign", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sequence"], name="batch_unique_sequence")
        ]
        indexes = [models.Index(fields=["state", "request_started_at"], name="batch_state_started")]

    def __str__(self) -> str:
        return f"{self.campaign} batch {self.sequence}"

    @property
    def tag(self) -> str:
        """Appended to calledInfo so ITNIO's records and pushes name their batch."""
        return f"[c{self.campaign_id}b{self.sequence}]"


class Callee(models.Model):
    """One number of a campaign's list, in the one state machine of callees.

    | state | meaning | terminal |
    |---|---|---|
    | pending | may be claimed now | no |
    | sending | in a request in flight | no |
    | submitted | ITNIO accepted it, no final record yet | no |
    | final: reached / not reached | the record is final (answered or not); a record not final
      48 h after submission counts as not reached | yes |
    | rejected | ITNIO refused the number | yes |
    | unknown | the request's outcome is unknown; reconciliation decides | no |

    Staged callees belong to an unconfirmed import and are not counted. "Final" is not stored
    here: it is read from the callee's Call (campaigns/services/campaign_state.py, which also
    holds the words of the campaign page's legend). Progress = terminal / all; a campaign is sent
    once nothing is pending or sending, and finished once nothing is unknown either.
    """

    class State(models.TextChoices):
        STAGED = "staged", "Staged (import not confirmed)"
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SUBMITTED = "submitted", "Submitted"
        REJECTED = "rejected", "Rejected"
        UNKNOWN = "unknown", "Unknown (send outcome not known)"

    # No index of its own: (campaign, number) and (campaign, state, id) both start with it.
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="callees", db_index=False
    )
    number = models.CharField("number", max_length=15)
    state = models.CharField("state", max_length=10, choices=State.choices, default=State.PENDING)
    row_number = models.PositiveIntegerField("row in file", null=True, blank=True)
    source = models.ForeignKey(
        CalleeImport, on_delete=models.SET_NULL, null=True, blank=True, related_name="callees"
    )
    batch = models.ForeignKey(
        DispatchBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="callees"
    )
    voice_id = models.CharField("voiceId", max_length=64, blank=True)
    reason = models.TextField("reason", blank=True)
    call = models.OneToOneField(
        Call, on_delete=models.SET_NULL, null=True, blank=True, related_name="campaign_callee"
    )

    class Meta:
        verbose_name = "callee"
        verbose_name_plural = "callees"
        constraints = [
            # Staged callees are an unconfirmed import's proposal, not the list: two imports may
            # stage the same number, and confirming skips the numbers already listed meanwhile.
            models.UniqueConstraint(
                fields=["campaign", "number"],
                condition=~models.Q(state="staged"),
                name="callee_unique_listed_number",
            )
        ]
        indexes = [
            models.Index(fields=["campaign", "state", "id"], name="callee_campaign_state"),
        ]

    def __str__(self) -> str:
        return self.number


class AiTask(models.Model):
    """An AI outbound-call task (/aivoice/taskAdd, itnio-api.md §5.1): a script over a line to a
    list of customers. Created here, then on ITNIO; `remote_*` fields come from taskList."""

    class Mode(models.TextChoices):
        MANUAL = "MANUAL", "Manual (start with the Start button)"
        AUTO = "AUTO", "Automatic (starts at the start time)"

    class State(models.TextChoices):
        DRAFT = "draft", "Draft (not on ITNIO yet)"
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


# --- Pre-aggregated daily figures --------------------------------------------------------------
#
# Rebuilt from Call rows, never edited by hand: database triggers (campaigns/triggers.py) mark the
# UTC day of every inserted, updated or deleted call, `refresh_call_stats` (every minute)
# recomputes the marked days, and readers add the marked days straight from Call so a figure is
# never stale (campaigns/services/reports.py).


class CallDayStat(models.Model):
    """Calls of one UTC day grouped by every list filter: the cube behind counts and totals."""

    day = models.DateField("day (UTC)")
    app = models.ForeignKey(ItnioApp, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8)
    state = models.CharField(max_length=10)
    answered = models.BooleanField()
    final = models.BooleanField()
    currency = models.CharField(max_length=8, blank=True)
    calls = models.PositiveIntegerField()
    priced = models.PositiveIntegerField(default=0)  # calls with a cost (0 included)
    duration_sum = models.BigIntegerField(default=0)
    charged_sum = models.BigIntegerField(default=0)
    cost_sum = models.DecimalField(max_digits=24, decimal_places=6, default=0)

    class Meta:
        verbose_name = "daily call figure"
        indexes = [
            models.Index(fields=["day"], name="calldaystat_day"),
            models.Index(fields=["campaign", "day"], name="calldaystat_campaign_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.calls} {self.kind} calls {self.state}"


class CallDayValue(models.Model):
    """How often one value of a breakdown (region, termination reason, DTMF key) came up a day."""

    class Dimension(models.TextChoices):
        REGION = "region", "Region and operator"
        TERMINATION = "termination", "Termination reason"
        DTMF = "dtmf", "DTMF key"

    day = models.DateField("day (UTC)")
    app = models.ForeignKey(ItnioApp, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    value = models.CharField(max_length=255, blank=True)
    calls = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()

    class Meta:
        verbose_name = "daily call breakdown"
        indexes = [
            models.Index(fields=["day", "dimension"], name="calldayvalue_day_dim"),
            models.Index(fields=["campaign", "dimension"], name="calldayvalue_campaign_dim"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.dimension} {self.value!r} × {self.calls}"


class CallStatMark(models.Model):
    """A mark that calls of one UTC day changed after its figures were computed (written by
    triggers; a day may have many marks, and is to recompute while it has any)."""

    # Appended for every write statement: a big counter, and never reused.
    id = models.BigAutoField(primary_key=True)
    day = models.DateField("day (UTC)")

    class Meta:
        verbose_name = "changed day"
        indexes = [models.Index(fields=["day"], name="callstatmark_day")]

    def __str__(self) -> str:
        return str(self.day)


class ErasedNumber(models.Model):
    """A number erased from the portal (manage.py erase_number, the calls' admin action), kept
    only as a salted SHA-256 of its digits so it can be refused later without being stored."""

    digest = models.CharField("salted SHA-256 of the digits", max_length=64, unique=True)
    erased_at = models.DateTimeField("erased", default=timezone.now)
    erased_by = models.CharField("erased by", max_length=150)

    class Meta:
        verbose_name = "erased number"
        verbose_name_plural = "erased numbers"
        ordering = ["-erased_at", "-id"]
        permissions = [
            ("erase_personal_data", "Can erase a person's number and name from every table"),
        ]

    def __str__(self) -> str:
        return f"erased number #{self.pk}"
