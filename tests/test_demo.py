"""`manage.py portal_demo --seed-only`: the demo's data, idempotent."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management import call_command

from campaigns.models import Call, CallStatMark, ItnioAccount, ItnioApp
from campaigns.services.reports import CallSlice, call_figures


def test_the_demo_seed_makes_a_login_an_account_and_a_month_of_calls(db, capsys):
    call_command("portal_demo", "--seed-only")
    call_command("portal_demo", "--seed-only")  # a second start adds nothing

    assert User.objects.get(username="admin").check_password("itnio-demo")
    account = ItnioAccount.objects.get()
    assert set(ItnioApp.objects.values_list("kind", flat=True)) == {"voice", "ai"}
    assert Call.objects.count() == 3000
    assert not CallStatMark.objects.exists()  # the figures were computed
    figures = call_figures(CallSlice())
    assert figures["summary"]["Calls"] == 3000
    out = capsys.readouterr().out
    assert "Demo data ready." in out and "3,000 calls" in out
    assert account.api_secret not in out


def test_the_demo_sandbox_keeps_its_state_for_this_database(db, settings, tmp_path):
    """`./portal demo` starts the sandbox with --state, so a restarted demo can still launch the
    seeded campaign (its voice file stays known); a new database starts a new sandbox world."""
    from campaigns.management.commands.portal_demo import Command, demo_sandbox_state_file

    settings.BASE_DIR = tmp_path
    state_file = demo_sandbox_state_file()
    assert state_file.parent == tmp_path / "var"
    argv = Command()._commands(8000, 8765, state_file)["sandbox"]
    assert argv[argv.index("--state") + 1] == str(state_file)

    state_file.parent.mkdir()
    state_file.write_text("{}")  # left by the sandbox of an earlier, deleted database
    call_command("portal_demo", "--seed-only")  # this database is new: the old world goes
    assert not state_file.exists()
    state_file.write_text("{}")  # what this database's sandbox wrote
    call_command("portal_demo", "--seed-only")  # the same database again: kept
    assert state_file.read_text() == "{}"


def test_the_portal_script_names_an_unknown_command_and_exits_2():
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "portal"
    wrong = subprocess.run([str(script), "deom"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 2
    assert "unknown command 'deom'" in wrong.stderr
    assert "./portal demo" in wrong.stderr and "set -euo" not in wrong.stderr + wrong.stdout
    shown = subprocess.run([str(script), "help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "./portal test" in shown.stdout


def test_a_second_demo_says_the_first_is_running_before_touching_the_database(db):
    """`./portal demo` runs `portal_demo --check-ports` before migrating."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import pytest
    from django.core.management.base import CommandError

    class LoginPage(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<title>Log in | ITNIO Portal</title>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), LoginPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        with pytest.raises(CommandError, match="A demo is already running at") as raised:
            call_command("portal_demo", "--check-ports", "--port", str(port))
        assert f"http://127.0.0.1:{port}/admin/" in str(raised.value)
    finally:
        server.shutdown()
        server.server_close()


def test_the_demo_offers_two_uploaded_voice_files_for_an_ab_test(db):
    """Both demo files are on the demo's sandbox, so an A/B campaign of the two can be sent;
    the generated history's file was never sent to ITNIO and is offered to no campaign."""
    from campaigns.management.commands.portal_demo import (
        DEMO_AI_APP,
        DEMO_API_KEY,
        DEMO_API_SECRET,
        DEMO_VOICE_APP,
        Command,
    )
    from campaigns.models import VoiceFile
    from itnio_portal.itnio.sandbox import SandboxServer, SandboxState

    state = SandboxState(life_scale=0, seed=7)
    state.add_account(DEMO_API_KEY, DEMO_API_SECRET, balance="500.00")
    state.add_app(DEMO_API_KEY, DEMO_VOICE_APP, kind="voice")
    state.add_app(DEMO_API_KEY, DEMO_AI_APP, kind="ai")
    server = SandboxServer(state, push_interval=None).start()
    try:
        call_command("portal_demo", "--seed-only", "--sandbox-port", str(server.port))
        Command()._seed_campaign()  # what `./portal demo` does once its sandbox is up
    finally:
        server.stop()
    offered = VoiceFile.objects.filter(state="uploaded")
    assert sorted(offered.values_list("file_name", flat=True)) == ["welcome-b.wav", "welcome.wav"]
    assert {f.remote_file_id for f in offered} <= set(state.files)
    generated = VoiceFile.objects.get(file_name__startswith="generated-")
    assert (generated.state, generated.remote_file_id) == ("draft", "")
