"""The create protocol (services/sends.py) for its three users: a crash or a timeout after the
intent leaves the row saying so, and a retry reconciles instead of resending."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from campaigns.models import AiTask, VoiceFile
from campaigns.services import sends
from campaigns.services.actors import Actor
from campaigns.services.ai_tasks import AiTaskError, ai_task_create
from campaigns.services.voice_files import VoiceFileError, voice_file_upload
from itnio_portal.itnio import ItnioClient, ItnioOutcomeUnknownError
from sipphones.models import SipGroup
from sipphones.services import SipGroupError, sip_group_create_on_itnio
from tests.ai.conftest import ai_app, make_task, requests_to  # noqa: F401 (fixture)
from tests.audio import wav_bytes
from tests.sipphones.conftest import make_group

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("sends-test")
UPLOAD, SIP_ADD, TASK_ADD = "/voice/fileUpload", "/voice/sipAdd", "/aivoice/taskAdd"


class Killed(BaseException):
    """The portal process dying: nothing after it runs, not even an except clause's write."""


def crash_after(monkeypatch, method: str) -> None:
    """The request reaches the sandbox, then the process dies before any outcome is written."""
    original = getattr(ItnioClient, method)

    def request_then_die(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise Killed

    def die(*args, **kwargs):
        raise Killed

    monkeypatch.setattr(ItnioClient, method, request_then_die)
    monkeypatch.setattr(sends, "send_outcome", die)


def crashed(monkeypatch, method: str, create, row, error: type[Exception]) -> None:
    """Crash `create(row)` after its request left; the row then says SENDING, and a second
    press while it is fresh is refused as still in flight."""
    with monkeypatch.context() as m:
        crash_after(m, method)
        with pytest.raises(Killed):
            create(row)
    row.refresh_from_db()
    assert row.state == "sending"
    with pytest.raises(error, match="still in flight"):
        create(row)


def age(model, pk: int, field: str) -> None:
    """Let the dead sender's request grow stale (ITNIO_STALE_SEND_MINUTES)."""
    model.objects.filter(pk=pk).update(**{field: timezone.now() - timedelta(hours=1)})


def voice_file(app) -> VoiceFile:
    vf = VoiceFile(app=app, file_name="welcome.wav", size=16044, content_type="audio/wav")
    vf.audio.save("welcome.wav", io.BytesIO(wav_bytes()), save=True)
    return vf


# ---- voice-file upload --------------------------------------------------------------------------


def test_upload_crash_leaves_sending_then_unknown_and_is_never_resent(
    voice_app, sandbox, sandbox_state, monkeypatch
):
    vf = voice_file(voice_app)
    upload = lambda row: voice_file_upload(voice_file=row, actor=SYSTEM)  # noqa: E731
    crashed(monkeypatch, "file_upload", upload, vf, VoiceFileError)
    age(VoiceFile, vf.pk, "upload_started_at")
    with pytest.raises(VoiceFileError, match="no endpoint to list uploaded files"):
        voice_file_upload(voice_file=vf, actor=SYSTEM)
    vf.refresh_from_db()
    assert vf.state == VoiceFile.State.UNKNOWN and "stopped" in vf.last_error
    assert len(sandbox_state.requests_for(UPLOAD)) == 1


def test_upload_timeout_is_unknown_and_a_retry_sends_nothing(voice_app, sandbox, sandbox_state):
    sandbox_state.drop_next(UPLOAD)
    vf = voice_file(voice_app)
    with pytest.raises(ItnioOutcomeUnknownError):
        voice_file_upload(voice_file=vf, actor=SYSTEM)
    with pytest.raises(VoiceFileError):
        voice_file_upload(voice_file=vf, actor=SYSTEM)
    vf.refresh_from_db()
    assert vf.state == VoiceFile.State.UNKNOWN
    assert len(sandbox_state.requests_for(UPLOAD)) == 1


# ---- SIP group create ---------------------------------------------------------------------------


def test_sip_create_crash_is_settled_by_the_duplicate_answer(
    voice_app, sandbox, sandbox_state, monkeypatch
):
    group = make_group(voice_app)
    create = lambda row: sip_group_create_on_itnio(group=row, actor=SYSTEM)  # noqa: E731
    crashed(monkeypatch, "sip_add", create, group, SipGroupError)
    assert len(sandbox_state.requests_for(SIP_ADD)) == 1
    age(SipGroup, group.pk, "create_started_at")
    # ITNIO has no list of SIP groups (§9): the retry's -20 (name taken) is the reconciliation.
    created = sip_group_create_on_itnio(group=group, actor=SYSTEM)
    assert created.state == SipGroup.State.CREATED
    assert "the first request created the group" in created.last_error


def test_sip_create_timeout_is_unknown(voice_app, sandbox, sandbox_state):
    sandbox_state.drop_next(SIP_ADD)
    group = sip_group_create_on_itnio(group=make_group(voice_app), actor=SYSTEM)
    assert group.state == SipGroup.State.UNKNOWN and "may have created" in group.last_error


# ---- AI task create -----------------------------------------------------------------------------


def test_ai_create_crash_is_reconciled_by_name_without_a_second_task_add(
    ai_app,  # noqa: F811
    sandbox,
    sandbox_state,
    monkeypatch,
):
    task = make_task(ai_app)
    create = lambda row: ai_task_create(task=row, actor=SYSTEM)  # noqa: E731
    crashed(monkeypatch, "task_add", create, task, AiTaskError)
    age(AiTask, task.pk, "create_started_at")
    created = ai_task_create(task=task, actor=SYSTEM)
    assert created.state == AiTask.State.CREATED and created.remote_job_id
    assert "Found at ITNIO by name" in created.last_error
    assert len(requests_to(sandbox_state, TASK_ADD)) == 1


def test_ai_create_timeout_is_unknown_then_found_by_name(
    ai_app,  # noqa: F811
    sandbox,
    sandbox_state,
):
    sandbox_state.drop_next(TASK_ADD)
    task = ai_task_create(task=make_task(ai_app), actor=SYSTEM)
    assert task.state == AiTask.State.UNKNOWN
    age(AiTask, task.pk, "create_started_at")
    assert ai_task_create(task=task, actor=SYSTEM).state == AiTask.State.CREATED
    assert len(requests_to(sandbox_state, TASK_ADD)) == 1


# ---- no request inside a transaction ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_create_inside_a_callers_transaction_refuses_before_sending(
    voice_app, sandbox, sandbox_state
):
    group = make_group(voice_app)
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        sip_group_create_on_itnio(group=group, actor=SYSTEM)
    assert sandbox_state.requests_for(SIP_ADD) == []
    group.refresh_from_db()
    assert group.state == SipGroup.State.DRAFT
