"""AI outbound tasks (itnio-api.md §5, §6.2): jobs, customers, deterministic robot calls, their
transcripts, records, pushes and a small real WAV recording per answered call.

Sandbox simplifications (documented, not vendor behaviour): a RUNNING job dials its uncalled
customers at once (one per free robot), ignoring the daily window, pause windows and days of
week; a job stays RUNNING until its endDateTime passes (then COMPLETED); pricing is 0.02 USD per
started minute of chat.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import wave
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .calls import money, vendor_now

RUNNING = "RUNNING"
CAN_START = "CAN_START"
PAUSED = "PAUSED"
COMPLETED = "COMPLETED"
STARTABLE = (CAN_START, PAUSED)

NOT_CALLED = "NOT_CALLED"
CALLING = "CALLING"
CALLED = "CALLED"

# Default lines of every AI app (channelList, §5.9): the ID comes back as a String.
DEFAULT_CHANNELS: tuple[tuple[str, str], ...] = (
    ("3001", "+62 21 5099 0001 (Jakarta)"),
    ("3002", "+63 2 8123 0002 (Manila)"),
)
USD_PER_MINUTE = Decimal("0.02")
BILL_STEP = 60  # seconds: billingTime is chat time rounded up to whole minutes
RECORDING_RATE = 8000  # Hz, 16-bit mono PCM
RECORDING_MAX_SECONDS = 30

ANSWERED = "ANSWERED"
# §6.2's resultStatus values other than ANSWERED / TRANSFER_ARTIFICIAL, with their share of the
# unanswered calls and how long the line rang (s).
_UNANSWERED: tuple[tuple[str, float, int], ...] = (
    ("NO_ANSWER", 0.45, 45),
    ("BUSY", 0.2, 6),
    ("POWER_OFF", 0.1, 3),
    ("REFUSED", 0.1, 8),
    ("OUT_OF_SERVICE", 0.08, 2),
    ("VACANT_NUMBER", 0.07, 2),
)
ANSWER_RATE = 0.7

_ROBOT_LINES = (
    "Hello {name}, this is Lily calling from Acme Telecom. Do you have a minute?",
    "Your plan renews next week. Would you like to hear about our new offer?",
    "It is {amount} per month with twice the data. Shall I send you the details?",
)
_PERSON_LINES = (
    ("Yes, go ahead.", "Sure, what is it about?", "I'm busy, please make it quick."),
    ("How much is it?", "What does it include?", "Not really, I'm happy with my plan."),
    ("Yes, please send them.", "I'll think about it.", "No thanks, I'm not interested."),
)
# The intent level of the last person reply (index in its _PERSON_LINES row).
_INTENTS = (
    ("C (neutral)", "C (neutral)", "D (not interested)"),
    ("B (interested)", "B (interested)", "D (not interested)"),
    ("A (strong intent)", "C (neutral)", "D (not interested)"),
)
_TAGS = {"A": (1, "Hot lead"), "B": (2, "Interested"), "C": (3, "Follow up"), "D": (4, "Lost")}


@dataclass
class AiPerson:
    """A customer imported into a job (importCustomer, §5.5)."""

    person_id: int
    name: str
    phone_number: str
    gender: str | None
    properties: dict[str, Any]
    status: str = NOT_CALLED
    call_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "customerPersonId": self.person_id,
            "name": self.name,
            "phoneNumber": self.phone_number,
            "gender": self.gender,
            "properties": dict(self.properties),
            "status": self.status,
            "callId": self.call_id,
        }


@dataclass
class AiJob:
    """An AI outbound task (taskAdd, §5.1) with its customers."""

    app_id: str
    job_id: int
    status: str = CAN_START
    name: str = ""
    dialog_flow_id: int = 1
    mode: str = "MANUAL"
    start_at: float | None = None  # AUTO mode: sandbox time to start at
    end_at: float | None = None
    daily_start: str = "09:00"
    daily_end: str = "20:00"
    robot_count: int = 1
    line_id: str = DEFAULT_CHANNELS[0][0]
    settings: dict[str, Any] = field(default_factory=dict)  # the rest of the body, as sent
    created_at: float = 0.0
    persons: list[AiPerson] = field(default_factory=list)
    robot_free_at: list[float] = field(default_factory=list)

    @property
    def customers(self) -> int:
        """How many customers the job has (called or not): taskStart's -45 looks at this."""
        return len(self.persons)

    @property
    def completed(self) -> int:
        return sum(1 for p in self.persons if p.status == CALLED)

    @property
    def no_call_status(self) -> str:
        """The job as taskNoCall's taskStatus names it (§5.7)."""
        if self.status == RUNNING:
            return "IN_PROCESS"
        if self.status in STARTABLE:
            return "CAN_START"
        return "CAN_NOT_START"

    def to_dict(self) -> dict[str, Any]:
        return {
            "appId": self.app_id,
            "jobId": self.job_id,
            "name": self.name,
            "status": self.status,
            "mode": self.mode,
            "dialogFlowId": self.dialog_flow_id,
            "robotCount": self.robot_count,
            "lineId": self.line_id,
            "customers": self.customers,
            "completed": self.completed,
            "persons": [p.to_dict() for p in self.persons],
        }


@dataclass(frozen=True)
class AiTurnLife:
    type: str  # ROBOT or PERSON
    text: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class AiLife:
    """What happens on one AI call, fixed when it is dialled (a hash of callId and number)."""

    result_status: str
    ring_seconds: int
    turns: tuple[AiTurnLife, ...]
    chat_duration: int
    billing_time: int
    pay: Decimal
    intent: str
    hangup_by: str
    concern: tuple[str, ...]
    analysis: str

    @property
    def answered(self) -> bool:
        return self.result_status == ANSWERED


def _fractions(call_id: str, phone: str) -> list[float]:
    digest = hashlib.sha256(f"ai|{call_id}|{phone}".encode()).digest()
    return [int.from_bytes(digest[i : i + 2], "big") / 65536 for i in range(0, 32, 2)]


def make_ai_life(call_id: str, person: AiPerson) -> AiLife:
    """About 70 % answered with 1-3 rounds (2-6 turns); the rest one of §6.2's failures."""
    u = _fractions(call_id, person.phone_number)
    if u[0] >= ANSWER_RATE:
        pick = u[1] * sum(share for _, share, _ in _UNANSWERED)
        status, _, ring = _UNANSWERED[-1]
        for name, share, seconds in _UNANSWERED:
            if pick < share:
                status, ring = name, seconds
                break
            pick -= share
        return AiLife(status, ring, (), 0, 0, Decimal(0), "", "", (), "")
    rounds = 1 + int(u[2] * 3)
    amount = str(person.properties.get("amount") or "9.99 USD")
    turns: list[AiTurnLife] = []
    at = 400  # ms into the recording
    replies: list[int] = []
    for index in range(rounds):
        robot = _ROBOT_LINES[index].format(name=person.name, amount=amount)
        length = 1500 + 55 * len(robot)
        turns.append(AiTurnLife("ROBOT", robot, at, at + length))
        at += length + 500 + int(u[3 + index] * 700)
        reply = int(u[6 + index] * 3)
        replies.append(reply)
        text = _PERSON_LINES[index][reply]
        length = 900 + 45 * len(text)
        turns.append(AiTurnLife("PERSON", text, at, at + length))
        at += length + 400
        if index == 1 and reply == 2:  # "not really": the robot says goodbye, no third round
            break
    last_round = len(replies) - 1
    intent = _INTENTS[last_round][replies[-1]]
    chat = math.ceil(at / 1000)
    billing = math.ceil(chat / BILL_STEP) * BILL_STEP
    concern = tuple(
        label
        for label, needle in (("price", "How much"), ("plan details", "include"))
        if any(needle in t.text for t in turns)
    )
    positive = intent.startswith(("A", "B"))
    return AiLife(
        result_status=ANSWERED,
        ring_seconds=3 + int(u[9] * 10),
        turns=tuple(turns),
        chat_duration=chat,
        billing_time=billing,
        pay=USD_PER_MINUTE * (billing // BILL_STEP),
        intent=intent,
        hangup_by="ROBOT" if positive else "PERSON",
        concern=concern,
        analysis=f"{len(replies)} round(s); the customer's last words: “{turns[-1].text}”",
    )


@dataclass
class AiCall:
    """One robot call to one customer of a RUNNING job."""

    call_id: str
    key_id: int
    api_key: str
    app_id: str
    job: AiJob
    person: AiPerson
    dial_at: float  # sandbox time
    scale: float
    life: AiLife
    final: bool = False

    @property
    def final_at(self) -> float:
        return self.dial_at + (self.life.ring_seconds + self.life.chat_duration) * self.scale

    @property
    def end_at(self) -> float:
        """The endTime written in records: unscaled, so durations stay coherent."""
        return self.dial_at + self.life.ring_seconds + self.life.chat_duration

    def audio_urls(self, base_url: str) -> tuple[str, str]:
        if not self.life.answered or not base_url:
            return "", ""
        root = f"{base_url.rstrip('/')}/_sandbox/recordings/{self.call_id}"
        return f"{root}.wav", f"{root}-customer.wav"

    def _common(self, base_url: str) -> dict[str, Any]:
        life = self.life
        full, customer = self.audio_urls(base_url)
        tag = _TAGS.get(life.intent[:1])
        return {
            "resultStatus": life.result_status,
            "hangupBy": life.hangup_by,
            "customerConcern": list(life.concern),
            "analysisBasis": life.analysis,
            "chatDuration": life.chat_duration,
            "chatRound": sum(1 for t in life.turns if t.type == "PERSON"),
            "attributes": list(life.concern),
            "properties": dict(self.person.properties),
            "intentLevelDetailName": life.intent,
            "callRecordTagIds": [tag[0]] if tag else [],
            "callRecordTagNames": [tag[1]] if tag else [],
            "fullAudioUrl": full,
            "customerAudioUrl": customer,
            "dynamicProperties": {},
            "redialTimes": 0,
        }

    def record(self, base_url: str) -> dict[str, Any]:
        """The recordQuery record (§5.8 fields; times as yyyy-MM-dd HH:mm:ss in UTC+8)."""
        return {
            "keyId": self.key_id,
            "appId": self.app_id,
            "callId": self.call_id,
            "callRecordId": None,
            "robotCount": self.job.robot_count,
            "callJobId": self.job.job_id,
            "dialogFlowId": self.job.dialog_flow_id,
            "tenantPhoneNumberId": self.job.line_id,
            "calledPhoneNumber": self.person.phone_number,
            "customerPersonName": self.person.name,
            "startTime": _ai_time(self.dial_at),
            "endTime": _ai_time(self.end_at),
            "chargedDuration": self.life.billing_time,
            **self._common(base_url),
        }

    def push_body(self, base_url: str) -> dict[str, Any]:
        """The §6.2 push: epoch SECONDS times, billingTime and pay (USD), the transcript."""
        return {
            "callId": self.call_id,
            "appId": self.app_id,
            "robotCallJobId": self.job.job_id,
            "dialogFlowId": self.job.dialog_flow_id,
            "tenantPhoneNumberId": self.job.line_id,
            "calledPhoneNumber": self.person.phone_number,
            "startTime": int(self.dial_at),
            "endTime": int(self.end_at),
            "billingTime": self.life.billing_time,
            "pay": money(self.life.pay),
            "customerTagIds": [],
            "customerTagNames": [],
            "callDetailList": [
                {
                    "callDetailId": index + 1,
                    "text": turn.text,
                    "type": turn.type,
                    "startOffset": turn.start_ms,
                    "endOffset": turn.end_ms,
                }
                for index, turn in enumerate(self.life.turns)
            ],
            "callCount": 1,
            **self._common(base_url),
        }

    def to_dict(self, base_url: str) -> dict[str, Any]:
        return {
            "callId": self.call_id,
            "jobId": self.job.job_id,
            "phoneNumber": self.person.phone_number,
            "dialAt": self.dial_at,
            "finalAt": self.final_at,
            "final": self.final,
            "push": self.push_body(base_url),
        }


def _ai_time(epoch: float) -> str:
    return vendor_now(int(epoch)).strftime("%Y-%m-%d %H:%M:%S")


def recording_wav(call: AiCall, *, customer_only: bool = False) -> bytes:
    """A real 8 kHz mono WAV following the transcript: a 440 Hz tone while the robot speaks,
    660 Hz while the person speaks (only the person's turns in the customer recording)."""
    seconds = min(max(call.life.chat_duration, 1), RECORDING_MAX_SECONDS)
    frames = bytearray(seconds * RECORDING_RATE * 2)
    for turn in call.life.turns:
        if customer_only and turn.type != "PERSON":
            continue
        pitch = 440.0 if turn.type == "ROBOT" else 660.0
        first = min(turn.start_ms * RECORDING_RATE // 1000, seconds * RECORDING_RATE)
        last = min(turn.end_ms * RECORDING_RATE // 1000, seconds * RECORDING_RATE)
        for n in range(first, last):
            sample = int(6000 * math.sin(2 * math.pi * pitch * n / RECORDING_RATE))
            struct.pack_into("<h", frames, n * 2, sample)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RECORDING_RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()
