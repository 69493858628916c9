"""Voice files: checking the audio by its content and uploading it (POST /voice/fileUpload)."""

from __future__ import annotations

from typing import IO

import filetype
from django.conf import settings
from django.core.files import File
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from campaigns.models import ItnioApp, VoiceFile
from campaigns.services.actors import Actor, PermissionDeniedError
from campaigns.services.itnio import itnio_limits
from campaigns.services.request_log import logged_client
from campaigns.services.sends import (
    send_intent,
    send_not_sent,
    send_outcome,
    send_request,
)
from itnio_portal.itnio import DuplicateDataError

# itnio-api.md §3.1: .mp3, .m4a and .wav only. What the bytes are must match the name.
AUDIO_KINDS = {"mp3": ".mp3", "m4a": ".m4a", "wav": ".wav"}

UNKNOWN_EXPLANATION = gettext_lazy(
    "The upload's outcome is not known: the request may have reached ITNIO. ITNIO has no endpoint "
    "to list uploaded files, so the portal cannot check, and a retry under the same name would be "
    "refused as a duplicate if the first upload arrived. Change the file name and upload it again."
)


class VoiceFileError(Exception):
    """A voice file cannot be stored or uploaded; the message says why and what to do."""


def voice_file_check_name(name: str) -> str:
    """The ITNIO fileName: ITNIO's limits (itnio-api.md §3.1), and a name, not a path: it becomes
    the stored file's name as well, so `../` or a separator would reach outside the voice folder.
    Raise VoiceFileError or ItnioLimitError with the reason."""
    itnio_limits().check_file_name(name)
    if any(sep in name for sep in ("/", "\\")) or name.startswith(".") or ".." in name:
        raise VoiceFileError(
            gettext(
                "A file name cannot contain / or \\ or .., nor start with a dot: it is a name, "
                "not a path."
            )
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise VoiceFileError(gettext("A file name cannot contain control characters."))
    return name


def voice_file_check_audio(*, file_name: str, data: IO[bytes], size: int) -> str:
    """Check size and content; return the detected extension. Raise VoiceFileError otherwise."""
    if size > settings.VOICE_FILE_MAX_BYTES:
        raise VoiceFileError(
            gettext(
                "The file is %(size)s bytes; the limit is %(limit)s bytes (VOICE_FILE_MAX_BYTES)."
            )
            % {"size": f"{size:,}", "limit": f"{settings.VOICE_FILE_MAX_BYTES:,}"}
        )
    if size == 0:
        raise VoiceFileError(gettext("The file is empty."))
    position = data.tell() if hasattr(data, "tell") else 0
    head = data.read(8192)
    data.seek(position)
    kind = filetype.guess(head)
    detected = AUDIO_KINDS.get(kind.extension) if kind else None
    if detected is None:
        if kind:
            message = gettext(
                "The content is %(mime)s data; ITNIO accepts MP3, M4A or WAV audio."
            ) % {"mime": kind.mime}
        else:
            message = gettext(
                "The content is not audio ITNIO accepts; ITNIO accepts MP3, M4A or WAV audio."
            )
        raise VoiceFileError(message)
    if not file_name.lower().endswith(detected):
        raise VoiceFileError(
            gettext(
                "The content is %(kind)s audio but the file name ends differently; name it "
                "…%(extension)s."
            )
            % {"kind": detected[1:].upper(), "extension": detected}
        )
    return detected


CONTENT_TYPES = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".wav": "audio/wav"}


def voice_file_store(*, app: ItnioApp, file_name: str, data: IO[bytes], size: int) -> VoiceFile:
    """Check the name and the audio and store a draft voice file of `app` (not on ITNIO yet):
    the command and the API. Raise VoiceFileError (or ItnioLimitError for the name)."""
    voice_file_check_name(file_name)
    if VoiceFile.objects.filter(account_id=app.account_id, file_name=file_name).exists():
        raise VoiceFileError(
            gettext("A voice file named %(name)s already exists for this account.")
            % {"name": file_name}
        )
    detected = voice_file_check_audio(file_name=file_name, data=data, size=size)
    voice_file = VoiceFile(
        app=app, file_name=file_name, size=size, content_type=CONTENT_TYPES[detected]
    )
    voice_file.audio.save(file_name, File(data), save=True)
    return voice_file


def voice_file_upload(*, voice_file: VoiceFile, actor: Actor) -> VoiceFile:
    """Upload the audio to ITNIO and store the file ID (services/sends.py's protocol).

    The row is committed as SENDING before the request, so a crash leaves a file that says its
    upload was in flight (UNKNOWN once stale) instead of one that looks never uploaded.
    """
    if not actor.may_place_calls():
        raise PermissionDeniedError(
            gettext("%(who)s may not upload voice files.") % {"who": actor.label}
        )
    intent = send_intent(
        VoiceFile,
        voice_file.pk,
        started_field="upload_started_at",
        explain_unknown=UNKNOWN_EXPLANATION,
        check=_check_can_upload,
        what=lambda vf: gettext("An upload of %(name)s") % {"name": vf.file_name},
        error=VoiceFileError,
        note=gettext("Upload in progress"),
        fields={"uploaded_by": actor.label[:150]},
    )
    vf = intent.row
    with vf.audio.open("rb") as fh:
        content = fh.read()
    client = logged_client(vf.app.account, actor=actor, obj=vf)
    answer = send_request(
        intent,
        lambda: client.file_upload(file_name=vf.file_name, content=content),
        crash_note=gettext("The portal failed while sending. %(explanation)s")
        % {"explanation": UNKNOWN_EXPLANATION},
    )
    if answer.not_sent is not None:
        send_not_sent(intent, answer.not_sent, prefix=gettext("Not uploaded"))
        raise answer.not_sent
    if isinstance(answer.refused, DuplicateDataError):
        send_outcome(
            vf,
            VoiceFile.State.FAILED,
            gettext(
                "%(error)s. ITNIO already has a file named %(name)s (perhaps from an earlier "
                "upload whose outcome was unknown): change the file name and upload again."
            )
            % {"error": answer.refused, "name": vf.file_name},
        )
        raise answer.refused
    if answer.refused is not None:
        send_outcome(vf, VoiceFile.State.FAILED, str(answer.refused))
        raise answer.refused
    if answer.unknown is not None:
        send_outcome(
            vf,
            VoiceFile.State.UNKNOWN,
            gettext("%(error)s. %(explanation)s")
            % {"error": answer.unknown, "explanation": UNKNOWN_EXPLANATION},
        )
        raise answer.unknown
    return send_outcome(
        vf,
        VoiceFile.State.UPLOADED,
        "",
        remote_file_id=answer.value,
        uploaded_at=timezone.now(),
    )


def _check_can_upload(vf: VoiceFile) -> None:
    if vf.state == VoiceFile.State.UPLOADED:
        raise VoiceFileError(
            gettext("%(name)s is already on ITNIO (file ID %(file_id)s).")
            % {"name": vf.file_name, "file_id": vf.remote_file_id}
        )
    if vf.state == VoiceFile.State.UNKNOWN:
        # ITNIO lists no files (§9): the only check is a duplicate answer under the same name.
        raise VoiceFileError(str(UNKNOWN_EXPLANATION))
