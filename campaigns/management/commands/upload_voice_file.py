"""manage.py upload_voice_file --app A PATH [--name FILE_NAME]: store and upload a voice file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files import File

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import ItnioApp, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.itnio import itnio_limits
from campaigns.services.voice_files import (
    VoiceFileError,
    voice_file_check_audio,
    voice_file_check_name,
    voice_file_upload,
)
from itnio_portal.itnio import ItnioError, ItnioLimitError


class Command(PortalCommand):
    help = "Upload an .mp3/.m4a/.wav file to ITNIO (POST /voice/fileUpload); prints the file ID."
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--app", required=True, help="ITNIO app ID of a voice app")
        parser.add_argument("path", help="the audio file")
        parser.add_argument("--name", help="fileName on ITNIO (default: the file's name)")

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        actor = Actor(label=label, user=user)
        app = ItnioApp.objects.filter(app_id=options["app"], kind=ItnioApp.Kind.VOICE).first()
        if app is None:
            raise usage_error(f"--app: no voice app with ITNIO app ID {options['app']!r}")
        path = Path(options["path"])
        if not path.is_file():
            raise usage_error(f"{path}: no such file")
        name = options["name"] or path.name
        try:
            itnio_limits().check_file_name(name)
            voice_file_check_name(name)
        except (ItnioLimitError, VoiceFileError) as exc:
            raise usage_error(str(exc)) from exc
        if VoiceFile.objects.filter(account_id=app.account_id, file_name=name).exists():
            raise data_error(f"A voice file named {name} already exists for this account.")
        with path.open("rb") as fh:
            try:
                detected = voice_file_check_audio(file_name=name, data=fh, size=path.stat().st_size)
            except VoiceFileError as exc:
                raise data_error(f"{path}: {exc}") from exc
            voice_file = VoiceFile(app=app, file_name=name, size=path.stat().st_size)
            voice_file.content_type = {
                ".mp3": "audio/mpeg",
                ".m4a": "audio/mp4",
                ".wav": "audio/wav",
            }[detected]
            voice_file.audio.save(name, File(fh), save=True)
        try:
            voice_file = voice_file_upload(voice_file=voice_file, actor=actor)
        except (ItnioError, VoiceFileError) as exc:
            voice_file.refresh_from_db()
            raise data_error(f"{name}: {exc} (state: {voice_file.get_state_display()})") from exc
        self.stdout.write(voice_file.remote_file_id)
