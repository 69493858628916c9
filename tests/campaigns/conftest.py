"""Fixtures for campaign tests: an uploaded voice file and a draft campaign with callees."""

from __future__ import annotations

import io

import pytest

from campaigns.models import Callee, Campaign, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.voice_files import voice_file_upload
from tests.audio import wav_bytes


@pytest.fixture
def uploaded_file(sandbox, voice_app):
    vf = VoiceFile(app=voice_app, file_name="promo.wav", size=16044, content_type="audio/wav")
    vf.audio.save("promo.wav", io.BytesIO(wav_bytes()), save=True)
    return voice_file_upload(voice_file=vf, actor=Actor.system("test"))


def add_callees(campaign: Campaign, count: int, *, start: int = 919800000001) -> list[str]:
    numbers = [str(start + i) for i in range(count)]
    Callee.objects.bulk_create([Callee(campaign=campaign, number=n) for n in numbers])
    return numbers


@pytest.fixture
def campaign(uploaded_file, voice_app, settings):
    settings.ITNIO_SEND_GROUP_MAX = 10
    campaign = Campaign.objects.create(
        name="Spring promo",
        app=voice_app,
        voice_file=uploaded_file,
        display_num="1008122211",
        loop_count=2,
        called_info="spring",
    )
    add_callees(campaign, 35)
    return campaign


@pytest.fixture
def chaos_sandbox(sandbox_state, account):
    """A sandbox of its own for the chaos tests (tests/campaigns/chaos.py): the account points
    at it, no pusher."""
    from itnio_portal.itnio.sandbox import SandboxServer
    from tests.conftest import API_KEY, VOICE_APP_ID

    sandbox_state.add_app(API_KEY, VOICE_APP_ID, kind="voice")
    server = SandboxServer(sandbox_state, push_interval=None).start()
    account.base_url = server.base_url
    account.save()
    yield server
    server.stop()
