"""The one HTTP path of outbound webhooks, with its SSRF guard.

A subscription URL must be https:// (WEBHOOKS_ALLOW_HTTP allows http://) and may not reach
private, loopback, link-local (169.254.0.0/16, the cloud metadata address), shared, reserved or
multicast addresses, IPv4, IPv6 or IPv4-mapped, unless WEBHOOKS_ALLOW_PRIVATE_ADDRESSES is on.
It is checked when subscribing (every address the name resolves to) and again on the address the
socket actually connected to (a name that resolves elsewhere later, DNS rebinding, is refused at
connect time). Redirects are never followed, proxies from the environment never used, and every
request has short timeouts.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

USER_AGENT = "ITNIO-Portal-Webhooks/1"


class RefusedAddress(Exception):
    """A webhook URL the portal will not send to; `str()` says why, fit for staff."""


def _private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", False))


def address_problem(address: str) -> str | None:
    """Why this IP address may not receive webhooks, or None."""
    if _private_allowed():
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return _("%(address)s is not an IP address") % {"address": address}
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        kind = _("a loopback address")
    elif ip.is_link_local:
        kind = _("a link-local address (cloud metadata)")
    elif ip.is_private:
        kind = _("a private address")
    elif ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        kind = _("not a public address")
    else:
        return None
    return _(
        "%(address)s is %(kind)s; webhooks go to public addresses only "
        "(WEBHOOKS_ALLOW_PRIVATE_ADDRESSES allows others)"
    ) % {"address": str(ip), "kind": kind}


def url_problem(url: str, *, resolve: bool = True) -> str | None:
    """Why webhooks may not be sent to `url`, or None (with `resolve`, every address the host
    name resolves to is checked)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return _("This is not a valid URL.")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return _("A webhook URL starts with https:// and names a host.")
    if scheme == "http" and not getattr(settings, "WEBHOOKS_ALLOW_HTTP", False):
        return _("A webhook URL must start with https:// (WEBHOOKS_ALLOW_HTTP allows http://).")
    if parts.username or parts.password:
        return _("A webhook URL may not carry a user name or password.")
    if not resolve or _private_allowed():
        return None
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port or (443 if scheme == "https" else 80))
    except (socket.gaierror, UnicodeError, OSError):
        return _("The host %(host)s cannot be resolved.") % {"host": host}
    for info in infos:
        problem = address_problem(str(info[4][0]))
        if problem:
            return _("%(host)s resolves to %(problem)s") % {"host": host, "problem": problem}
    return None


def _checked_socket(sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    problem = address_problem(str(peer))
    if problem:
        sock.close()
        raise RefusedAddress(problem)
    return sock


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(super()._new_conn())


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked_socket(super()._new_conn())


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """Connects like requests does, then refuses a socket whose peer is not allowed."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPPool,
            "https": _GuardedHTTPSPool,
        }


def guarded_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # an environment proxy would hide the address connected to
    adapter = GuardedAdapter(max_retries=0)  # retries are the outbox's, with backoff
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def post(
    session: requests.Session, url: str, *, body: bytes, headers: dict[str, str]
) -> requests.Response:
    """POST a signed body: checked URL, short timeouts, no redirect followed. Raises
    RefusedAddress or a requests exception."""
    problem = url_problem(url)
    if problem:
        raise RefusedAddress(problem)
    return session.post(
        url,
        data=body,
        headers=headers,
        timeout=(settings.WEBHOOKS_CONNECT_TIMEOUT, settings.WEBHOOKS_READ_TIMEOUT),
        allow_redirects=False,
        stream=True,
    )
