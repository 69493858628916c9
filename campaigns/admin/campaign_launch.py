"""The campaign's launch plan pages: the plan with its preflight (convention 4: the first
request shows it, post=yes launches), the test call to one number, and the skipped numbers as
CSV. A mixin of CampaignAdmin (campaigns.py), which registers their URLs."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext

from campaigns.admin.access import requires
from campaigns.exports import neutralise
from campaigns.models import Campaign
from campaigns.services.actors import Actor
from campaigns.services.audience import SKIP_REASONS, preflight_skipped
from campaigns.services.calls import CallError
from campaigns.services.campaign_plan import campaign_plan
from campaigns.services.campaigns import CampaignError, LaunchAwaitsApproval, campaign_launch
from campaigns.services.test_calls import campaign_test_call


class LaunchPlanViews:
    """The views of the launch plan (self is the CampaignAdmin)."""

    @requires("place_calls")
    def launch_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Convention 4 (design.md): the first request shows the plan; post=yes launches."""
        campaign = get_object_or_404(
            Campaign.objects.select_related("app__account", "voice_file"), pk=pk
        )
        plan = campaign_plan(campaign)
        if request.method == "POST" and request.POST.get("post") == "yes":
            try:
                campaign = campaign_launch(campaign=campaign, actor=Actor.from_user(request.user))
            except LaunchAwaitsApproval as exc:
                self.message_user(request, str(exc), messages.WARNING)
            except CampaignError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("%(name)s: %(state)s. %(reason)s.")
                    % {
                        "name": campaign.name,
                        "state": campaign.get_state_display(),
                        "reason": campaign.state_reason,
                    },
                    messages.SUCCESS,
                )
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Launch %(name)s?") % {"name": campaign.name},
            "campaign": campaign,
            "plan": plan,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/launch_confirm.html", context)

    @requires("place_calls", methods=["POST"])
    def test_call_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        """The plan page's test call: the campaign as it stands, to one number."""
        campaign = get_object_or_404(Campaign.objects.select_related("app", "voice_file"), pk=pk)
        try:
            call = campaign_test_call(
                campaign=campaign,
                number=request.POST.get("number", ""),
                actor=Actor.from_user(request.user),
            )
        except CallError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            level = messages.SUCCESS if call.state == "submitted" else messages.ERROR
            text = gettext("Test call to %(number)s: %(state)s. %(reason)s") % {
                "number": call.callee,
                "state": call.get_state_display(),
                "reason": call.state_reason or call.voice_id,
            }
            self.message_user(request, text, level)
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_launch", args=[pk]))

    @requires("view", methods=["GET"])
    def skipped_view(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        """The launch plan's skipped numbers as CSV, with the reason of each."""
        campaign = get_object_or_404(Campaign, pk=pk)
        labels = dict(SKIP_REASONS)

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())

        def rows() -> Any:
            yield "\ufeff" + writer.writerow(["number", "contact_list", "reason", "why"])
            for number, list_name, key in preflight_skipped(campaign):
                yield writer.writerow([number, neutralise(list_name), key, str(labels[key])])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="skipped-{campaign.pk}.csv"'
        return response
