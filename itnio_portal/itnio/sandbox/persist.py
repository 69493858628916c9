"""`--state FILE`: what the sandbox's accounts did, kept across restarts in one JSON document.

Without it the sandbox starts empty every time (as the tests expect). With it, the accounts'
uploaded files, SIP phone groups, AI tasks with their customers, every call and AI call (so the
records and the pending pushes) and each account's balance are loaded on start and written
after every change (debounced, so a burst of requests is one write) and on stop. A write goes to
a temporary file in the same folder, is flushed to disk, then renamed over the old one: a crash
leaves the previous complete file, never half of one. Secrets are not written: accounts and apps
come from the command line (or the portal's database) on every start; the file adds what they
did. A file that cannot be read stops the start with a StateFileError that names it.

This module is state.py's serialiser: it reads and restores SandboxState's private queues and
counters, and nothing else touches them.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from .ai import AiCall, AiJob, AiLife, AiPerson, AiTurnLife
from .calls import Call, Life, Pricing
from .entities import SipGroup, UploadedFile
from .pushes import PushJob
from .state import SandboxState

log = logging.getLogger("itnio_portal.itnio.sandbox")

FORMAT = "itnio-sandbox-state"
VERSION = 1
DEBOUNCE_SECONDS = 0.5


class StateFileError(Exception):
    """The state file exists but cannot be used (the message says which file and why)."""


def _plain(value: Any) -> Any:
    """json.dumps' default: Decimals as strings (exact); tuples are written as lists."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def snapshot(state: SandboxState) -> dict[str, Any]:
    """Everything worth keeping, as JSON-ready values.

    The state's lock is held only to copy what can still change (a call's final flag, AI tasks
    and their customers, queued pushes, balances); calls, files and SIP groups are otherwise
    never modified once made, so they are rendered after the lock is let go.
    """
    with state.lock:
        calls = [(c, c.final) for c in state.calls.values()]
        ai_calls = [(c, c.final) for c in state.ai_calls.values()]
        files, groups = list(state.files.values()), list(state.sip_groups)
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "savedAt": state.now(),
            "clockOffset": state.clock_offset,
            "voiceSeq": state._voice_seq,
            "balances": {
                key: {"balance": a.balance, "gift": a.gift, "credit": a.credit}
                for key, a in state.accounts.items()
            },
            "aiJobs": [_ai_job_row(j) for j in state.ai_jobs.values()],
            "pushQueue": [dict(vars(p)) for p in state.pending_pushes()],
        }
    doc["files"] = [dict(vars(f)) for f in files]
    doc["sipGroups"] = [dict(vars(g)) for g in groups]
    doc["calls"] = [_call_row(c, final) for c, final in calls]
    doc["aiCalls"] = [_ai_call_row(c, final) for c, final in ai_calls]
    return doc


def _call_row(call: Call, final: bool) -> dict[str, Any]:
    return {
        **vars(call),
        "life": dict(vars(call.life)),
        "pricing": dict(vars(call.pricing)),
        "final": final,
    }


def _ai_job_row(job: AiJob) -> dict[str, Any]:
    return {
        **vars(job),
        "persons": [dict(vars(p)) for p in job.persons],
        "robot_free_at": list(job.robot_free_at),
    }


def _ai_call_row(call: AiCall, final: bool) -> dict[str, Any]:
    row = {k: v for k, v in vars(call).items() if k not in ("job", "person")}
    life = dict(vars(call.life), turns=[dict(vars(t)) for t in call.life.turns])
    return {
        **row,
        "final": final,
        "life": life,
        "jobKey": [call.job.app_id, call.job.job_id],
        "personId": call.person.person_id,
    }


def _call(row: dict[str, Any]) -> Call:
    life = dict(row["life"], usd_rate=Decimal(row["life"]["usd_rate"]))
    pricing = dict(row["pricing"], base_cost_usd=Decimal(row["pricing"]["base_cost_usd"]))
    return Call(**dict(row, life=Life(**life), pricing=Pricing(**pricing)))


def _ai_job(row: dict[str, Any]) -> AiJob:
    persons = [AiPerson(**p) for p in row["persons"]]
    return AiJob(**dict(row, persons=persons))


def _ai_life(row: dict[str, Any]) -> AiLife:
    turns = tuple(AiTurnLife(**t) for t in row["turns"])
    return AiLife(**dict(row, turns=turns, concern=tuple(row["concern"]), pay=Decimal(row["pay"])))


def restore(state: SandboxState, doc: Any) -> None:
    """Put a snapshot into ``state`` (already holding the command line's accounts and apps).

    The file wins for what it holds: an AI task of the same app and id replaces the one the
    command line made. Balances are restored for the accounts configured now. Raises
    StateFileError-worthy exceptions (KeyError, TypeError, ValueError) on a malformed document.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f'not a sandbox state file (no "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise ValueError(f"version {doc.get('version')!r}, this sandbox reads {VERSION}")
    with state.lock:
        state.clock_offset = float(doc["clockOffset"])
        for key, money in doc["balances"].items():
            account = state.accounts.get(key)
            if account is not None:
                account.balance = Decimal(money["balance"])
                account.gift, account.credit = Decimal(money["gift"]), Decimal(money["credit"])
        state.files = {row["file_id"]: UploadedFile(**row) for row in doc["files"]}
        state.sip_groups = [SipGroup(**row) for row in doc["sipGroups"]]
        for row in doc["aiJobs"]:
            job = _ai_job(row)
            state.ai_jobs[(job.app_id, job.job_id)] = job
        state.calls = {row["voice_id"]: _call(row) for row in doc["calls"]}
        persons = {p.person_id: p for job in state.ai_jobs.values() for p in job.persons}
        state.ai_calls = {}
        for row in doc["aiCalls"]:
            app_id, job_id = row["jobKey"]
            job = state.ai_jobs[(app_id, int(job_id))]
            fields = {k: v for k, v in row.items() if k not in ("jobKey", "personId", "life")}
            call = AiCall(
                **fields, job=job, person=persons[row["personId"]], life=_ai_life(row["life"])
            )
            state.ai_calls[call.call_id] = call
        state._push_queue = [_retargeted(state, PushJob(**row)) for row in doc["pushQueue"]]
        state._push_queue = [job for job in state._push_queue if job.url]
        _rebuild_queues(state, int(doc["voiceSeq"]))
        state.advance()  # what came due while the sandbox was stopped happens now


def _retargeted(state: SandboxState, job: PushJob) -> PushJob:
    """A queued push goes to its app's push URL as configured now ("" when it has none)."""
    call: Call | AiCall | None = state.calls.get(job.voice_id) or state.ai_calls.get(job.voice_id)
    app = state.apps.get(call.app_id) if call is not None else None
    job.url = (app.push_url or "") if app is not None else ""
    return job


def _rebuild_queues(state: SandboxState, voice_seq: int) -> None:
    """The pending-final heaps and the id counters, from the calls now in the state."""
    state._finals = [
        (c.final_at, n, c.voice_id) for n, c in enumerate(state.calls.values()) if not c.final
    ]
    heapq.heapify(state._finals)
    state._ai_finals = [
        (c.final_at, c.key_id, c.call_id) for c in state.ai_calls.values() if not c.final
    ]
    heapq.heapify(state._ai_finals)
    state._voice_seq = voice_seq
    state._file_seq = itertools.count(len(state.files) + 1)
    persons = [p.person_id for job in state.ai_jobs.values() for p in job.persons]
    state._person_seq = itertools.count(max(persons, default=0) + 1)
    state._ai_call_seq = itertools.count(
        max((c.key_id for c in state.ai_calls.values()), default=0) + 1
    )


class StateFile:
    """The --state FILE of one running sandbox: load once, then save after changes and on stop."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        state: SandboxState,
        *,
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.state = state
        self.debounce = debounce
        self._dirty = threading.Event()
        self._closing = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_duration = 0.0

    def load(self) -> bool:
        """Restore the file into the state; False when there is none yet (it is created)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StateFileError(f"cannot read the sandbox state file {self.path}: {exc}") from None
        try:
            restore(self.state, json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise StateFileError(
                f"the sandbox state file {self.path} is damaged ({type(exc).__name__}: {exc}); "
                "move it away to start empty, or restore a good copy"
            ) from None
        return True

    def save(self) -> None:
        """Write the state now: a temporary file, flushed, then renamed over the old one."""
        with self._write_lock:
            began = time.monotonic()
            doc = snapshot(self.state)
            text = json.dumps(doc, default=_plain, ensure_ascii=False, separators=(",", ":"))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            with open(temporary, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
            self._last_duration = time.monotonic() - began
            try:  # the rename itself survives a power cut once the folder is flushed
                folder = os.open(self.path.parent, os.O_RDONLY)
            except OSError:
                return
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

    def changed(self) -> None:
        """Something worth keeping changed: save within the debounce interval."""
        self._dirty.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="itnio-sandbox-state", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the writer and save once more (the state as it is at shutdown)."""
        self._closing.set()
        self._dirty.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.save()

    def _run(self) -> None:
        while True:
            self._dirty.wait()
            # Coalesce a burst of changes; a big state (a save that takes long) is saved less
            # often, so writing never takes more than about a fifth of the sandbox's time.
            if self._closing.wait(max(self.debounce, 4 * self._last_duration)):
                return  # stop() saves
            self._dirty.clear()
            try:
                self.save()
            except (OSError, TypeError, ValueError):
                log.exception("could not save the sandbox state to %s", self.path)
