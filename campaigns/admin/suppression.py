"""Admin for do-not-call lists and entries: add (the number checked by the one normaliser),
search by number or reason, export as CSV; removing an entry is for Admins only (the delete
permission, which only the Admin role holds) and lands in the admin history."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.files.storage import default_storage
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin
from campaigns.exports import neutralise
from campaigns.formatting import count
from campaigns.models import SuppressionEntry, SuppressionList
from campaigns.services.actors import Actor
from campaigns.services.contact_imports import dnc_import
from campaigns.services.numbers import (
    InvalidNumber,
    check_region,
    normalise_number,
    strip_number,
)
from campaigns.services.suppression import DELETE_ENTRY
from campaigns.services.tabular import ImportFileError

DNC_SALT = "campaigns.dnc-import"


@admin.register(SuppressionList)
class SuppressionListAdmin(PortalModelAdmin):
    list_display = ["name", "app", "portal_wide", "entries_count", "created_at"]
    search_fields = ["name"]
    fields = ["name", "app", "portal_wide", "created_at"]
    readonly_fields = ["portal_wide", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SuppressionList]:
        return super().get_queryset(request).annotate(n_entries=Count("entries"))

    @admin.display(description=gettext_lazy("entries"), ordering="n_entries")
    def entries_count(self, obj: SuppressionList) -> str:
        return count(getattr(obj, "n_entries", 0))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        readonly = list(self.readonly_fields)
        if obj is not None and obj.portal_wide:
            readonly += ["name", "app"]  # it applies to every app, always
        return readonly

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.portal_wide:
            return False  # the portal-wide list always exists
        return super().has_delete_permission(request, obj)


class EntryForm(forms.ModelForm):
    class Meta:
        model = SuppressionEntry
        fields = ["suppression_list", "number", "reason", "expires_at"]

    def clean_number(self) -> str:
        raw = self.cleaned_data.get("number", "")
        try:
            return normalise_number(raw)
        except InvalidNumber as exc:
            raise forms.ValidationError(exc.reason) from exc


class DncImportForm(forms.Form):
    suppression_list = forms.ModelChoiceField(
        label=gettext_lazy("Do-not-call list"), queryset=SuppressionList.objects.all()
    )
    import_file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(
            "CSV, TSV, TXT or XLSX with a number column (number, phone, mobile, callee or msisdn)."
        ),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255, required=False)
    default_region = forms.CharField(
        label=gettext_lazy("Default region"), max_length=10, required=False
    )

    def clean_default_region(self) -> str:
        value = self.cleaned_data.get("default_region", "").strip()
        try:
            return check_region(value) if value else ""
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(SuppressionEntry)
class SuppressionEntryAdmin(PortalModelAdmin):
    form = EntryForm
    list_display = [
        "number",
        "suppression_list",
        "reason",
        "source",
        "added_by",
        "created_at",
        "expires_at",
    ]
    list_filter = ["suppression_list", "source"]
    search_fields = ["number", "reason"]  # see get_search_results
    search_help_text = gettext_lazy(
        "The beginning of the number (a leading +, spaces and dashes are ignored), or a word of "
        "the reason."
    )
    list_select_related = ["suppression_list"]
    list_per_page = 100
    show_full_result_count = False
    actions = ["export_csv"]
    change_list_template = "admin/campaigns/suppressionentry/change_list.html"

    def get_urls(self) -> list[Any]:
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="campaigns_suppressionentry_import",
            ),
            *super().get_urls(),
        ]

    @requires("add")
    def import_view(self, request: HttpRequest) -> HttpResponse:
        """A file of numbers onto a list through the one pipeline: a preview writing nothing,
        then, with the preview's token, the import (source: import)."""
        if request.method == "POST" and "token" in request.POST:
            try:
                data = signing.loads(request.POST["token"], salt=DNC_SALT, max_age=24 * 3600)
                if not default_storage.exists(data["file"]):
                    raise signing.BadSignature
            except signing.BadSignature:
                self.message_user(
                    request,
                    gettext("This preview has expired: upload the file again."),
                    messages.ERROR,
                )
                return HttpResponseRedirect(reverse("admin:campaigns_suppressionentry_import"))
            target = get_object_or_404(SuppressionList, pk=data["list"])
            with default_storage.open(data["file"], "rb") as fh:
                counts = dnc_import(
                    source=fh,
                    name=data["name"],
                    actor=Actor.from_user(request.user),
                    suppression_list=target,
                    reason=data["reason"],
                    default_region=data["region"],
                )
            default_storage.delete(data["file"])
            self.message_user(
                request,
                gettext(
                    "%(imported)s numbers added to %(list)s; %(rejected)s rows rejected, "
                    "%(duplicates)s already there or repeated."
                )
                % {
                    "imported": count(counts.imported),
                    "list": target.name,
                    "rejected": count(counts.rejected),
                    "duplicates": count(counts.duplicates),
                },
                messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:campaigns_suppressionentry_changelist")
                + f"?suppression_list__id__exact={target.pk}"
            )
        form = DncImportForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
        )
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": gettext("Import do-not-call numbers"),
            "opts": self.model._meta,
            "form": form,
        }
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            target = form.cleaned_data["suppression_list"]
            try:
                counts = dnc_import(
                    source=upload,
                    name=upload.name,
                    actor=Actor.from_user(request.user),
                    suppression_list=target,
                    default_region=form.cleaned_data["default_region"],
                    dry_run=True,
                )
            except ImportFileError as exc:
                form.add_error("import_file", str(exc))
            else:
                stored = default_storage.save(
                    f"dnc-imports/{uuid.uuid4().hex}{Path(upload.name).suffix[:6]}", upload
                )
                context["counts"] = counts
                context["target"] = target
                context["token"] = signing.dumps(
                    {
                        "file": stored,
                        "name": upload.name,
                        "list": target.pk,
                        "reason": form.cleaned_data["reason"],
                        "region": form.cleaned_data["default_region"],
                    },
                    salt=DNC_SALT,
                )
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/campaigns/suppressionentry/import.html", context)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Shortening an entry's expiry would remove it by another name: Admins only, as
        # removing is (Operators add entries).
        if obj is not None and not request.user.has_perm(DELETE_ENTRY):
            return False
        return super().has_change_permission(request, obj)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        portal_wide = SuppressionList.objects.filter(portal_wide=True).first()
        if portal_wide is not None:
            initial.setdefault("suppression_list", portal_wide.pk)
        return initial

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        base = ["source", "added_by", "created_at"]
        if obj is not None:
            return ["suppression_list", "number", *base]
        return base

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["suppression_list", "number", "reason", "expires_at"]
        return fields if obj is None else [*fields, "source", "added_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: SuppressionEntry, form: Any, change: bool):
        if not change:
            obj.added_by = request.user.get_username()[:150]
            obj.source = SuppressionEntry.Source.MANUAL
        super().save_model(request, obj, form, change)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[SuppressionEntry], search_term: str
    ) -> tuple[QuerySet[SuppressionEntry], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        digits = strip_number(term)
        condition = Q(reason__icontains=term)
        if digits.isdigit():
            condition |= Q(number__startswith=digits)
        return queryset.filter(condition), False

    @admin.action(
        description=gettext_lazy("Export the selected entries (CSV)"), permissions=["view"]
    )
    def export_csv(
        self, request: HttpRequest, queryset: QuerySet[SuppressionEntry]
    ) -> StreamingHttpResponse:
        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())
        header = ["number", "list", "reason", "source", "added_by", "created_at", "expires_at"]

        def rows() -> Any:
            yield "\ufeff" + writer.writerow(header)
            for entry in queryset.select_related("suppression_list").iterator(chunk_size=5000):
                yield writer.writerow(
                    [
                        entry.number,
                        neutralise(entry.suppression_list.name),
                        neutralise(entry.reason),
                        entry.source,
                        neutralise(entry.added_by),
                        entry.created_at.isoformat(),
                        entry.expires_at.isoformat() if entry.expires_at else "",
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="do-not-call.csv"'
        return response
