"""Admin for campaigns: the plan before launch, progress with counters and batches, steering."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy, ngettext

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin
from campaigns.admin.call_figures import figures_context
from campaigns.admin.campaign_approval import ApprovalViews, approval_inlines
from campaigns.admin.campaign_budget import (
    BUDGET_FIELDS,
    budget_fieldset,
    budget_readonly,
    check_budget,
)
from campaigns.admin.campaign_launch import LaunchPlanViews
from campaigns.admin.campaign_retries import (
    RETRY_FIELDS,
    CampaignRetriesMixin,
    VariantInline,
    retry_fieldset,
)
from campaigns.admin.campaign_windows import (
    WINDOW_MODEL_FIELDS,
    CampaignWindowsMixin,
    WindowFormMixin,
    when_fieldset,
)
from campaigns.formatting import count as format_count
from campaigns.models import Callee, Campaign, DispatchBatch, ItnioApp, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.audience import (
    AudienceError,
    check_segment,
)
from campaigns.services.campaign_plan import campaign_progress
from campaigns.services.campaign_state import (
    CALLEE_STATES,
    skipped_by_reason,
    state_display,
    waiting_for_reconciliation,
)
from campaigns.services.campaigns import (
    CampaignError,
    campaign_cancel,
    campaign_pause,
    campaign_reconcile,
    campaign_release_unknown,
    campaign_resume,
)
from campaigns.services.frequency_caps import default_cap
from campaigns.services.itnio import itnio_limits
from campaigns.services.opt_outs import KEYS, opt_out_count
from campaigns.services.reports import CallSlice
from itnio_portal.itnio import ItnioError, ItnioLimitError

EDITABLE = [
    "name",
    "app",
    "voice_file",
    "display_num",
    "loop_count",
    "max_duration",
    "max_ringing_time",
    "called_info",
    "scheduled_start",
    "window_start",
    "window_end",
    "window_tz",
    "contact_lists",
    "segment_field",
    "segment_value",
    "frequency_cap_calls",
    "frequency_cap_hours",
    "cap_waits",
    "opt_out_key",
]
#: Every model field a draft's form edits: the admin's form, and the REST API's campaign (its
#: input, its output and its PATCH over the draft as it is) read this one list.
DRAFT_FIELDS = [*EDITABLE, *WINDOW_MODEL_FIELDS, *RETRY_FIELDS, *BUDGET_FIELDS]
AUDIENCE = [
    "contact_lists",
    "segment_field",
    "segment_value",
    "frequency_cap_calls",
    "frequency_cap_hours",
    "cap_waits",
    "opt_out_key",
]


class CampaignForm(WindowFormMixin, forms.ModelForm):
    class Meta:
        model = Campaign
        fields = DRAFT_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "app" in self.fields:
            self.fields["app"].queryset = ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE)
        if "voice_file" in self.fields:
            self.fields["voice_file"].queryset = VoiceFile.objects.filter(
                state=VoiceFile.State.UPLOADED
            )
            self.fields["voice_file"].help_text = gettext(
                "Only files already uploaded to ITNIO are listed."
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        limits = itnio_limits()
        checks = {
            "display_num": limits.check_display_num,
            "loop_count": limits.check_loop_count,
            "max_duration": limits.check_max_duration,
            "max_ringing_time": limits.check_max_ringing_time,
            "called_info": limits.check_called_info,
        }
        for name, check in checks.items():
            value = cleaned.get(name)
            if value not in (None, ""):
                try:
                    check(value)
                except ItnioLimitError as exc:
                    self.add_error(name, str(exc))
        app, voice_file = cleaned.get("app"), cleaned.get("voice_file")
        if app and voice_file and app.account_id != voice_file.account_id:
            self.add_error(
                "voice_file",
                gettext("This voice file belongs to another ITNIO account than the app."),
            )
        if bool(cleaned.get("frequency_cap_calls")) != bool(cleaned.get("frequency_cap_hours")):
            self.add_error(
                "frequency_cap_hours", gettext("Give both parts of the frequency cap, or neither.")
            )
        key = cleaned.get("opt_out_key") or ""
        if key and key not in KEYS:
            self.add_error("opt_out_key", gettext("One of 0–9, * or #."))
        lists = list(cleaned.get("contact_lists") or [])
        segment = (cleaned.get("segment_field") or "").strip()
        if segment and not lists:
            self.add_error("segment_field", gettext("A segment needs at least one contact list."))
        elif segment:
            try:
                check_segment(lists, segment)
            except AudienceError as exc:
                self.add_error("segment_field", str(exc))
        self.window_clean(cleaned)  # campaign_windows.py
        check_budget(self, cleaned)
        return cleaned


class BatchInline(admin.TabularInline):
    model = DispatchBatch
    fields = [
        "sequence",
        "state",
        "size",
        "accepted",
        "rejected",
        "request_started_at",
        "request_finished_at",
        "code",
        "reason",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-sequence"]
    max_num = 0
    verbose_name_plural = gettext_lazy("dispatch batches (newest first)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[DispatchBatch]:
        # The newest 50: a million-callee campaign has thousands of batches.
        ids = list(
            super().get_queryset(request).order_by("-sequence").values_list("id", flat=True)[:50]
        )
        return super().get_queryset(request).filter(id__in=ids)


@admin.register(Campaign)
class CampaignAdmin(
    CampaignWindowsMixin, CampaignRetriesMixin, LaunchPlanViews, ApprovalViews, PortalModelAdmin
):
    form = CampaignForm
    list_display = ["name", "app", "voice_file", "state_badge", "launched_at", "completed_at"]
    list_filter = ["state", "app"]
    search_fields = ["name"]
    actions = [
        "launch_selected",
        "pause_selected",
        "resume_selected",
        "cancel_selected",
        "reconcile_selected",
        "duplicate_selected",
    ]
    inlines = [BatchInline]
    change_form_template = "admin/campaigns/campaign/change_form.html"

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        cap = default_cap()  # new campaigns start with the portal-wide cap
        if cap is not None:
            initial.setdefault("frequency_cap_calls", cap.calls)
            initial.setdefault("frequency_cap_hours", cap.hours)
        return initial

    def get_inlines(self, request: HttpRequest, obj: Campaign | None = None) -> list[Any]:
        # A campaign being added has no batches yet: no empty table on the form.
        return [VariantInline] + ([] if obj is None else [*approval_inlines(obj), *self.inlines])

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None) -> list[str]:
        readonly = [
            "state_badge",
            "state_reason",
            "state_changed_at",
            "state_changed_by",
            "created_by",
            "launched_at",
            "completed_at",
        ]
        if obj is not None and obj.state != Campaign.State.DRAFT:
            readonly += [
                "name",
                "app",
                "voice_file",
                "display_num",
                "loop_count",
                "max_duration",
                "max_ringing_time",
                "called_info",
                "scheduled_start",
                *AUDIENCE,
                *RETRY_FIELDS,
            ]
        return readonly + budget_readonly(obj)

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None) -> Any:
        sets: list[Any] = [
            (
                gettext("What is sent"),
                {
                    "fields": [
                        "name",
                        "app",
                        "voice_file",
                        "display_num",
                        "loop_count",
                        "max_duration",
                        "max_ringing_time",
                        "called_info",
                    ]
                },
            ),
            (
                gettext_lazy("Audience"),
                {
                    "fields": AUDIENCE,
                    "description": gettext_lazy(
                        "Besides the callees imported directly: the contacts of these lists "
                        "become callees at launch, each number once; the launch plan shows who "
                        "is skipped and why."
                    ),
                },
            ),
            when_fieldset(),
            retry_fieldset(),
            budget_fieldset(obj),
        ]
        if obj is not None:
            sets.append(
                (
                    gettext("State"),
                    {
                        "fields": [
                            "state_badge",
                            "state_reason",
                            "state_changed_at",
                            "state_changed_by",
                            "created_by",
                            "launched_at",
                            "completed_at",
                        ]
                    },
                )
            )
        return sets

    def has_change_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # A finished campaign is a record: nothing is left to change.
        if obj is not None and obj.state in (Campaign.State.COMPLETED, Campaign.State.CANCELLED):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Campaign | None = None) -> bool:
        # Only a draft that never sent anything may go; the rest stays on the books.
        if obj is not None and (obj.state != Campaign.State.DRAFT or obj.batches.exists()):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Campaign]:
        # The unknown callees of each campaign (one index range per row): a sent campaign
        # with unknown callees is not finished, and its badge says so.
        unknown = (
            Callee.objects.filter(campaign=OuterRef("pk"), state=Callee.State.UNKNOWN)
            .order_by()
            .values("campaign")
            .annotate(n=Count("id"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(unknown_callees=Coalesce(Subquery(unknown, output_field=IntegerField()), 0))
        )

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: Campaign) -> str:
        unknown = getattr(obj, "unknown_callees", None)
        if unknown is None:
            unknown = Callee.objects.filter(campaign=obj, state=Callee.State.UNKNOWN).count()
        waiting = obj.state == Campaign.State.COMPLETED and unknown
        return format_html(
            '<span class="portal-state portal-state-{}">{}</span>',
            "unknown" if waiting else obj.state,
            state_display(obj, unknown),
        )

    # --- the page ----------------------------------------------------------------
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        campaign = self.get_object(request, object_id)
        if campaign is not None:
            progress = campaign_progress(campaign)
            extra_context["progress"] = progress
            # The state table, once: its words head the counters and make the legend.
            extra_context["callee_states"] = [
                (row, progress.counts.get(row.key, 0)) for row in CALLEE_STATES
            ]
            extra_context["skipped_by_reason"] = [
                (Callee.SkipReason(reason).label, n)
                for reason, n in skipped_by_reason(campaign).items()
            ]
            extra_context["opt_outs"] = opt_out_count(campaign)
            extra_context.update(self.approval_context(request, campaign))
            extra_context.update(self.windows_context(request, campaign))
            extra_context.update(self.retries_context(request, campaign))
            extra_context["waiting_text"] = (
                waiting_for_reconciliation(progress.waiting) if progress.waiting else ""
            )
            extra_context["can_place_calls"] = self.has_place_calls_permission(request)
            try:
                extra_context["import_url"] = (
                    reverse("admin:campaigns_callee_import") + f"?campaign={campaign.pk}"
                )
            except NoReverseMatch:
                extra_context["import_url"] = ""
            extra_context["callees_url"] = (
                reverse("admin:campaigns_callee_changelist") + f"?campaign__id__exact={campaign.pk}"
                if _has_url("admin:campaigns_callee_changelist")
                else ""
            )
            if request.user.has_perm("campaigns.view_call"):
                # The dashboard's figures for this campaign, over all its days.
                extra_context.update(
                    figures_context(CallSlice(campaign_id=campaign.pk)),
                    figures_query=urlencode({"campaign": campaign.pk}),
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/progress/", wrap(self.progress_view), name="campaigns_campaign_progress"
            ),
            path("<int:pk>/launch/", wrap(self.launch_view), name="campaigns_campaign_launch"),
            path(
                "<int:pk>/launch/test-call/",
                wrap(self.test_call_view),
                name="campaigns_campaign_test_call",
            ),
            path(
                "<int:pk>/launch/skipped/",
                wrap(self.skipped_view),
                name="campaigns_campaign_skipped",
            ),
            path(
                "<int:pk>/steer/<str:verb>/",
                wrap(self.steer_view),
                name="campaigns_campaign_steer",
            ),
            path(
                "<int:pk>/release-unknown/",
                wrap(self.release_view),
                name="campaigns_campaign_release",
            ),
            *self.approval_urls(),
            *super().get_urls(),
        ]

    @requires("view", methods=["GET"])
    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        campaign = get_object_or_404(Campaign, pk=pk)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        progress = campaign_progress(campaign)
        data = progress.as_dict()
        data.update(
            state=campaign.state,
            state_display=progress.state_display,
            state_reason=campaign.state_reason,
        )
        return JsonResponse(data)

    @requires("place_calls", methods=["POST"])
    def steer_view(self, request: HttpRequest, pk: int, verb: str) -> HttpResponseRedirect:
        campaign = get_object_or_404(Campaign, pk=pk)
        self._steer(request, campaign, verb)
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[pk]))

    def _steer(self, request: HttpRequest, campaign: Campaign, verb: str) -> None:
        actor = Actor.from_user(request.user)
        try:
            if verb == "pause":
                campaign_pause(campaign=campaign, actor=actor)
            elif verb == "resume":
                campaign_resume(campaign=campaign, actor=actor)
            elif verb == "cancel":
                campaign_cancel(campaign=campaign, actor=actor)
            elif verb == "reconcile":
                report = campaign_reconcile(campaign=campaign, actor=actor)
                self.message_user(
                    request,
                    gettext(
                        "%(name)s: reconciliation resolved %(resolved)s unknown callee(s); "
                        "%(unknown)s are still unknown."
                    )
                    % {
                        "name": campaign.name,
                        "resolved": report.resolved,
                        "unknown": report.still_unknown,
                    },
                    messages.SUCCESS if not report.still_unknown else messages.WARNING,
                )
                return
            else:
                raise CampaignError(gettext("Unknown action %(verb)s.") % {"verb": repr(verb)})
        except (CampaignError, ItnioError) as exc:
            self.message_user(
                request,
                gettext("%(name)s: %(error)s") % {"name": campaign.name, "error": exc},
                messages.ERROR,
            )
            return
        campaign.refresh_from_db()
        self.message_user(
            request,
            gettext("%(name)s: %(state)s.")
            % {"name": campaign.name, "state": campaign.get_state_display()},
            messages.SUCCESS,
        )

    @requires("place_calls")
    def release_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        campaign = get_object_or_404(Campaign, pk=pk)
        unknown = Callee.objects.filter(campaign=campaign, state=Callee.State.UNKNOWN).count()
        if request.method == "POST" and request.POST.get("post") == "yes":
            try:
                released = campaign_release_unknown(
                    campaign=campaign, actor=Actor.from_user(request.user)
                )
            except CampaignError as exc:
                self.message_user(
                    request,
                    gettext("%(name)s: %(error)s") % {"name": campaign.name, "error": exc},
                    messages.ERROR,
                )
            else:
                self.message_user(request, _released_message(campaign, released), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Release unknown callees for resending?"),
            "campaign": campaign,
            "unknown": unknown,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/release_confirm.html", context)

    # --- list actions --------------------------------------------------------------
    @admin.action(
        description=gettext_lazy("Launch selected campaign…"), permissions=["place_calls"]
    )
    def launch_selected(
        self, request: HttpRequest, queryset: QuerySet[Campaign]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request,
                gettext("Launch one campaign at a time: its plan is shown first."),
                messages.WARNING,
            )
            return None
        return HttpResponseRedirect(
            reverse("admin:campaigns_campaign_launch", args=[queryset.get().pk])
        )

    @admin.action(description=gettext_lazy("Pause selected campaigns"), permissions=["place_calls"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self._steer(request, campaign, "pause")

    @admin.action(
        description=gettext_lazy("Resume selected campaigns"), permissions=["place_calls"]
    )
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self._steer(request, campaign, "resume")

    @admin.action(
        description=gettext_lazy("Cancel selected campaigns"), permissions=["place_calls"]
    )
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self._steer(request, campaign, "cancel")

    @admin.action(
        description=gettext_lazy("Reconcile unknown callees of selected campaigns"),
        permissions=["place_calls"],
    )
    def reconcile_selected(self, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
        for campaign in queryset:
            self._steer(request, campaign, "reconcile")


def _released_message(campaign: Campaign, released: int) -> str:
    """What became of a release: when the released callees will be sent."""
    text = ngettext(
        "Released %(n)s unknown callee for resending (it may be called twice).",
        "Released %(n)s unknown callees for resending (they may be called twice).",
        released,
    ) % {"n": format_count(released)}
    campaign.refresh_from_db()
    if not released:
        return gettext("No callee was unknown any more: nothing was released.")
    if campaign.state == Campaign.State.PAUSED:
        return text + " " + gettext("They are sent when the campaign is resumed.")
    if campaign.state == Campaign.State.RUNNING:
        return text + " " + gettext("The dispatcher sends them now, once.")
    return text + " " + gettext("They have been sent: see the counts.")


def _has_url(name: str) -> bool:
    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True
