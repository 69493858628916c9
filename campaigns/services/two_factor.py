"""Two-factor login rules: who must have a device (TWO_FACTOR_REQUIRED), whether a session
passed the second factor, and resetting a user's devices (audited).

The devices are django-otp's (a TOTP generator, and backup codes as static tokens); the pages
that set them up are django-two-factor-auth's (campaigns/two_factor.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from two_factor.utils import USER_DEFAULT_DEVICE_ATTR_NAME, default_device

from campaigns.services.actors import Actor

logger = logging.getLogger(__name__)

#: Permissions that let a user spend money or manage credentials (TWO_FACTOR_REQUIRED=privileged).
PRIVILEGED_PERMISSIONS = (
    "campaigns.place_calls",
    "campaigns.change_itnioaccount",
    "campaigns.add_apitoken",
    "auth.change_user",
)


class TwoFactorError(Exception):
    """A reset that may not be done: the sentence says why."""


def has_device(user: Any) -> bool:
    """The user has a confirmed TOTP device (the one the login asks for)."""
    return default_device(user) is not None


def device_required(user: Any) -> bool:
    """TWO_FACTOR_REQUIRED applies to this user."""
    mode = settings.TWO_FACTOR_REQUIRED
    if mode == "false" or not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    if mode == "true" or user.is_superuser:
        return True
    return any(user.has_perm(name) for name in PRIVILEGED_PERMISSIONS)


def _verified(user: Any) -> bool:
    return bool(getattr(user, "is_verified", lambda: False)())


def code_given_if_device(user: Any) -> bool:
    """A user with a device gave its code in this session (the admin lets no one else in)."""
    return _verified(user) or not has_device(user)


def second_factor_passed(user: Any) -> bool:
    """This session gave the code, or the user has no device and needs none. (Approvals and other
    pages that need the second factor when it is on ask `second_factor_passed`.)"""
    if _verified(user):
        return True
    return not has_device(user) and not device_required(user)


def needs_setup(user: Any) -> bool:
    """Signed in with the password only, has no device, and must have one."""
    return not _verified(user) and device_required(user) and not has_device(user)


def two_factor_reset(*, user: Any, actor: Actor) -> int:
    """Delete every device of `user` (TOTP and backup codes): their next login asks for the
    password only (and, when required, sends them to set up a new device). Audited in the
    user's history and the log. Returns how many devices were removed.

    An Admin cannot reset a superuser's devices (only a superuser edits a superuser)."""
    if (
        actor.user is not None
        and user.is_superuser
        and not actor.user.is_superuser
        and actor.user.pk != user.pk
    ):
        raise TwoFactorError(
            _("Only a superuser may reset the two-factor devices of superuser %(user)s.")
            % {"user": user.get_username()}
        )
    with transaction.atomic():
        devices = list(devices_for_user(user, confirmed=None))
        for device in devices:
            device.delete()
        if actor.user is not None:
            LogEntry.objects.log_actions(
                user_id=actor.user.pk,
                queryset=[user],
                action_flag=CHANGE,
                change_message=f"Reset two-factor devices ({len(devices)} removed)",
                single_object=True,
            )
    if hasattr(user, USER_DEFAULT_DEVICE_ATTR_NAME):
        delattr(user, USER_DEFAULT_DEVICE_ATTR_NAME)
    logger.warning(
        "Two-factor: devices of %s reset by %s at %s (%d removed)",
        user.get_username(),
        actor.label,
        timezone.now().isoformat(),
        len(devices),
    )
    return len(devices)
