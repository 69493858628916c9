"""Shared fixtures: users, an ITNIO account with apps, and the in-process ITNIO sandbox."""

from __future__ import annotations

import pytest

from campaigns.models import ItnioAccount, ItnioApp

API_KEY = "bDqJFiq9"
API_SECRET = "7bz1lzh9-test-secret"
VOICE_APP_ID = "4luaKsL2"
AI_APP_ID = "LILIN888"


@pytest.fixture
def account(db) -> ItnioAccount:
    account = ItnioAccount.objects.create(name="Acme", api_key=API_KEY, api_secret=API_SECRET)
    ItnioApp.objects.create(account=account, app_id=VOICE_APP_ID, label="Acme voice")
    ItnioApp.objects.create(
        account=account, app_id=AI_APP_ID, kind=ItnioApp.Kind.AI, label="Acme AI"
    )
    return account


@pytest.fixture
def voice_app(account) -> ItnioApp:
    return account.apps.get(app_id=VOICE_APP_ID)


@pytest.fixture
def sandbox_state():
    from itnio_portal.itnio.sandbox import SandboxState

    state = SandboxState(life_scale=0, seed=7)
    state.add_account(API_KEY, API_SECRET, balance="500.00")
    return state


@pytest.fixture
def sandbox(sandbox_state, account):
    """The ITNIO sandbox on 127.0.0.1 with the `account` fixture's credentials and apps;
    the account points at it."""
    from itnio_portal.itnio.sandbox import SandboxServer

    sandbox_state.add_app(API_KEY, VOICE_APP_ID, kind="voice")
    sandbox_state.add_app(API_KEY, AI_APP_ID, kind="ai")
    server = SandboxServer(sandbox_state, push_interval=None).start()
    account.base_url = server.base_url
    account.save(update_fields=["base_url"])
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def killer():
    """Terminates PostgreSQL sessions of the test database, refuses connections for a while
    (tests/pg.py; PostgreSQL only)."""
    from tests.pg import Killer

    k = Killer()
    yield k
    k.back()  # never leave the test database refusing connections


@pytest.fixture(autouse=True)
def _english():
    """Every test starts in the portal's default language: a request in Chinese leaves Chinese
    active in its thread (LocaleMiddleware), which would leak into the tests after it."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded files go to a per-test folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


def make_staff(username: str, role: str | None):
    """A staff user in one of the role groups (Viewer, Operator, Admin), or in none."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password="pw", is_staff=True)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db):
    return make_staff("viewer", "Viewer")


@pytest.fixture
def operator(db):
    return make_staff("operator", "Operator")


@pytest.fixture
def admin_user(db):
    return make_staff("boss", "Admin")


def apply_pushes() -> int:
    """Apply every stored push now, as the apply worker would; returns how many entries."""
    from campaigns.services.pushes import pushes_apply

    done = 0
    while True:
        report = pushes_apply()
        if not report.claimed:
            return done
        done += report.claimed


@pytest.fixture
def push_worker(transactional_db):
    """The apply worker as a thread (for live-server tests whose pushes arrive at any time)."""
    import threading

    from django.db import connection

    from campaigns.services.pushes import pushes_apply

    stop = threading.Event()

    def loop() -> None:
        try:
            while not stop.is_set():
                if not pushes_apply().claimed:
                    stop.wait(0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=loop, name="push-apply", daemon=True)
    thread.start()
    yield thread
    stop.set()
    thread.join(timeout=10)
