"""The portal's own running records: background heartbeats, scheduled job runs, the push inbox
(the apply worker's queue) and the log of every ITNIO request."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioAccount, ItnioApp


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
