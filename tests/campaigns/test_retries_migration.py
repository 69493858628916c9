"""Migration 0022: the calls from before become attempt 1 of their callee, set-based."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("campaigns", "0022_api")]
AFTER = [("campaigns", "0023_retries")]


@pytest.fixture(autouse=True)
def _back_to_the_latest():
    """Leave the database at the latest migrations (later ones follow 0023), for the tests
    after this one."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_existing_calls_become_attempt_1():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    account = apps.get_model("campaigns", "ItnioAccount").objects.create(
        name="Old", api_key="k", api_secret="s"
    )
    app = apps.get_model("campaigns", "ItnioApp").objects.create(account=account, app_id="a1")
    voice = apps.get_model("campaigns", "VoiceFile").objects.create(
        app=app, account=account, file_name="old.wav", audio="voice/old.wav"
    )
    campaign = apps.get_model("campaigns", "Campaign").objects.create(
        name="Old", app=app, voice_file=voice
    )
    Call = apps.get_model("campaigns", "Call")
    Callee = apps.get_model("campaigns", "Callee")
    calls = [
        Call.objects.create(app=app, campaign=campaign, kind="group", state="final", callee=n)
        for n in ("6591000001", "6591000002")
    ]
    called = [
        Callee.objects.create(campaign=campaign, number=c.callee, state="submitted", call=c)
        for c in calls
    ]
    never = Callee.objects.create(campaign=campaign, number="6591000003", state="pending")
    tts = Call.objects.create(app=app, kind="tts", state="final", callee="6591000009")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    Call = apps.get_model("campaigns", "Call")
    Callee = apps.get_model("campaigns", "Callee")
    for callee, call in zip(called, calls, strict=True):
        assert Callee.objects.get(pk=callee.pk).attempts == 1
        row = Call.objects.get(pk=call.pk)
        assert (row.attempt, row.campaign_callee_id) == (1, callee.pk)
    assert Callee.objects.get(pk=never.pk).attempts == 0
    assert (
        Call.objects.get(pk=tts.pk).attempt,
        Call.objects.get(pk=tts.pk).campaign_callee_id,
    ) == (
        None,
        None,
    )
