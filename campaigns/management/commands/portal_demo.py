"""manage.py portal_demo: seed demo data; run the sandbox, workers, scheduler and web server."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, usage_error
from campaigns.models import ItnioApp
from campaigns.services.accounts import account_setup

DEMO_USER = "admin"
DEMO_PASSWORD = "itnio-demo"
DEMO_ACCOUNT = "Demo account (sandbox)"
DEMO_API_KEY = "demo-key"
DEMO_API_SECRET = "demo-secret-7bz1lzh9"
DEMO_VOICE_APP = "DEMOVOICE"
DEMO_AI_APP = "DEMOAI"
# One task worker per queue (settings.TASK_QUEUES).
DEMO_WORKERS = [
    ("dispatch worker", "dispatch"),
    ("worker", "default"),
    ("sync worker", "sync"),
    ("figures worker", "figures"),
    ("webhook worker", "webhooks"),
]


def demo_sandbox_state_file() -> Path:
    """The demo sandbox's --state file, one per portal database (var/sandbox-state-<id>.json).

    The files the sandbox was sent, its SIP groups, AI tasks and records survive a restart, so
    what the portal lists as uploaded is still known to the sandbox. Another database (a test
    run's, another DATABASE_URL) never reads or clears this one's.
    """
    db, base = connection.settings_dict, Path(settings.BASE_DIR)
    name = str(db["NAME"])
    if connection.vendor == "sqlite" and Path(name).is_relative_to(base):
        name = str(Path(name).relative_to(base))  # the same file after the clone moves
    identity = f"{connection.vendor}:{db.get('HOST') or ''}:{db.get('PORT') or ''}:{name}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return base / "var" / f"sandbox-state-{digest}.json"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _is_portal(port: int) -> bool:
    """Whether the portal's login page answers on this port."""
    import requests

    try:
        page = requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=3)
    except requests.RequestException:
        return False
    return page.ok and "ITNIO" in page.text


class Command(PortalCommand):
    help = gettext_lazy(
        "Seed a demo superuser and an account wired to the built-in ITNIO sandbox, then run "
        "the sandbox, the task workers, the scheduler and the web server until Ctrl-C."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--sandbox-port", type=int, default=8765)
        parser.add_argument(
            "--seed-only", action="store_true", help=gettext_lazy("create the demo data and exit")
        )
        parser.add_argument(
            "--check-ports",
            action="store_true",
            help=gettext_lazy(
                "only check that both ports are free (./portal demo does, before migrating)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port, sandbox_port = options["port"], options["sandbox_port"]
        portal_url = f"http://127.0.0.1:{port}"
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        if not options["seed_only"]:
            self._check_ports(port, sandbox_port)
            if options["check_ports"]:
                return
        state_file = demo_sandbox_state_file()
        if self._seed(sandbox_url):
            # A new database: a state file left from an earlier one would know file names and
            # calls this portal never sent (and refuse its uploads as duplicates).
            state_file.unlink(missing_ok=True)
        if options["seed_only"]:
            self.stdout.write(_("Demo data ready."))
            return
        env = {
            **os.environ,
            "PORTAL_PUBLIC_URL": portal_url,
            "ITNIO_BASE_URL": sandbox_url,
            "PYTHONUNBUFFERED": "1",
            # Only warnings and errors from the processes: a task line every few seconds would
            # scroll the URL and login away (LOG_LEVEL=INFO ./portal demo shows them).
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        }
        commands = self._commands(port, sandbox_port, state_file)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for name, argv in commands.items():
                procs[name] = subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR)  # noqa: S603
                if name == "sandbox":
                    # The workers' first jobs talk to ITNIO: let the sandbox listen first.
                    self._wait_until_up(sandbox_port)
            self._wait_until_up(port)
            self._wait_until_up(sandbox_port)
            self._seed_campaign()
            lines = [
                "",
                _("  ITNIO Portal demo is running (SQLite, database task workers, ITNIO sandbox)"),
                _("  URL:      %(url)s/admin/") % {"url": portal_url},
                _("  Login:    %(user)s / %(password)s")
                % {"user": DEMO_USER, "password": DEMO_PASSWORD},
                _("  Sandbox:  %(url)s  (fake ITNIO; no real calls, no real money)")
                % {"url": sandbox_url},
                _("  Stop:     Ctrl-C       (Enter shows this again)"),
            ]
            banner = self.style.SUCCESS("\n".join(lines) + "\n")
            self.stdout.write(banner)
            self._repeat_on_enter(banner)
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(
                            _("The %(name)s process exited (%(code)s).")
                            % {"name": name, "code": proc.returncode}
                        )
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop_all(procs)
        failed = [n for n, p in procs.items() if p.returncode not in (0, -15, -2)]
        if failed and not stopping:
            sys.exit(1)

    def _repeat_on_enter(self, banner: str) -> None:
        """Show the URL and login again whenever Enter is pressed (a terminal only)."""
        if not sys.stdin or not sys.stdin.isatty():
            return

        def read() -> None:
            for _line in sys.stdin:
                self.stdout.write(banner)

        threading.Thread(target=read, daemon=True, name="demo-banner").start()

    def _commands(self, port: int, sandbox_port: int, state_file: Path) -> dict[str, list[str]]:
        """The demo's processes: name -> command line."""
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        return {
            "sandbox": [
                *manage,
                "itnio_sandbox",
                "--port",
                str(sandbox_port),
                "--from-db",
                "--life-scale",
                "0.2",
                "--state",
                str(state_file),
            ],
            # A worker per queue: a long campaign dispatch, record sync or figures refresh must
            # not hold up the quick housekeeping (ticks, sweeps, heartbeat) or each other.
            **{
                label: [
                    *manage,
                    "portal_worker",
                    "--no-reload",
                    "--queue-name",
                    queue,
                    "--no-startup-delay",
                ]
                for label, queue in DEMO_WORKERS
            },
            # Pushes are stored by the web server and applied by this worker within a second.
            "push worker": [*manage, "apply_pushes"],
            "scheduler": [*manage, "portal_scheduler", "--interval", "15", "--verbosity", "0"],
            "web": [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        }

    def _check_ports(self, port: int, sandbox_port: int) -> None:
        """Both ports free, or a plain error; a demo already running says so, with its URL."""
        if not _port_free(port) and _is_portal(port):
            raise usage_error(
                _(
                    "A demo is already running at http://127.0.0.1:%(port)s/admin/ "
                    "(login %(user)s / %(password)s); stop it with Ctrl-C in its terminal, "
                    "or pass --port N to start another."
                )
                % {"port": port, "user": DEMO_USER, "password": DEMO_PASSWORD}
            )
        in_use = (
            (
                port,
                _(
                    "Port %(port)s for the web server is already in use: stop what uses it or "
                    "pass --port N."
                ),
            ),
            (
                sandbox_port,
                _(
                    "Port %(port)s for the sandbox is already in use: stop what uses it or "
                    "pass --sandbox-port N."
                ),
            ),
        )
        for p, message in in_use:
            if not _port_free(p):
                raise usage_error(message % {"port": p})

    def _seed(self, sandbox_url: str) -> bool:
        """The demo's data; True when the database was new (the demo user was just made)."""
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=DEMO_USER, defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        result = account_setup(
            name=DEMO_ACCOUNT,
            api_key=DEMO_API_KEY,
            api_secret=DEMO_API_SECRET,
            voice_app_id=DEMO_VOICE_APP,
            ai_app_id=DEMO_AI_APP,
            base_url=sandbox_url,
        )
        for app, _created in result.apps:
            if not app.label:
                app.label = "Demo voice" if app.kind == ItnioApp.Kind.VOICE else "Demo AI voice"
                app.save(update_fields=["label"])
        self._seed_history()
        return created

    def _seed_history(self) -> None:
        """A month of generated final calls, so the dashboard has something to show."""
        from django.core.management import call_command

        from campaigns.models import Call
        from campaigns.services.reports import refresh_call_stats

        if Call.objects.filter(created_by="generate_calls").exists():
            return
        call_command(
            "generate_calls",
            "3000",
            "--days",
            "30",
            "--app",
            DEMO_VOICE_APP,
            "--campaigns",
            "2",
            stdout=self.stdout,
        )
        refresh_call_stats()

    def _seed_campaign(self) -> None:
        """Two demo voice files on the sandbox (a second one for trying an A/B test) and a
        draft campaign of 1,000 callees to launch."""
        from campaigns.models import Callee, Campaign, ItnioApp

        app = ItnioApp.objects.get(app_id=DEMO_VOICE_APP)
        voice_file = self._demo_voice_file(app, "welcome.wav", hz=523)
        if voice_file is None:
            return
        self._demo_voice_file(app, "welcome-b.wav", hz=659)
        campaign, created = Campaign.objects.get_or_create(
            name="Demo campaign",
            defaults={
                "app": app,
                "voice_file": voice_file,
                "called_info": "demo",
                "created_by": "demo",
            },
        )
        if created:
            Callee.objects.bulk_create(
                Callee(campaign=campaign, number=str(628120000001 + i)) for i in range(1000)
            )

    def _demo_voice_file(self, app: Any, file_name: str, *, hz: int) -> Any:
        """A tone uploaded to the sandbox under file_name (kept when it is there already);
        None when the upload failed (said on stderr)."""
        from django.core.files.base import ContentFile

        from campaigns.management.demo_audio import tone_wav
        from campaigns.models import VoiceFile
        from campaigns.services.actors import Actor
        from campaigns.services.voice_files import voice_file_upload

        voice_file = VoiceFile.objects.filter(
            account_id=app.account_id, file_name=file_name
        ).first()
        if voice_file is None:
            audio = tone_wav(hz=hz)
            voice_file = VoiceFile(
                app=app, file_name=file_name, size=len(audio), content_type="audio/wav"
            )
            voice_file.audio.save(file_name, ContentFile(audio), save=True)
        if voice_file.state != VoiceFile.State.UPLOADED:
            try:
                voice_file_upload(voice_file=voice_file, actor=Actor.system("demo"))
            except Exception as exc:  # the demo still starts; the page says what happened
                self.stderr.write(
                    _("Could not upload the demo voice file: %(error)s") % {"error": exc}
                )
                return None
        return voice_file

    def _wait_until_up(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.2)

    def _stop_all(self, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.stdout.write(_("Stopped the sandbox, workers, scheduler and web server."))
