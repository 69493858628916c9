"""Shared fixtures: users, an ITNIO account with apps, and the in-process ITNIO sandbox."""

from __future__ import annotations

import pytest

from campaigns.models import ItnioAccount, ItnioApp

API_KEY = "bDqJFiq9"
API_SECRET = "7bz1lzh9-test-secret"  # noqa: S105
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
