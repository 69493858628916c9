"""The campaign page of an A/B campaign with retries, at 1366×768: the variants side by side,
callees reached and attempts; a retried callee's page lists its two attempts."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from campaigns.models import Callee, Campaign, PushEvent, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.voice_files import voice_file_upload
from tests.audio import wav_bytes
from tests.browser.helpers import log_in
from tests.campaigns.conftest import add_callees
from tests.campaigns.test_retries import dispatch_later
from tests.conftest import apply_pushes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_variants_side_by_side_and_a_callees_attempts(
    live_server, browser, sandbox, sandbox_state, voice_app, monkeypatch, settings
):
    settings.ITNIO_SEND_GROUP_MAX = 20
    for name in ("promo-a.wav", "promo-b.wav"):
        vf = VoiceFile(app=voice_app, file_name=name, size=16044, content_type="audio/wav")
        vf.audio.save(name, io.BytesIO(wav_bytes()), save=True)
        voice_file_upload(voice_file=vf, actor=Actor.system("test"))
    call_command(
        "create_campaign", "AB", "--app", voice_app.app_id, "--variant", "promo-a.wav:50",
        "--variant", "promo-b.wav:50", "--retries", "1", "--retry-after", "0",
    )  # fmt: skip
    campaign = Campaign.objects.get(name="AB")
    add_callees(campaign, 80)
    call_command("launch_campaign", "AB", "--for-real")
    sandbox_state.advance()
    bodies = [c.push_body() for c in sandbox_state.calls.values()]
    PushEvent.objects.create(app=voice_app, kind="voice", body=json.dumps(bodies))
    apply_pushes()
    dispatch_later(campaign, monkeypatch)
    retried = Callee.objects.filter(campaign=campaign, attempts=2).first()
    assert retried is not None
    User.objects.create_superuser("ops", "ops@example.com", "pw")

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    log_in(page, live_server, "ops", then=f"/admin/campaigns/campaign/{campaign.pk}/change/")
    page.wait_for_selector("#variant-comparison")
    table = page.locator("#variant-comparison").inner_text()
    assert "promo-a.wav" in table and "promo-b.wav" in table and "50 %" in table
    assert page.locator("#variant-A").is_visible() and page.locator("#variant-B").is_visible()
    assert page.locator("#figure-attempts").inner_text() == str(
        80 + Callee.objects.filter(campaign=campaign, attempts=2).count()
    )
    assert "Retried: a callee whose final record" in page.locator("#retry-rule").inner_text()
    page.screenshot(path=str(_artifact("ab-campaign-page.png")), full_page=True)
    page.locator("#campaign-attempts").scroll_into_view_if_needed()
    page.screenshot(path=str(_artifact("ab-campaign-variants.png")))

    page.goto(f"{live_server.url}/admin/campaigns/callee/{retried.pk}/change/")
    attempts = page.locator("#callee-attempts li")
    assert attempts.count() == 2
    assert (
        "Attempt 1" in attempts.nth(0).inner_text()
        and "not reached" in attempts.nth(0).inner_text()
    )
    assert "Attempt 2" in attempts.nth(1).inner_text()
    page.screenshot(path=str(_artifact("retried-callee.png")), full_page=True)
    context.close()


def _artifact(name: str):
    from tests.browser.conftest import ARTIFACTS

    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
