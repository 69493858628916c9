"""Voice files: content checks, upload to ITNIO with every outcome, the player, the command."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from campaigns.models import ApiRequestLog, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.voice_files import VoiceFileError, voice_file_check_audio, voice_file_upload
from itnio_portal.itnio import ItnioOutcomeUnknownError
from tests.audio import BEEP_WAV, M4A_BYTES, MP3_BYTES, PNG_BYTES, wav_bytes

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "data", "detected"),
    [
        ("beep.wav", wav_bytes(), ".wav"),
        ("hello.mp3", MP3_BYTES, ".mp3"),
        ("hi.m4a", M4A_BYTES, ".m4a"),
    ],
)
def test_audio_is_recognised_by_its_content(name, data, detected):
    assert voice_file_check_audio(file_name=name, data=io.BytesIO(data), size=len(data)) == detected


def test_content_that_is_not_audio_is_refused_with_the_reason():
    with pytest.raises(VoiceFileError, match="image/png data; ITNIO accepts MP3, M4A or WAV"):
        voice_file_check_audio(
            file_name="logo.mp3", data=io.BytesIO(PNG_BYTES), size=len(PNG_BYTES)
        )


def test_a_name_that_lies_about_the_content_is_refused():
    with pytest.raises(VoiceFileError, match="WAV audio but the file name ends differently"):
        voice_file_check_audio(file_name="beep.mp3", data=io.BytesIO(wav_bytes()), size=16044)


def test_size_limit(settings):
    settings.VOICE_FILE_MAX_BYTES = 1000
    with pytest.raises(VoiceFileError, match="limit is 1,000 bytes"):
        voice_file_check_audio(file_name="beep.wav", data=io.BytesIO(wav_bytes()), size=16044)


def add_via_admin(client, app, name="welcome.wav", data=None):
    return client.post(
        "/admin/campaigns/voicefile/add/",
        {"app": app.pk, "file_name": name, "audio": SimpleUploadedFile(name, data or wav_bytes())},
    )


def test_operator_adds_a_file_and_hears_it_in_list_and_page(client, operator, voice_app):
    client.force_login(operator)
    assert add_via_admin(client, voice_app).status_code == 302
    vf = VoiceFile.objects.get()
    assert (vf.state, vf.size, vf.content_type, vf.account_id) == (
        "draft",
        16044,
        "audio/wav",
        voice_app.account_id,
    )
    listing = client.get("/admin/campaigns/voicefile/").content.decode()
    audio_url = f"/admin/campaigns/voicefile/{vf.pk}/audio/"
    assert f'<audio class="portal-player" controls preload="none" src="{audio_url}"' in listing
    page = client.get(f"/admin/campaigns/voicefile/{vf.pk}/change/").content.decode()
    assert audio_url in page and 'id="upload-to-itnio"' in page
    audio = client.get(audio_url)
    assert audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content) == BEEP_WAV.read_bytes()


def test_add_form_rejects_bad_names_bad_audio_and_duplicates(client, operator, voice_app):
    client.force_login(operator)
    page = add_via_admin(client, voice_app, name="a.wa")
    assert "fileName" in page.content.decode() and "5–32" in page.content.decode()
    page = add_via_admin(client, voice_app, name="logo.wav", data=PNG_BYTES)
    assert "ITNIO accepts MP3, M4A or WAV" in page.content.decode()
    assert add_via_admin(client, voice_app).status_code == 302
    page = add_via_admin(client, voice_app)
    assert "already has a voice file with this name" in page.content.decode()
    assert VoiceFile.objects.count() == 1


def new_file(app, name="welcome.wav"):
    vf = VoiceFile(app=app, file_name=name, size=16044, content_type="audio/wav")
    vf.audio.save(name, io.BytesIO(wav_bytes()), save=True)
    return vf


def test_upload_stores_the_file_id_and_logs_the_request(
    sandbox, sandbox_state, voice_app, client, operator
):
    vf = new_file(voice_app)
    client.force_login(operator)
    response = client.post(f"/admin/campaigns/voicefile/{vf.pk}/upload/", follow=True)
    vf.refresh_from_db()
    assert vf.state == "uploaded" and vf.remote_file_id.endswith(".wav")
    assert f"Uploaded welcome.wav; ITNIO file ID {vf.remote_file_id}" in response.content.decode()
    sent = sandbox_state.requests_for("/voice/fileUpload")[0].body
    assert sent["fileName"] == "welcome.wav"
    import base64

    assert base64.b64decode(sent["file"]) == wav_bytes()
    log = ApiRequestLog.objects.get(endpoint="/voice/fileUpload")
    assert (log.outcome, log.triggered_by, log.object_id) == ("ok", "operator", str(vf.pk))
    assert "file" in log.summary and "bytes base64" in log.summary["file"]
    # Uploaded files are not uploaded twice.
    with pytest.raises(VoiceFileError, match="already on ITNIO"):
        voice_file_upload(voice_file=vf, actor=Actor.from_user(operator))


def test_duplicate_name_on_itnio_fails_with_a_rename_hint(sandbox, sandbox_state, voice_app):
    sandbox_state.business_code_next("/voice/fileUpload", "-20", "data already exists")
    vf = new_file(voice_app)
    with pytest.raises(Exception, match="already exists"):
        voice_file_upload(voice_file=vf, actor=Actor.system("test"))
    vf.refresh_from_db()
    assert vf.state == "failed"
    assert "change the file name and upload again" in vf.last_error


def test_unknown_outcome_explains_and_blocks_a_blind_retry(
    sandbox, sandbox_state, voice_app, client, operator
):
    sandbox_state.drop_next("/voice/fileUpload")
    vf = new_file(voice_app)
    with pytest.raises(ItnioOutcomeUnknownError):
        voice_file_upload(voice_file=vf, actor=Actor.system("test"))
    vf.refresh_from_db()
    assert vf.state == "unknown"
    assert "ITNIO has no endpoint to list uploaded files" in vf.last_error
    client.force_login(operator)
    page = client.get(f"/admin/campaigns/voicefile/{vf.pk}/change/").content.decode()
    assert "ITNIO has no endpoint to list uploaded files" in page
    assert 'id="upload-to-itnio"' not in page
    with pytest.raises(VoiceFileError, match="Change the file name"):
        voice_file_upload(voice_file=vf, actor=Actor.system("test"))
    assert len(sandbox_state.requests_for("/voice/fileUpload")) == 1
    # Renaming makes it a fresh upload.
    client.post(f"/admin/campaigns/voicefile/{vf.pk}/change/", {"file_name": "welcome2.wav"})
    vf.refresh_from_db()
    assert (vf.file_name, vf.state) == ("welcome2.wav", "draft")
    voice_file_upload(voice_file=vf, actor=Actor.system("test"))
    vf.refresh_from_db()
    assert vf.state == "uploaded"


def test_connection_refused_leaves_the_file_ready_to_retry(account, voice_app, settings):
    account.base_url = "http://127.0.0.1:9"
    account.save()
    vf = new_file(voice_app)
    with pytest.raises(Exception, match="Could not connect to ITNIO"):
        voice_file_upload(voice_file=vf, actor=Actor.system("test"))
    vf.refresh_from_db()
    assert vf.state == "draft"
    assert "Nothing reached ITNIO" in vf.last_error


def test_upload_voice_file_command_prints_the_file_id(sandbox, voice_app, capsys):
    call_command(
        "upload_voice_file", "--app", voice_app.app_id, str(BEEP_WAV), "--name", "cli-beep.wav"
    )
    file_id = capsys.readouterr().out.strip()
    vf = VoiceFile.objects.get(file_name="cli-beep.wav")
    assert vf.remote_file_id == file_id and vf.state == "uploaded"
    assert vf.uploaded_by.startswith("os:")


def test_upload_voice_file_command_errors(sandbox, voice_app, tmp_path):
    png = tmp_path / "logo.wav"
    png.write_bytes(PNG_BYTES)
    with pytest.raises(CommandError) as exc:
        call_command("upload_voice_file", "--app", voice_app.app_id, str(png))
    assert exc.value.returncode == 1 and "ITNIO accepts MP3, M4A or WAV" in str(exc.value)
    with pytest.raises(CommandError) as exc:
        call_command("upload_voice_file", "--app", "NOPE", str(BEEP_WAV))
    assert exc.value.returncode == 2
    with pytest.raises(CommandError) as exc:
        call_command(
            "upload_voice_file", "--app", voice_app.app_id, str(BEEP_WAV), "--name", "b.wa"
        )
    assert exc.value.returncode == 2 and "5–32" in str(exc.value)


@pytest.mark.parametrize("name", ["../../etc/x.wav", "..\\boot.wav", "sub/dir.wav", "a\x00b.wav"])
def test_a_file_name_that_is_a_path_is_a_form_error_not_a_bad_request(
    client, operator, voice_app, settings, name
):
    client.force_login(operator)

    response = add_via_admin(client, voice_app, name=name)

    assert response.status_code == 200
    page = response.content.decode()
    why = "Null characters are not allowed" if "\x00" in name else "cannot contain / or"
    assert 'class="errorlist' in page and why in page
    assert not VoiceFile.objects.exists()
    assert not any(p.name == "x.wav" for p in settings.MEDIA_ROOT.parent.rglob("*.wav"))


def test_the_upload_command_refuses_a_path_as_a_file_name(voice_app):
    with pytest.raises(CommandError) as exc:
        call_command(
            "upload_voice_file", "--app", voice_app.app_id, str(BEEP_WAV), "--name", "../x.wav"
        )
    assert exc.value.returncode == 2 and "cannot contain" in str(exc.value)
    assert not VoiceFile.objects.exists()
