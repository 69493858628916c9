"""Building ITNIO clients for accounts: limits from settings, credentials from the account."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.utils.translation import gettext

from campaigns.fields import UndecryptableSecret
from campaigns.models import ItnioAccount
from itnio_portal.itnio import ItnioClient, ItnioError, Limits
from itnio_portal.itnio.transport import RequestEvent


class CredentialsUnavailable(ItnioError):
    """The account's stored secret cannot be used (not decryptable)."""


@cache
def _limits(send_group_max: int, loop_count_max: int, text_max: int, text_max_short: int) -> Limits:
    return Limits(
        send_group_max=send_group_max,
        loop_count_max=loop_count_max,
        text_max=text_max,
        text_max_short_languages=text_max_short,
    )


def itnio_limits() -> Limits:
    """The documented limits with the overrides the settings make where the docs disagree."""
    return _limits(
        settings.ITNIO_SEND_GROUP_MAX,
        settings.ITNIO_LOOP_COUNT_MAX,
        settings.ITNIO_TTS_TEXT_MAX,
        settings.ITNIO_TTS_TEXT_MAX_SHORT,
    )


def itnio_client_for(
    account: ItnioAccount, *, on_request: Callable[[RequestEvent], None] | None = None
) -> ItnioClient:
    """A client signed with the account's credentials, pointed at its (or the global) base URL."""
    if isinstance(account.api_secret, UndecryptableSecret) or not account.api_secret:
        raise CredentialsUnavailable(
            gettext(
                "The API secret of account %(name)r cannot be decrypted with the configured "
                "ITNIO_FIELD_KEYS. Add the key it was stored with, or enter the secret again."
            )
            % {"name": account.name}
        )
    return ItnioClient(
        account.effective_base_url,
        account.api_key,
        account.api_secret,
        connect_timeout=settings.ITNIO_CONNECT_TIMEOUT,
        read_timeout=settings.ITNIO_READ_TIMEOUT,
        max_read_retries=settings.ITNIO_MAX_READ_RETRIES,
        limits=itnio_limits(),
        on_request=on_request,
    )
