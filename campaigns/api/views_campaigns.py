"""Campaigns: create and edit a draft (the admin's own form and its rules), the launch plan
with its confirmation token, launch, pause, resume, cancel, status with progress."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from campaigns.admin.campaigns import DRAFT_FIELDS, CampaignForm
from campaigns.api.base import ApiListView, ApiView
from campaigns.api.errors import Conflict
from campaigns.api.permissions import PLACE_CALLS
from campaigns.api.serializers import CampaignSerializer
from campaigns.models import Campaign, ContactList, ItnioApp, VoiceFile
from campaigns.services.budgets import BudgetError, budget_set, parse_budget
from campaigns.services.campaign_plan import campaign_plan, campaign_progress
from campaigns.services.campaigns import (
    CampaignError,
    LaunchAwaitsApproval,
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_resume,
)
from campaigns.services.frequency_caps import default_cap
from campaigns.services.launch_tokens import LaunchTokenError, launch_token_check, launch_token_for
from campaigns.services.windows import (
    DAY_NAMES,
    MAX_SKIP_DATES,
    day_names,
    waiting_for_window,
)


class CampaignInput(serializers.ModelSerializer):
    """A draft's settings: every field of the admin's campaign form (DRAFT_FIELDS), with the
    app by its ITNIO app ID, the voice file and the contact lists by their names, and the
    calling days and excluded dates as lists; every rule of that form applies."""

    name = serializers.CharField(max_length=100)  # unique: the form checks it, draft or new
    app = serializers.CharField(max_length=64, help_text=gettext_lazy("ITNIO app ID"))
    voice_file = serializers.CharField(
        max_length=32, help_text=gettext_lazy("fileName of an uploaded voice file")
    )
    contact_lists = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=1000
    )
    calling_days = serializers.ListField(
        child=serializers.ChoiceField(choices=DAY_NAMES),
        required=False,
        max_length=7,
        help_text=gettext_lazy("Days the window opens (mon … sun); none means every day."),
    )
    excluded_dates = serializers.ListField(
        child=serializers.DateField(),
        required=False,
        max_length=MAX_SKIP_DATES,
        help_text=gettext_lazy("Dates on which nothing is sent (e.g. holidays)."),
    )

    class Meta:
        model = Campaign
        fields = [*DRAFT_FIELDS, "calling_days", "excluded_dates"]


def _form_data(given: dict[str, Any], current: Campaign | None) -> tuple[dict[str, Any], dict]:
    """The admin form's data: the draft as it is, with what was given over it; names of the
    app, voice file and lists become their ids (an unknown name is a field error)."""
    data: dict[str, Any] = {}
    if current is not None:
        data = model_to_dict(current, fields=DRAFT_FIELDS)
        data["contact_lists"] = [c.pk for c in data.get("contact_lists") or []]
        data["calling_days"] = day_names(current.window_days)
        data["excluded_dates"] = list(current.skip_dates or [])
    errors: dict[str, list[str]] = {}
    for name, value in given.items():
        data[name] = value
    app = None
    if "app" in given:
        app = ItnioApp.objects.filter(app_id=given["app"], kind=ItnioApp.Kind.VOICE).first()
        if app is None:
            errors["app"] = [_("No voice app with ITNIO app ID %(app)s.") % {"app": given["app"]}]
        else:
            data["app"] = app.pk
    elif current is not None:
        app = current.app
    if "voice_file" in given:
        found = VoiceFile.objects.filter(
            file_name=given["voice_file"], **({"account_id": app.account_id} if app else {})
        ).first()
        if found is None:
            errors["voice_file"] = [
                _("No voice file named %(name)s in this account.") % {"name": given["voice_file"]}
            ]
        else:
            data["voice_file"] = found.pk
    if "contact_lists" in given:
        names = list(dict.fromkeys(given["contact_lists"]))
        found_lists = dict(ContactList.objects.filter(name__in=names).values_list("name", "pk"))
        missing = [n for n in names if n not in found_lists]
        if missing:
            errors["contact_lists"] = [
                _("No contact list named %(names)s.") % {"names": ", ".join(map(repr, missing))}
            ]
        data["contact_lists"] = [found_lists[n] for n in names if n in found_lists]
    data["excluded_dates"] = ",".join(str(d) for d in data.get("excluded_dates") or [])
    for name in DRAFT_FIELDS:  # a new draft starts from the model's defaults, as in the admin
        field = Campaign._meta.get_field(name)
        if name not in data and field.has_default():
            data[name] = field.get_default()
    # The form's empty value is "", and an unticked checkbox is absent.
    return {k: "" if v is None else v for k, v in data.items() if v is not False}, errors


def _save(request: Any, given: dict[str, Any], current: Campaign | None) -> Campaign:
    data, errors = _form_data(given, current)
    if errors:
        raise serializers.ValidationError(errors)
    form = CampaignForm(data=data, instance=current)
    if not form.is_valid():
        raise serializers.ValidationError({k: list(v) for k, v in form.errors.items()})
    campaign = form.save(commit=False)
    if current is None:
        campaign.created_by = request.user.get_username()[:150]
    campaign.save()
    form.save_m2m()
    return campaign


class Campaigns(ApiListView):
    permissions = {"GET": ("campaigns.view_campaign",), "POST": ("campaigns.add_campaign",)}
    serializer_class = CampaignSerializer
    queryset = Campaign.objects.select_related("app", "voice_file").prefetch_related(
        "contact_lists"
    )

    @extend_schema(request=CampaignInput, responses={201: CampaignSerializer})
    def post(self, request: Any) -> Response:
        given = CampaignInput(data=request.data)
        given.is_valid(raise_exception=True)
        values = dict(given.validated_data)
        cap = default_cap()  # new campaigns start with the portal-wide cap, as in the admin
        if cap is not None and not {"frequency_cap_calls", "frequency_cap_hours"} & set(values):
            values.update(frequency_cap_calls=cap.calls, frequency_cap_hours=cap.hours)
        campaign = _save(request, values, None)
        return Response(self.get_serializer(campaign).data, status=status.HTTP_201_CREATED)


class CampaignDetail(ApiView):
    """PATCH changes a draft (only a draft: a launched campaign is steered, not edited)."""

    permissions = {"GET": ("campaigns.view_campaign",), "PATCH": ("campaigns.change_campaign",)}
    serializer_class = CampaignSerializer

    def get(self, request: Any, pk: int) -> Response:
        return Response(self.get_serializer(self.object_of(Campaign.objects.all(), pk)).data)

    @extend_schema(request=CampaignInput(partial=True), responses=CampaignSerializer)
    def patch(self, request: Any, pk: int) -> Response:
        campaign = self.object_of(Campaign.objects.all(), pk)
        if campaign.state != Campaign.State.DRAFT:
            raise Conflict(
                _("Only a draft can be changed (the campaign is %(state)s).")
                % {"state": campaign.get_state_display().lower()}
            )
        given = CampaignInput(data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        campaign = _save(request, given.validated_data, campaign)
        return Response(self.get_serializer(campaign).data)


PlanSerializer = inline_serializer(
    "CampaignPlan",
    {
        "campaign": serializers.IntegerField(),
        "callees": serializers.IntegerField(),
        "requests": serializers.IntegerField(),
        "per_request": serializers.IntegerField(),
        "will_call": serializers.IntegerField(),
        "skipped": serializers.DictField(child=serializers.IntegerField()),
        "rows": serializers.ListField(child=serializers.ListField(child=serializers.CharField())),
        "problems": serializers.ListField(child=serializers.CharField()),
        "confirmation_token": serializers.CharField(allow_null=True),
        "confirmation_expires_in": serializers.IntegerField(),
    },
)


class CampaignPlanView(ApiView):
    """What a launch would do. Without problems, and for a user who may place calls, it gives
    the confirmation token that launches exactly this plan (until it expires or changes)."""

    permissions = {"GET": ("campaigns.view_campaign",)}
    serializer_class = None

    @extend_schema(responses=PlanSerializer)
    def get(self, request: Any, pk: int) -> Response:
        campaign = self.object_of(Campaign.objects.select_related("app__account", "voice_file"), pk)
        plan = campaign_plan(campaign)
        keys = dict(line.split("=", 1) for line in plan.preflight.key_lines())
        may = not plan.problems and request.user.has_perm(PLACE_CALLS)
        return Response(
            {
                "campaign": campaign.pk,
                "callees": plan.callees,
                "requests": plan.requests,
                "per_request": plan.per_request,
                "will_call": int(keys.pop("will_call", 0)),
                "skipped": {k.removeprefix("skipped_"): int(v) for k, v in keys.items()},
                "rows": [[str(label).rstrip(":"), str(value)] for label, value in plan.rows()],
                "problems": [str(p) for p in plan.problems],
                "confirmation_token": launch_token_for(plan) if may else None,
                "confirmation_expires_in": settings.API_LAUNCH_TOKEN_SECONDS,
            }
        )


class LaunchInput(serializers.Serializer):
    confirmation_token = serializers.CharField(
        max_length=1000, help_text=gettext_lazy("from the campaign's plan")
    )


class CampaignLaunch(ApiView):
    """Launch the plan that was read: refused (409) when the token expired or the plan changed."""

    permissions = {"POST": (PLACE_CALLS,)}
    serializer_class = CampaignSerializer

    @extend_schema(request=LaunchInput, responses=CampaignSerializer)
    def post(self, request: Any, pk: int) -> Response:
        campaign = self.object_of(Campaign.objects.all(), pk)
        given = LaunchInput(data=request.data)
        given.is_valid(raise_exception=True)
        token = given.validated_data["confirmation_token"]
        try:
            campaign = campaign_launch(
                campaign=campaign,
                actor=self.actor(),
                confirm=lambda plan: launch_token_check(token, plan),
            )
        except LaunchAwaitsApproval as exc:  # filed for a second person: 202, nothing started
            campaign.refresh_from_db()
            data = {**self.get_serializer(campaign).data, "approval": "pending"}
            return Response({**data, "message": str(exc)}, status=status.HTTP_202_ACCEPTED)
        except (CampaignError, LaunchTokenError) as exc:
            raise Conflict(str(exc)) from exc
        return Response(self.get_serializer(campaign).data)


def _steer(verb: str):
    steer = {"pause": campaign_pause, "resume": campaign_resume, "cancel": campaign_cancel}[verb]

    class Steer(ApiView):
        permissions = {"POST": (PLACE_CALLS,)}
        serializer_class = CampaignSerializer

        @extend_schema(request=None, responses=CampaignSerializer, operation_id=f"campaign_{verb}")
        def post(self, request: Any, pk: int) -> Response:
            campaign = self.object_of(Campaign.objects.all(), pk)
            try:
                campaign = steer(campaign=campaign, actor=self.actor())
            except CampaignError as exc:
                raise Conflict(str(exc)) from exc
            campaign.refresh_from_db()
            return Response(self.get_serializer(campaign).data)

    Steer.__name__ = Steer.__qualname__ = f"Campaign{verb.capitalize()}"
    Steer.__doc__ = {
        "pause": "Pause a running or scheduled campaign.",
        "resume": "Resume a paused campaign.",
        "cancel": "Cancel a campaign: its pending callees are not called.",
    }[verb]
    return Steer


CampaignPause, CampaignResume, CampaignCancel = (_steer(v) for v in ("pause", "resume", "cancel"))


class BudgetInput(serializers.Serializer):
    budget = serializers.CharField(
        max_length=40,
        allow_null=True,
        help_text=gettext_lazy('amount and currency, e.g. "8.00 EUR"; null removes the budget'),
    )


class CampaignBudget(ApiView):
    """Set, raise or remove a campaign's budget, as `set_budget` does: a campaign the budget
    paused runs again when the new budget leaves room (a running one keeps its currency)."""

    permissions = {"POST": (PLACE_CALLS,)}
    serializer_class = CampaignSerializer

    @extend_schema(request=BudgetInput, responses=CampaignSerializer)
    def post(self, request: Any, pk: int) -> Response:
        campaign = self.object_of(Campaign.objects.all(), pk)
        given = BudgetInput(data=request.data)
        given.is_valid(raise_exception=True)
        amount, currency = None, ""
        if given.validated_data["budget"] is not None:
            try:
                amount, currency = parse_budget(given.validated_data["budget"])
            except BudgetError as exc:
                raise serializers.ValidationError({"budget": [str(exc)]}) from exc
        try:
            campaign = budget_set(
                campaign=campaign, amount=amount, currency=currency, actor=self.actor()
            )
        except CampaignError as exc:
            raise Conflict(str(exc)) from exc
        return Response(self.get_serializer(campaign).data)


StatusSerializer = inline_serializer(
    "CampaignStatus",
    {
        "campaign": serializers.IntegerField(),
        "state": serializers.CharField(),
        "state_display": serializers.CharField(),
        "state_reason": serializers.CharField(),
        "sending_finished": serializers.BooleanField(
            help_text=gettext_lazy("completed or cancelled: nothing more is sent")
        ),
        "finished": serializers.BooleanField(
            help_text=gettext_lazy("sending finished and every call's outcome is known")
        ),
        "progress": serializers.DictField(),
        "waiting_for_window": serializers.ListField(
            child=serializers.DictField(),
            help_text=gettext_lazy(
                "callees whose calling window is closed now, per zone group: zones, count, "
                "next_opens (UTC)"
            ),
        ),
    },
)


class CampaignStatus(ApiView):
    """State and progress: callees by state, done, percent, rate, estimate, batches."""

    permissions = {"GET": ("campaigns.view_campaign",)}
    serializer_class = None

    @extend_schema(responses=StatusSerializer)
    def get(self, request: Any, pk: int) -> Response:
        campaign = self.object_of(Campaign.objects.all(), pk)
        progress = campaign_progress(campaign)
        sent = campaign.state in (Campaign.State.COMPLETED, Campaign.State.CANCELLED)
        return Response(
            {
                "campaign": campaign.pk,
                "state": campaign.state,
                "state_display": str(progress.state_display),
                "state_reason": campaign.state_reason,
                "sending_finished": sent,
                "finished": sent and progress.done >= progress.total and not progress.waiting,
                "progress": progress.as_dict(),
                "waiting_for_window": [
                    {
                        "zones": group.zones,
                        "count": group.count,
                        "next_opens": group.next_open.isoformat() if group.next_open else None,
                    }
                    for group in waiting_for_window(campaign)
                ],
            }
        )
