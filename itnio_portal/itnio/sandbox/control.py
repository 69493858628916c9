"""The unauthenticated JSON control API under /_sandbox/ for other processes (bench, demo)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .state import SandboxState

if TYPE_CHECKING:
    from .server import SandboxServer

Result = tuple[int, Any]
_SETTINGS = {
    "life_scale": float,
    "timestamp_tolerance": float,
    "send_group_max": int,
    "phone_quota": int,
    "push_retry_interval": float,
    "push_max_retries": int,
    "push_timeout": float,
    "push_as_array": bool,
    "push_duplicates": bool,
    "ai_max_robots": int,
    "import_customer_max": int,
}


class ControlError(Exception):
    """A bad control request (HTTP 400)."""


def _one(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _health(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    state = server.state
    with state.lock:
        return 200, {
            "ok": True,
            "baseUrl": server.base_url,
            "now": state.now(),
            "requests": len(state.records),
            "calls": len(state.calls),
            "pendingPushes": len(state.pending_pushes()),
        }


def _requests(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    since = int(_one(query, "since") or 0)
    records = server.state.requests_for(_one(query, "path"))
    return 200, {"requests": [r.to_dict() for r in records if r.seq > since]}


def _calls(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    state, callee = server.state, _one(query, "callee")
    with state.lock:
        state.advance()
        now = state.now()
        calls = [c.to_dict(now) for c in state.calls.values() if callee in (None, c.callee)]
    return 200, {"calls": calls}


def _ai_calls(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    state = server.state
    with state.lock:
        state.advance()
        calls = [c.to_dict(state.public_url) for c in state.ai_calls.values()]
    return 200, {"aiCalls": calls}


def _accepted(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    return 200, {"accepted": dict(server.state.accepted_callees())}


def _pushes(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    state = server.state
    with state.lock:
        return 200, {
            "attempts": [a.to_dict() for a in state.push_attempts],
            "pending": [j.voice_id for j in state.pending_pushes()],
            "gaveUp": [j.voice_id for j in state.push_gave_up],
        }


def _flush(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    return 200, {"attempts": [a.to_dict() for a in server.state.flush_pushes()]}


def _get_faults(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    return 200, server.state.faults.to_dict()


def _set_faults(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    try:
        server.state.faults.configure(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise ControlError(f"bad fault settings: {exc!r}") from None
    return 200, server.state.faults.to_dict()


def _reset_faults(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    server.state.reset_faults()
    return 200, server.state.faults.to_dict()


def _settings_view(state: SandboxState) -> dict[str, Any]:
    return {name: getattr(state, name) for name in _SETTINGS}


def _get_settings(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    return 200, _settings_view(server.state)


def _set_settings(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    unknown = set(body) - set(_SETTINGS)
    if unknown:
        raise ControlError(f"unknown settings {sorted(unknown)}; known: {sorted(_SETTINGS)}")
    with server.state.lock:
        for name, value in body.items():
            setattr(server.state, name, _SETTINGS[name](value))
    return 200, _settings_view(server.state)


def _accounts_view(state: SandboxState) -> dict[str, Any]:
    with state.lock:
        return {
            "accounts": [
                {  # never the secret
                    "apiKey": a.api_key,
                    "balance": format(a.balance, "f"),
                    "gift": format(a.gift, "f"),
                    "credit": format(a.credit, "f"),
                    "apps": [
                        {
                            "appId": app.app_id,
                            "kind": app.kind,
                            "pushUrl": app.push_url,
                            "currency": app.currency,
                        }
                        for app in a.apps.values()
                    ],
                }
                for a in state.accounts.values()
            ],
            "aiJobs": [job.to_dict() for job in state.ai_jobs.values()],
            "sipGroups": [group.to_dict() for group in state.sip_groups],
        }


def _get_accounts(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    return 200, _accounts_view(server.state)


def _add_accounts(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    """Body: {"accounts": [...], "apps": [...], "ai_jobs": [...]} (a single account works too)."""
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    state = server.state
    accounts = list(body.get("accounts") or [])
    if "api_key" in body and "api_secret" in body:
        accounts.append(body)
    try:
        for item in accounts:
            extra = {k: str(item[k]) for k in ("balance", "gift", "credit") if k in item}
            state.add_account(item["api_key"], item["api_secret"], **extra)
        for item in body.get("apps") or []:
            state.add_app(
                item["api_key"],
                item["app_id"],
                kind=item.get("kind", "voice"),
                push_url=item.get("push_url"),
                currency=item.get("currency", "USD"),
            )
        for item in body.get("ai_jobs") or []:
            state.add_ai_job(
                item["app_id"],
                int(item["job_id"]),
                customers=int(item.get("customers", 0)),
                status=item.get("status", "CAN_START"),
            )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ControlError(f"bad account document: {exc!r}") from None
    return 200, _accounts_view(state)


def _clock(server: SandboxServer, query: dict[str, list[str]], body: Any) -> Result:
    """{"advance": seconds} moves the sandbox clock forward (adds to clock_offset)."""
    state = server.state
    if isinstance(body, dict) and "advance" in body:
        with state.lock:
            state.clock_offset += float(body["advance"])
    state.advance()
    return 200, {"now": state.now(), "offset": state.clock_offset}


Action = Callable[["SandboxServer", dict[str, list[str]], Any], Result]
ROUTES: dict[tuple[str, str], Action] = {
    ("GET", "/_sandbox/health"): _health,
    ("GET", "/_sandbox/requests"): _requests,
    ("GET", "/_sandbox/calls"): _calls,
    ("GET", "/_sandbox/accepted-callees"): _accepted,
    ("GET", "/_sandbox/ai-calls"): _ai_calls,
    ("GET", "/_sandbox/pushes"): _pushes,
    ("POST", "/_sandbox/flush-pushes"): _flush,
    ("GET", "/_sandbox/faults"): _get_faults,
    ("POST", "/_sandbox/faults"): _set_faults,
    ("POST", "/_sandbox/reset-faults"): _reset_faults,
    ("GET", "/_sandbox/settings"): _get_settings,
    ("POST", "/_sandbox/settings"): _set_settings,
    ("GET", "/_sandbox/accounts"): _get_accounts,
    ("POST", "/_sandbox/accounts"): _add_accounts,
    ("GET", "/_sandbox/clock"): _clock,
    ("POST", "/_sandbox/clock"): _clock,
}


def handle(server: SandboxServer, method: str, path: str, query: str, raw: bytes) -> Result:
    """Dispatch one control request; returns (HTTP status, JSON document)."""
    action = ROUTES.get((method, path.rstrip("/")))
    if action is None:
        known = sorted(f"{m} {p}" for m, p in ROUTES)
        return 404, {"error": f"no control endpoint {method} {path}", "endpoints": known}
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        return 400, {"error": "body is not valid JSON"}
    try:
        return action(server, parse_qs(query), body)
    except ControlError as exc:
        return 400, {"error": str(exc)}
