"""One row of every model the portal's admin lists, for tests that walk every admin page."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from django.db import models
from django.utils import timezone

from campaigns.models import (
    AiCallRecord,
    AiCustomer,
    AlertRule,
    ApiRequestLog,
    ApiToken,
    AppRate,
    BillMismatch,
    Call,
    Callee,
    CalleeImport,
    Campaign,
    Contact,
    ContactImport,
    ContactList,
    ErasedNumber,
    Heartbeat,
    ItnioAccount,
    PushEvent,
    ReportSubscription,
    ScheduledJobRun,
    SuppressionEntry,
    SuppressionList,
    VoiceFile,
    WebhookDelivery,
    WebhookMessage,
    WebhookSubscription,
)
from campaigns.services.api_tokens import api_token_create
from tests.ai.conftest import make_task
from tests.audio import wav_bytes
from tests.conftest import AI_APP_ID, VOICE_APP_ID
from tests.sipphones.conftest import make_group


def one_of_each(account: ItnioAccount) -> dict[type[models.Model], Any]:
    """A row per admin-listed model, linked together; returns model -> row."""
    voice_app = account.apps.get(app_id=VOICE_APP_ID)
    ai_app = account.apps.get(app_id=AI_APP_ID)
    now = timezone.now()
    voice_file = VoiceFile(app=voice_app, file_name="promo.wav", size=16044)
    voice_file.content_type = "audio/wav"
    voice_file.audio.save("promo.wav", io.BytesIO(wav_bytes()), save=True)
    campaign = Campaign.objects.create(
        name="Spring promo", app=voice_app, voice_file=voice_file, called_info="spring"
    )
    callee_import = CalleeImport(
        campaign=campaign, original_name="list.csv", state=CalleeImport.State.STAGED, rows=2
    )
    callee_import.file.save("list.csv", ContentFile(b"number\n919800000001\n"), save=False)
    callee_import.rejected_file.save("list-rejected.csv", ContentFile(b"row,why\n"), save=False)
    callee_import.save()
    call = Call.objects.create(
        app=voice_app,
        campaign=campaign,
        kind=Call.Kind.GROUP,
        state=Call.State.FINAL,
        callee="919800000009",
        voice_id="V1",
        cost=Decimal("0.02"),
        currency="USD",
        submit_time=now - timedelta(minutes=5),
        hangup_time=now - timedelta(minutes=4),
    )
    callee = Callee.objects.create(campaign=campaign, number="919800000001", source=callee_import)
    task = make_task(ai_app)
    customer = AiCustomer.objects.create(task=task, name="Ana", phone_number="6281234567")
    record = AiCallRecord.objects.create(
        call_id="C1",
        app=ai_app,
        task=task,
        customer=customer,
        source=AiCallRecord.Source.PUSH,
        start_time=now,
    )
    push = PushEvent.objects.create(app=voice_app, kind=PushEvent.Kind.VOICE, body="[]")
    log = ApiRequestLog.objects.create(
        account=account,
        endpoint="/sms/getBalance",
        method="GET",
        path="/sms/getBalance",
        started_at=now,
        outcome="ok",
    )
    rows = {
        ItnioAccount: account,
        type(voice_app): voice_app,
        VoiceFile: voice_file,
        Campaign: campaign,
        CalleeImport: callee_import,
        Callee: callee,
        Call: call,
        type(task): task,
        AiCustomer: customer,
        AiCallRecord: record,
        PushEvent: push,
        ApiRequestLog: log,
        Heartbeat: Heartbeat.objects.create(name="scheduler"),
        ScheduledJobRun: ScheduledJobRun.objects.create(name="sync_records"),
        ErasedNumber: ErasedNumber.objects.create(digest="0" * 64, erased_by="admin"),
        Group: Group.objects.get(name="Viewer"),
    }
    contact_list = ContactList.objects.create(name="VIPs")
    rows[ContactList] = contact_list
    rows[Contact] = Contact.objects.create(
        contact_list=contact_list, number="6591234567", country="SG", fields={"tier": "gold"}
    )
    campaign.contact_lists.add(contact_list)
    contact_import = ContactImport(
        contact_list=contact_list, original_name="vips.csv", state=ContactImport.State.DONE
    )
    contact_import.file.save("vips.csv", ContentFile(b"number\n6591234567\n"), save=False)
    contact_import.rejected_file.save("vips-rejected.csv", ContentFile(b"row\n"), save=False)
    contact_import.save()
    rows[ContactImport] = contact_import
    dnc = SuppressionList.objects.create(name="Complaints")
    rows[SuppressionList] = dnc
    rows[SuppressionEntry] = SuppressionEntry.objects.create(
        suppression_list=dnc, number="6598765432", reason="complaint"
    )
    group = make_group(voice_app)
    rows[type(group)] = group
    rows[User] = User.objects.create_user("someone", password="pw", is_staff=True)
    rows[ApiToken], _key = api_token_create(user=rows[User], name="deploy")
    rows[ReportSubscription] = ReportSubscription.objects.create(user=rows[User], app=voice_app)
    alert = AlertRule.objects.create(name="asr-watch", kind=AlertRule.Kind.ASR_LOW, threshold=30)
    alert.recipients.add(rows[User])
    rows[AlertRule] = alert
    rows[AppRate] = AppRate.objects.create(
        app=voice_app,
        prefix="65",
        rate=Decimal("0.03"),
        currency="USD",
        bill_period="60+60",
        source=AppRate.Source.CARD,
    )
    hook = WebhookSubscription.objects.create(
        url="https://hooks.example.com/itnio", events=["call.final"], secret="whsec_" + "A" * 43
    )
    message = WebhookMessage.objects.create(
        subscription=hook, msg_id="msg_1", event_type="call.final", payload="{}"
    )
    rows[WebhookSubscription] = hook
    rows[WebhookMessage] = message
    rows[WebhookDelivery] = WebhookDelivery.objects.create(
        message=message, subscription=hook, attempt=1, started_at=now, status_code=500
    )
    rows[BillMismatch] = BillMismatch.objects.create(
        call=rows[Call],
        app=rows[Call].app,
        day=timezone.now().date(),
        kind=BillMismatch.Kind.COST,
        expected_seconds=60,
        charged_seconds=60,
        expected_cost=Decimal("0.06"),
        cost=Decimal("0.09"),
        currency="USD",
    )
    return rows
