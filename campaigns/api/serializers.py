"""What the API shows of each object (read side). Secrets never appear: no API secret, key or
push token of an account or app, no digest of an API token, no webhook signing secret."""

from __future__ import annotations

from rest_framework import serializers

from campaigns.admin.campaign_budget import BUDGET_TOTALS
from campaigns.admin.campaigns import DRAFT_FIELDS
from campaigns.models import (
    AiCallRecord,
    AiTask,
    Call,
    Campaign,
    ContactImport,
    ContactList,
    ItnioAccount,
    ItnioApp,
    SuppressionEntry,
    VoiceFile,
    WebhookDelivery,
    WebhookSubscription,
)
from campaigns.services.calls import RECORD_FIELDS
from campaigns.services.windows import day_names


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = ItnioAccount
        fields = ["id", "name", "balance", "gift", "credit", "verified_at", "verify_error"]


class AppSerializer(serializers.ModelSerializer):
    account = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = ItnioApp
        fields = ["id", "app_id", "kind", "label", "active", "account", "rate_unit"]


class VoiceFileSerializer(serializers.ModelSerializer):
    app = serializers.CharField(source="app.app_id", read_only=True)

    class Meta:
        model = VoiceFile
        fields = [
            "id",
            "app",
            "file_name",
            "size",
            "content_type",
            "state",
            "remote_file_id",
            "last_error",
            "uploaded_at",
            "created_at",
        ]


class ContactListSerializer(serializers.ModelSerializer):
    contacts = serializers.IntegerField(source="contacts.count", read_only=True)

    class Meta:
        model = ContactList
        fields = ["id", "name", "contacts", "created_by", "created_at"]


class ContactImportSerializer(serializers.ModelSerializer):
    contact_list = serializers.CharField(source="contact_list.name", read_only=True)

    class Meta:
        model = ContactImport
        fields = [
            "id",
            "contact_list",
            "original_name",
            "default_region",
            "state",
            "total_bytes",
            "processed_bytes",
            "rows",
            "imported",
            "rejected",
            "duplicates",
            "error",
            "created_by",
            "created_at",
            "finished_at",
        ]


class SuppressionEntrySerializer(serializers.ModelSerializer):
    list = serializers.CharField(source="suppression_list.name", read_only=True)

    class Meta:
        model = SuppressionEntry
        fields = [
            "id",
            "list",
            "number",
            "reason",
            "source",
            "added_by",
            "created_at",
            "expires_at",
        ]


class CampaignSerializer(serializers.ModelSerializer):
    """A campaign: every field its draft's form edits (the admin's own list), the calling days
    and excluded dates as the form shows them, the budget's running totals, and its state."""

    app = serializers.CharField(source="app.app_id", read_only=True)
    voice_file = serializers.CharField(source="voice_file.file_name", read_only=True)
    contact_lists = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    calling_days = serializers.SerializerMethodField()
    excluded_dates = serializers.ListField(
        source="skip_dates", child=serializers.CharField(), read_only=True
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            *DRAFT_FIELDS,
            "calling_days",
            "excluded_dates",
            *BUDGET_TOTALS,
            "state",
            "state_reason",
            "state_changed_at",
            "created_by",
            "created_at",
            "launched_at",
            "completed_at",
        ]

    def get_calling_days(self, campaign: Campaign) -> list[str]:
        return day_names(campaign.window_days)


CALL_FIELDS = [
    "id",
    "app",
    "campaign",
    "kind",
    "state",
    "state_reason",
    "callee",
    "display_num",
    "voice_id",
    "called_info",
    "placed_at",
    "created_by",
    "created_at",
]
#: The detail's billing part: the call record's own fields, then where they came from.
BILLING_FIELDS = [*RECORD_FIELDS, "record_source", "synced_at"]


class CallSerializer(serializers.ModelSerializer):
    app = serializers.CharField(source="app.app_id", read_only=True)
    placed_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Call
        fields = [*CALL_FIELDS, "cost", "currency", "call_duration", "answer_time"]


class CallDetailSerializer(serializers.ModelSerializer):
    app = serializers.CharField(source="app.app_id", read_only=True)
    placed_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Call
        fields = [*CALL_FIELDS, "request", *BILLING_FIELDS]


class AiTaskSerializer(serializers.ModelSerializer):
    app = serializers.CharField(source="app.app_id", read_only=True)

    class Meta:
        model = AiTask
        fields = [
            "id",
            "app",
            "name",
            "mode",
            "state",
            "last_error",
            "remote_job_id",
            "remote_status",
            "remote_total",
            "remote_completed",
            "started_at",
            "started_by",
            "created_by",
            "created_at",
        ]


class AiCallRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = AiCallRecord
        fields = [
            "id",
            "call_id",
            "remote_job_id",
            "called_phone_number",
            "customer_name",
            "result_status",
            "intent_level",
            "hangup_by",
            "start_time",
            "end_time",
            "chat_duration",
            "chat_round",
            "charged_duration",
            "cost",
        ]


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    """A subscription without its signing secret (shown once, in the answer of its creation)."""

    pending = serializers.IntegerField(source="pending_count", read_only=True)
    dead = serializers.IntegerField(source="dead_count", read_only=True)

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "description",
            "active",
            "pending",
            "dead",
            "created_by",
            "created_at",
        ]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    msg_id = serializers.CharField(source="message.msg_id", read_only=True)
    event_type = serializers.CharField(source="message.event_type", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "msg_id",
            "event_type",
            "attempt",
            "started_at",
            "duration_ms",
            "status_code",
            "ok",
            "error",
            "response_excerpt",
        ]
