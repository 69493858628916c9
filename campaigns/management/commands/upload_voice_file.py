"""manage.py upload_voice_file --app A PATH [--name FILE_NAME]: store and upload a voice file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import ItnioApp, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.voice_files import (
    VoiceFileError,
    voice_file_check_name,
    voice_file_store,
    voice_file_upload,
)
from itnio_portal.itnio import ItnioError, ItnioLimitError


class Command(PortalCommand):
    help = gettext_lazy(
        "Upload an .mp3/.m4a/.wav file to ITNIO (POST /voice/fileUpload); prints the file ID."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--app", required=True, help=gettext_lazy("ITNIO app ID of a voice app")
        )
        parser.add_argument("path", help=gettext_lazy("the audio file"))
        parser.add_argument(
            "--name", help=gettext_lazy("fileName on ITNIO (default: the file's name)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        actor = Actor(label=label, user=user)
        app = ItnioApp.objects.filter(app_id=options["app"], kind=ItnioApp.Kind.VOICE).first()
        if app is None:
            raise usage_error(
                _("--app: no voice app with ITNIO app ID %(app)s") % {"app": repr(options["app"])}
            )
        path = Path(options["path"])
        if not path.is_file():
            raise usage_error(_("%(path)s: no such file") % {"path": path})
        name = options["name"] or path.name
        try:
            voice_file_check_name(name)
        except (ItnioLimitError, VoiceFileError) as exc:
            raise usage_error(str(exc)) from exc
        if VoiceFile.objects.filter(account_id=app.account_id, file_name=name).exists():
            raise data_error(
                _("A voice file named %(name)s already exists for this account.") % {"name": name}
            )
        with path.open("rb") as fh:
            try:
                voice_file = voice_file_store(
                    app=app, file_name=name, data=fh, size=path.stat().st_size
                )
            except VoiceFileError as exc:
                raise data_error(f"{path}: {exc}") from exc
        try:
            voice_file = voice_file_upload(voice_file=voice_file, actor=actor)
        except (ItnioError, VoiceFileError) as exc:
            voice_file.refresh_from_db()
            raise data_error(
                _("%(name)s: %(error)s (state: %(state)s)")
                % {"name": name, "error": exc, "state": voice_file.get_state_display()}
            ) from exc
        self.stdout.write(voice_file.remote_file_id)
