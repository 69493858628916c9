"""Command line: run the sandbox in the foreground (`python -m itnio_portal.itnio.sandbox`)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from .persist import StateFile, StateFileError
from .server import SandboxServer
from .state import APP_KINDS, SandboxState

DEFAULT_ACCOUNT = ("sandboxKey", "sandboxSecret")
DEFAULT_APP = "sandboxApp"


def _account(spec: str) -> tuple[str, str]:
    key, sep, secret = spec.partition(":")
    if not sep or not key or not secret:
        raise argparse.ArgumentTypeError(f"--account wants KEY:SECRET, got {spec!r}")
    return key, secret


def _app(spec: str) -> tuple[str, str, str, str | None]:
    """KEY:APPID[:voice|ai][:push_url] (the push URL may itself contain colons)."""
    key, sep, rest = spec.partition(":")
    app_id, _, rest = rest.partition(":")
    if not sep or not key or not app_id:
        raise argparse.ArgumentTypeError(
            f"--app wants KEY:APPID[:voice|ai][:push_url], got {spec!r}"
        )
    kind = "voice"
    head, _, tail = rest.partition(":")
    if head in APP_KINDS:
        kind, rest = head, tail
    return key, app_id, kind, rest or None


def _ai_job(spec: str) -> tuple[str, int, int]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"--ai-job wants APPID:JOBID[:CUSTOMERS], got {spec!r}")
    try:
        return parts[0], int(parts[1]), int(parts[2]) if len(parts) == 3 else 0
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ai-job numbers must be integers: {spec!r}") from None


def _currency(spec: str) -> tuple[str, str]:
    app_id, sep, currency = spec.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"--currency wants APPID:CUR, got {spec!r}")
    return app_id, currency.upper()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m itnio_portal.itnio.sandbox",
        description="Run an ITNIO-compatible sandbox HTTP server (control API under /_sandbox/).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--account", type=_account, action="append", default=[], help="KEY:SECRET")
    parser.add_argument("--balance", default="100.00", help="starting balance of every account")
    parser.add_argument(
        "--app", type=_app, action="append", default=[], help="KEY:APPID[:voice|ai][:push_url]"
    )
    parser.add_argument("--currency", type=_currency, action="append", default=[], help="APPID:EUR")
    parser.add_argument(
        "--ai-job", type=_ai_job, action="append", default=[], help="APPID:JOBID[:CUSTOMERS]"
    )
    parser.add_argument("--life-scale", type=float, default=1.0, help="0 = calls final at once")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="probability of HTTP 502")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="drop-after-accept rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timestamp-tolerance", type=float, default=300.0)
    parser.add_argument("--send-group-max", type=int, default=1000)
    parser.add_argument("--push-interval", type=float, default=1.0)
    parser.add_argument("--push-retry-interval", type=float, default=1800.0)
    parser.add_argument(
        "--ai-max-robots", type=int, default=5, help="the account maximum of AI robots (-52)"
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="keep uploaded files, SIP groups, AI tasks, call records and balances in FILE "
        "across restarts (loaded on start, saved after changes and on stop); without it the "
        "sandbox starts empty",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def build_state(args: argparse.Namespace) -> SandboxState:
    state = SandboxState(
        seed=args.seed,
        life_scale=args.life_scale,
        timestamp_tolerance=args.timestamp_tolerance,
        send_group_max=args.send_group_max,
        push_retry_interval=args.push_retry_interval,
        ai_max_robots=args.ai_max_robots,
    )
    accounts = args.account or [DEFAULT_ACCOUNT]
    for key, secret in accounts:
        state.add_account(key, secret, balance=args.balance)
    apps = args.app or (
        [(DEFAULT_ACCOUNT[0], DEFAULT_APP, "voice", None)] if not args.account else []
    )
    currencies = dict(args.currency)
    for key, app_id, kind, push_url in apps:
        state.add_app(
            key, app_id, kind=kind, push_url=push_url, currency=currencies.get(app_id, "USD")
        )
    for app_id, job_id, customers in args.ai_job:
        state.add_ai_job(app_id, job_id, customers=customers)
    state.faults.latency = args.latency_ms / 1000
    state.faults.http_502_rate = args.fail_rate
    state.faults.drop_after_accept_rate = args.drop_rate
    return state


def open_state_file(path: str | None, state: SandboxState) -> tuple[StateFile | None, str]:
    """The --state file loaded into ``state`` and a line saying so; StateFileError if damaged."""
    if not path:
        return None, "  state: none (starts empty; --state FILE keeps it across restarts)"
    state_file = StateFile(path, state)
    if state_file.load():
        with state.lock:
            kept = f"{len(state.files)} files, {len(state.calls)} calls"
        return state_file, f"  state: {path} (loaded: {kept})"
    return state_file, f"  state: {path} (new)"


def serve_until_stopped(server: SandboxServer) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop cleanly (so --state is saved)."""

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # A second signal (the demo sends SIGTERM after the terminal's Ctrl-C) must not cut
        # the last save short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        state = build_state(args)
        state_file, state_line = open_state_file(args.state, state)
    except (KeyError, ValueError) as exc:
        parser.error(str(exc))
    except StateFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = SandboxServer(
        state,
        host=args.host,
        port=args.port,
        push_interval=args.push_interval,
        state_file=state_file,
    )
    print(f"ITNIO sandbox on {server.base_url} (control API: {server.base_url}/_sandbox/health)")
    for account in state.accounts.values():
        apps = ", ".join(f"{a.app_id} ({a.kind}, {a.currency})" for a in account.apps.values())
        print(f"  account {account.api_key}: apps {apps or '-'}")
    print(state_line)
    sys.stdout.flush()
    serve_until_stopped(server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
