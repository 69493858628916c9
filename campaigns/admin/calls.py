"""Admin for calls: list with cost totals, a page laid out for a person, TTS, refresh, export."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import ShowFacets
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin
from campaigns.admin.call_figures import describe_slice, figures_context, list_slice
from campaigns.admin.erasure import EraseNumbersMixin
from campaigns.exports import stream_calls_export
from campaigns.formatting import count as format_count
from campaigns.formatting import money_html
from campaigns.forms_calls import SendTtsForm, tts_language_for
from campaigns.forms_reports import DashboardForm
from campaigns.models import Call
from campaigns.services.actors import Actor
from campaigns.services.calls import CallError, call_refresh, call_send_tts
from campaigns.services.numbers import strip_number
from campaigns.services.reports import call_figures, figures_csv, stat_totals
from campaigns.services.variant_figures import variant_csv
from itnio_portal.itnio import LANGUAGES, ItnioError


class AnsweredFilter(admin.SimpleListFilter):
    title = gettext_lazy("answered")
    parameter_name = "answered"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Answered")), ("no", _("Not answered (final)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Call]) -> QuerySet[Call]:
        if self.value() == "yes":
            return queryset.filter(answer_time__isnull=False)
        if self.value() == "no":
            return queryset.filter(answer_time__isnull=True, hangup_time__isnull=False)
        return queryset


class CallListPaginator(Paginator):
    """Pages of calls whose count is given (from the daily figures) or counted with a limit."""

    def __init__(self, *args: Any, count: int, capped: bool, limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._known_count, self.capped, self.limit = count, capped, limit
        self.limit_display = format_count(limit)

    @cached_property
    def count(self) -> int:
        return self._known_count


def _amount(value: Decimal | None, unit: str = "") -> str:
    """A decimal as ITNIO sent it (no padding zeros), or a dash when the record has none."""
    if value is None:
        return "–"
    return f"{value.normalize():f} {unit}".strip()


def _gap(a: datetime | None, b: datetime | None) -> str:
    if a is None or b is None:
        return ""
    seconds = (b - a).total_seconds()
    if abs(seconds) < 3600:
        return _("+%(seconds)s s") % {"seconds": f"{seconds:,.0f}"}
    return _("+%(hours)s h") % {"hours": f"{seconds / 3600:,.1f}"}


def _tts_summary(form: SendTtsForm) -> list[tuple[str, str]]:
    """What the confirmation step shows: every field given, as the person will be called."""
    code = form.send_code()
    data = form.cleaned_data
    rows = [
        (_("App"), str(data["app"])),
        (_("Callee"), code.callee),
        (_("Language"), f"{LANGUAGES.get(code.language, code.language)} ({code.language})"),
        (_("Text"), code.text),
    ]
    optional = ("display_num", "loop_count", "recall_count", "recall_interval", "max_duration")
    for name in (*optional, "max_ringing_time", "called_info"):
        if data.get(name) not in (None, ""):
            label = form.fields[name].label or name.replace("_", " ")
            rows.append((str(label).capitalize(), str(data[name])))
    return rows


@admin.register(Call)
class CallAdmin(EraseNumbersMixin, PortalModelAdmin):
    list_display = [
        "callee",
        "kind",
        "state_badge",
        "call_duration",
        "cost_display",
        "submit_time",
        "app",
    ]
    list_filter = [
        "app",
        "campaign",
        "kind",
        "state",
        AnsweredFilter,
        ("placed_at", admin.DateFieldListFilter),
    ]
    search_fields = ["voice_id", "callee"]  # see get_search_results: exact voiceId or callee prefix
    search_help_text = gettext_lazy("Exact voiceId, or the beginning of the callee number.")
    list_select_related = ["app"]
    list_per_page = 50
    show_full_result_count = False
    # Facet counts would be one COUNT over the whole table per filter choice.
    show_facets = ShowFacets.NEVER
    actions = ["refresh_from_itnio", "erase_numbers"]
    change_list_template = "admin/campaigns/call/change_list.html"
    change_form_template = "admin/campaigns/call/change_form.html"

    fieldsets = [
        (
            gettext_lazy("Call"),
            {
                "fields": [
                    "app",
                    "kind",
                    "callee",
                    "attempt",  # of a campaign callee: 1, then each retry
                    "display_num",
                    "voice_id",
                    "state_badge",
                    "state_reason",
                    "created_by",
                    "created_at",
                ]
            },
        ),
        (
            gettext_lazy("Outcome"),
            {
                "fields": [
                    "answered_display",
                    "termination_reason",
                    "termination_code",
                    "dtmf_display",
                    "code",
                ]
            },
        ),
        (gettext_lazy("Timeline"), {"fields": ["timeline"]}),
        (
            gettext_lazy("Billing"),
            {
                "fields": [
                    "charged_duration",
                    "call_duration",
                    "bill_period",
                    "rate_display",
                    "cost_display",
                    "base_cost_display",
                    "settle_rate_display",
                    "quote_exchange_display",
                    "settle_pay_display",
                ]
            },
        ),
        (
            gettext_lazy("Request"),
            {
                "fields": ["called_info", "request_display", "voice_file_id"],
                "classes": ["collapse"],
            },
        ),
        (
            gettext_lazy("Raw record"),
            {"fields": ["raw_display", "record_source", "synced_at"], "classes": ["collapse"]},
        ),
    ]

    # Only on SIP-phone calls, right after "Call": filled by recordSip (itnio-api.md §3.7).
    sip_fieldset = (
        gettext_lazy("SIP phone"),
        {"fields": ["sip_account", "sip_group_name", "phone_name_display", "recording_file_id"]},
    )

    @admin.display(description=gettext_lazy("placed from phone"))
    def sip_account(self, obj: Call) -> str:
        # The phone account the call was placed from (desk_001); phone_name is the group's
        # phone name ITNIO's record gives (desk).
        return (obj.request or {}).get("account") or "–"

    @admin.display(description=gettext_lazy("phone name of the group"))
    def phone_name_display(self, obj: Call) -> str:
        return obj.phone_name or "–"

    def get_fieldsets(self, request: HttpRequest, obj: Call | None = None) -> list[Any]:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and obj.kind == Call.Kind.SIP:
            fieldsets.insert(1, self.sip_fieldset)
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Call | None = None) -> list[str]:
        return [f for _title, opts in self.get_fieldsets(request, obj) for f in opts["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # calls are placed through "Send TTS call" and campaigns

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record comes from ITNIO; nothing here is edited by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a call that cost money stays on the books

    # --- list ----------------------------------------------------------------
    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Call], search_term: str
    ) -> tuple[QuerySet[Call], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        number = strip_number(term)  # a prefix of a number, as the normaliser writes it
        return queryset.filter(Q(voice_id=term) | Q(callee__startswith=number or term)), False

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[Call],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> CallListPaginator:
        """No COUNT over a million rows: the daily figures know how many calls a filter holds;
        a search is counted up to CALL_LIST_COUNT_LIMIT."""
        limit = settings.CALL_LIST_COUNT_LIMIT
        slc = list_slice(request.GET)
        if slc is not None:
            # Per currency: the count is their sum, and the cost totals reuse them.
            totals = stat_totals(slc, ("currency",))
            request._call_list_totals = totals  # type: ignore[attr-defined]
            count, capped = sum(t["calls"] for t in totals), False
        else:
            count = queryset.order_by()[: limit + 1].count()
            capped = count > limit
        return CallListPaginator(
            queryset,
            per_page,
            orphans,
            allow_empty_first_page,
            count=count,
            capped=capped,
            limit=limit,
        )

    def _cost_totals(self, request: HttpRequest, cl: Any) -> list[dict[str, Any]] | None:
        """Cost per currency of the calls in the list; None when a search matches too many."""
        totals = getattr(request, "_call_list_totals", None)
        if totals is not None:
            rows = [
                {"currency": r["currency"], "total": r["cost_sum"], "calls": r["calls"]}
                for r in totals
                if r["priced"]
            ]
        elif cl.paginator.capped:
            return None
        else:
            rows = list(
                cl.queryset.order_by()
                .values("currency")
                .annotate(total=Sum("cost"), calls=Count("id"))
                .order_by("currency")
            )
        return [
            {**t, "display": money_html(t["total"], t["currency"])}
            for t in rows
            if t["total"] is not None
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        cl = (
            getattr(response, "context_data", {}).get("cl")
            if hasattr(response, "context_data")
            else None
        )
        if cl is not None:
            response.context_data["cost_totals"] = self._cost_totals(request, cl)
            response.context_data["can_place_calls"] = self.has_place_calls_permission(request)
            response.context_data["export_query"] = request.GET.urlencode()
        return response

    def action_checkbox(self, obj: Call) -> str:
        """The stock checkbox without a widget render per row (a third of a list page's time)."""
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            ACTION_CHECKBOX_NAME,
            obj.pk,
            _("Select this object for an action - %(object)s") % {"object": str(obj)},
        )

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: Call) -> str:
        return format_html(
            '<span class="portal-state portal-state-{}">{}</span>',
            obj.state,
            obj.get_state_display(),
        )

    @admin.display(description=gettext_lazy("cost"), ordering="cost")
    def cost_display(self, obj: Call) -> str:
        return money_html(obj.cost, obj.currency)

    @admin.display(description=gettext_lazy("rate"))
    def rate_display(self, obj: Call) -> str:
        return (
            "–"
            if obj.rate is None
            else _("%(rate)s %(currency)s per minute")
            % {"rate": f"{obj.rate.normalize():f}", "currency": obj.currency or "USD"}
        )

    @admin.display(description=gettext_lazy("base cost"))
    def base_cost_display(self, obj: Call) -> str:
        return money_html(obj.base_cost, "USD")

    @admin.display(description=gettext_lazy("settlement rate"))
    def settle_rate_display(self, obj: Call) -> str:
        return _amount(obj.settle_rate)

    @admin.display(description=gettext_lazy("exchange rate"))
    def quote_exchange_display(self, obj: Call) -> str:
        return _amount(obj.quote_exchange)

    @admin.display(description=gettext_lazy("settled amount"))
    def settle_pay_display(self, obj: Call) -> str:
        return money_html(obj.settle_pay, obj.currency)

    # --- change page -----------------------------------------------------------
    @admin.display(description=gettext_lazy("answered"))
    def answered_display(self, obj: Call) -> str:
        if obj.answered:
            return _("Yes, at %(time)s") % {"time": f"{obj.answer_time:%Y-%m-%d %H:%M:%S %Z}"}
        if obj.is_final:
            return _("No")
        if obj.state == Call.State.REJECTED:
            return _("No: ITNIO refused the number, the call was never placed")
        if obj.state == Call.State.EXPIRED:
            return _("Not known: no final record came within 60 days")
        return _("Not known yet (no final record)")

    @admin.display(description=gettext_lazy("DTMF key pressed"))
    def dtmf_display(self, obj: Call) -> str:
        if obj.feedback_value in ("", None):
            return "–"
        return _("No key pressed") if obj.feedback_value == "-1" else obj.feedback_value

    @admin.display(description=gettext_lazy("timeline"))
    def timeline(self, obj: Call) -> str:
        steps = [
            (_("Submitted"), obj.submit_time),
            (_("Called"), obj.call_time),
            (_("Ringing"), obj.ringing_time),
            (_("Answered"), obj.answer_time),
            (_("Hung up"), obj.hangup_time),
        ]
        rows = []
        previous = None
        for label, moment in steps:
            rows.append(
                (
                    label,
                    f"{moment:%Y-%m-%d %H:%M:%S %Z}" if moment else "–",
                    _gap(previous, moment),
                )
            )
            if moment is not None:
                previous = moment
        return format_html(
            '<table class="portal-timeline"><tbody>{}</tbody></table>',
            format_html_join("", '<tr><th>{}</th><td>{}</td><td class="gap">{}</td></tr>', rows),
        )

    @admin.display(description=gettext_lazy("what was sent"))
    def request_display(self, obj: Call) -> str:
        return format_html(
            '<pre class="portal-raw">{}</pre>',
            json.dumps(obj.request, indent=2, ensure_ascii=False),
        )

    @admin.display(description=gettext_lazy("raw record"))
    def raw_display(self, obj: Call) -> str:
        if not obj.raw_record:
            return _("No record received yet.")
        return format_html(
            '<pre class="portal-raw">{}</pre>',
            json.dumps(obj.raw_record, indent=2, ensure_ascii=False),
        )

    # --- custom views ----------------------------------------------------------
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("send-tts/", wrap(self.send_tts_view), name="campaigns_call_send_tts"),
            path("dashboard/", wrap(self.dashboard_view), name="campaigns_call_dashboard"),
            path(
                "dashboard/csv/", wrap(self.dashboard_csv_view), name="campaigns_call_dashboard_csv"
            ),
            path("sync/", wrap(self.sync_view), name="campaigns_call_sync"),
            path("export/<str:fmt>/", wrap(self.export_view), name="campaigns_call_export"),
            path("<int:pk>/refresh/", wrap(self.refresh_view), name="campaigns_call_refresh"),
            *super().get_urls(),
        ]

    @requires("view", methods=["GET"])
    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        form = DashboardForm(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Calls dashboard"),
            "form": form,
        }
        if not form.is_bound or form.is_valid():
            slc = form.call_slice()
            context.update(
                figures_context(slc),
                query=request.GET.urlencode(),
                range_text=describe_slice(slc, form),
            )
        return TemplateResponse(request, "admin/campaigns/call/dashboard.html", context)

    @requires("view", methods=["GET"])
    def dashboard_csv_view(self, request: HttpRequest) -> HttpResponse:
        form = DashboardForm(request.GET)
        if form.is_bound and not form.is_valid():
            errors = "; ".join(e for errs in form.errors.values() for e in errs)
            return HttpResponseBadRequest(
                _("Invalid dashboard filter: %(errors)s") % {"errors": errors},
                content_type="text/plain; charset=utf-8",
            )
        slc = form.call_slice()
        response = HttpResponse(
            figures_csv(call_figures(slc)) + variant_csv(slc.campaign_id),  # A/B: by variant
            content_type="text/csv; charset=utf-8",
        )
        span = "-".join(d.isoformat() for d in (slc.since, slc.until) if d) or "all-days"
        scope = f"-campaign-{slc.campaign_id}" if slc.campaign_id else ""
        response["Content-Disposition"] = (
            f'attachment; filename="itnio-call-figures{scope}-{span}.csv"'
        )
        return response

    @requires("place_calls")
    def send_tts_view(self, request: HttpRequest) -> HttpResponse:
        form = SendTtsForm(request.POST or None, language=tts_language_for(get_language()))
        # Filled in → a summary to confirm → placed; "Change it" goes back to the filled form.
        ready = request.method == "POST" and "change" not in request.POST and form.is_valid()
        confirm = ready and form.confirming()
        if ready and not confirm:
            try:
                call = call_send_tts(
                    app=form.cleaned_data["app"],
                    actor=Actor.from_user(request.user),
                    code=form.send_code(),
                )
            except (CallError, ItnioError) as exc:
                form.add_error(None, str(exc))
            else:
                level = {
                    Call.State.SUBMITTED: messages.SUCCESS,
                    Call.State.UNKNOWN: messages.WARNING,
                }.get(call.state, messages.ERROR)
                text = {
                    Call.State.SUBMITTED: _("Call placed: voiceId %(voice_id)s.")
                    % {"voice_id": call.voice_id},
                    Call.State.UNKNOWN: _("The outcome of this call is unknown: %(reason)s")
                    % {"reason": call.state_reason},
                }.get(
                    call.state,
                    _("ITNIO did not place the call: %(reason)s") % {"reason": call.state_reason},
                )
                self.message_user(request, text, level)
                return HttpResponseRedirect(reverse("admin:campaigns_call_change", args=[call.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Send this TTS call?") if confirm else _("Send TTS call"),
            "form": form,
            "confirm": confirm,
            "summary": _tts_summary(form) if confirm else [],
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/campaigns/call/send_tts.html", context)

    @requires("query_itnio", methods=["POST"])
    def sync_view(self, request: HttpRequest) -> HttpResponseRedirect:
        """Queue the same record sync the scheduler runs (calls not final yet, via recordGroup)."""
        from campaigns.tasks import sync_records

        result = sync_records.enqueue()
        self.message_user(
            request,
            _(
                "Record sync queued (task %(task)s); calls that are not final are refreshed from "
                "ITNIO in the background."
            )
            % {"task": result.id},
            messages.INFO,
        )
        return HttpResponseRedirect(reverse("admin:campaigns_call_changelist"))

    @requires("query_itnio", methods=["POST"])
    def refresh_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        self._refresh(request, get_object_or_404(Call, pk=pk))
        return HttpResponseRedirect(reverse("admin:campaigns_call_change", args=[pk]))

    @admin.action(
        description=gettext_lazy("Refresh selected calls from ITNIO"), permissions=["query_itnio"]
    )
    def refresh_from_itnio(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        for call in queryset.select_related("app__account")[:200]:
            self._refresh(request, call)

    def _refresh(self, request: HttpRequest, call: Call) -> None:
        try:
            call_refresh(call=call, actor=Actor.from_user(request.user))
        except (CallError, ItnioError) as exc:
            self.message_user(
                request,
                _("Call to %(callee)s: %(error)s") % {"callee": call.callee, "error": exc},
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                _("Call to %(callee)s refreshed: %(state)s.")
                % {"callee": call.callee, "state": call.get_state_display()},
                messages.SUCCESS,
            )

    @requires("view", methods=["GET"])
    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponse:
        try:
            cl = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            # What the change list itself does with a bad filter, instead of a server error.
            return HttpResponseRedirect(reverse("admin:campaigns_call_changelist") + "?e=1")
        return stream_calls_export(cl.get_queryset(request), fmt=fmt)
