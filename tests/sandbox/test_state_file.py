"""--state FILE: the sandbox keeps its accounts' files, SIP groups, AI tasks and records across
restarts; without it every start is empty."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from itnio_portal.itnio.sandbox import ManualClock, SandboxServer
from itnio_portal.itnio.sandbox.persist import StateFile, StateFileError

from .conftest import AI_APP, AI_JOB, APP, AUDIO, KEY, SECRET, Api, make_state

ROOT = Path(__file__).resolve().parents[2]
NOT_UPLOADED = "was not uploaded by this account"


def restarted(path: Path | None, clock: ManualClock, **options: Any) -> SandboxServer:
    """A new sandbox process, as far as the state goes: fresh accounts from the "command line",
    then the state file (if any) loaded."""
    state = make_state(clock, **options)
    state_file = None
    if path is not None:
        state_file = StateFile(path, state)
        state_file.load()
    return SandboxServer(state, push_interval=None, state_file=state_file).start()


def group_answer(api: Api, file_id: str, callees: str = "91856321412") -> dict[str, Any]:
    return api.call(
        "POST", "/voice/sendGroup", {"callee": callees, "fileId": file_id, "appId": APP}
    )


def test_an_uploaded_file_is_still_known_after_a_restart_with_state(tmp_path, clock) -> None:
    path = tmp_path / "sandbox-state.json"
    first = restarted(path, clock)
    file_id = Api(first).upload("welcome.wav")
    first.stop()

    second = restarted(path, clock)
    try:
        answer = group_answer(Api(second), file_id)
        assert answer["status"] == "0", answer
        assert answer["data"][0]["terminationCode"] == "0"
        # the file name is still taken, as on ITNIO
        again = Api(second).call(
            "POST", "/voice/fileUpload", {"fileName": "welcome.wav", "file": AUDIO}
        )
        assert again["status"] == "-20"
    finally:
        second.stop()

    without = restarted(None, clock)
    try:
        answer = group_answer(Api(without), file_id)
        assert answer["status"] == "-22" and NOT_UPLOADED in answer["reason"]
    finally:
        without.stop()


def test_records_sip_groups_ai_tasks_and_balances_survive(tmp_path, clock) -> None:
    path = tmp_path / "state.json"
    first = restarted(path, clock, life_scale=1.0)
    api = Api(first)
    file_id = api.upload()
    items = api.send_group([f"9185632{i:04d}" for i in range(1, 6)], fileId=file_id)
    voice_ids = [item["voiceId"] for item in items]
    clock.advance(2)
    before = {v: api.ok("GET", f"/voice/recordGroup/{v}") for v in voice_ids}
    assert all(r["hangupTime"] == "" for r in before.values())  # not final yet
    sip = {"groupName": "sales", "phoneName": "desk", "quantity": 2, "displayNum": "861000000"}
    api.ok("POST", "/voice/sipAdd", sip | {"appId": APP})
    person = {"name": "Ana", "phoneNumber": "6591234567", "properties": {"amount": "5 USD"}}
    api.ok(
        "POST",
        "/aivoice/importCustomer",
        {"appId": AI_APP, "jobId": AI_JOB, "customerPersons": [person]},
    )
    api.ok("POST", "/aivoice/taskStart", {"appId": AI_APP, "jobId": AI_JOB})
    with first.state.lock:
        ai_calls = {c.call_id: c.person.phone_number for c in first.state.ai_calls.values()}
        persons = [p.person_id for p in first.state.ai_jobs[(AI_APP, AI_JOB)].persons]
    first.stop()

    second = restarted(path, clock, life_scale=1.0)
    api = Api(second)
    try:
        state = second.state
        for voice_id, record in before.items():  # the same record, as known now
            assert api.ok("GET", f"/voice/recordGroup/{voice_id}") == record
        clock.advance(400)  # every call ends while nothing was restarted in between
        after = [api.ok("GET", f"/voice/recordGroup/{v}") for v in voice_ids]
        assert all(r["hangupTime"] and r["terminationCode"] for r in after)
        spent = sum(state.calls[v].pricing.base_cost_usd for v in voice_ids)
        spent += sum(c.life.pay for c in state.ai_calls.values() if c.final)
        assert spent > 0
        assert state.balance(KEY) == 100 - spent  # each call charged once, when it ended
        assert api.ok(
            "POST", "/voice/sendSip", {"callee": "6591234567", "account": "desk_002", "appId": APP}
        )
        job = state.ai_jobs[(AI_APP, AI_JOB)]
        assert job.status == "RUNNING"
        assert [p.person_id for p in job.persons] == persons
        assert {c.call_id: c.person.phone_number for c in state.ai_calls.values()} == ai_calls
        assert state.new_person_id() > max(persons)  # ids go on, never reused
        more = api.send_group(["6581234567"], fileId=file_id)
        assert more[0]["voiceId"] not in voice_ids
    finally:
        second.stop()


def test_changes_are_saved_while_running_and_the_write_is_atomic(tmp_path, clock) -> None:
    path = tmp_path / "state.json"
    server = restarted(path, clock)
    try:
        file_id = Api(server).upload()
        deadline = time.monotonic() + 10  # debounced: written shortly after, not on stop only
        while time.monotonic() < deadline:
            if path.exists() and file_id in path.read_text():
                break
            time.sleep(0.05)
        saved = json.loads(path.read_text())
        assert [f["file_id"] for f in saved["files"]] == [file_id]
        assert SECRET not in path.read_text()  # no secret is ever written
        assert sorted(os.listdir(tmp_path)) == ["state.json"]  # no temporary file left behind
    finally:
        server.stop()


def test_a_push_not_delivered_before_the_restart_goes_to_the_apps_push_url_now(
    tmp_path, clock, receiver
) -> None:
    path = tmp_path / "state.json"
    first = restarted(path, clock)
    first.state.add_app(KEY, APP, push_url="http://127.0.0.1:9/gone")  # the old portal URL
    (item,) = Api(first).send_group(["6591234567"])  # final at once: its push is queued
    assert [job.voice_id for job in first.state.pending_pushes()] == [item["voiceId"]]
    first.stop()

    state = make_state(clock)
    state.add_app(KEY, APP, push_url=receiver.url)  # the portal listens elsewhere now
    StateFile(path, state).load()
    state.flush_pushes()
    assert [body["voiceId"] for body in receiver.bodies()] == [item["voiceId"]]
    assert (
        receiver.bodies()[0]["terminationCode"]
        == state.calls[item["voiceId"]].life.termination_code
    )


@pytest.mark.parametrize(
    "content",
    ["{not json", "[]", '{"format": "something-else"}', '{"format": "itnio-sandbox-state"}'],
)
def test_a_damaged_state_file_is_a_clear_start_error(tmp_path, clock, content) -> None:
    path = tmp_path / "state.json"
    path.write_text(content)
    with pytest.raises(StateFileError) as info:
        StateFile(path, make_state(clock)).load()
    assert str(path) in str(info.value) and "damaged" in str(info.value)
    assert path.read_text() == content  # left as it was, for a person to look at


# ---- the command line, as the demo runs it -------------------------------------------------------


def sandbox_process(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    """`python -m itnio_portal.itnio.sandbox` on a free port: it, its base URL, what it printed."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "itnio_portal.itnio.sandbox",
            "--port",
            "0",
            "--account",
            f"{KEY}:{SECRET}",
            "--app",
            f"{KEY}:{APP}",
            "--push-interval",
            "60",
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    header = [proc.stdout.readline()]
    assert header[0].startswith("ITNIO sandbox on "), header[0] + proc.stdout.read()
    while not header[-1].startswith("  state:"):  # the lines it prints before serving
        header.append(proc.stdout.readline())
    return proc, header[0].split()[3], "".join(header)


def post(base_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    timestamp = str(int(time.time()))
    signature = hashlib.md5(f"{KEY}{SECRET}{timestamp}".encode()).hexdigest()
    headers = {"Api-Key": KEY, "Timestamp": timestamp, "Sign": signature}
    session = requests.Session()
    session.trust_env = False
    response = session.post(base_url + path, json=body, headers=headers, timeout=10)
    return response.json()


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out
    return out


def test_the_command_line_keeps_state_across_a_sigterm_restart(tmp_path) -> None:
    path = tmp_path / "var" / "sandbox-state.json"
    proc, url, printed = sandbox_process("--state", str(path))
    assert f"state: {path} (new)" in printed
    upload = post(url, "/voice/fileUpload", {"fileName": "welcome.wav", "file": AUDIO})
    stop(proc)
    file_id = upload["data"]

    proc, url, printed = sandbox_process("--state", str(path))
    try:
        assert f"state: {path} (loaded: 1 files, 0 calls)" in printed
        answer = post(
            url, "/voice/sendGroup", {"callee": "6591234567", "fileId": file_id, "appId": APP}
        )
        assert answer["status"] == "0", answer
    finally:
        stop(proc)

    proc, url, printed = sandbox_process()  # no --state: empty, as the tests expect
    assert "state: none (starts empty" in printed
    try:
        answer = post(
            url, "/voice/sendGroup", {"callee": "6591234567", "fileId": file_id, "appId": APP}
        )
        assert answer["status"] == "-22" and NOT_UPLOADED in answer["reason"]
    finally:
        stop(proc)


def test_the_command_line_refuses_a_damaged_state_file(tmp_path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"format": "itnio-sandbox-state", "version": 1, "files": ')
    result = subprocess.run(
        [sys.executable, "-m", "itnio_portal.itnio.sandbox", "--port", "0", "--state", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert f"the sandbox state file {path} is damaged" in result.stderr
    assert "Traceback" not in result.stderr
