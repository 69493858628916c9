"""In-memory, thread-safe sandbox state: accounts, apps, files, calls, jobs, records, pushes
(the record types themselves are in entities.py), and the controllable ManualClock."""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .ai import (
    COMPLETED,
    DEFAULT_CHANNELS,
    NOT_CALLED,
    RUNNING,
    STARTABLE,
    AiCall,
    AiJob,
    AiPerson,
    make_ai_life,
)
from .calls import (
    EXCHANGE,
    TYPE_CODE,
    TYPE_GROUP,
    TYPE_SIP,
    Call,
    make_life,
    money,
    price,
    vendor_now,
)
from .entities import Account, App, RequestRecord, SipGroup, UploadedFile
from .faults import Faults, Hook, path_matches
from .pushes import PushAttempt, PushJob, post_json

APP_KINDS = ("voice", "ai")


class ManualClock:
    """A controllable clock for tests: ``SandboxState(clock=ManualClock(...))``."""

    def __init__(self, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._now = time.time() if start is None else float(start)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, epoch: float) -> None:
        with self._lock:
            self._now = float(epoch)


class SandboxState:
    """Everything the fake ITNIO knows. All mutation happens under ``self.lock``."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        seed: int = 0,
        timestamp_tolerance: float = 300.0,
        send_group_max: int = 1000,
        life_scale: float = 1.0,
        phone_quota: int = 100,
        push_retry_interval: float = 1800.0,
        push_max_retries: int = 3,
        push_timeout: float = 5.0,
        push_as_array: bool = False,
        push_duplicates: bool = False,
        max_records: int = 100_000,
        ai_max_robots: int = 5,
    ) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = clock or time.time
        self.clock_offset = 0.0
        self.random = random.Random(seed)
        # §1 does not document the expiry window; 300 s is the sandbox default.
        self.timestamp_tolerance = timestamp_tolerance
        # §3.2: the newest doc allows 1000 callees (older ones 200; the portal chunks at 200).
        self.send_group_max = send_group_max
        self.life_scale = life_scale
        self.phone_quota = phone_quota
        # §6.4: failed pushes are retried every 30 minutes, up to 3 times.
        self.push_retry_interval = push_retry_interval
        self.push_max_retries = push_max_retries
        self.push_timeout = push_timeout
        self.push_as_array = push_as_array
        self.push_duplicates = push_duplicates
        self.faults = Faults(self.random, self.lock)
        self.misbilled: list[str] = []  # voiceIds the misbill fault billed wrongly
        self.accounts: dict[str, Account] = {}
        self.apps: dict[str, App] = {}
        self.files: dict[str, UploadedFile] = {}
        self.sip_groups: list[SipGroup] = []
        self.ai_jobs: dict[tuple[str, int], AiJob] = {}
        # AI voice (itnio-api.md §5): the account's robot maximum (-52 above it), the lines of
        # each app (channelList; DEFAULT_CHANNELS when not set), scripts that are unbound (-55),
        # script variables every customer must carry in properties (-51).
        self.ai_max_robots = ai_max_robots
        self.import_customer_max = 100  # §5.5
        self.ai_channels: dict[str, list[tuple[str, str]]] = {}
        self.unbound_dialog_flows: set[int] = set()
        self.script_variables: dict[int, tuple[str, ...]] = {}
        self.ai_calls: dict[str, AiCall] = {}
        # Base URL of the running server, for recording URLs (set by SandboxServer).
        self.public_url = ""
        self._ai_finals: list[tuple[float, int, str]] = []
        self._job_seq = itertools.count(20001)
        self._person_seq = itertools.count(1)
        self._ai_call_seq = itertools.count(1)
        self.calls: dict[str, Call] = {}
        self.records: deque[RequestRecord] = deque(maxlen=max_records)
        self.push_attempts: list[PushAttempt] = []
        self.push_gave_up: list[PushJob] = []
        self._push_queue: list[PushJob] = []
        self._finals: list[tuple[float, int, str]] = []
        self._record_seq = itertools.count(1)
        self._file_seq = itertools.count(1)
        self._push_seq = itertools.count(1)
        self._voice_seq = 0
        self._flush_lock = threading.Lock()

    # ---- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """Sandbox time, epoch seconds (the settable ``clock`` plus ``clock_offset``)."""
        return self.clock() + self.clock_offset

    # ---- configuration -----------------------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        api_secret: str,
        *,
        balance: str | Decimal = "100.00",
        gift: str | Decimal = "0.00",
        credit: str | Decimal = "0.00",
    ) -> Account:
        with self.lock:
            account = self.accounts.get(api_key)
            if account is None:
                account = Account(
                    api_key, api_secret, Decimal(balance), Decimal(gift), Decimal(credit)
                )
                self.accounts[api_key] = account
            else:
                account.api_secret = api_secret
                account.balance, account.gift = Decimal(balance), Decimal(gift)
                account.credit = Decimal(credit)
            return account

    def add_app(
        self,
        api_key: str,
        app_id: str,
        *,
        kind: str = "voice",
        push_url: str | None = None,
        currency: str = "USD",
    ) -> App:
        if kind not in APP_KINDS:
            raise ValueError(f"kind must be one of {APP_KINDS}, got {kind!r}")
        if currency not in EXCHANGE:
            raise ValueError(f"currency must be one of {sorted(EXCHANGE)}, got {currency!r}")
        with self.lock:
            account = self.accounts.get(api_key)
            if account is None:
                raise KeyError(f"unknown api_key {api_key!r}: add_account first")
            existing = self.apps.get(app_id)
            if existing is not None and existing.api_key != api_key:
                raise ValueError(f"app {app_id!r} already belongs to another account")
            app = App(app_id, api_key, kind, push_url or None, currency)
            self.apps[app_id] = account.apps[app_id] = app
            return app

    def add_ai_job(
        self,
        app_id: str,
        job_id: int,
        *,
        customers: int = 0,
        status: str = "CAN_START",
        name: str = "",
        dialog_flow_id: int = 1,
        robot_count: int = 1,
    ) -> AiJob:
        """A job as if created at ITNIO's console, with `customers` synthetic customers."""
        with self.lock:
            job = AiJob(
                app_id,
                int(job_id),
                status,
                name=name or f"Job {job_id}",
                dialog_flow_id=dialog_flow_id,
                robot_count=robot_count,
                created_at=self.now(),
            )
            for index in range(1, customers + 1):
                job.persons.append(
                    AiPerson(
                        next(self._person_seq),
                        f"Customer {index}",
                        f"86138{int(job_id) % 10000:04d}{index:04d}",
                        None,
                        {},
                    )
                )
            self.ai_jobs[(app_id, int(job_id))] = job
            return job

    def channels_for(self, app_id: str) -> list[tuple[str, str]]:
        """The app's outbound lines (tenantPhoneNumberId, phoneNumber), §5.9."""
        with self.lock:
            return list(self.ai_channels.get(app_id, DEFAULT_CHANNELS))

    def new_job_id(self) -> int:
        with self.lock:
            while True:
                job_id = next(self._job_seq)
                if not any(key[1] == job_id for key in self.ai_jobs):
                    return job_id

    def new_person_id(self) -> int:
        with self.lock:
            return next(self._person_seq)

    def balance(self, api_key: str) -> Decimal:
        with self.lock:
            return self.accounts[api_key].balance

    # ---- faults (delegates, so tests can write state.fail_next(...)) ---------------------------

    def misbill_next(self, count: int = 1, *, kind: str = "cost") -> None:
        self.faults.misbill_next(count, kind=kind)

    def fail_next(self, path: str, count: int = 1, status: int = 502) -> None:
        self.faults.fail_next(path, count, status)

    def drop_next(self, path: str, count: int = 1) -> None:
        self.faults.drop_next(path, count)

    def business_code_next(self, path: str, code: str | int, reason: str, count: int = 1) -> None:
        self.faults.business_code_next(path, code, reason, count)

    @property
    def on_send_held(self) -> Hook | None:
        """Called with the RequestRecord after a send was validated, before it is processed."""
        return self.faults.on_send_held

    @on_send_held.setter
    def on_send_held(self, hook: Hook | None) -> None:
        self.faults.on_send_held = hook

    @property
    def on_send_answered(self) -> Hook | None:
        """Called with the RequestRecord after a send's response was written or dropped."""
        return self.faults.on_send_answered

    @on_send_answered.setter
    def on_send_answered(self, hook: Hook | None) -> None:
        self.faults.on_send_answered = hook

    def reset_faults(self) -> None:
        self.faults.reset()

    # ---- request record ----------------------------------------------------------------------

    def record_request(
        self, method: str, path: str, query: str, headers: dict[str, str], body: Any
    ) -> RequestRecord:
        with self.lock:
            record = RequestRecord(
                next(self._record_seq), self.now(), method, path, query, headers, body
            )
            self.records.append(record)
            return record

    def requests_for(self, path: str | None = None) -> list[RequestRecord]:
        """Records for ``path`` (exact, or below it: "/voice/recordGroup" matches ".../123")."""
        with self.lock:
            return [r for r in self.records if path is None or path_matches(path, r.path)]

    def accepted_callees(self) -> Counter[str]:
        """How often each callee was accepted over all sendGroup/sendCode (dropped ones too)."""
        with self.lock:
            return Counter(call.callee for call in self.calls.values())

    # ---- ids ---------------------------------------------------------------------------------

    def new_file_id(self, api_key: str, file_name: str) -> str:
        """Return "1" + yyyyMMdd + 32 hex + extension (§3.1 sample ``1202202254d4c…464.mp3``)."""
        with self.lock:
            day = vendor_now(self.now()).strftime("%Y%m%d")
            digest = hashlib.md5(
                f"{api_key}|{file_name}|{next(self._file_seq)}".encode()
            ).hexdigest()
            extension = file_name[file_name.rfind(".") :].lower()
            return f"1{day}{digest}{extension}"

    def _new_voice_id(self, submit_at: float) -> str:
        """19 digits: yyMMddHHmmss + a 7-digit counter, like seed 001's 2203031113381000002."""
        stamp = vendor_now(submit_at).strftime("%y%m%d%H%M%S")
        while True:
            self._voice_seq += 1
            voice_id = f"{stamp}{1_000_000 + self._voice_seq % 9_000_000:07d}"
            if voice_id not in self.calls:
                return voice_id

    # ---- calls -------------------------------------------------------------------------------

    def create_call(
        self,
        *,
        app: App,
        call_type: int,
        callee: str,
        display_num: str,
        voice_file_id: str,
        called_info: str,
        max_duration: int | None,
        max_ringing_time: int | None,
        request_seq: int,
        sip_group: SipGroup | None = None,
        account: str = "",
    ) -> Call:
        """Accept one call (caller holds the lock); its whole life is fixed now."""
        assert call_type in (TYPE_GROUP, TYPE_CODE, TYPE_SIP)
        assert (call_type == TYPE_SIP) == (sip_group is not None)
        submit_at = self.now()
        voice_id = self._new_voice_id(submit_at)
        life = make_life(
            voice_id, callee, max_duration=max_duration, max_ringing_time=max_ringing_time
        )
        misbill = self.faults.take_misbill() if life.charged_duration else None
        if misbill == "duration":
            step = int(life.bill_period.split("+")[1])
            life = dataclasses.replace(life, charged_duration=life.charged_duration + step)
        pricing = price(life, app.currency)
        if misbill:
            self.misbilled.append(voice_id)
        if misbill == "cost":
            wrong = Decimal(pricing.cost) * Decimal("1.5")
            pricing = dataclasses.replace(
                pricing, cost=money(wrong), settle_pay=money(wrong) if pricing.settle_pay else ""
            )
        call = Call(
            voice_id=voice_id,
            api_key=app.api_key,
            app_id=app.app_id,
            type=call_type,
            callee=callee,
            display_num=display_num,
            voice_file_id=voice_file_id,
            called_info=called_info,
            submit_at=submit_at,
            scale=max(0.0, self.life_scale),
            life=life,
            pricing=pricing,
            request_seq=request_seq,
            sip_group_name=sip_group.group_name if sip_group else "",
            phone_name=sip_group.phone_name if sip_group else "",
            account=account,
        )
        self.calls[voice_id] = call
        heapq.heappush(self._finals, (call.final_at, self._voice_seq, voice_id))
        self.advance()
        return call

    def advance(self) -> int:
        """Finalise every call whose hangup moment has passed: charge it, queue its push."""
        with self.lock:
            now = self.now()
            done = self._advance_ai(now)
            while self._finals and self._finals[0][0] <= now:
                _, _, voice_id = heapq.heappop(self._finals)
                call = self.calls[voice_id]
                if call.final:
                    continue
                call.final = True
                done += 1
                account = self.accounts.get(call.api_key)
                if account is not None:
                    account.balance -= call.pricing.base_cost_usd
                app = self.apps.get(call.app_id)
                if app is not None and app.push_url:
                    job = PushJob(voice_id, app.push_url, call.push_body(), next_due=now)
                    self._push_queue.append(job)
            return done

    # ---- AI calls ----------------------------------------------------------------------------

    def _advance_ai(self, now: float) -> int:
        """Start due AUTO jobs, end jobs past their endDateTime, dial the uncalled customers of
        RUNNING jobs and finalise the AI calls that ended (caller holds the lock)."""
        for job in self.ai_jobs.values():
            if job.status in STARTABLE and job.mode == "AUTO" and job.start_at is not None:
                if job.start_at <= now and job.persons:
                    job.status = RUNNING
            if job.end_at is not None and job.end_at <= now and job.status != COMPLETED:
                job.status = COMPLETED
            if job.status == RUNNING:
                self._dial(job, now)
        done = 0
        while self._ai_finals and self._ai_finals[0][0] <= now:
            _, _, call_id = heapq.heappop(self._ai_finals)
            call = self.ai_calls[call_id]
            if call.final:
                continue
            call.final = True
            call.person.status = "CALLED"
            done += 1
            account = self.accounts.get(call.api_key)
            if account is not None:
                account.balance -= call.life.pay
            app = self.apps.get(call.app_id)
            if app is not None and app.push_url:
                payload = call.push_body(self.public_url)
                self._push_queue.append(PushJob(call_id, app.push_url, payload, next_due=now))
        return done

    def _dial(self, job: AiJob, now: float) -> None:
        """One call per uncalled customer, each on the robot that is free first."""
        waiting = [p for p in job.persons if p.status == NOT_CALLED]
        if not waiting:
            return
        app = self.apps.get(job.app_id)
        if app is None:
            return
        robots = max(1, job.robot_count)
        if len(job.robot_free_at) != robots:
            job.robot_free_at = [now] * robots
        for person in waiting:
            slot = min(range(robots), key=lambda i: job.robot_free_at[i])
            dial_at = max(now, job.robot_free_at[slot])
            seq = next(self._ai_call_seq)
            call_id = f"{vendor_now(dial_at).strftime('%y%m%d%H%M%S')}{seq:07d}"
            call = AiCall(
                call_id=call_id,
                key_id=seq,
                api_key=app.api_key,
                app_id=job.app_id,
                job=job,
                person=person,
                dial_at=dial_at,
                scale=max(0.0, self.life_scale),
                life=make_ai_life(call_id, person),
            )
            person.status, person.call_id = "CALLING", call_id
            job.robot_free_at[slot] = call.final_at
            self.ai_calls[call_id] = call
            heapq.heappush(self._ai_finals, (call.final_at, seq, call_id))

    def sip_group_of(self, app_id: str, account: str) -> SipGroup | None:
        """The phone group of ``app_id`` that created the phone account ``account``."""
        with self.lock:
            for group in self.sip_groups:
                if group.app_id == app_id and account in group.phones:
                    return group
            return None

    def calls_for(self, api_key: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls.values() if c.api_key == api_key]

    # ---- pushes ------------------------------------------------------------------------------

    def pending_pushes(self) -> list[PushJob]:
        with self.lock:
            return list(self._push_queue)

    def flush_pushes(self) -> list[PushAttempt]:
        """Send every due push now (synchronously); failures are re-queued per §6.4."""
        with self._flush_lock:
            with self.lock:
                self.advance()
                now = self.now()
                due = [job for job in self._push_queue if job.next_due <= now]
                self._push_queue = [job for job in self._push_queue if job.next_due > now]
                as_array, duplicates = self.push_as_array, self.push_duplicates
                timeout = self.push_timeout
            batches: list[list[PushJob]] = []
            if as_array:
                by_url: dict[str, list[PushJob]] = {}
                for job in due:
                    by_url.setdefault(job.url, []).append(job)
                batches = list(by_url.values())
            else:
                batches = [[job] for job in due]
            attempts: list[PushAttempt] = []
            failed: list[PushJob] = []
            for batch in batches:
                body: Any = [j.payload for j in batch] if as_array else batch[0].payload
                for job in batch:
                    job.attempts += 1
                first_ok = False
                for copy in range(2 if duplicates else 1):
                    status, error = post_json(batch[0].url, body, timeout)
                    attempt = PushAttempt(
                        seq=next(self._push_seq),
                        time=self.now(),
                        url=batch[0].url,
                        body=body,
                        voice_ids=[j.voice_id for j in batch],
                        attempt=batch[0].attempts,
                        status=status,
                        error=error,
                        duplicate=copy > 0,
                    )
                    attempts.append(attempt)
                    if copy == 0:
                        first_ok = attempt.ok
                if not first_ok:
                    failed.extend(batch)
            with self.lock:
                self.push_attempts.extend(attempts)
                retry_at = self.now() + self.push_retry_interval
                for job in failed:
                    # one first attempt plus at most push_max_retries retries (§6.4: 3 times)
                    if job.attempts <= self.push_max_retries:
                        job.next_due = retry_at
                        self._push_queue.append(job)
                    else:
                        self.push_gave_up.append(job)
            return attempts
