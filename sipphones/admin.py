"""Admin for SIP phone groups: edit while not on ITNIO, "Create on ITNIO", "Call from phone"."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin
from campaigns.models import Call
from campaigns.services.actors import Actor
from campaigns.services.calls import CallError
from itnio_portal.itnio import ItnioError
from sipphones.forms import SipCallForm, SipGroupForm
from sipphones.models import SipGroup
from sipphones.services import (
    UNKNOWN_EXPLANATION,
    SipGroupError,
    sip_call,
    sip_group_create_on_itnio,
)

DERIVED_NOTE = gettext_lazy(
    "Derived, not confirmed by ITNIO (its API cannot list the phones of a group): the names follow "
    "the {phone name}_NNN shape of the API's example test_001."
)
DETAIL_FIELDS = [
    "state_badge",
    "explanation",
    "phone_accounts",
    "created_by",
    "created_at",
    "added_at",
]


@admin.register(SipGroup)
class SipGroupAdmin(PortalModelAdmin):
    form = SipGroupForm
    list_display = [
        "group_name",
        "phone_name",
        "quantity",
        "display_num",
        "state_badge",
        "created_display",
    ]
    list_filter = ["state", "app"]
    search_fields = ["group_name", "phone_name"]
    list_select_related = ["app"]
    actions = ["create_on_itnio"]
    change_list_template = "admin/sipphones/sipgroup/change_list.html"
    change_form_template = "admin/sipphones/sipgroup/change_form.html"

    def get_fields(self, request: HttpRequest, obj: SipGroup | None = None) -> list[str]:
        fields = ["app", "group_name", "phone_name", "quantity", "display_num"]
        return fields if obj is None else fields + DETAIL_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: SipGroup | None = None) -> list[str]:
        if obj is None:
            return []
        if obj.editable:
            return list(DETAIL_FIELDS)
        # ITNIO knows the group (or may): its names and size can no longer change here.
        return self.get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: SipGroup | None = None) -> bool:
        if obj is not None and not obj.editable:
            return False  # created (or perhaps created) on ITNIO, which has no edit endpoint
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: SipGroup | None = None) -> bool:
        if obj is not None and not obj.editable:
            return False  # ITNIO has no delete endpoint: the row is the only trace of the phones
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: SipGroup, form: Any, change: bool) -> None:
        if change and obj.state == SipGroup.State.FAILED and form.changed_data:
            # Edited after a refusal: a fresh attempt, the old error no longer applies.
            obj.state = SipGroup.State.DRAFT
            obj.last_error = ""
        super().save_model(request, obj, form, change)

    # --- display -------------------------------------------------------------
    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: SipGroup) -> str:
        return format_html(
            '<span class="portal-state portal-state-{}">{}</span>',
            obj.state,
            obj.get_state_display(),
        )

    @admin.display(description=gettext_lazy("created"), ordering="created_at")
    def created_display(self, obj: SipGroup) -> str:
        if obj.created_at is None:
            return "–"
        when = timezone.localtime(obj.created_at)
        return _("%(when)s by %(user)s") % {
            "when": f"{when:%Y-%m-%d %H:%M}",
            "user": obj.created_by or "?",
        }

    @admin.display(description=gettext_lazy("what to do"))
    def explanation(self, obj: SipGroup) -> str:
        if obj.state == SipGroup.State.SENDING:
            return format_html(
                '<div class="portal-explain">{}<br><br>{}</div>',
                obj.last_error,
                _(UNKNOWN_EXPLANATION),
            )
        if obj.state == SipGroup.State.UNKNOWN:
            return format_html('<div class="portal-explain">{}</div>', obj.last_error)
        if obj.state == SipGroup.State.FAILED:
            return format_html(
                '<div class="portal-explain" id="sip-error">{}</div>', obj.last_error
            )
        if obj.state == SipGroup.State.DRAFT:
            return _("Not on ITNIO yet: press “Create on ITNIO”.")
        text = _("On ITNIO: its phones can place calls (“Call from phone”).")
        return f"{text} {obj.last_error}" if obj.last_error else text

    @admin.display(description=gettext_lazy("phone accounts (derived)"))
    def phone_accounts(self, obj: SipGroup) -> str:
        names = obj.accounts
        if not names:
            return "–"
        return format_html(
            '<div class="portal-accounts" id="phone-accounts"><p class="portal-note">{}</p>'
            "<ul>{}</ul></div>",
            DERIVED_NOTE,
            format_html_join("", "<li><code>{}</code></li>", ((name,) for name in names)),
        )

    # --- custom views ----------------------------------------------------------
    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "call-from-phone/",
                wrap(self.call_from_phone_view),
                name="sipphones_sipgroup_call",
            ),
            path(
                "<int:pk>/create-on-itnio/",
                wrap(self.create_view),
                name="sipphones_sipgroup_create_on_itnio",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {
            **(extra_context or {}),
            "can_place_calls": self.has_place_calls_permission(request),
        }
        return super().changelist_view(request, extra)

    @requires("place_calls", methods=["POST"])
    def create_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        group = get_object_or_404(SipGroup, pk=pk)
        self._create(request, group)
        return HttpResponseRedirect(reverse("admin:sipphones_sipgroup_change", args=[pk]))

    @admin.action(description=gettext_lazy("Create on ITNIO"), permissions=["place_calls"])
    def create_on_itnio(self, request: HttpRequest, queryset: QuerySet[SipGroup]) -> None:
        for group in queryset:
            self._create(request, group)

    def _create(self, request: HttpRequest, group: SipGroup) -> None:
        try:
            group = sip_group_create_on_itnio(group=group, actor=Actor.from_user(request.user))
        except SipGroupError as exc:
            self.message_user(
                request,
                _("SIP group %(group)s: %(error)s") % {"group": group.group_name, "error": exc},
                messages.ERROR,
            )
            return
        if group.state == SipGroup.State.CREATED:
            accounts = group.accounts
            text = _(
                "Created SIP group %(group)s on ITNIO: %(count)s phones, %(first)s to %(last)s."
            ) % {
                "group": group.group_name,
                "count": len(accounts),
                "first": accounts[0],
                "last": accounts[-1],
            }
            if group.last_error:
                text = f"{text} {group.last_error}"
            self.message_user(request, text, messages.SUCCESS)
        elif group.state == SipGroup.State.UNKNOWN:
            level = messages.WARNING
            self.message_user(
                request,
                _("SIP group %(group)s: %(error)s")
                % {"group": group.group_name, "error": group.last_error},
                level,
            )
        else:
            level = messages.ERROR
            self.message_user(
                request,
                _("SIP group %(group)s: %(error)s")
                % {"group": group.group_name, "error": group.last_error},
                level,
            )

    @requires("place_calls")
    def call_from_phone_view(self, request: HttpRequest) -> HttpResponse:
        form = SipCallForm(request.POST or None, initial=self._call_initial(request))
        if request.method == "POST" and form.is_valid():
            sip = form.send_sip()
            try:
                call = sip_call(
                    app=form.cleaned_data["app"],
                    account_name=sip.account,
                    callee=sip.callee,
                    display_num=sip.display_num,
                    actor=Actor.from_user(request.user),
                )
            except (CallError, ItnioError) as exc:
                form.add_error(None, str(exc))
            else:
                level = {
                    Call.State.SUBMITTED: messages.SUCCESS,
                    Call.State.UNKNOWN: messages.WARNING,
                }.get(call.state, messages.ERROR)
                if call.state == Call.State.SUBMITTED:
                    text = _("Call placed from %(account)s: voiceId %(voice_id)s.") % {
                        "account": call.request["account"],
                        "voice_id": call.voice_id,
                    }
                elif call.state == Call.State.UNKNOWN:
                    text = _("The outcome of this call is unknown: %(reason)s") % {
                        "reason": call.state_reason
                    }
                else:
                    text = _("ITNIO did not place the call: %(reason)s") % {
                        "reason": call.state_reason
                    }
                self.message_user(request, text, level)
                return HttpResponseRedirect(reverse("admin:campaigns_call_change", args=[call.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Call from phone"),
            "form": form,
            "has_phones": len(form.fields["account"].choices) > 1,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/sipphones/sipgroup/call_from_phone.html", context)

    @staticmethod
    def _call_initial(request: HttpRequest) -> dict[str, Any]:
        """?group=PK preselects that group's app and first phone (the group page links so)."""
        pk = request.GET.get("group", "")
        group = (
            SipGroup.objects.filter(pk=pk, state=SipGroup.State.CREATED).first()
            if pk.isdigit()
            else None
        )
        if group is None:
            return {}
        return {"app": group.app_id, "account": f"{group.pk}:{group.accounts[0]}"}
