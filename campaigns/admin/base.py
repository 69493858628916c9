"""Helpers shared by the admin modules: the portal's ModelAdmin base, permission checks, the
state label, and the pieces of the file import pages (binary formats, the upload storage, the
import and confirm forms)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.forms import ConfirmImportForm, ImportForm

from campaigns.admin.access import LeastPrivilegeMixin
from campaigns.services.tabular_guards import ImportFileError

PLACE_CALLS = "campaigns.place_calls"


class PortalModelAdmin(LeastPrivilegeMixin, admin.ModelAdmin):
    """Every ModelAdmin of the portal: least privilege (campaigns/admin/access.py) and the
    `place_calls` permission used by spending actions."""

    def has_place_calls_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(PLACE_CALLS)


def badge(state: str, label: str) -> str:
    """A state as the portal's coloured label (portal-state-STATE in the admin's CSS)."""
    return format_html('<span class="portal-state portal-state-{}">{}</span>', state, label)


class ReadOnlyAdmin(PortalModelAdmin):
    """Rows written only by the portal itself: viewable, never added or edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class BinaryFormat:
    """Goes before a django-import-export format: the file is stored and read as bytes, so the
    portal's reader (tabular.py) decides encodings, delimiters and XLSX alike."""

    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"


class UploadImportMixin:
    """Goes before django-import-export's ImportMixin: the upload is written to temporary storage
    chunk by chunk (ImportMixin joins the chunks with `data += chunk`, which took 40 s for a
    100 MB file), what the file reader refuses is shown as a form error with its reason, and the
    import form's target (its `target_field`) is preselected from the URL and carried to the
    confirm form."""

    def write_to_tmp_storage(self, import_file: Any, input_format: Any) -> Any:
        storage = self.get_tmp_storage_class()(
            encoding=None if input_format.is_binary() else self.from_encoding,
            read_mode=input_format.get_read_mode(),
            **self.get_tmp_storage_class_kwargs(),
        )
        if hasattr(storage, "save_chunks"):
            storage.save_chunks(import_file.chunks())
        else:
            storage.save(b"".join(import_file.chunks()))
        return storage

    def get_import_form_initial(self, request: HttpRequest) -> dict[str, Any]:
        """The target (campaign, AI task) preselected by ?FIELD=ID, e.g. from the target's page."""
        initial = super().get_import_form_initial(request)
        field = self.import_form_class.target_field
        value = request.GET.get(field, "")
        if value.isdigit():
            initial[field] = int(value)
        return initial

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        """The target chosen on the import form, carried (hidden) to the confirm form."""
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            field = self.import_form_class.target_field
            initial[field] = import_form.cleaned_data[field].pk
        return initial

    def add_data_read_fail_error_to_form(self, form: Any, e: Exception) -> None:
        if isinstance(e, ImportFileError):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)


class FileDecidesImportForm(ImportForm):
    """A django-import-export import form with a target chooser first (campaign, AI task) and no
    format to pick: the file's name and content decide how it is read."""

    target_field = ""
    file_label = gettext_lazy("File")
    file_accept = ""
    file_help = ""

    def __init__(self, formats: Any, resources: Any, **kwargs: Any) -> None:
        super().__init__(formats, resources, **kwargs)
        self.fields[self.target_field].queryset = self.target_queryset()
        upload = self.fields["import_file"]
        upload.label = self.file_label
        upload.widget.attrs["accept"] = self.file_accept
        upload.help_text = self.file_help
        self.fields["format"].required = False
        self.fields["format"].help_text = _("Optional: the file's content decides how it is read.")
        self.order_fields([self.target_field, "resource", "import_file", "format"])

    def target_queryset(self) -> Any:
        raise NotImplementedError

    def format_for(self, file_name: str) -> str:
        """The index (as a string) of the format in the admin's format list for this file."""
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("import_file")
        if not cleaned.get("format") and upload is not None:
            cleaned["format"] = self.format_for(upload.name)
        return cleaned


class StoredFileConfirmForm(ConfirmImportForm):
    """django-import-export's confirm form, taking back only a name its temporary storage made
    (tmpXXXX, a uuid), never a path or another file of the temporary folder."""

    def clean_import_file_name(self) -> str:
        name = super().clean_import_file_name()
        if not re.fullmatch(r"[A-Za-z0-9_]{6,64}", name):
            raise forms.ValidationError(_("Not a file this import page stored."))
        return name
