"""The client's shared plumbing: credentials, signing per attempt, the transport, turning an
envelope into data or a typed error. The endpoints live in client.py and client_ai.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from django.utils.translation import gettext as _

from .envelope import Envelope
from .errors import (
    Family,
    ItnioOutcomeUnknownError,
    ItnioProtocolError,
    ItnioTransportError,
    api_error_for,
)
from .limits import DEFAULT_LIMITS, Limits
from .signing import signed_headers
from .transport import RequestEvent, Transport


def optional_str(value: str | None) -> str | None:
    # Optional fields are omitted rather than sent empty or null: "" is treated as "not given".
    return None if value is None or value == "" else value


class ClientBase:
    """Credentials, limits and transport of an ITNIO client; no endpoint of its own."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        limits: Limits = DEFAULT_LIMITS,
        max_read_retries: int = 3,
        on_request: Callable[[RequestEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError("ItnioClient needs a non-empty api_key and api_secret")
        self.base_url = base_url.rstrip("/")
        self.limits = limits
        self._api_key = api_key
        self._api_secret = api_secret
        self._clock = clock
        self._transport = Transport(
            self.base_url,
            self._headers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_read_retries=max_read_retries,
            sleep=sleep,
            clock=clock,
            on_request=on_request,
            session=session,
            secrets=(api_secret, api_key),
        )

    def __repr__(self) -> str:
        # Neither the secret nor the key: reprs end up in logs and error pages.
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    def close(self) -> None:
        self._transport.close()

    def _headers(self) -> dict[str, str]:
        # Called by the transport once per attempt, so retries carry a fresh Timestamp/Sign.
        return signed_headers(self._api_key, self._api_secret, self._clock())

    # ---- shared plumbing ---------------------------------------------------------------------

    def _call(
        self,
        endpoint: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        send: bool,
        family: Family = "voice",
        top_level_data: bool = False,
    ) -> Envelope:
        """Send one request and return its success envelope; raise typed errors otherwise."""
        response = self._transport.request(
            method,
            path,
            body=body,
            send=send,
            endpoint=endpoint,
            top_level_data=top_level_data,
        )
        envelope = response.envelope
        if not envelope.ok:
            raise api_error_for(family, envelope.code, envelope.reason, endpoint)
        return envelope

    @staticmethod
    def _bad_data(endpoint: str, send: bool, expected: str) -> ItnioTransportError:
        """A success envelope whose data has the wrong shape.

        For a send this means ITNIO accepted something we cannot identify (e.g. no voiceId),
        so the outcome is unknown; for a read it is a protocol error.
        """
        if send:
            message = _(
                "ITNIO answered success but 'data' is not %(expected)s. The outcome is unknown."
            )
            return ItnioOutcomeUnknownError(message % {"expected": expected}, endpoint=endpoint)
        message = _("ITNIO answered success but 'data' is not %(expected)s.")
        return ItnioProtocolError(message % {"expected": expected}, endpoint=endpoint)

    def _data_str(self, envelope: Envelope, endpoint: str, send: bool) -> str:
        data = envelope.data
        # An ID could in principle come back as a JSON number; keep it as text.
        if isinstance(data, int) and not isinstance(data, bool):
            data = str(data)
        if not isinstance(data, str) or not data:
            raise self._bad_data(endpoint, send, _("a non-empty string"))
        return data

    def _data_dict(self, envelope: Envelope, endpoint: str, send: bool) -> dict[str, Any]:
        if not isinstance(envelope.data, dict):
            raise self._bad_data(endpoint, send, _("an object"))
        return envelope.data
