"""Issue journey in the browser: upload and play a voice file, send a TTS call, watch its push
fill the record, read the billing fields; a Viewer has no way to send."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from campaigns.models import Call, VoiceFile
from itnio_portal.itnio.sandbox import SandboxServer
from tests.audio import BEEP_WAV
from tests.browser.helpers import log_in
from tests.conftest import API_KEY, VOICE_APP_ID, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_sandbox(sandbox_state, account, live_server, push_worker):
    """The sandbox pushing status reports to this live server, calls ending within a second."""
    voice = account.apps.get(app_id=VOICE_APP_ID)
    sandbox_state.life_scale = 0.02
    sandbox_state.add_app(
        API_KEY,
        VOICE_APP_ID,
        kind="voice",
        push_url=live_server.url + voice.push_path,
        currency="EUR",
    )
    server = SandboxServer(sandbox_state, push_interval=0.2).start()
    account.base_url = server.base_url
    account.save()
    yield server
    server.stop()


def test_operator_uploads_plays_sends_and_reads_billing(
    live_server, live_sandbox, page, screenshot, sandbox_state
):
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    log_in(page, live_server, "ops")

    # Upload a voice file and play it.
    page.goto(f"{live_server.url}/admin/campaigns/voicefile/add/")
    page.select_option("#id_app", label="Acme voice (Voice)")
    page.fill("#id_file_name", "beep.wav")
    page.set_input_files("#id_audio", str(BEEP_WAV))
    page.click("input[name=_continue]")
    page.click("#upload-to-itnio")
    assert "Uploaded beep.wav; ITNIO file ID" in page.locator(".messagelist").inner_text()
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const audio = document.querySelector('audio.portal-player');
            audio.addEventListener('loadedmetadata', () => resolve(audio.duration));
            audio.addEventListener('error', () => reject('audio error'));
            audio.load();
        })"""
    )
    assert 0.9 < duration < 1.1
    screenshot("voice-file")
    assert VoiceFile.objects.get().state == "uploaded"

    # Send a TTS call: the counter follows the language's limit.
    page.goto(f"{live_server.url}/admin/campaigns/call/")
    page.click("#send-tts-link")
    page.select_option("#id_app", label="Acme voice (Voice)")
    page.fill("#id_callee", "+62 812 3456 7890")
    page.select_option("#id_language", "IDN")
    page.fill("#id_text", "Kode Anda 4711")
    assert page.locator("#text-counter").inner_text().startswith("14 / 299 characters")
    page.select_option("#id_language", "EN")
    page.fill("#id_text", "Your code is 4711. I repeat: 4711.")
    assert "/ 800 characters" in page.locator("#text-counter").inner_text()
    screenshot("send-tts")
    page.click("#send-tts-submit")
    # A summary first: nothing is sent until it is confirmed.
    assert "6281234567890" in page.locator("#tts-summary").inner_text()
    assert not Call.objects.exists()
    screenshot("send-tts-confirm")
    page.click("#send-tts-confirm")
    assert "Call placed: voiceId" in page.locator(".messagelist").inner_text()
    call = Call.objects.get()

    # The push arrives by itself: reload until the record is final.
    for _ in range(50):
        call.refresh_from_db()
        if call.state == "final":
            break
        page.wait_for_timeout(200)
    assert call.state == "final" and call.record_source == "push"
    page.reload()
    page.click("text=Raw record")
    text = page.locator("#content-main").inner_text()
    assert "Final" in text and call.voice_id in text
    assert f"{call.cost.normalize():f} EUR" in text and call.bill_period in text
    for value in (call.settle_rate, call.quote_exchange, call.base_cost):
        assert f"{value.normalize():f}" in text or str(value) in text
    screenshot("call-record")

    page.goto(f"{live_server.url}/admin/campaigns/call/")
    assert f"{call.cost.normalize():f} EUR" in page.locator("#cost-totals").inner_text()
    screenshot("call-list")


def test_viewer_sees_no_way_to_send(live_server, page, screenshot, account, voice_app):
    make_staff("watcher", "Viewer")
    VoiceFile.objects.create(app=voice_app, file_name="promo.wav", audio="voice/x.wav")
    log_in(page, live_server, "watcher")
    page.goto(f"{live_server.url}/admin/campaigns/call/")
    assert page.locator("#send-tts-link").count() == 0
    page.goto(f"{live_server.url}/admin/campaigns/voicefile/")
    assert page.locator("option[value=upload_to_itnio]").count() == 0
    page.click("text=promo.wav")
    assert page.locator("#upload-to-itnio").count() == 0
    screenshot("viewer-voice-file")
    response = page.goto(f"{live_server.url}/admin/campaigns/call/send-tts/")
    assert response.status == 403
