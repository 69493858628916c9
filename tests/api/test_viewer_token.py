"""Issue 17's acceptance: a Viewer's token cannot launch, send or add to the do-not-call list
(403 naming the permission; nothing written, nothing sent), though it reads everything."""

from __future__ import annotations

import pytest

from campaigns.models import Call, Campaign, SuppressionEntry
from tests.api.conftest import error_of
from tests.campaigns.conftest import add_callees
from tests.conftest import VOICE_APP_ID

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ready(uploaded_file, voice_app):
    campaign = Campaign.objects.create(name="Ready", app=voice_app, voice_file=uploaded_file)
    add_callees(campaign, 3)
    return campaign


def test_a_viewer_reads_but_cannot_launch_send_or_add_to_do_not_call(
    viewer_api, operator_api, ready, sandbox_state
):
    sent_before = len(sandbox_state.requests_for())
    # Reading is allowed: the campaign, its plan (without a confirmation token), its status.
    assert viewer_api.get(f"/api/v1/campaigns/{ready.pk}/").status_code == 200
    plan = viewer_api.get(f"/api/v1/campaigns/{ready.pk}/plan/").json()
    assert plan["will_call"] == 3 and plan["confirmation_token"] is None
    assert viewer_api.get(f"/api/v1/campaigns/{ready.pk}/status/").status_code == 200

    # Even with a valid token from an Operator's plan, the Viewer cannot launch.
    token = operator_api.get(f"/api/v1/campaigns/{ready.pk}/plan/").json()["confirmation_token"]
    assert token
    launch = viewer_api.post(f"/api/v1/campaigns/{ready.pk}/launch/", {"confirmation_token": token})
    tts = viewer_api.post(
        "/api/v1/calls/tts/",
        {"app": VOICE_APP_ID, "callee": "919876543210", "language": "EN", "text": "hi"},
        headers={"Idempotency-Key": "viewer-1"},
    )
    dnc = viewer_api.post("/api/v1/dnc/", {"numbers": ["+6591234567"]})
    for response, permission in (
        (launch, "campaigns.place_calls"),
        (tts, "campaigns.place_calls"),
        (dnc, "campaigns.add_suppressionentry"),
    ):
        assert response.status_code == 403
        assert error_of(response)["permission"] == permission
    ready.refresh_from_db()
    assert ready.state == "draft" and ready.launched_at is None
    assert not Call.objects.exists() and not SuppressionEntry.objects.exists()
    assert len(sandbox_state.requests_for()) == sent_before  # nothing reached ITNIO

    # The same requests with the Operator's token do it.
    assert operator_api.post("/api/v1/dnc/", {"numbers": ["+6591234567"]}).status_code == 201
    launched = operator_api.post(
        f"/api/v1/campaigns/{ready.pk}/launch/", {"confirmation_token": token}
    )
    assert launched.status_code == 200 and launched.json()["state"] in ("running", "completed")
