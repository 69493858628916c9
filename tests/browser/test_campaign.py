"""A campaign in the browser: read the plan, launch, watch the progress bar reach 100 %,
while a real task worker (portal_worker) sends the batches to the sandbox and the push worker
applies the final records it pushes back."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User

from campaigns.models import Callee, Campaign, VoiceFile
from campaigns.services.actors import Actor
from campaigns.services.voice_files import voice_file_upload
from itnio_portal.itnio.sandbox import SandboxServer
from tests.audio import wav_bytes
from tests.browser.helpers import log_in
from tests.conftest import API_KEY, VOICE_APP_ID
from tests.procs import apply_worker, task_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def slow_sandbox(sandbox_state, account, voice_app, live_server):
    # Status pushes to the portal (applied by the push worker) bring the final records the
    # progress bar counts.
    push_url = live_server.url + voice_app.push_path
    sandbox_state.add_app(API_KEY, VOICE_APP_ID, kind="voice", push_url=push_url)
    sandbox_state.faults.latency_by_path["/voice/sendGroup"] = 0.4
    server = SandboxServer(sandbox_state, push_interval=0.2).start()
    account.base_url = server.base_url
    account.save()
    yield server
    server.stop()


def test_operator_launches_a_campaign_and_watches_it_finish(
    live_server, page, screenshot, slow_sandbox, sandbox_state, voice_app, settings
):
    # Production-like: launch enqueues on the database backend, a worker process sends.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks_db.DatabaseBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    vf = VoiceFile(app=voice_app, file_name="spring.wav", size=16044, content_type="audio/wav")
    vf.audio.save("spring.wav", io.BytesIO(wav_bytes()), save=True)
    voice_file_upload(voice_file=vf, actor=Actor.system("test"))
    campaign = Campaign.objects.create(
        name="Spring promo", app=voice_app, voice_file=vf, called_info="spring"
    )
    Callee.objects.bulk_create(
        Callee(campaign=campaign, number=str(919800000001 + i)) for i in range(600)
    )
    User.objects.create_superuser("ops", "ops@example.com", "pw")
    worker = task_worker(ITNIO_SEND_GROUP_MAX="50", ITNIO_DISPATCH_CONCURRENCY="1")
    pushes = apply_worker()
    try:
        log_in(page, live_server, "ops", then=f"/admin/campaigns/campaign/{campaign.pk}/change/")
        assert page.locator("#count-pending").inner_text() == "600"
        page.click("#launch-campaign")
        plan = page.locator("#launch-plan").inner_text()
        assert "600 pending" in plan and "spring.wav" in plan and VOICE_APP_ID in plan
        screenshot("launch-plan")
        page.click("#confirm-launch")
        assert "Running" in page.locator(".messagelist").inner_text()
        # The bar moves while the worker sends; the page polls the progress endpoint.
        page.wait_for_function(
            "() => { const l = document.getElementById('progress-label');"
            " const p = l ? parseFloat(l.textContent) : NaN;"
            " return p > 0 && p < 100; }",
            timeout=30_000,
        )
        screenshot("progress-running")
        page.wait_for_function(
            "() => { const box = document.getElementById('campaign-progress');"
            " const label = document.getElementById('progress-label');"
            " return !!box && !!label && !box.dataset.reloading"
            " && document.readyState === 'complete'"
            " && label.textContent.startsWith('100.0'); }",
            timeout=60_000,
        )
        # Once the run has ended the page shows itself anew: state, buttons and batches agree.
        page.wait_for_selector("#campaign-progress[data-state=completed]", timeout=15_000)
        page.wait_for_function(
            "() => { const box = document.getElementById('campaign-progress');"
            " const label = document.getElementById('progress-label');"
            " return !!box && !!label && !box.dataset.reloading"
            " && document.readyState === 'complete'"
            " && label.textContent.startsWith('100.0'); }",
            timeout=60_000,
        )
        assert "Running" not in page.locator(".field-state_badge").inner_text()
        page.wait_for_function(
            "() => { const fill = document.getElementById('progress-fill');"
            " if (!fill) return false;"
            " const bar = fill.parentElement.getBoundingClientRect();"
            " return fill.getBoundingClientRect().width >= bar.width - 2; }"
        )
        assert not page.locator("#pause-campaign").is_visible()
        assert not page.locator("#cancel-campaign").is_visible()
        screenshot("progress-done")
    finally:
        for process in (worker, pushes):
            process.terminate()
            process.wait(timeout=20)
    campaign.refresh_from_db()
    page.reload()
    assert campaign.state == "completed"
    # Every accepted callee has its final record: reached or not reached, none still waiting.
    final = [page.locator(f"#count-{key}").inner_text() for key in ("reached", "not_reached")]
    assert sum(int(n) for n in final) == 600
    assert page.locator("#count-submitted").inner_text() == "0"
    assert "Completed" in page.locator("#content-main").inner_text()
    assert max(sandbox_state.accepted_callees().values()) == 1
    screenshot("completed")
