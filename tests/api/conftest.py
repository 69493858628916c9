"""Fixtures for the API tests: a token per role and a client that sends it."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from campaigns.services.api_tokens import api_token_create
from tests.campaigns.conftest import uploaded_file  # noqa: F401  (a voice file on the sandbox)
from tests.conftest import make_staff


class ApiClient:
    """Django's test client with `Authorization: Token <key>` and JSON bodies."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.client = Client()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Token {self.key}"} if self.key else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, params: dict | None = None, headers: dict | None = None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path: str, data=None, headers: dict | None = None, multipart: bool = False):
        if multipart:
            return self.client.post(path, data or {}, headers=self._headers(headers))
        return self.client.post(
            path,
            data if data is not None else {},
            content_type="application/json",
            headers=self._headers(headers),
        )

    def raw(self, method: str, path: str, body: bytes, headers: dict | None = None):
        return self.client.generic(
            method, path, body, content_type="application/json", headers=self._headers(headers)
        )

    def patch(self, path: str, data, headers: dict | None = None):
        return self.client.patch(
            path, data, content_type="application/json", headers=self._headers(headers)
        )

    def delete(self, path: str, headers: dict | None = None):
        return self.client.delete(path, headers=self._headers(headers))


def client_for(user, name: str = "test") -> ApiClient:
    _token, key = api_token_create(user=user, name=name)
    return ApiClient(key)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    """Every test starts with no request counted against any token (the shared cache)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer_api(viewer) -> ApiClient:
    return client_for(viewer)


@pytest.fixture
def operator_api(operator) -> ApiClient:
    return client_for(operator)


@pytest.fixture
def admin_api(admin_user) -> ApiClient:
    return client_for(admin_user)


@pytest.fixture
def role_api(db):
    """role name → a client of a new user in that role."""

    def make(role: str | None, username: str | None = None) -> ApiClient:
        return client_for(make_staff(username or f"u-{role or 'none'}".lower(), role))

    return make


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "fields"} <= set(body["error"]), body
    return body["error"]
