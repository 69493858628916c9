"""Throttling per token on the shared cache (the database cache here): 429 with Retry-After,
counted per token, not per user or address."""

from __future__ import annotations

import pytest
from django.core.cache import caches

from tests.api.conftest import client_for, error_of

pytestmark = pytest.mark.django_db


def test_the_429_says_when_to_come_back_and_counts_per_token(settings, operator):
    settings.API_THROTTLE_RATE = "3/min"
    first, second = client_for(operator, "one"), client_for(operator, "two")
    assert [first.get("/api/v1/calls/").status_code for _ in range(3)] == [200] * 3
    refused = first.get("/api/v1/calls/")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    error = error_of(refused)
    assert error["code"] == "throttled" and error["retry_after"] == int(refused["Retry-After"])
    assert second.get("/api/v1/calls/").status_code == 200  # another token: its own count


def test_the_count_is_on_the_shared_database_cache(settings, operator):
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    settings.API_THROTTLE_RATE = "100/min"
    api = client_for(operator)
    api.get("/api/v1/calls/")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM portal_cache")
        keys = [row[0] for row in cursor.fetchall()]
    assert any("api-throttle:token-" in key for key in keys)
    assert caches["default"] is not None


def test_guessing_tokens_from_one_address_is_answered_429(settings, operator):
    settings.API_AUTH_FAILURES_PER_MINUTE = 3
    from tests.api.conftest import ApiClient

    guesses = [ApiClient(f"itnio_guess{i}").get("/api/v1/calls/").status_code for i in range(5)]
    assert guesses == [401, 401, 401, 429, 429]
    # A right token still works for its own user (counted per token, not per address).
    assert client_for(operator).get("/api/v1/calls/").status_code == 200
