"""Validators of model fields: where an account's signed requests may be sent."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# The sandbox runs on this machine (the demo and the tests point accounts at it).
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def validate_base_url(value: str) -> None:
    """An account's base URL override: https:// only, or http:// to this machine when
    ITNIO_ALLOW_LOCAL_BASE_URL allows it (the sandbox). Every request to it carries the
    account's signature, so it must never point at a host that could read it in clear."""
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return
    local = parts.scheme == "http" and (parts.hostname or "") in LOCAL_HOSTS
    if local and settings.ITNIO_ALLOW_LOCAL_BASE_URL:
        return
    if local:
        raise ValidationError(
            _(
                "An http:// address on this machine is accepted only when "
                "ITNIO_ALLOW_LOCAL_BASE_URL is on (the sandbox); use an https:// address."
            ),
            code="local_base_url",
        )
    raise ValidationError(
        _("The base URL must start with https:// (signed requests never travel in clear)."),
        code="insecure_base_url",
    )
