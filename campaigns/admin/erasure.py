"""The calls' admin action that erases the callees' numbers and names from every table (Admins
only, after a confirmation page), through services/personal_data.py like `manage.py
erase_number`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, gettext_lazy, ngettext

from campaigns.admin.base import ReadOnlyAdmin
from campaigns.models import ErasedNumber
from campaigns.services.actors import Actor
from campaigns.services.personal_data import ERASE_PERMISSION, number_erase

#: Numbers one action erases at most (each erasure searches the push inbox and the request log).
MAX_NUMBERS = 100


class EraseNumbersMixin:
    """Adds the `erase_numbers` action to the calls' admin (list it in `actions`)."""

    def has_erase_personal_data_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ERASE_PERMISSION)

    @admin.action(
        description=gettext_lazy("Erase these callees' numbers and names everywhere"),
        permissions=["erase_personal_data"],
    )
    def erase_numbers(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        numbers = sorted(set(queryset.exclude(callee="").values_list("callee", flat=True)))
        if not numbers:
            self.message_user(request, gettext("The selected calls hold no number."), messages.INFO)
            return None
        if len(numbers) > MAX_NUMBERS:
            self.message_user(
                request,
                gettext("Select calls of at most %(n)s numbers at a time.") % {"n": MAX_NUMBERS},
                messages.ERROR,
            )
            return None
        if request.POST.get("post") == "yes":
            actor = Actor.from_user(request.user)
            for number in numbers:
                number_erase(number=number, actor=actor)
            self.message_user(
                request,
                ngettext(
                    "Erased %(n)s number from every table; a salted digest of it is kept.",
                    "Erased %(n)s numbers from every table; salted digests of them are kept.",
                    len(numbers),
                )
                % {"n": len(numbers)},
                messages.SUCCESS,
            )
            return None
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": gettext("Erase personal data"),
            "opts": self.model._meta,
            "numbers": numbers,
            "queryset": queryset,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "action": "erase_numbers",
        }
        return TemplateResponse(request, "admin/campaigns/call/erase_confirm.html", context)


@admin.register(ErasedNumber)
class ErasedNumberAdmin(ReadOnlyAdmin):
    """The digests of erased numbers: who erased one and when (never the number)."""

    list_display = ["id", "erased_at", "erased_by"]
    fields = ["digest", "erased_at", "erased_by"]
    readonly_fields = fields
