"""Voice broadcast campaigns: the campaign, its callee imports, its sendGroup batches and its
callees (the callee state machine)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.models.accounts import ItnioApp
from campaigns.models.voice import Call, VoiceFile


class Campaign(models.Model):
    """A voice broadcast: one uploaded voice file played to a list of callees via sendGroup."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=100, unique=True)
    app = models.ForeignKey(
        ItnioApp, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("app")
    )
    voice_file = models.ForeignKey(
        VoiceFile, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("voice file")
    )
    display_num = models.CharField(_("display number"), max_length=15, blank=True)
    loop_count = models.PositiveSmallIntegerField(_("loop count"), null=True, blank=True)
    max_duration = models.PositiveSmallIntegerField(_("max duration (s)"), null=True, blank=True)
    max_ringing_time = models.PositiveSmallIntegerField(
        _("max ringing time (s)"), null=True, blank=True
    )
    called_info = models.CharField(
        "calledInfo",
        max_length=1000,
        blank=True,
        help_text=_(
            "Sent with every request, followed by a short batch tag so records and "
            "pushes can be traced to their batch."
        ),
    )
    scheduled_start = models.DateTimeField(_("scheduled start"), null=True, blank=True)
    window_start = models.TimeField(_("calling window from"), null=True, blank=True)
    window_end = models.TimeField(_("calling window until"), null=True, blank=True)
    window_tz = models.CharField(_("window time zone"), max_length=64, default="UTC")
    # Calling windows (campaigns/services/windows.py): in `window_tz` (a fixed zone, as before)
    # or in each callee's own zones; on the days of `window_days` (bit 0 Monday … bit 6
    # Sunday), never on `skip_dates` (ISO dates, local to the zone the window is read in).
    window_callee_local = models.BooleanField(
        _("window in the callee's local time"),
        default=False,
        help_text=_("Read the window in each callee's own time zones instead of one zone."),
    )
    fallback_zone = models.CharField(
        _("fallback time zone"),
        max_length=64,
        blank=True,
        help_text=_("For numbers whose zone is unknown (blank: the portal's time zone)."),
    )
    window_days = models.PositiveSmallIntegerField(_("calling days"), default=127)
    skip_dates = models.JSONField(_("excluded dates"), default=list, blank=True)
    # Pacing (campaigns/services/pacing.py): at most this many numbers a minute, a token
    # bucket kept in this row so every sender of the dispatcher draws from it.
    rate_per_minute = models.PositiveIntegerField(
        _("rate (numbers per minute)"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(100000)],
        help_text=_("At most this many numbers a minute (blank: as fast as ITNIO allows)."),
    )
    pace_tokens = models.FloatField(_("pacing tokens"), default=0, editable=False)
    pace_at = models.DateTimeField(_("pacing refilled"), null=True, blank=True, editable=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.DRAFT)
    state_reason = models.TextField(_("reason for the last change"), blank=True)
    state_changed_at = models.DateTimeField(_("state changed"), null=True, blank=True)
    state_changed_by = models.CharField(_("state changed by"), max_length=150, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True)
    completed_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # The running dispatcher's lease: only the holder sends; a stale lease means it died.
    dispatch_lease = models.CharField(_("dispatcher"), max_length=64, blank=True)
    dispatch_heartbeat_at = models.DateTimeField(_("dispatcher last seen"), null=True, blank=True)
    # The audience besides the direct imports: contact lists, optionally one segment of them.
    contact_lists = models.ManyToManyField(
        "campaigns.ContactList",
        blank=True,
        related_name="campaigns",
        verbose_name=_("contact lists"),
        help_text=_(
            "Their contacts become the campaign's callees at launch (a number in several "
            "lists is called once)."
        ),
    )
    segment_field = models.CharField(
        _("segment: custom field"),
        max_length=100,
        blank=True,
        help_text=_("Only the contacts whose custom field has the value below (optional)."),
    )
    segment_value = models.CharField(_("segment: value"), max_length=255, blank=True)
    # At most this many calls to one number within so many hours, across every campaign, TTS
    # and SIP call (frequency_caps.py); none when empty.
    frequency_cap_calls = models.PositiveSmallIntegerField(
        _("frequency cap: calls"), null=True, blank=True
    )
    frequency_cap_hours = models.PositiveSmallIntegerField(
        _("frequency cap: within hours"), null=True, blank=True
    )
    cap_waits = models.BooleanField(
        _("wait for the frequency cap"),
        default=False,
        help_text=_(
            "Over the cap, a callee waits until the cap allows it, instead of being skipped."
        ),
    )
    opt_out_key = models.CharField(
        _("opt-out key"),
        max_length=1,
        blank=True,
        help_text=_(
            'A key (0–9, * or #) that means "do not call me again": a call record with it '
            "puts the number on the portal-wide do-not-call list."
        ),
    )
    # Retries by outcome (campaigns/services/retries.py): up to `retries` more attempts of a
    # callee whose final record says it was not reached, each due `retry_after_minutes` after
    # the previous attempt's hang-up time.
    retries = models.PositiveSmallIntegerField(
        _("retries"),
        default=0,
        validators=[MaxValueValidator(5)],
        help_text=_(
            "Up to this many more attempts (0–5) of a callee whose final record says it was not "
            "reached (not answered, busy, failed)."
        ),
    )
    retry_after_minutes = models.PositiveIntegerField(
        _("retry after (minutes)"),
        default=60,
        validators=[MaxValueValidator(10080)],
        help_text=_("A retry is due this many minutes after the previous attempt's hang-up."),
    )

    # A budget (money.md: budgets.py): the claim never takes a batch whose worst case, added to
    # what is billed and the worst case of the calls not final yet, would exceed it. The two
    # running totals are kept by the claim (reserved) and the record apply (both).
    budget_amount = models.DecimalField(
        _("budget"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    budget_currency = models.CharField(_("budget currency"), max_length=8, blank=True)
    budget_billed = models.DecimalField(
        _("billed"), max_digits=18, decimal_places=6, default=0, editable=False
    )
    budget_reserved = models.DecimalField(
        _("reserved (worst case of calls not final)"),
        max_digits=18,
        decimal_places=6,
        default=0,
        editable=False,
    )
    budget_waiting = models.BooleanField(
        _("waiting for budget room"), default=False, editable=False
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        permissions = [
            ("approve_launch", "Can approve or reject another person's campaign launch"),
        ]

    def __str__(self) -> str:
        return self.name


class ZoneSet(models.Model):
    """A sorted set of IANA zone names some numbers share ("" for none known: the campaign's
    fallback zone). Few rows: the claim computes which are inside their window now."""

    key = models.CharField(_("zones"), max_length=1000, unique=True)

    class Meta:
        verbose_name = _("zone set")
        verbose_name_plural = _("zone sets")

    def __str__(self) -> str:
        return self.key or "-"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.key.split(",")) if self.key else ()


class CalleeImport(models.Model):
    """One callee file imported into a campaign: progress, counts, rejected rows."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Reading")
        STAGED = "staged", _("Read: waiting for confirmation")
        CONFIRMING = "confirming", _("Confirming: callees becoming pending")
        CONFIRMED = "confirmed", _("Confirmed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="imports", verbose_name=_("campaign")
    )
    file = models.FileField(_("file"), upload_to="imports/")
    original_name = models.CharField(_("file name"), max_length=255)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    total_bytes = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    processed_bytes = models.PositiveBigIntegerField(_("bytes read"), default=0)
    rows = models.PositiveIntegerField(_("rows read"), default=0)
    imported = models.PositiveIntegerField(_("imported"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    duplicates = models.PositiveIntegerField(_("duplicates"), default=0)
    confirmed = models.PositiveIntegerField(_("made pending"), default=0)
    rejected_file = models.FileField(_("rejected rows"), upload_to="imports/rejected/", blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.CharField(_("imported by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    default_region = models.CharField(
        _("default region"),
        max_length=2,
        blank=True,
        help_text=_(
            "ISO country (e.g. SG) whose national numbers the file may hold; blank: every "
            "number carries its country code."
        ),
    )
    # The worker reading the file holds a lease renewed with every chunk it commits; a lease
    # silent for IMPORT_LEASE_SECONDS belongs to a worker that stopped, and the import resumes.
    lease = models.CharField(_("worker lease"), max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(_("worker last seen"), null=True, blank=True)
    resumes = models.PositiveSmallIntegerField(_("times resumed"), default=0)
    resumed_after_rows = models.PositiveIntegerField(
        _("rows read before the last resume"), default=0
    )

    class Meta:
        verbose_name = _("callee import")
        verbose_name_plural = _("callee imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.campaign}"


class DispatchBatch(models.Model):
    """One sendGroup request of a campaign (≤ ITNIO_SEND_GROUP_MAX callees)."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown (outcome not known)")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    sequence = models.PositiveIntegerField(_("sequence"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    size = models.PositiveIntegerField(_("callees"), default=0)
    called_info = models.CharField(_("calledInfo sent"), max_length=1000, blank=True)
    request_started_at = models.DateTimeField(_("request started"), null=True, blank=True)
    request_finished_at = models.DateTimeField(_("request finished"), null=True, blank=True)
    code = models.CharField(_("business code"), max_length=16, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Its rejected numbers gave their budget reservation back (budgets.after_answer), once.
    budget_settled = models.BooleanField(_("budget settled"), default=False, editable=False)
    # An A/B campaign sends each variant's callees in batches of their own voice file.
    variant = models.ForeignKey(
        "campaigns.CampaignVariant",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="batches",
        verbose_name=_("variant"),
    )

    class Meta:
        verbose_name = _("dispatch batch")
        verbose_name_plural = _("dispatch batches")
        ordering = ["campaign", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "sequence"], name="batch_unique_sequence")
        ]
        indexes = [models.Index(fields=["state", "request_started_at"], name="batch_state_started")]

    def __str__(self) -> str:
        return gettext("%(campaign)s batch %(sequence)s") % {
            "campaign": self.campaign,
            "sequence": self.sequence,
        }

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
    | skipped | not called, for `skip_reason` (do-not-call, frequency cap): the claim's | yes |
    | waiting | over the frequency cap in a campaign that waits: claimed once allowed | no |
    | retry | its last attempt was not reached: claimed again once `retry_due_at` passed | no |

    Staged callees belong to an unconfirmed import and are not counted. "Final" is not stored
    here: it is read from the callee's Call (campaigns/services/campaign_state.py, which also
    holds the words of the campaign page's legend). Progress = terminal / all; a campaign is sent
    once nothing is pending or sending, and finished once nothing is unknown either.
    """

    class State(models.TextChoices):
        STAGED = "staged", _("Staged (import not confirmed)")
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SUBMITTED = "submitted", _("Submitted")
        REJECTED = "rejected", _("Rejected")
        UNKNOWN = "unknown", _("Unknown (send outcome not known)")
        SKIPPED = "skipped", _("Skipped (not called)")
        WAITING = "waiting", _("Waiting (frequency cap)")
        RETRY = "retry", _("Waiting (retry)")

    class SkipReason(models.TextChoices):
        DO_NOT_CALL = "do-not-call", _("do-not-call")
        FREQUENCY_CAP = "frequency-cap", _("frequency cap")
        NO_WINDOW = "no-window", _("no window")

    # No index of its own: (campaign, number) and (campaign, state, id) both start with it.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        related_name="callees",
        db_index=False,
        verbose_name=_("campaign"),
    )
    number = models.CharField(_("number"), max_length=15)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    row_number = models.PositiveIntegerField(_("row in file"), null=True, blank=True)
    source = models.ForeignKey(
        CalleeImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="callees",
        verbose_name=_("source"),
    )
    batch = models.ForeignKey(
        DispatchBatch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="callees",
        verbose_name=_("batch"),
    )
    voice_id = models.CharField("voiceId", max_length=64, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    call = models.OneToOneField(
        Call,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="latest_of_callee",
        verbose_name=_("latest call"),
    )
    # Every attempt is its own Call (Call.campaign_callee, Call.attempt); `call` is the latest.
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0, db_default=0)
    retry_due_at = models.DateTimeField(_("retry due"), null=True, blank=True)
    variant = models.ForeignKey(
        "campaigns.CampaignVariant",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="callees",
        db_index=False,  # read per campaign: (campaign, state, id) serves it
        verbose_name=_("variant"),
    )
    # The number's time zones (windows.py), set in bulk when it becomes a callee; no index:
    # the claim tests it on the rows its ordered scan reads.
    zone_set = models.ForeignKey(
        "campaigns.ZoneSet",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=True,
        verbose_name=_("time zones"),
    )
    # The worst case of this callee (budgets.price_callees), in its campaign's cost currency
    # (the budget's, else the balance's); nullable without a default, like skip_reason.
    worst_cost = models.DecimalField(
        _("worst case"), max_digits=18, decimal_places=6, null=True, blank=True
    )
    # Nullable without a default: added to the callee table without rewriting it (SQLite).
    skip_reason = models.CharField(  # noqa: DJ001
        _("skipped because"), max_length=20, choices=SkipReason.choices, null=True, blank=True
    )

    class Meta:
        verbose_name = _("callee")
        verbose_name_plural = _("callees")
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
            # The frequency cap's look-up of a number in flight in other campaigns: partial,
            # so it holds only the few callees in a request or unknown.
            models.Index(
                fields=["number"],
                condition=models.Q(state__in=["sending", "unknown"]),
                name="callee_in_flight_number",
            ),
            # The claim's release of due retries (services/retries.py): partial, so it holds
            # only the callees waiting for a retry.
            models.Index(
                fields=["campaign", "retry_due_at"],
                condition=models.Q(state="retry"),
                name="callee_retry_due",
            ),
        ]

    def __str__(self) -> str:
        return self.number
