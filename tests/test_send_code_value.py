"""sendCode's arguments as one SendCode value: through the form, through the CLI, and the
vendor's own sample (seed 001) accepted by the limits, the client and the sandbox."""

from __future__ import annotations

import dataclasses
import re

import pytest
from django.core.management import call_command

from campaigns.forms_calls import SendTtsForm
from campaigns.models import Call
from campaigns.services.actors import Actor
from campaigns.services.calls import call_send_tts
from campaigns.services.itnio import itnio_limits
from itnio_portal.itnio import DEFAULT_LIMITS, ItnioLimitError, SendCode
from tests.sandbox.seeds import seed

pytestmark = pytest.mark.django_db
SEED_001 = seed("001").java_body()
CODE = SendCode(
    app_id="",  # the test's voice app, filled in below
    callee="919876543210",
    language="EN",
    text="Your code is 4711",
    display_num="1008122211",
    loop_count=2,
    called_info="order 17",
    recall_count=1,
    recall_interval=5,
    max_duration=90,
    max_ringing_time=40,
)


def snake(key: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), key)


def test_the_form_gives_the_send_code_it_describes_and_the_sandbox_gets_its_body(
    voice_app, sandbox, sandbox_state
):
    code = dataclasses.replace(CODE, app_id=voice_app.app_id)
    data = code.given()
    form = SendTtsForm({**data, "app": voice_app.pk, "callee": "+91 98765-43210"})
    assert form.is_valid(), form.errors
    assert form.send_code() == code
    call = call_send_tts(app=voice_app, actor=Actor.system("t"), code=form.send_code())
    assert call.state == Call.State.SUBMITTED
    assert sandbox_state.requests_for("/voice/sendCode")[0].body == code.body()
    assert call.request == code.given()


def test_the_form_reports_a_limit_on_its_field(voice_app):
    data = {"app": voice_app.pk, "callee": "919876543210", "language": "EN", "text": "hi"}
    form = SendTtsForm({**data, "max_ringing_time": 5})
    assert not form.is_valid()
    assert list(form.errors) == ["max_ringing_time"]
    with pytest.raises(ItnioLimitError) as caught:
        itnio_limits().check_send_code(dataclasses.replace(CODE, app_id="A1", max_ringing_time=5))
    assert caught.value.field == "maxRingingTime"


def test_the_cli_sends_the_same_value(voice_app, sandbox, sandbox_state, capsys):
    code = dataclasses.replace(CODE, app_id=voice_app.app_id)
    options = {
        "display_num": code.display_num,
        "loop_count": code.loop_count,
        "called_info": code.called_info,
        "recall_count": code.recall_count,
        "recall_interval": code.recall_interval,
        "max_duration": code.max_duration,
        "max_ringing_time": code.max_ringing_time,
    }
    argv = ["--app", voice_app.app_id, "--callee", "+" + code.callee]
    argv += ["--language", code.language, "--text", code.text]
    for name, value in options.items():
        argv += ["--" + name.replace("_", "-"), str(value)]
    call_command("send_code", *argv)
    voice_id = capsys.readouterr().out.strip()
    assert sandbox_state.requests_for("/voice/sendCode")[0].body == code.body()
    assert Call.objects.get(voice_id=voice_id).request == code.given()


def test_the_seed_sample_is_accepted_as_a_send_code(voice_app, sandbox, sandbox_state):
    code = SendCode(**{snake(k): v for k, v in SEED_001.items()})
    assert DEFAULT_LIMITS.check_send_code(code) == code  # "recallCount":0, "recallInterval":0
    assert code.body() == SEED_001  # the seed's own key order, nothing added or lost
    ours = dataclasses.replace(code, app_id=voice_app.app_id)
    call = call_send_tts(app=voice_app, actor=Actor.system("t"), code=ours)
    assert call.state == Call.State.SUBMITTED, call.state_reason
    assert list(sandbox_state.requests_for("/voice/sendCode")[0].body) == list(SEED_001)
