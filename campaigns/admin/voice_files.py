"""Admin for voice files: upload in the add form, "Upload to ITNIO", an HTML5 player."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import FileResponse, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.admin.access import requires
from campaigns.admin.base import PortalModelAdmin
from campaigns.models import ItnioApp, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.voice_files import (
    UNKNOWN_EXPLANATION,
    VoiceFileError,
    voice_file_check_audio,
    voice_file_check_name,
    voice_file_upload,
)
from itnio_portal.itnio import ItnioError, ItnioLimitError

MIME = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".wav": "audio/wav"}


class VoiceFileForm(forms.ModelForm):
    class Meta:
        model = VoiceFile
        fields = ["app", "file_name", "audio"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "app" in self.fields:
            self.fields["app"].queryset = ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE)
        if "audio" in self.fields:
            self.fields["audio"].widget.attrs["accept"] = ".mp3,.m4a,.wav,audio/*"

    def clean_file_name(self) -> str:
        name = self.cleaned_data["file_name"].strip()
        try:
            return voice_file_check_name(name)
        except (ItnioLimitError, VoiceFileError) as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        audio, name = cleaned.get("audio"), cleaned.get("file_name")
        if audio and name and hasattr(audio, "size") and "audio" in self.changed_data:
            try:
                self.detected = voice_file_check_audio(file_name=name, data=audio, size=audio.size)
            except VoiceFileError as exc:
                self.add_error("audio", str(exc))
        app = cleaned.get("app") or getattr(self.instance, "app", None)
        if app and name:
            clash = VoiceFile.objects.filter(account_id=app.account_id, file_name=name)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error(
                    "file_name",
                    _(
                        "This account already has a voice file with this name; ITNIO requires "
                        "file names to be unique."
                    ),
                )
        return cleaned


@admin.register(VoiceFile)
class VoiceFileAdmin(PortalModelAdmin):
    form = VoiceFileForm
    list_display = [
        "file_name",
        "app",
        "state_badge",
        "size_display",
        "player",
        "remote_file_id",
        "created_at",
    ]
    list_filter = ["state", "app"]
    search_fields = ["file_name", "=remote_file_id"]
    actions = ["upload_to_itnio"]
    list_select_related = ["app"]

    def get_fields(self, request: HttpRequest, obj: VoiceFile | None = None) -> list[str]:
        if obj is None:
            return ["app", "file_name", "audio"]
        return [
            "app",
            "file_name",
            "player",
            "state_badge",
            "explanation",
            "remote_file_id",
            "size_display",
            "content_type",
            "uploaded_at",
            "uploaded_by",
            "created_at",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: VoiceFile | None = None) -> list[str]:
        if obj is None:
            return []
        readonly = [
            "app",
            "player",
            "state_badge",
            "explanation",
            "remote_file_id",
            "size_display",
            "content_type",
            "uploaded_at",
            "uploaded_by",
            "created_at",
        ]
        if obj.state == VoiceFile.State.UPLOADED:
            readonly.append("file_name")  # ITNIO knows it under this name
        return readonly

    def save_model(self, request: HttpRequest, obj: VoiceFile, form: Any, change: bool) -> None:
        if "audio" in form.changed_data and obj.audio:
            obj.size = obj.audio.size
            obj.content_type = MIME.get(getattr(form, "detected", ""), "")
        if (
            change
            and "file_name" in form.changed_data
            and obj.state
            in (
                VoiceFile.State.UNKNOWN,
                VoiceFile.State.FAILED,
            )
        ):
            # A new name is a fresh upload: the old name may exist on ITNIO.
            obj.state = VoiceFile.State.DRAFT
            obj.last_error = ""
        super().save_model(request, obj, form, change)

    # --- display -------------------------------------------------------------
    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_badge(self, obj: VoiceFile) -> str:
        return format_html(
            '<span class="portal-state portal-state-{}">{}</span>',
            obj.state,
            obj.get_state_display(),
        )

    @admin.display(description=gettext_lazy("size"), ordering="size")
    def size_display(self, obj: VoiceFile) -> str:
        return f"{obj.size / 1024:,.1f} KiB" if obj.size else "–"

    @admin.display(description=gettext_lazy("listen"))
    def player(self, obj: VoiceFile) -> str:
        if not obj.pk or not obj.audio:
            return "–"
        url = reverse("admin:campaigns_voicefile_audio", args=[obj.pk])
        return format_html(
            '<audio class="portal-player" controls preload="none" src="{}" type="{}"></audio>',
            url,
            obj.content_type or "audio/mpeg",
        )

    @admin.display(description=gettext_lazy("what to do"))
    def explanation(self, obj: VoiceFile) -> str:
        if obj.state in (VoiceFile.State.UNKNOWN, VoiceFile.State.SENDING):
            return format_html(
                '<div class="portal-explain">{}<br><br>{}</div>',
                obj.last_error,
                UNKNOWN_EXPLANATION,
            )
        if obj.state == VoiceFile.State.FAILED:
            return format_html('<div class="portal-explain">{}</div>', obj.last_error)
        if obj.state == VoiceFile.State.DRAFT:
            return _("Not on ITNIO yet: press “Upload to ITNIO”.")
        return _("On ITNIO: campaigns can use it.")

    # --- upload --------------------------------------------------------------
    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:pk>/audio/",
                self.admin_site.admin_view(self.audio_view),
                name="campaigns_voicefile_audio",
            ),
            path(
                "<int:pk>/upload/",
                self.admin_site.admin_view(self.upload_view),
                name="campaigns_voicefile_upload",
            ),
            *super().get_urls(),
        ]

    @requires("view", methods=["GET"])
    def audio_view(self, request: HttpRequest, pk: int) -> FileResponse:
        obj = get_object_or_404(VoiceFile, pk=pk)
        return FileResponse(
            obj.audio.open("rb"), content_type=obj.content_type or "application/octet-stream"
        )

    @requires("place_calls", methods=["POST"])
    def upload_view(self, request: HttpRequest, pk: int) -> HttpResponseRedirect:
        obj = get_object_or_404(VoiceFile, pk=pk)
        self._upload(request, obj)
        return HttpResponseRedirect(reverse("admin:campaigns_voicefile_change", args=[pk]))

    @admin.action(description=gettext_lazy("Upload to ITNIO"), permissions=["place_calls"])
    def upload_to_itnio(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self._upload(request, obj)

    def _upload(self, request: HttpRequest, obj: VoiceFile) -> None:
        try:
            obj = voice_file_upload(voice_file=obj, actor=Actor.from_user(request.user))
        except (ItnioError, VoiceFileError) as exc:
            level = messages.WARNING if obj.state == VoiceFile.State.UNKNOWN else messages.ERROR
            obj.refresh_from_db()
            if obj.state == VoiceFile.State.UNKNOWN and not isinstance(exc, VoiceFileError):
                level = messages.WARNING
            self.message_user(
                request, _("%(name)s: %(error)s") % {"name": obj.file_name, "error": exc}, level
            )
        else:
            self.message_user(
                request,
                _("Uploaded %(name)s; ITNIO file ID %(file_id)s.")
                % {"name": obj.file_name, "file_id": obj.remote_file_id},
                messages.SUCCESS,
            )
