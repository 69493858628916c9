"""Outbound webhooks: Standard Webhooks signatures, the outbox written by the push apply, delivery
with backoff until dead, replay with the same webhook-id, the SSRF guard, the commands, and the
admin (Admins only; the signing secret shown once and nowhere else)."""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from datetime import timedelta

import pytest
import requests
import responses
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from campaigns.models import Call, WebhookDelivery, WebhookMessage, WebhookSubscription
from campaigns.services.outbound_hooks import (
    CALL_FINAL,
    WebhookError,
    emit,
    webhook_subscribe,
)
from campaigns.services.outbound_hooks_delivery import (
    backoff,
    webhooks_deliver_due,
    webhooks_replay,
)
from campaigns.services.outbound_hooks_http import RefusedAddress, address_problem, url_problem
from tests.campaigns.conftest import add_callees, uploaded_file  # noqa: F401 (a fixture)
from tests.conftest import make_staff
from tests.test_pushes import final_report, push, ringing_report

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.example.com/itnio"


@pytest.fixture
def public_dns(monkeypatch):
    """hooks.example.com resolves to a public address (no real DNS in the tests)."""
    real = socket.getaddrinfo
    table = {"hooks.example.com": "93.184.215.14", "rebind.example.com": "10.1.2.3"}

    def fake(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table


@pytest.fixture
def hook(public_dns):
    return webhook_subscribe(url=HOOK, events=[CALL_FINAL], created_by="test")


def _due_now(**kwargs):
    return webhooks_deliver_due(max_seconds=5, now=timezone.now() + timedelta(days=2), **kwargs)


# --- signatures -----------------------------------------------------------------------------
@responses.activate
def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(hook):
    responses.post(HOOK, status=204)
    emit(CALL_FINAL, [{"voice_id": "V9", "cost": "0.02"}])

    report = webhooks_deliver_due(max_seconds=5)

    assert report.delivered == 1
    sent = responses.calls[0].request
    headers = {k: v for k, v in sent.headers.items()}
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {k.lower() for k in headers}
    payload = Webhook(hook.secret).verify(sent.body, headers)
    assert payload["type"] == "call.final" and payload["data"]["voice_id"] == "V9"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "B" * 43).verify(sent.body, headers)  # another secret does not verify
    message = WebhookMessage.objects.get()
    assert message.state == WebhookMessage.State.DELIVERED
    assert headers["webhook-id"] == message.msg_id
    assert hook.secret.startswith("whsec_")
    assert WebhookSubscription.objects.get().secret == hook.secret  # decrypts
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM campaigns_webhooksubscription")
        stored = cursor.fetchone()[0]
    assert hook.secret not in stored  # encrypted at rest


# --- the outbox written by the push apply ----------------------------------------------------
def test_a_pushs_final_record_gives_exactly_one_call_final_per_call(hook, voice_app):
    web = Client()
    push(web, voice_app, [ringing_report("V1"), ringing_report("V2")])
    assert not WebhookMessage.objects.exists()  # not final yet

    push(web, voice_app, [final_report("V1"), final_report("V2"), final_report("V1")])
    push(web, voice_app, [final_report("V1", cost="0.9")])  # a final replacing a final: no event

    messages = WebhookMessage.objects.filter(event_type=CALL_FINAL)
    voice_ids = sorted(json.loads(m.payload)["data"]["voice_id"] for m in messages)
    assert voice_ids == ["V1", "V2"]
    assert Call.objects.filter(state=Call.State.FINAL).count() == 2


def test_nothing_is_written_without_a_subscriber(voice_app):
    push(Client(), voice_app, [final_report("V1")])
    assert not WebhookMessage.objects.exists()


@pytest.mark.parametrize("concurrency", [1, 4])
@responses.activate
def test_a_batch_is_delivered_several_requests_at_a_time(hook, settings, concurrency):
    """A slow receiver is not called one message after the other: up to WEBHOOKS_CONCURRENCY
    requests are in flight, and every message of the batch is delivered and logged once."""
    settings.WEBHOOKS_CONCURRENCY = concurrency
    lock, in_flight, most = threading.Lock(), [0], [0]

    def slow(request):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return 204, {}, ""

    responses.add_callback(responses.POST, HOOK, callback=slow)
    emit(CALL_FINAL, [{"voice_id": f"V{i}"} for i in range(12)])
    assert webhooks_deliver_due(max_seconds=5).delivered == 12
    assert most[0] <= concurrency and (most[0] > 1) == (concurrency > 1)
    assert WebhookMessage.objects.filter(state=WebhookMessage.State.DELIVERED).count() == 12
    assert WebhookDelivery.objects.filter(ok=True).count() == 12


# --- retries, backoff, dead, replay ----------------------------------------------------------
@responses.activate
def test_a_500_and_a_timeout_are_retried_with_exponential_backoff(hook, settings):
    responses.post(HOOK, status=500, body="oops")
    responses.post(HOOK, body=requests.exceptions.ConnectTimeout())
    responses.post(HOOK, status=200, body="ok")
    emit(CALL_FINAL, [{"voice_id": "V1"}])
    message = WebhookMessage.objects.get()

    before = timezone.now()
    assert webhooks_deliver_due(max_seconds=5).failed == 1
    message.refresh_from_db()
    assert message.state == WebhookMessage.State.PENDING and message.attempts == 1
    wait = message.next_attempt_at - before
    assert timedelta(seconds=55) < wait < timedelta(seconds=70)  # base 60 s
    assert webhooks_deliver_due(max_seconds=5).delivered == 0  # not due yet: nothing sent
    assert len(responses.calls) == 1

    assert _due_now().failed == 1
    message.refresh_from_db()
    assert message.attempts == 2 and "Timed out" in message.last_error
    assert _due_now().delivered == 1

    log = list(WebhookDelivery.objects.order_by("attempt"))
    assert [(d.attempt, d.status_code, d.ok) for d in log] == [
        (1, 500, False),
        (2, None, False),
        (3, 200, True),
    ]
    assert log[0].response_excerpt == "oops" and log[0].error == "HTTP 500"
    assert backoff(1) == timedelta(minutes=1) and backoff(2) == timedelta(minutes=2)
    assert backoff(30) == timedelta(seconds=settings.WEBHOOKS_RETRY_CAP_SECONDS)


@responses.activate
def test_dead_after_the_last_attempt_and_a_replay_keeps_the_webhook_id(hook, settings):
    settings.WEBHOOKS_MAX_ATTEMPTS = 3
    responses.post(HOOK, status=503)
    emit(CALL_FINAL, [{"voice_id": "V1"}])
    for _ in range(5):
        _due_now()
    message = WebhookMessage.objects.get()
    assert (message.state, message.attempts) == (WebhookMessage.State.DEAD, 3)
    assert len(responses.calls) == 3

    responses.replace(responses.POST, HOOK, status=200)
    assert webhooks_replay(WebhookMessage.objects.all()) == 1
    assert webhooks_deliver_due(max_seconds=5).delivered == 1
    ids = {c.request.headers["webhook-id"] for c in responses.calls}
    assert ids == {message.msg_id}
    message.refresh_from_db()
    assert message.state == WebhookMessage.State.DELIVERED


@responses.activate
def test_a_redirect_is_not_followed(hook):
    responses.post(HOOK, status=302, headers={"Location": "http://169.254.169.254/"})
    emit(CALL_FINAL, [{"voice_id": "V1"}])
    assert webhooks_deliver_due(max_seconds=5).failed == 1
    assert len(responses.calls) == 1
    assert "not followed" in WebhookMessage.objects.get().last_error


# --- SSRF ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://192.168.1.1/hook",
        "https://rebind.example.com/hook",  # a name resolving to a private address
    ],
)
def test_private_addresses_are_refused_when_subscribing(url, public_dns):
    with pytest.raises(WebhookError, match="public addresses only"):
        webhook_subscribe(url=url, events=[CALL_FINAL], created_by="test")
    assert not WebhookSubscription.objects.exists()


def test_http_is_refused_unless_allowed(public_dns, settings):
    with pytest.raises(WebhookError, match="https://"):
        webhook_subscribe(url="http://hooks.example.com/x", events=[CALL_FINAL], created_by="t")
    settings.WEBHOOKS_ALLOW_HTTP = True
    assert url_problem("http://hooks.example.com/x") is None


def test_the_setting_allows_private_addresses(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    assert address_problem("127.0.0.1") is None
    assert url_problem("https://10.0.0.5/hook") is None


@responses.activate
def test_a_name_that_resolves_to_a_private_address_later_is_refused_at_delivery(hook, public_dns):
    emit(CALL_FINAL, [{"voice_id": "V1"}])
    public_dns["hooks.example.com"] = "169.254.169.254"  # DNS rebinding after subscribing

    assert webhooks_deliver_due(max_seconds=5).failed == 1
    assert len(responses.calls) == 0  # nothing was sent
    assert "Refused" in WebhookMessage.objects.get().last_error


def test_the_connected_address_itself_is_checked():
    """The guard on the socket: a connection that lands on loopback is closed and refused."""
    import threading

    from campaigns.services.outbound_hooks_http import guarded_session

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    try:
        with pytest.raises(RefusedAddress):
            guarded_session().post(f"http://127.0.0.1:{port}/", data=b"{}", timeout=2)
    finally:
        server.close()


# --- commands --------------------------------------------------------------------------------
def test_webhook_add_prints_the_secret_on_its_last_line(public_dns):
    out = io.StringIO()
    call_command("webhook_add", HOOK, "--events", "call.final,campaign.completed", stdout=out)
    last = out.getvalue().strip().splitlines()[-1]
    subscription = WebhookSubscription.objects.get()
    assert last.startswith("whsec_") and last == subscription.secret
    assert subscription.events == ["call.final", "campaign.completed"]

    listing = io.StringIO()
    call_command("webhook_list", stdout=listing)
    assert HOOK in listing.getvalue() and last not in listing.getvalue()

    with pytest.raises(CommandError, match=r"Unknown event 'call\.nope'"):
        call_command("webhook_add", HOOK, "--events", "call.nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="public addresses only"):
        call_command("webhook_add", "https://10.1.1.1/", "--events", "call.final")

    call_command("webhook_remove", str(subscription.pk), stdout=io.StringIO())
    assert not WebhookSubscription.objects.exists()


# --- admin -----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [None, "Viewer", "Operator"])
def test_only_admins_reach_the_webhook_pages(role, hook):
    client = Client()
    client.force_login(make_staff(f"u-{role}", role))
    for name in ("webhooksubscription", "webhookmessage", "webhookdelivery"):
        assert client.get(f"/admin/campaigns/{name}/").status_code == 403
    assert client.get("/admin/campaigns/webhooksubscription/add/").status_code == 403


def test_the_secret_is_shown_once_and_never_in_the_list_csv_or_logs(public_dns, caplog):
    client = Client()
    client.force_login(make_staff("boss", "Admin"))
    caplog.set_level(logging.DEBUG)
    response = client.post(
        "/admin/campaigns/webhooksubscription/add/",
        {"url": HOOK, "events": ["call.final"], "description": "CRM", "active": "on"},
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    secret = subscription.secret
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]

    pages = [
        client.get("/admin/campaigns/webhooksubscription/"),
        client.get(f"/admin/campaigns/webhooksubscription/{subscription.pk}/change/"),
        client.get("/admin/campaigns/webhooksubscription/?q=whsec_"),
    ]
    with responses.RequestsMock() as mock:
        mock.post(HOOK, status=500, body="nope")
        emit(CALL_FINAL, [{"voice_id": "V1"}])
        webhooks_deliver_due(max_seconds=5)
    delivery = WebhookDelivery.objects.get()
    pages.append(client.get("/admin/campaigns/webhookmessage/"))
    pages.append(client.get("/admin/campaigns/webhookdelivery/"))
    csv = client.post(
        "/admin/campaigns/webhookdelivery/",
        {"action": "export_csv", "index": "0", "_selected_action": [delivery.pk]},
    )
    assert csv["Content-Type"].startswith("text/csv") and HOOK in csv.content.decode("utf-8-sig")
    for page in [*pages, csv]:
        assert page.status_code == 200
        assert secret not in page.content.decode("utf-8-sig")
    assert secret not in caplog.text
    assert "Webhook" in caplog.text  # the failure was logged, without the secret


def test_an_admin_form_refuses_a_private_url_with_its_reason(public_dns):
    client = Client()
    client.force_login(make_staff("boss", "Admin"))
    response = client.post(
        "/admin/campaigns/webhooksubscription/add/",
        {"url": "https://169.254.169.254/", "events": ["call.final"], "active": "on"},
    )
    assert response.status_code == 200 and b"link-local" in response.content
    assert not WebhookSubscription.objects.exists()


@responses.activate
def test_the_admin_replays_a_message(hook):
    responses.post(HOOK, status=200)
    emit(CALL_FINAL, [{"voice_id": "V1"}])
    webhooks_deliver_due(max_seconds=5)
    message = WebhookMessage.objects.get()
    client = Client()
    client.force_login(make_staff("boss", "Admin"))
    response = client.post(
        "/admin/campaigns/webhookmessage/",
        {"action": "replay", "index": "0", "_selected_action": [message.pk]},
    )
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.state == WebhookMessage.State.PENDING and message.attempts == 0


# --- the other events ------------------------------------------------------------------------
def _events(event_type):
    return [
        json.loads(m.payload)["data"]
        for m in WebhookMessage.objects.filter(event_type=event_type).order_by("id")
    ]


def test_campaign_state_changes_and_completion_are_events(
    public_dns,
    uploaded_file,  # noqa: F811
    voice_app,
):
    from campaigns.models import Callee, Campaign
    from campaigns.services.campaign_state import complete_if_done, set_campaign_state

    campaign = Campaign.objects.create(
        name="Spring promo", app=voice_app, voice_file=uploaded_file, display_num="1008122211"
    )
    add_callees(campaign, 3)

    webhook_subscribe(
        url=HOOK, events=["campaign.state_changed", "campaign.completed"], created_by="test"
    )
    set_campaign_state(campaign, Campaign.State.RUNNING, "go", "tester")
    assert not complete_if_done(campaign)  # callees pending: no event
    Callee.objects.filter(campaign=campaign).update(state=Callee.State.SUBMITTED)
    assert complete_if_done(campaign)

    changes = [(e["previous_state"], e["state"]) for e in _events("campaign.state_changed")]
    assert changes == [("draft", "running"), ("running", "completed")]
    completed = _events("campaign.completed")
    assert [e["id"] for e in completed] == [campaign.pk]


def test_an_ai_records_first_final_version_is_one_event(public_dns, account):
    from campaigns.services.ai_records import ai_record_upsert
    from itnio_portal.itnio import AiRecord
    from tests.conftest import AI_APP_ID

    ai_app = account.apps.get(app_id=AI_APP_ID)
    webhook_subscribe(url=HOOK, events=["ai_record.final"], created_by="test")
    for _ in range(2):  # a push and its duplicate
        ai_record_upsert(
            app=ai_app,
            record=AiRecord.from_api({"callId": "c1", "resultStatus": "ANSWERED"}),
            source="push",
        )
    assert [e["call_id"] for e in _events("ai_record.final")] == ["c1"]


def test_emit_refuses_an_unknown_event_and_budget_reached_is_emittable(hook):
    with pytest.raises(ValueError):
        emit("call.nope", [{}])
    WebhookSubscription.objects.update(events=["campaign.budget_reached", "balance.low"])
    assert emit("campaign.budget_reached", [{"id": 1}]) == 1
    assert emit("balance.low", [{"account": 1}]) == 1


@responses.activate
def test_an_unreadable_secret_fails_the_attempt_with_its_reason(hook, monkeypatch):
    import campaigns.services.outbound_hooks_delivery as delivery
    from campaigns.fields import UndecryptableSecret

    emit(CALL_FINAL, [{"voice_id": "V1"}])
    real = delivery._claim

    def claim(limit, now):
        batch = real(limit, now)
        for message in batch:
            message.subscription.secret = UndecryptableSecret("gAAAAA-lost")
        return batch

    monkeypatch.setattr(delivery, "_claim", claim)
    assert webhooks_deliver_due(max_seconds=5).failed == 1
    assert len(responses.calls) == 0
    assert "ITNIO_FIELD_KEYS" in WebhookMessage.objects.get().last_error
