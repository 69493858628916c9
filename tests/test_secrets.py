"""The API secret appears in no page, log record, export, error message or request log."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from campaigns.models import ApiRequestLog, ItnioAccount, ItnioApp, PushEvent, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.calls import call_send_tts
from itnio_portal.itnio.signing import sign
from tests.audio import wav_bytes
from tests.conftest import API_KEY, API_SECRET

pytestmark = pytest.mark.django_db


def test_secret_never_leaks_across_a_days_work(
    client, account, voice_app, sandbox, sandbox_state, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    root = User.objects.create_superuser("root", "r@example.com", "pw")
    client.force_login(root)
    actor = Actor.from_user(root)
    errors: list[str] = []

    # Work that succeeds, and work that fails in every way the client knows.
    client.post(reverse("admin:campaigns_itnioaccount_verify", args=[account.pk]))
    call_send_tts(app=voice_app, callee="919876543210", language="EN", text="hi", actor=actor)
    sandbox_state.drop_next("/voice/sendCode")
    errors.append(
        call_send_tts(
            app=voice_app, callee="919876543211", language="EN", text="hi", actor=actor
        ).state_reason
    )
    sandbox_state.business_code_next("/voice/sendCode", "-1", f"bad sign for {API_KEY}")
    errors.append(
        call_send_tts(
            app=voice_app, callee="919876543212", language="EN", text="hi", actor=actor
        ).state_reason
    )
    vf = VoiceFile(app=voice_app, file_name="beep.wav", size=16044)
    import io

    vf.audio.save("beep.wav", io.BytesIO(wav_bytes()), save=True)
    client.post(reverse("admin:campaigns_voicefile_upload", args=[vf.pk]))
    call_command("sync_records")
    account.api_secret = API_SECRET + "-wrong"
    account.save()
    response = client.post(
        reverse("admin:campaigns_itnioaccount_verify", args=[account.pk]), follow=True
    )
    errors.append(response.content.decode())
    account.api_secret = API_SECRET
    account.save()

    signs = {r.headers.get("Sign", "") for r in sandbox_state.requests_for()}
    signs |= {
        sign(API_KEY, API_SECRET, r.headers.get("Timestamp", ""))
        for r in sandbox_state.requests_for()
    }
    forbidden = {API_SECRET} | {s for s in signs if len(s) == 32}

    pages = [
        "/admin/",
        "/admin/campaigns/itnioaccount/",
        f"/admin/campaigns/itnioaccount/{account.pk}/change/",
        f"/admin/campaigns/itnioaccount/{account.pk}/history/",
        "/admin/campaigns/itnioapp/",
        "/admin/campaigns/call/",
        "/admin/campaigns/voicefile/",
        "/admin/campaigns/apirequestlog/",
        "/admin/campaigns/pushevent/",
        "/admin/campaigns/call/send-tts/",
        "/admin/campaigns/call/export/csv/",
    ]
    pages += [
        f"/admin/campaigns/call/{pk}/change/" for pk in voice_app.calls.values_list("pk", flat=True)
    ]
    pages += [
        f"/admin/campaigns/apirequestlog/{pk}/change/"
        for pk in ApiRequestLog.objects.values_list("pk", flat=True)
    ]
    pages += [
        f"/admin/campaigns/itnioapp/{pk}/change/"
        for pk in ItnioApp.objects.values_list("pk", flat=True)
    ]
    pages += [f"/admin/campaigns/voicefile/{vf.pk}/change/"]
    texts = list(errors)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        texts.append(body.decode())
    xlsx = client.get("/admin/campaigns/call/export/xlsx/")
    raw_xlsx = b"".join(xlsx.streaming_content)
    texts += [r.getMessage() for r in caplog.records]
    texts += [str(r.exc_info) for r in caplog.records if r.exc_info]
    texts += [str(row) for row in ApiRequestLog.objects.values()]
    texts += [str(row) for row in PushEvent.objects.values()]
    texts.append(capsys.readouterr().out)
    assert ApiRequestLog.objects.count() >= 6
    for secret in forbidden:
        assert secret.encode() not in raw_xlsx
        for text in texts:
            assert secret not in text, f"{secret[:4]}… leaked in: {text[:200]}"
    assert ItnioAccount.objects.get().api_secret == API_SECRET


def test_dumpdata_carries_the_ciphertext_and_loaddata_restores_a_working_account(
    account, sandbox, tmp_path
):
    import io
    import json

    from campaigns.services.accounts import account_verify

    out = io.StringIO()
    call_command("dumpdata", "campaigns.itnioaccount", "campaigns.itnioapp", stdout=out)
    dump = out.getvalue()
    assert API_SECRET not in dump
    stored = next(r for r in json.loads(dump) if r["model"] == "campaigns.itnioaccount")
    assert stored["fields"]["api_secret"].startswith("gAAAAA")

    fixture = tmp_path / "accounts.json"
    fixture.write_text(dump)
    ItnioApp.objects.all().delete()
    ItnioAccount.objects.all().delete()
    call_command("loaddata", str(fixture), verbosity=0)

    restored = ItnioAccount.objects.get(name=account.name)
    assert restored.api_secret == API_SECRET
    assert restored.apps.count() == 2
    assert account_verify(account=restored, actor=Actor.system("test")).balance is not None


def test_loaddata_with_other_keys_refuses_the_secret_instead_of_storing_ciphertext(
    account, settings, tmp_path
):
    import io

    from cryptography.fernet import Fernet
    from django.core.serializers.base import DeserializationError

    out = io.StringIO()
    call_command("dumpdata", "campaigns.itnioaccount", stdout=out)
    fixture = tmp_path / "accounts.json"
    fixture.write_text(out.getvalue())
    settings.ITNIO_FIELD_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(DeserializationError, match="cannot be decrypted with this portal's keys"):
        call_command("loaddata", str(fixture), verbosity=0)
