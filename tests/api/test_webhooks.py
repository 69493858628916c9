"""Webhook subscriptions over the API (Admins only, as in the admin): subscribing answers the
signing secret once and never again, a bad URL or event is a 400 on its field with the
message of webhook_add, changing the events and pausing, deleting, and the delivery log."""

from __future__ import annotations

import io
import logging

import pytest
import responses
from django.core.management import CommandError, call_command
from standardwebhooks import Webhook

from campaigns.models import WebhookDelivery, WebhookMessage, WebhookSubscription
from campaigns.services.outbound_hooks import CALL_FINAL, emit
from campaigns.services.outbound_hooks_delivery import webhooks_deliver_due
from tests.api.conftest import error_of
from tests.test_outbound_webhooks import HOOK, public_dns  # noqa: F401 (a fixture)

# Every test: hooks.example.com resolves to a public address (no real DNS in the tests).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("public_dns")]
API = "/api/v1/webhooks/"


def subscribe(api, **given):
    return api.post(API, {"url": HOOK, "events": ["call.final", "campaign.completed"], **given})


def test_subscribing_answers_the_secret_once_and_never_again(admin_api, caplog):
    caplog.set_level(logging.DEBUG)
    created = subscribe(admin_api, description="CRM")

    assert created.status_code == 201, created.content
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_") and "no-store" in created["Cache-Control"]
    assert body["url"] == HOOK and body["events"] == ["call.final", "campaign.completed"]
    assert body["active"] is True and body["created_by"] == "boss"
    assert (body["pending"], body["dead"]) == (0, 0)
    stored = WebhookSubscription.objects.get()
    assert stored.secret == secret  # what signs the deliveries
    Webhook(secret)  # a secret the standardwebhooks library takes

    with responses.RequestsMock() as mock:
        mock.post(HOOK, status=500, body="nope")
        emit(CALL_FINAL, [{"voice_id": "V1"}])
        webhooks_deliver_due(max_seconds=5)
    answers = [
        admin_api.get(API),
        admin_api.get(f"{API}{stored.pk}/"),
        admin_api.get(f"{API}{stored.pk}/deliveries/"),
        admin_api.patch(f"{API}{stored.pk}/", {"events": ["nope"]}),
        admin_api.patch(f"{API}{stored.pk}/", {"url": HOOK + "/2"}),
    ]
    for answer in answers:
        assert secret not in answer.content.decode()
        assert '"secret"' not in answer.content.decode()  # no such key either
    assert answers[0].json()["results"][0]["id"] == stored.pk
    assert answers[1].json()["pending"] == 1  # the failed message waits for its retry
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://10.0.0.1/hook", "a private address"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://rebind.example.com/hook", "rebind.example.com resolves to"),
        ("http://hooks.example.com/itnio", "https://"),
        ("ftp://hooks.example.com/", "https://"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
    ],
)
def test_a_refused_url_is_a_400_on_the_url_field(admin_api, url, said):
    answer = admin_api.post(API, {"url": url, "events": ["call.final"]})

    assert answer.status_code == 400
    error = error_of(answer)
    assert error["code"] == "invalid" and list(error["fields"]) == ["url"]
    assert said in error["fields"]["url"][0]
    # The command says the same: one check (outbound_hooks.check_url and its SSRF guard).
    with pytest.raises(CommandError) as refused:
        call_command("webhook_add", url, "--events", "call.final", stdout=io.StringIO())
    assert error["fields"]["url"][0] in str(refused.value)
    assert not WebhookSubscription.objects.exists()


def test_private_addresses_are_allowed_by_the_setting(admin_api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    answer = admin_api.post(API, {"url": "https://10.0.0.1/hook", "events": ["call.final"]})
    assert answer.status_code == 201


@pytest.mark.parametrize(
    ("events", "said"),
    [(["call.final", "call.started"], "Unknown event 'call.started'"), ([], "at least one")],
)
def test_an_unknown_or_missing_event_is_a_400_on_the_events_field(admin_api, events, said):
    answer = admin_api.post(API, {"url": HOOK, "events": events})

    assert answer.status_code == 400
    error = error_of(answer)
    assert list(error["fields"]) == ["events"] and said in error["fields"]["events"][0]
    assert "campaign.completed" in error["fields"]["events"][0]  # the events one may name
    assert not WebhookSubscription.objects.exists()


def test_missing_fields_are_named(admin_api):
    error = error_of(admin_api.post(API, {}))
    assert set(error["fields"]) == {"url", "events"}


def test_an_inactive_subscription_gets_no_events(admin_api):
    created = subscribe(admin_api, active=False).json()
    assert created["active"] is False
    assert emit(CALL_FINAL, [{"voice_id": "V1"}]) == 0


def test_changing_the_events_and_pausing(admin_api):
    pk = subscribe(admin_api).json()["id"]
    url = f"{API}{pk}/"

    changed = admin_api.patch(url, {"events": ["campaign.state_changed", "call.final"]})
    assert changed.status_code == 200
    assert changed.json()["events"] == ["campaign.state_changed", "call.final"]
    assert admin_api.patch(url, {"active": False}).json()["active"] is False
    assert emit(CALL_FINAL, [{"voice_id": "V1"}]) == 0
    assert admin_api.patch(url, {"active": True, "description": "CRM"}).json()["description"]
    assert emit(CALL_FINAL, [{"voice_id": "V1"}]) == 1

    unknown = error_of(admin_api.patch(url, {"events": ["call.final", "x.y"]}))
    assert list(unknown["fields"]) == ["events"] and "Unknown event 'x.y'" in str(unknown)
    moved = error_of(admin_api.patch(url, {"url": "https://hooks.example.com/other"}))
    assert list(moved["fields"]) == ["url"]
    stored = WebhookSubscription.objects.get()
    assert stored.url == HOOK and stored.events == ["campaign.state_changed", "call.final"]


def test_deleting_drops_its_outbox_and_log(admin_api):
    pk = subscribe(admin_api).json()["id"]
    emit(CALL_FINAL, [{"voice_id": "V1"}, {"voice_id": "V2"}])

    assert admin_api.delete(f"{API}{pk}/").status_code == 204
    assert not WebhookSubscription.objects.exists() and not WebhookMessage.objects.exists()
    gone = admin_api.get(f"{API}{pk}/")
    assert gone.status_code == 404 and error_of(gone)["code"] == "not_found"
    assert admin_api.delete(f"{API}{pk}/").status_code == 404


@responses.activate
def test_the_delivery_log_lists_every_attempt_newest_first(admin_api):
    pk = subscribe(admin_api).json()["id"]
    other = subscribe(admin_api).json()["id"]
    responses.post(HOOK, status=503, body="busy")
    responses.post(HOOK, status=204)
    emit(CALL_FINAL, [{"voice_id": "V1"}])  # one message for each subscription
    webhooks_deliver_due(max_seconds=5)
    WebhookMessage.objects.update(next_attempt_at=WebhookMessage.objects.first().created_at)
    webhooks_deliver_due(max_seconds=5)

    log = admin_api.get(f"{API}{pk}/deliveries/")
    assert log.status_code == 200
    rows = log.json()["results"]
    assert rows and all(r["event_type"] == "call.final" for r in rows)
    expected = WebhookDelivery.objects.filter(subscription_id=pk).order_by("-id")
    assert [r["id"] for r in rows] == [d.pk for d in expected]
    message = WebhookMessage.objects.get(subscription_id=pk)
    assert {r["msg_id"] for r in rows} == {message.msg_id}
    first = rows[-1]
    assert {"attempt", "status_code", "ok", "duration_ms", "error", "response_excerpt"} <= set(
        first
    )
    assert "payload" not in first
    assert admin_api.get(f"{API}{other}/deliveries/").json()["results"][0]["id"] not in [
        r["id"] for r in rows
    ]
    assert admin_api.get(f"{API}999999/deliveries/").status_code == 404


@pytest.mark.parametrize("role", ["Viewer", "Operator"])
def test_only_admins_manage_webhooks(role_api, role):
    api = role_api(role)
    listed = api.get(API)
    assert listed.status_code == 403
    assert error_of(listed)["permission"] == "campaigns.view_webhooksubscription"
    refused = subscribe(api)
    assert error_of(refused)["permission"] == "campaigns.add_webhooksubscription"
    assert not WebhookSubscription.objects.exists()


def test_the_schema_documents_the_webhook_endpoints(client):
    paths = client.get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/webhooks/"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/webhooks/{id}/"])
    assert "get" in paths["/api/v1/webhooks/{id}/deliveries/"]
    created = paths["/api/v1/webhooks/"]["post"]["responses"]
    assert {"201", "400", "401", "403"} <= set(created)
