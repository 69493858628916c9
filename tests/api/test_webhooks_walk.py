"""Issue 17's acceptance, the webhook part: a CRM's receiver on 127.0.0.1 is subscribed through
the API, a small campaign runs on the sandbox to completion (the real dispatcher, the sandbox's
pushes into the portal, the push apply), the outbox is delivered by the real delivery code, and
the receiver verifies every event with the standardwebhooks library: one call.final per call,
the campaign's state changes, its completion. A tampered body does not verify; an answer of 500
is retried with the same webhook-id."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from campaigns.models import Call, Campaign, WebhookDelivery, WebhookMessage
from campaigns.services.outbound_hooks_delivery import webhooks_deliver_due
from tests.api.conftest import client_for
from tests.campaigns.conftest import add_callees
from tests.conftest import API_KEY, VOICE_APP_ID, apply_pushes

pytestmark = pytest.mark.django_db(transaction=True)
EVENTS = ["call.final", "campaign.state_changed", "campaign.completed"]
CALLEES = 6


class Receiver:
    """A CRM's webhook endpoint: keeps every request; answers 500 to the first `fail_first`."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[int, bytes, dict[str, str]]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    status = 500 if len(receiver.received) < receiver.fail_first else 204
                    receiver.received.append((status, body, dict(self.headers.items())))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/crm/itnio"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_crm_receives_every_event_of_a_campaign_signed(
    live_server, sandbox, sandbox_state, voice_app, uploaded_file, admin_user, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True  # the receiver is on 127.0.0.1
    settings.WEBHOOKS_ALLOW_HTTP = True  # and speaks plain HTTP
    settings.ITNIO_SEND_GROUP_MAX = 4
    sandbox_state.add_app(
        API_KEY, VOICE_APP_ID, kind="voice", push_url=live_server.url + voice_app.push_path
    )
    api = live_server.url + "/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Token {client_for(admin_user, 'crm').key}"

    with Receiver(fail_first=1) as crm:
        created = http.post(api + "/webhooks/", json={"url": crm.url, "events": EVENTS})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        subscription_id = created.json()["id"]

        campaign = Campaign.objects.create(
            name="Walk", app=voice_app, voice_file=uploaded_file, called_info="walk"
        )
        numbers = add_callees(campaign, CALLEES)
        plan = http.get(f"{api}/campaigns/{campaign.pk}/plan/").json()
        launched = http.post(
            f"{api}/campaigns/{campaign.pk}/launch/",
            json={"confirmation_token": plan["confirmation_token"]},
        )
        assert launched.status_code == 200, launched.text
        finish(campaign, sandbox_state)

        first = webhooks_deliver_due(max_seconds=10)
        assert (first.delivered, first.failed) == (CALLEES + 3 - 1, 1)  # the receiver's 500
        later = timezone.now() + timedelta(hours=1)  # the retry is due after its backoff
        assert webhooks_deliver_due(max_seconds=10, now=later).delivered == 1

    # Every request verifies with the secret the API answered once.
    verified = [(status, Webhook(secret).verify(body, h), h) for status, body, h in crm.received]
    assert len(verified) == CALLEES + 3 + 1  # 6 call.final, 2 state changes, 1 completion, 1 retry
    accepted = [(payload, h) for status, payload, h in verified if status == 204]
    by_type: dict[str, list[dict]] = {}
    for payload, _headers in accepted:
        by_type.setdefault(payload["type"], []).append(payload["data"])
    assert sorted(by_type) == sorted(EVENTS)

    # call.final: one per call, with what a CRM files against its contact.
    finals = {d["callee"]: d for d in by_type["call.final"]}
    assert len(by_type["call.final"]) == CALLEES and sorted(finals) == sorted(numbers)
    for call in Call.objects.filter(campaign=campaign):
        data = finals[call.callee]
        assert data["id"] == call.pk and data["voice_id"] == call.voice_id
        assert data["campaign_id"] == campaign.pk and data["state"] == "final"
        assert data["app"] == VOICE_APP_ID  # the ITNIO app ID, as the API names it
        assert data["called_info"] == call.called_info and call.called_info.startswith("walk")
        assert data["answered"] is (call.answer_time is not None)
        assert data["hangup_time"] and data["submit_time"]
        assert Decimal(data["cost"]) == call.cost and data["currency"] == call.currency
        assert data["call_duration"] == call.call_duration
        assert data["charged_duration"] == call.charged_duration
        assert data["termination_code"] == call.termination_code

    # The campaign's state changes and its completion.
    changes = {(d["previous_state"], d["state"]) for d in by_type["campaign.state_changed"]}
    assert changes == {("draft", "running"), ("running", "completed")}
    assert all(
        d["id"] == campaign.pk and d["name"] == "Walk" for d in by_type["campaign.state_changed"]
    )
    (completed,) = by_type["campaign.completed"]
    campaign.refresh_from_db()
    assert completed["id"] == campaign.pk and completed["state"] == "completed"
    assert completed["app"] == VOICE_APP_ID
    assert completed["launched_at"] and completed["completed_at"]
    assert completed["state_reason"] == campaign.state_reason

    # Each message has a webhook-id of its own; the one answered 500 came again with the same.
    ids = [h["webhook-id"] for _status, _payload, h in verified]
    failed_id = ids[0]
    assert ids.count(failed_id) == 2 and len(set(ids)) == CALLEES + 3
    bodies = [body for _status, body, h in crm.received if h["webhook-id"] == failed_id]
    assert bodies[0] == bodies[1]  # the same bytes, signed again
    message = WebhookMessage.objects.get(msg_id=failed_id)
    assert message.state == WebhookMessage.State.DELIVERED and message.attempts == 2
    assert not WebhookMessage.objects.exclude(state=WebhookMessage.State.DELIVERED).exists()

    # The delivery log in the API says the same.
    log = http.get(f"{api}/webhooks/{subscription_id}/deliveries/").json()["results"]
    assert len(log) == CALLEES + 3 + 1
    retried = [r for r in log if r["msg_id"] == failed_id]
    assert [(r["attempt"], r["status_code"], r["ok"]) for r in retried] == [
        (2, 204, True),
        (1, 500, False),
    ]
    assert WebhookDelivery.objects.filter(ok=False).count() == 1

    # A body changed on the way does not verify, nor one signed with another secret.
    _status, body, headers = crm.received[-1]
    tampered = body.replace(b'"type":"', b'"type":"x', 1)
    assert tampered != body
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "B" * 43).verify(body, headers)
    assert json.loads(body)["type"] in EVENTS


def finish(campaign: Campaign, sandbox_state, tries: int = 50) -> None:
    """What the workers do: the sandbox pushes its final records into the portal, the apply
    worker applies them, until every call is final and the campaign completed."""
    for _ in range(tries):
        sandbox_state.flush_pushes()
        apply_pushes()
        campaign.refresh_from_db()
        final = Call.objects.filter(campaign=campaign, state=Call.State.FINAL).count()
        if campaign.state == Campaign.State.COMPLETED and final == CALLEES:
            return
        time.sleep(0.1)
    raise AssertionError(f"the campaign is {campaign.state} with {final} final calls")
