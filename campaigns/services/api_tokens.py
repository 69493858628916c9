"""REST API tokens: create (the key is returned once, only its digest is stored), revoke, and
the look-up of a presented key."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.models import ApiToken

KEY_PREFIX = "itnio_"
PREFIX_CHARS = 12  # "itnio_" and six random characters: tells tokens apart, opens nothing
#: last_used_at is written at most this often per token (not on every request).
LAST_USED_EVERY = timedelta(minutes=1)


class ApiTokenError(Exception):
    """A token cannot be created or revoked as asked; the message says why."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def api_token_create(
    *, user, name: str, expires_at: datetime | None = None, created_by: str = ""
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns (token, key). The key is never stored or shown again."""
    name = (name or "").strip()
    if not name:
        raise ApiTokenError(gettext("A token needs a name."))
    if expires_at is not None and expires_at <= timezone.now():
        raise ApiTokenError(gettext("The expiry must be in the future."))
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name[:100],
        prefix=key[:PREFIX_CHARS],
        key_digest=digest(key),
        expires_at=expires_at,
        created_by=(created_by or user.get_username())[:150],
    )
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError as exc:
        raise ApiTokenError(
            gettext("%(user)s already has a token named %(name)s: revoke it or pick another name.")
            % {"user": user.get_username(), "name": name}
        ) from exc
    return token, key


def api_token_revoke(*, user, name: str | None = None) -> int:
    """Revoke the user's live token named `name`, or every live token of the user; returns how
    many were revoked. A revoked token stays listed (who had it, when it was last used)."""
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if name is not None:
        live = live.filter(name=name)
    return live.update(revoked_at=timezone.now())


def api_token_for_key(key: str) -> ApiToken | None:
    """The live token with this key (its user active), or None; notes when it was last used."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_digest=digest(key), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.live or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
