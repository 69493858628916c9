"""The campaign page's retries, A/B variants and templates: the retry settings and their rule,
the variants inline (2–4 voice files summing to 100 %), their side-by-side comparison, the
per-callee results export, and the "Duplicate" list action. Mixed into CampaignAdmin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, gettext_lazy

from campaigns.admin.access import requires
from campaigns.exports import stream_table
from campaigns.formatting import count as format_count
from campaigns.formatting import money
from campaigns.models import Callee, Campaign, CampaignVariant, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.duplicate import DuplicateError, campaign_duplicate, free_copy_name
from campaigns.services.results_export import result_rows
from campaigns.services.retries import RETRY_RULE, attempt_figures, cap_warning
from campaigns.services.variant_figures import variant_figures
from campaigns.services.variants import VariantError, check_shares, check_variant_files

RETRY_FIELDS = ["retries", "retry_after_minutes"]


def retry_fieldset() -> tuple[Any, dict[str, Any]]:
    return (
        gettext_lazy("Retries"),
        {"fields": RETRY_FIELDS, "description": RETRY_RULE},
    )


class VariantFormSet(forms.BaseInlineFormSet):
    """None, or 2–4 variants of different voice files of the app's account, summing to 100."""

    def clean(self) -> None:
        super().clean()
        rows = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE", False)
        ]
        if not rows or any(f.errors for f in self.forms):
            return
        positions = sorted(row.get("position") or 0 for row in rows)
        if positions != list(range(1, len(rows) + 1)):
            raise forms.ValidationError(
                gettext("Number the variants 1, 2, … in order (A, B, C, D), each once.")
            )
        try:
            check_shares([row.get("percent") or 0 for row in rows])
            files = [row["voice_file"] for row in rows if row.get("voice_file")]
            account_id = self.instance.app.account_id if self.instance.app_id else None
            if account_id is not None:
                check_variant_files(files, account_id)
        except VariantError as exc:
            raise forms.ValidationError(str(exc)) from exc


class VariantInline(admin.TabularInline):
    model = CampaignVariant
    formset = VariantFormSet
    fields = ["position", "voice_file", "percent"]
    extra = 0
    max_num = 4
    verbose_name_plural = gettext_lazy(
        "A/B variants (optional: 2 to 4 voice files played instead of the voice file above)"
    )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "voice_file":
            kwargs["queryset"] = VoiceFile.objects.filter(state=VoiceFile.State.UPLOADED)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _editable(self, obj: Campaign | None) -> bool:
        return obj is None or obj.state == Campaign.State.DRAFT

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(obj) and super().has_delete_permission(request, obj)


def attempts_table(callee: Callee) -> str:
    """The callee's attempts, one line each: number, placed, outcome, link to its call."""
    calls = list(callee.attempt_calls.order_by("attempt", "id"))
    if not calls:
        return gettext("No attempt yet.")
    items = []
    for call in calls:
        if call.answer_time:
            result = gettext("answered")
        elif call.hangup_time:
            result = gettext("not reached (%(code)s %(reason)s)") % {
                "code": call.termination_code,
                "reason": call.termination_reason,
            }
        else:
            result = gettext("no final record yet")
        items.append(
            format_html(
                '<li><a href="{}">{}</a>: {} · {}</li>',
                reverse("admin:campaigns_call_change", args=[call.pk]),
                gettext("Attempt %(n)s") % {"n": call.attempt or "—"},
                f"{call.placed_at:%Y-%m-%d %H:%M:%S %Z}" if call.placed_at else "",
                result,
            )
        )
    return format_html('<ol id="callee-attempts">{}</ol>', mark_safe("".join(items)))  # noqa: S308


class CampaignRetriesMixin:
    """CampaignAdmin's part for retries, variants, results export and duplication."""

    def retries_context(self, request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
        context: dict[str, Any] = {
            "attempt_figures": {k: format_count(v) for k, v in attempt_figures(campaign).items()},
            "retry_rule": RETRY_RULE if campaign.retries else "",
            "results_url": reverse("admin:campaigns_campaign_results", args=[campaign.pk]),
        }
        rows = variant_figures(campaign)
        if rows:
            top = max((r.answered_percent for r in rows), default=0) or 1
            context["variants"] = [
                {
                    "row": r,
                    "bar": round(100 * r.answered_percent / top),
                    "cost": ", ".join(money(v, cur) for cur, v in sorted(r.cost.items())) or "—",
                    "per_answered": ", ".join(
                        money(v, cur) for cur, v in sorted(r.cost_per_answered.items())
                    )
                    or "—",
                }
                for r in rows
            ]
        return context

    def save_model(self, request: HttpRequest, obj: Campaign, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        warning = cap_warning(
            retries=obj.retries,
            retry_after_minutes=obj.retry_after_minutes,
            cap_calls=obj.frequency_cap_calls,
            cap_hours=obj.frequency_cap_hours,
        )
        if warning:
            self.message_user(request, warning, messages.WARNING)  # type: ignore[attr-defined]

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path(
                "<int:pk>/results/<str:fmt>/",
                wrap(self.results_view),
                name="campaigns_campaign_results_as",
            ),
            path("<int:pk>/results/", wrap(self.results_view), name="campaigns_campaign_results"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    @requires("view", methods=["GET"])
    def results_view(self, request: HttpRequest, pk: int, fmt: str = "csv") -> HttpResponse:
        campaign = get_object_or_404(Campaign, pk=pk)
        if not self.has_view_permission(request, campaign):  # type: ignore[attr-defined]
            raise PermissionDenied
        if fmt not in ("csv", "xlsx"):
            return HttpResponse(
                gettext("Unknown export format %(fmt)s; use csv or xlsx.") % {"fmt": repr(fmt)},
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        return stream_table(result_rows(campaign), fmt=fmt, name=f"campaign-{pk}-results")

    @admin.action(
        description=gettext_lazy("Duplicate selected campaign (a new draft)"),
        permissions=["add"],
    )
    def duplicate_selected(
        self, request: HttpRequest, queryset: QuerySet[Campaign]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(  # type: ignore[attr-defined]
                request, gettext("Duplicate one campaign at a time."), messages.WARNING
            )
            return None
        original = queryset.get()
        try:
            copy = campaign_duplicate(
                campaign=original,
                new_name=free_copy_name(original.name),
                actor=Actor.from_user(request.user),
            )
        except DuplicateError as exc:
            self.message_user(request, str(exc), messages.ERROR)  # type: ignore[attr-defined]
            return None
        self.message_user(  # type: ignore[attr-defined]
            request,
            gettext("Created the draft %(name)s with every setting of %(original)s.")
            % {"name": copy.name, "original": original.name},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_change", args=[copy.pk]))
