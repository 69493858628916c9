"""Outbound webhook subscriptions (Admins only, as in the admin: campaigns/roles.py): list,
subscribe (the signing secret is in that one answer, never again), detail, change the events or
pause, delete, and a subscription's delivery log. The rules are the services' of the admin and
of webhook_add / webhook_remove (campaigns/services/outbound_hooks.py): the same URL check with
its SSRF guard, the same event names."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from campaigns.api.base import ApiListView, ApiView
from campaigns.api.serializers import WebhookDeliverySerializer, WebhookSubscriptionSerializer
from campaigns.models import WebhookDelivery, WebhookMessage, WebhookSubscription
from campaigns.models.webhooks import EVENT_TYPES
from campaigns.services.outbound_hooks import (
    WebhookError,
    webhook_subscribe,
    webhook_unsubscribe,
    webhook_update,
)


def _events_help() -> str:
    return _("event names, from: %(all)s") % {"all": ", ".join(EVENT_TYPES)}


EVENTS_HELP = lazy(_events_help, str)()  # in the language of the schema's request


def subscriptions() -> QuerySet[WebhookSubscription]:
    """Subscriptions with their pending and dead counts; the secret is never loaded."""
    return WebhookSubscription.objects.defer("secret").annotate(
        pending_count=Count("messages", filter=Q(messages__state=WebhookMessage.State.PENDING)),
        dead_count=Count("messages", filter=Q(messages__state=WebhookMessage.State.DEAD)),
    )


def refused(exc: WebhookError) -> serializers.ValidationError:
    return serializers.ValidationError({exc.field or "non_field_errors": [str(exc)]})


class WebhookInput(serializers.Serializer):
    url = serializers.CharField(
        help_text=gettext_lazy("https:// URL on a public address that receives the events")
    )
    events = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=100, help_text=EVENTS_HELP
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False, default=True)


class WebhookChange(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=100,
        required=False,
        help_text=EVENTS_HELP,
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class WebhookCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text=gettext_lazy(
            "The signing secret (whsec_…), in this answer only: keep it to verify signatures"
        ),
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class Webhooks(ApiListView):
    """POST subscribes a URL: the answer carries the signing secret, shown this once."""

    permissions = {
        "GET": ("campaigns.view_webhooksubscription",),
        "POST": ("campaigns.add_webhooksubscription",),
    }
    serializer_class = WebhookSubscriptionSerializer

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return subscriptions()

    @extend_schema(request=WebhookInput, responses={201: WebhookCreatedSerializer})
    def post(self, request: Any) -> Response:
        given = WebhookInput(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            created = webhook_subscribe(
                url=data["url"],
                events=data["events"],
                description=data.get("description") or "",
                created_by=request.user.get_username(),
                active=data["active"],
            )
        except WebhookError as exc:
            raise refused(exc) from exc
        body = dict(self.get_serializer(subscriptions().get(pk=created.subscription.pk)).data)
        body["secret"] = created.secret
        # The secret is in no cache on the way (like the admin's page that shows it).
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class WebhookDetail(ApiView):
    """PATCH changes the events, the description or pauses it (`active`); the URL stays (a new
    receiver is a new subscription, with a secret of its own). DELETE removes it with its
    undelivered messages and its log."""

    permissions = {
        "GET": ("campaigns.view_webhooksubscription",),
        "PATCH": ("campaigns.change_webhooksubscription",),
        "DELETE": ("campaigns.delete_webhooksubscription",),
    }
    serializer_class = WebhookSubscriptionSerializer

    def get(self, request: Any, pk: int) -> Response:
        return Response(self.get_serializer(self.object_of(subscriptions(), pk)).data)

    @extend_schema(request=WebhookChange, responses=WebhookSubscriptionSerializer)
    def patch(self, request: Any, pk: int) -> Response:
        found = self.object_of(subscriptions(), pk)
        if isinstance(request.data, dict) and "url" in request.data:
            raise serializers.ValidationError(
                {
                    "url": [
                        _(
                            "A subscription's URL cannot be changed: subscribe the new URL (it "
                            "gets a signing secret of its own) and delete this subscription."
                        )
                    ]
                }
            )
        given = WebhookChange(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            webhook_update(
                subscription=found,
                events=data.get("events"),
                active=data.get("active"),
                description=data.get("description"),
            )
        except WebhookError as exc:
            raise refused(exc) from exc
        return Response(self.get_serializer(subscriptions().get(pk=found.pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Any, pk: int) -> Response:
        webhook_unsubscribe(subscription=self.object_of(WebhookSubscription.objects.all(), pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveries(ApiListView):
    """The subscription's delivery log, newest first: every attempt with its HTTP status, how
    long it took, the error and the beginning of the answer."""

    permissions = {"GET": ("campaigns.view_webhookdelivery",)}
    serializer_class = WebhookDeliverySerializer

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        found = self.object_of(WebhookSubscription.objects.defer("secret"), self.kwargs["pk"])
        return (
            WebhookDelivery.objects.filter(subscription=found)
            .select_related("message")
            .only(*DELIVERY_COLUMNS)
        )


#: What the log's rows load: the serializer's columns, the message's two through its join.
DELIVERY_COLUMNS = (
    *(f for f in WebhookDeliverySerializer.Meta.fields if f not in ("msg_id", "event_type")),
    "message",
    "message__msg_id",
    "message__event_type",
)
