"""Requests per token (per client address before a token is known), counted on the cache
every worker shares (settings.CACHES: the database by default, Redis when configured)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def __init__(self) -> None:
        self.cache = caches["default"]
        super().__init__()

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request: Any, view: Any) -> str:
        token = getattr(request, "auth", None)
        ident = f"token-{token.pk}" if token is not None else f"ip-{self.get_ident(request)}"
        return f"api-throttle:{ident}"


def refuse_guessing(request: Any) -> None:
    """Count a wrong token against the client address; past API_AUTH_FAILURES_PER_MINUTE in the
    minute, answer 429 (Retry-After) instead of saying whether the next one is right."""
    cache = caches["default"]
    ident = _ident(request)
    key = f"api-authfail:{ident}"
    cache.add(key, 0, timeout=60)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        failures = 1
    if failures > settings.API_AUTH_FAILURES_PER_MINUTE:
        raise Throttled(wait=60)


def _ident(request: Any) -> str:
    return TokenRateThrottle().get_ident(request)


def ensure_cache_table(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: the database cache's table exists after every migrate (idempotent; a
    no-op with Redis), so nobody has to remember `createcachetable`."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)
