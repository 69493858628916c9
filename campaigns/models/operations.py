"""The portal's own running records: background heartbeats, scheduled job runs, the push inbox
(the apply worker's queue) and the log of every ITNIO request."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioAccount, ItnioApp


class Heartbeat(models.Model):
    """Last sign of life of a background component (scheduler tick, worker task run)."""

    name = models.CharField(_("component"), max_length=64, unique=True)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("background heartbeat")
        verbose_name_plural = _("background heartbeats")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScheduledJobRun(models.Model):
    """When the scheduler last enqueued a periodic job, so restarts and twin schedulers agree."""

    name = models.CharField(_("job"), max_length=100, unique=True)
    last_enqueued_at = models.DateTimeField(_("last enqueued"), null=True, blank=True)
    last_result_id = models.CharField(_("last task result ID"), max_length=64, blank=True)
    # When the oldest run enqueued since the last one finished was enqueued (None: none waits).
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")
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
        verbose_name=_("app"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    body = models.TextField(_("raw body"))
    # The exact bytes, kept only when the text above cannot hold them (not UTF-8, NUL bytes).
    body_bytes = models.BinaryField(_("raw bytes"), null=True, blank=True, editable=False)
    remote_addr = models.GenericIPAddressField(_("sender"), null=True, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    error = models.TextField(_("error"), blank=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    reports = models.PositiveIntegerField(_("reports in body"), default=0)
    attempts = models.PositiveSmallIntegerField(_("apply attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    foreign = models.PositiveIntegerField(
        _("reports for another app's calls"),
        default=0,
        help_text=_("Reports whose voiceId belongs to a call of another app: never applied."),
    )

    class Meta:
        verbose_name = _("push event")
        verbose_name_plural = _("push inbox")
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
        return gettext("%(kind)s push #%(id)s") % {"kind": self.get_kind_display(), "id": self.pk}


class ApiRequestLog(models.Model):
    """Every ITNIO request the portal makes, redacted: who, what, how it ended."""

    account = models.ForeignKey(
        ItnioAccount,
        on_delete=models.SET_NULL,
        null=True,
        related_name="request_logs",
        verbose_name=_("account"),
    )
    endpoint = models.CharField(_("endpoint"), max_length=64, db_index=True)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=255)
    started_at = models.DateTimeField(_("started"), db_index=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    code = models.CharField(_("business code"), max_length=16, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, db_index=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    triggered_by = models.CharField(_("triggered by"), max_length=150, blank=True)
    object_type = models.CharField(_("concerns (type)"), max_length=64, blank=True)
    object_id = models.CharField(_("concerns (ID)"), max_length=64, blank=True)
    summary = models.JSONField(_("request summary"), default=dict, blank=True)

    class Meta:
        verbose_name = _("API request")
        verbose_name_plural = _("API request log")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="apilog_object")]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.outcome}"
