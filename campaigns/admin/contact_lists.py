"""Admin for contact lists and their contacts: the list page (with counts), contact search by
number or name, the import page (preview → confirm through the one import pipeline, a file
above the background threshold read by a task worker) and the CSV export of a list."""

from __future__ import annotations

import csv
import io
import os
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db.models import Count, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin
from campaigns.exports import neutralise
from campaigns.formatting import count
from campaigns.models import Contact, ContactList
from campaigns.services.actors import Actor
from campaigns.services.contact_imports import (
    contact_import_start,
    contacts_import,
    contacts_preview,
)
from campaigns.services.imports import SAMPLE_SIZE
from campaigns.services.numbers import check_region, strip_number
from campaigns.services.tabular import ImportFileError, count_rows

TOKEN_SALT = "campaigns.contact-import"
TOKEN_MAX_AGE = 24 * 3600
STORE = "contact-imports"


class ContactImportForm(forms.Form):
    list_name = forms.CharField(
        label=gettext_lazy("Contact list"),
        max_length=100,
        help_text=gettext_lazy("An existing list's name adds to it; a new name creates the list."),
    )
    import_file = forms.FileField(
        label=gettext_lazy("Contact file"),
        help_text=gettext_lazy(
            "CSV, TSV, TXT or XLSX with a header row: a number column (number, phone, mobile, "
            "callee or msisdn), optionally name; every other column becomes a custom field."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.xlsx,text/csv"}),
    )
    default_region = forms.CharField(
        label=gettext_lazy("Default region"),
        required=False,
        max_length=10,
        help_text=gettext_lazy(
            "Optional: the two-letter country (e.g. SG) of numbers written without their "
            "country code. National numbers then become international ones, and a number that "
            "is not valid for its country is rejected with the reason."
        ),
    )

    def clean_default_region(self) -> str:
        value = self.cleaned_data.get("default_region", "").strip()
        try:
            return check_region(value) if value else ""
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


def _store(upload: Any) -> str:
    suffix = Path(upload.name).suffix.lower()[:6]
    return default_storage.save(f"{STORE}/{uuid.uuid4().hex}{suffix}", File(upload))


@admin.register(ContactList)
class ContactListAdmin(PortalModelAdmin):
    list_display = ["name", "contacts_count", "campaigns_count", "created_by", "created_at"]
    search_fields = ["name"]
    fields = ["name", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    change_list_template = "admin/campaigns/contactlist/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ContactList]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_contacts=Count("contacts", distinct=True),
                n_campaigns=Count("campaigns", distinct=True),
            )
        )

    @admin.display(description=gettext_lazy("contacts"), ordering="n_contacts")
    def contacts_count(self, obj: ContactList) -> str:
        return format_html(
            '<a href="{}?contact_list__id__exact={}">{}</a>',
            reverse("admin:campaigns_contact_changelist"),
            obj.pk,
            count(getattr(obj, "n_contacts", 0)),
        )

    @admin.display(description=gettext_lazy("campaigns"), ordering="n_campaigns")
    def campaigns_count(self, obj: ContactList) -> str:
        return count(getattr(obj, "n_campaigns", 0))

    def save_model(self, request: HttpRequest, obj: ContactList, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user.get_username()
        super().save_model(request, obj, form, change)

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.add_contact")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        extra_context["can_import"] = self.has_import_permission(request)
        extra_context["import_url"] = reverse("admin:campaigns_contactlist_import")
        return super().changelist_view(request, extra_context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        extra_context = dict(extra_context or {})
        if object_id.isdigit():
            extra_context["export_url"] = reverse(
                "admin:campaigns_contactlist_export", args=[int(object_id)]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="campaigns_contactlist_import"),
            path(
                "import/rejected/",
                view(self.rejected_view),
                name="campaigns_contactlist_import_rejected",
            ),
            path("<int:pk>/export/", view(self.export_view), name="campaigns_contactlist_export"),
            *super().get_urls(),
        ]

    # --- import ------------------------------------------------------------
    @requires("import")
    def import_view(self, request: HttpRequest) -> HttpResponse:
        """GET: the form. POST: a preview (writing nothing) of a small file, the background
        import of a large one; POST with the preview's token: the import itself."""
        if request.method == "POST" and "token" in request.POST:
            return self._confirm(request)
        initial = {}
        chosen = request.GET.get("list", "")
        if chosen.isdigit():
            found = ContactList.objects.filter(pk=int(chosen)).first()
            initial["list_name"] = found.name if found else ""
        form = ContactImportForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
            initial=initial,
        )
        if request.method != "POST" or not form.is_valid():
            return self._page(request, form)
        upload = form.cleaned_data["import_file"]
        limit = settings.CALLEE_IMPORT_BACKGROUND_ROWS
        try:
            big = upload.size > settings.IMPORT_IN_MEMORY_MAX_BYTES or (
                count_rows(upload, upload.name, stop_after=limit) > limit
            )
            if big:
                return self._in_background(request, form, upload)
            counts = contacts_preview(
                list_name=form.cleaned_data["list_name"],
                source=upload,
                name=upload.name,
                default_region=form.cleaned_data["default_region"],
            )
        except ImportFileError as exc:
            form.add_error("import_file", str(exc))
            return self._page(request, form)
        stored = _store(upload)
        token = signing.dumps(
            {
                "file": stored,
                "name": os.path.basename(upload.name),
                "list": form.cleaned_data["list_name"],
                "region": form.cleaned_data["default_region"],
            },
            salt=TOKEN_SALT,
        )
        return self._page(
            request,
            form,
            counts=counts,
            token=token,
            preview=form.cleaned_data,
            file_name=upload.name,
            rejected_url=reverse("admin:campaigns_contactlist_import_rejected")
            + "?"
            + urlencode({"t": token}),
        )

    def _in_background(self, request: HttpRequest, form: Any, upload: Any) -> HttpResponse:
        record = contact_import_start(
            list_name=form.cleaned_data["list_name"],
            upload=upload,
            name=upload.name,
            actor=Actor.from_user(request.user),
            default_region=form.cleaned_data["default_region"],
        )
        self.message_user(
            request,
            gettext(
                "The file %(name)s has more than %(rows)s rows: a task worker imports it into "
                "%(list)s in the background; this page shows its progress."
            )
            % {
                "name": upload.name,
                "rows": count(settings.CALLEE_IMPORT_BACKGROUND_ROWS),
                "list": form.cleaned_data["list_name"],
            },
            messages.INFO,
        )
        return HttpResponseRedirect(
            reverse("admin:campaigns_contactimport_change", args=[record.pk])
        )

    def _token(self, value: str) -> dict[str, str]:
        try:
            data = signing.loads(value, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        except signing.BadSignature as exc:
            raise Http404(gettext("This preview has expired: upload the file again.")) from exc
        if not default_storage.exists(data["file"]):
            raise Http404(gettext("This preview has expired: upload the file again."))
        return data

    def _confirm(self, request: HttpRequest) -> HttpResponse:
        back = HttpResponseRedirect(reverse("admin:campaigns_contactlist_import"))
        try:
            data = self._token(request.POST.get("token", ""))
        except Http404 as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return back
        try:
            with default_storage.open(data["file"], "rb") as fh:
                counts, contact_list = contacts_import(
                    list_name=data["list"],
                    source=fh,
                    name=data["name"],
                    actor=Actor.from_user(request.user),
                    default_region=data["region"],
                )
        except ImportFileError as exc:
            self.message_user(
                request, gettext("Nothing was imported: %(error)s") % {"error": exc}, messages.ERROR
            )
            return back
        default_storage.delete(data["file"])
        assert contact_list is not None
        self.log_change(request, contact_list, f"Imported {data['name']}: {counts.summary()}")
        self.message_user(
            request,
            gettext(
                "Imported %(imported)s contacts into %(list)s; %(rejected)s rows rejected, "
                "%(duplicates)s duplicates skipped."
            )
            % {
                "imported": count(counts.imported),
                "list": contact_list.name,
                "rejected": count(counts.rejected),
                "duplicates": count(counts.duplicates),
            },
            messages.SUCCESS,
        )
        return HttpResponseRedirect(
            reverse("admin:campaigns_contact_changelist")
            + f"?contact_list__id__exact={contact_list.pk}"
        )

    def _page(self, request: HttpRequest, form: Any, **extra: Any) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Import contacts"),
            "opts": self.model._meta,
            "form": form,
            "background_rows": count(settings.CALLEE_IMPORT_BACKGROUND_ROWS),
            "sample_size": SAMPLE_SIZE,
            **extra,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/campaigns/contactlist/import.html", context)

    @requires("import", methods=["GET"])
    def rejected_view(self, request: HttpRequest) -> HttpResponse:
        """The preview's rejected rows (row, value, reason) as CSV, read again from the file."""
        data = self._token(request.GET.get("t", ""))
        out = io.StringIO()
        with default_storage.open(data["file"], "rb") as fh:
            try:
                contacts_preview(
                    list_name=data["list"],
                    source=fh,
                    name=data["name"],
                    default_region=data["region"],
                    rejected_csv=out,
                )
            except ImportFileError as exc:
                raise Http404(str(exc)) from exc
        stem = Path(data["name"]).stem or "contacts"
        response = HttpResponse(
            out.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{stem}-rejected.csv"'
        return response

    # --- export ------------------------------------------------------------
    @requires("view", methods=["GET"])
    def export_view(self, request: HttpRequest, pk: int) -> StreamingHttpResponse:
        """The list's contacts as CSV (number, name, country, then every custom field)."""
        contact_list = get_object_or_404(ContactList, pk=pk)
        contacts = Contact.objects.filter(contact_list=contact_list).order_by("id")
        keys: dict[str, None] = {}
        for fields in contacts.values_list("fields", flat=True).iterator(chunk_size=5000):
            keys.update(dict.fromkeys(fields or {}))
        columns = list(keys)

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())

        def rows() -> Any:
            yield "\ufeff" + writer.writerow(["number", "name", "country", *columns])
            for number, name, country, fields in contacts.values_list(
                "number", "name", "country", "fields"
            ).iterator(chunk_size=5000):
                values = [(fields or {}).get(c, "") for c in columns]
                yield writer.writerow([number, neutralise(name), country, *map(neutralise, values)])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        filename = "".join(c if c.isalnum() or c in "-_" else "-" for c in contact_list.name)
        response["Content-Disposition"] = f'attachment; filename="{filename or "contacts"}.csv"'
        return response


@admin.register(Contact)
class ContactAdmin(PortalModelAdmin):
    list_display = ["number", "name", "country", "contact_list", "fields_display"]
    list_filter = ["contact_list", "country"]
    search_fields = ["number", "name"]  # see get_search_results
    search_help_text = gettext_lazy(
        "The beginning of the number (a leading +, spaces and dashes are ignored), or a name."
    )
    list_select_related = ["contact_list"]
    list_per_page = 100
    show_full_result_count = False
    fields = ["contact_list", "number", "name", "country", "fields", "row_number", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # contacts arrive through imports, where every number is checked

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Contact], search_term: str
    ) -> tuple[QuerySet[Contact], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        digits = strip_number(term)
        condition = Q(name__icontains=term)
        if digits.isdigit():
            condition |= Q(number__startswith=digits)
        return queryset.filter(condition), False

    @admin.display(description=gettext_lazy("custom fields"))
    def fields_display(self, obj: Contact) -> str:
        return ", ".join(f"{k}={v}" for k, v in (obj.fields or {}).items())
