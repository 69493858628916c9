"""Models of the campaigns app, one module per area, all importable from `campaigns.models`.

- accounts: ITNIO accounts and apps, push tokens and push URLs
- voice: uploaded voice files and calls (TTS, group, SIP) with their ITNIO records
- audience: contact lists and do-not-call (suppression) lists
- campaigns: voice broadcast campaigns, callee imports, dispatch batches and callees
- variants: the A/B variants (voice files) of a campaign
- ai: AI tasks, AI customers and AI call records
- figures: pre-aggregated daily call figures and the marks of days to recompute
- operations: background heartbeats, scheduled job runs, the push inbox, the ITNIO request log
- personal_data: erased numbers (salted digests only)
- money: the apps' rate tables
- api: REST API tokens (digests only) and Idempotency-Key reservations
- approvals: two-person approval of launches
- balances: the balance watch's readings
- reports: users' scheduled e-mail reports
- alerts: alert rules and whether they fire
- webhooks: outbound webhook subscriptions, their outbox and delivery log
"""

from campaigns.models.accounts import ItnioAccount, ItnioApp, new_push_token, push_path_for
from campaigns.models.ai import AiCallRecord, AiCustomer, AiTask
from campaigns.models.alerts import AlertRule
from campaigns.models.api import ApiIdempotencyKey, ApiToken
from campaigns.models.approvals import LaunchApproval
from campaigns.models.audience import (
    PORTAL_WIDE_LIST,
    Contact,
    ContactImport,
    ContactList,
    SuppressionEntry,
    SuppressionList,
)
from campaigns.models.balances import BalanceReading
from campaigns.models.campaigns import Callee, CalleeImport, Campaign, DispatchBatch, ZoneSet
from campaigns.models.figures import CallDayStat, CallDayValue, CallStatMark
from campaigns.models.money import AppRate, BillMismatch
from campaigns.models.operations import ApiRequestLog, Heartbeat, PushEvent, ScheduledJobRun
from campaigns.models.personal_data import ErasedNumber
from campaigns.models.reports import ReportSubscription
from campaigns.models.variants import CampaignVariant
from campaigns.models.voice import Call, VoiceFile, voice_file_upload_to
from campaigns.models.webhooks import WebhookDelivery, WebhookMessage, WebhookSubscription

__all__ = [
    "PORTAL_WIDE_LIST",
    "AiCallRecord",
    "AiCustomer",
    "AiTask",
    "AlertRule",
    "ApiIdempotencyKey",
    "ApiRequestLog",
    "ApiToken",
    "AppRate",
    "BalanceReading",
    "BillMismatch",
    "Call",
    "CallDayStat",
    "CallDayValue",
    "CallStatMark",
    "Callee",
    "CalleeImport",
    "Campaign",
    "CampaignVariant",
    "Contact",
    "ContactImport",
    "ContactList",
    "DispatchBatch",
    "ErasedNumber",
    "Heartbeat",
    "ItnioAccount",
    "ItnioApp",
    "LaunchApproval",
    "PushEvent",
    "ReportSubscription",
    "ScheduledJobRun",
    "SuppressionEntry",
    "SuppressionList",
    "VoiceFile",
    "WebhookDelivery",
    "WebhookMessage",
    "WebhookSubscription",
    "ZoneSet",
    "new_push_token",
    "push_path_for",
    "voice_file_upload_to",
]
