"""Calls: the list with the call list page's filters (cursor pages), a call with its billing
fields, the CSV export (campaigns/exports.py) and a TTS call with an Idempotency-Key."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from campaigns.api.base import ID_LIMIT, ApiListView, ApiView
from campaigns.api.errors import Conflict, Refused, Unprocessable, error_body
from campaigns.api.permissions import PLACE_CALLS
from campaigns.api.serializers import CallDetailSerializer, CallSerializer
from campaigns.exports import stream_calls_export
from campaigns.forms_calls import SendTtsForm
from campaigns.models import Call, ItnioApp
from campaigns.services.api_idempotency import (
    IdempotencyError,
    idempotency_finish,
    idempotency_link,
    idempotency_reserve,
)
from campaigns.services.calls import CallError, call_send_tts
from campaigns.services.numbers import strip_number
from itnio_portal.itnio import LANGUAGES, ItnioLimitError, SendCode


class CallFilters(serializers.Serializer):
    """The call list page's filters (app, campaign, kind, state, answered, placed date, search)."""

    app = serializers.CharField(max_length=64, required=False, help_text=_("ITNIO app ID"))
    campaign = serializers.IntegerField(required=False, min_value=1, max_value=ID_LIMIT)
    kind = serializers.ChoiceField(choices=Call.Kind.choices, required=False)
    state = serializers.ChoiceField(choices=Call.State.choices, required=False)
    answered = serializers.ChoiceField(choices=["yes", "no"], required=False)
    placed_from = serializers.DateTimeField(required=False)
    placed_before = serializers.DateTimeField(required=False)
    q = serializers.CharField(
        max_length=64, required=False, help_text=_("exact voiceId, or a callee number's beginning")
    )


def filtered_calls(params: Any) -> QuerySet[Call]:
    given = CallFilters(data={k: params.get(k) for k in CallFilters().fields if k in params})
    given.is_valid(raise_exception=True)
    f = given.validated_data
    calls = Call.objects.select_related("app")
    if "app" in f:
        calls = calls.filter(app__app_id=f["app"])
    if "campaign" in f:
        calls = calls.filter(campaign_id=f["campaign"])
    if "kind" in f:
        calls = calls.filter(kind=f["kind"])
    if "state" in f:
        calls = calls.filter(state=f["state"])
    if f.get("answered") == "yes":
        calls = calls.filter(answer_time__isnull=False)
    elif f.get("answered") == "no":
        calls = calls.filter(answer_time__isnull=True, hangup_time__isnull=False)
    if "placed_from" in f:
        calls = calls.filter(placed_at__gte=f["placed_from"])
    if "placed_before" in f:
        calls = calls.filter(placed_at__lt=f["placed_before"])
    term = (f.get("q") or "").strip()
    if term:  # as the call list's search: exact voiceId or a callee prefix
        number = strip_number(term)
        calls = calls.filter(Q(voice_id=term) | Q(callee__startswith=number or term))
    return calls


FILTER_PARAMETERS = [
    OpenApiParameter(name, OpenApiTypes.STR, description=str(field.help_text or ""))
    for name, field in CallFilters().fields.items()
]


class Calls(ApiListView):
    permissions = {"GET": ("campaigns.view_call",)}
    serializer_class = CallSerializer

    @extend_schema(parameters=FILTER_PARAMETERS)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return self.list(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return filtered_calls(self.request.query_params)


class CallDetail(ApiView):
    permissions = {"GET": ("campaigns.view_call",)}
    serializer_class = CallDetailSerializer

    def get(self, request: Any, pk: int) -> Response:
        return Response(
            self.get_serializer(self.object_of(Call.objects.select_related("app"), pk)).data
        )


class CallExport(ApiView):
    """The calls the filters select, as the admin's CSV export (every billing field)."""

    permissions = {"GET": ("campaigns.view_call",)}
    serializer_class = None

    @extend_schema(parameters=FILTER_PARAMETERS, responses={(200, "text/csv"): OpenApiTypes.BINARY})
    def get(self, request: Any) -> Any:
        return stream_calls_export(filtered_calls(request.query_params), fmt="csv")


class TtsInput(serializers.Serializer):
    app = serializers.CharField(max_length=64, help_text=_("ITNIO app ID of a voice app"))
    callee = serializers.CharField(max_length=20)
    language = serializers.ChoiceField(choices=list(LANGUAGES))
    text = serializers.CharField(max_length=5000)
    display_num = serializers.CharField(max_length=20, required=False, allow_blank=True)
    loop_count = serializers.IntegerField(required=False, min_value=0, max_value=1000)
    called_info = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    recall_count = serializers.IntegerField(required=False, min_value=0, max_value=1000)
    recall_interval = serializers.IntegerField(required=False, min_value=0, max_value=100000)
    max_duration = serializers.IntegerField(required=False, min_value=0, max_value=100000)
    max_ringing_time = serializers.IntegerField(required=False, min_value=0, max_value=100000)


class CallTts(ApiView):
    """Place one TTS call (POST /voice/sendCode). 201 with the call once ITNIO answered
    (submitted or rejected), or with the call as unknown when the answer was lost: the portal
    never resends it. Send an `Idempotency-Key` header to retry safely: the same key and body
    within 24 h give the first answer; another body 422; while the first is in flight 409."""

    permissions = {"POST": (PLACE_CALLS,)}
    serializer_class = CallDetailSerializer

    @extend_schema(
        request=TtsInput,
        responses={201: CallDetailSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
    )
    def post(self, request: Any) -> Response:
        given = TtsInput(data=request.data)
        given.is_valid(raise_exception=True)
        code = self._checked(given.validated_data)
        app = ItnioApp.objects.select_related("account").get(app_id=code.app_id)
        key = request.headers.get("Idempotency-Key")
        reservation = None
        if key is not None:
            try:
                reservation = idempotency_reserve(
                    token=request.auth, key=key, endpoint="calls.tts", body=given.validated_data
                )
            except IdempotencyError as exc:
                raise {409: Conflict, 422: Unprocessable}.get(exc.status, Refused)(
                    str(exc)
                ) from exc
            if reservation.settled is not None:
                return self._answer(
                    reservation, 201, CallDetailSerializer(reservation.settled).data
                )
            if reservation.replay is not None:
                replayed, body = reservation.replay
                return Response(body, status=replayed, headers={"Idempotent-Replayed": "true"})
        link = (lambda call: idempotency_link(reservation.row, call)) if reservation else None
        status_code, body = self._send(app, code, link)
        return self._answer(reservation, status_code, body)

    def _answer(self, reservation: Any, status_code: int, body: Any) -> Response:
        if reservation is not None:
            # Kept as the client read it (JSON), to be given again byte for byte.
            kept = json.loads(JSONRenderer().render(body))
            idempotency_finish(reservation.row, status=status_code, body=kept)
        return Response(body, status=status_code)

    def _checked(self, given: dict[str, Any]) -> SendCode:
        """The admin's TTS form checks it (numbers as people type them, every ITNIO limit)."""
        app = ItnioApp.objects.filter(app_id=given["app"]).first()
        if app is None:
            raise serializers.ValidationError(
                {"app": [_("No app with ITNIO app ID %(app)s.") % {"app": given["app"]}]}
            )
        form = SendTtsForm(data={**given, "app": app.pk})
        if not form.is_valid():
            raise serializers.ValidationError({k: list(v) for k, v in form.errors.items()})
        return form.send_code()

    def _send(self, app: ItnioApp, code: SendCode, link: Any) -> tuple[int, Any]:
        """(status, body) of the answer, refusals included (kept for the key as well)."""
        try:
            call = call_send_tts(app=app, actor=self.actor(), code=code, on_intent=link)
        except ItnioLimitError as exc:
            return 400, error_body("invalid", str(exc), {"non_field_errors": [str(exc)]})
        except CallError as exc:
            return 400, error_body("refused", str(exc))
        return status.HTTP_201_CREATED, CallDetailSerializer(call).data
