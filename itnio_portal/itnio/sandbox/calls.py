"""Deterministic call lives, exact Decimal pricing and the record / push renderings of a call."""

from __future__ import annotations

import decimal
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .countries import country_of

# Record times carry the +08:00 offset of the vendor's sample (seed 003).
VENDOR_TZ = timezone(timedelta(hours=8))

TYPE_GROUP = 1  # itnio-api.md §6.1: 1 group call (sendGroup)
TYPE_CODE = 2  # itnio-api.md §6.1: 2 verification code (sendCode, TTS)
TYPE_SIP = 3  # itnio-api.md §6.1: 3 phone call (sendSip)

ANSWERED = "answered"
NO_ANSWER = "no_answer"
BUSY = "busy"
FAILED = "failed"

# Operators, USD rate per minute and billPeriod (itnio-api.md §3.5) of the countries the demo
# and the tests call most, by ISO region; every other country gets _OTHER_TARIFF. The country
# itself always follows the callee's calling code (countries.py): +65 is Singapore, +84 Vietnam.
# Every rate is a multiple of 0.0003 so rate x seconds / 60 is an exact decimal.
_TARIFFS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "IN": (("Airtel", "Jio", "Vodafone Idea"), "0.0120", "60+60"),
    "ID": (("Telkomsel", "Indosat", "XL Axiata"), "0.0450", "20+20"),
    "VN": (("Viettel", "Vinaphone", "Mobifone"), "0.0390", "20+20"),
    "AF": (("Kandahar", "Kabul"), "0.1200", "60+60"),  # seed 003: "Afghanistan(Kandahar)"
    "PH": (("Globe", "Smart"), "0.0210", "1+1"),
    "BD": (("Grameenphone", "Robi"), "0.0180", "60+60"),
    "SG": (("Singtel", "StarHub", "M1"), "0.0300", "60+60"),
    "MY": (("Maxis", "CelcomDigi", "U Mobile"), "0.0270", "60+60"),
    "TH": (("AIS", "TrueMove H", "dtac"), "0.0330", "60+60"),
    "CN": (("China Mobile", "China Unicom", "China Telecom"), "0.0240", "60+60"),
}
_OTHER_TARIFF: tuple[tuple[str, ...], str, str] = (("Mobile",), "0.0600", "60+60")
UNKNOWN_COUNTRY = "Unknown"  # a number that starts with no assigned calling code

# Seed 003 (a recordGroup sample): an answered call's record says "1000" / "success". The failure
# codes stay SIP-like (480, 486, 487): no sample shows ITNIO's own.
SUCCESS_CODE = "1000"

# Units of the quote currency per 1 USD (the record's quoteExchange).
EXCHANGE: dict[str, Decimal] = {"USD": Decimal(1), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}

DEFAULT_MAX_RINGING = 60  # itnio-api.md §3.3: maxRingingTime default 60 s


def iso(epoch: float) -> str:
    """Epoch seconds as the vendor's ISO-8601 string with +08:00 (seed 003)."""
    return datetime.fromtimestamp(int(epoch), tz=VENDOR_TZ).isoformat(timespec="seconds")


def vendor_now(epoch: float) -> datetime:
    """Epoch seconds as an aware datetime in the vendor's +08:00 zone (for ids and days)."""
    return datetime.fromtimestamp(epoch, tz=VENDOR_TZ)


def money(value: Decimal) -> str:
    """A Decimal as a plain string without exponent or trailing zeros ("0.015", "0")."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", ""} else text


@dataclass(frozen=True)
class Life:
    """What happens to one accepted call, as offsets in (unscaled) seconds from submission."""

    code: str
    outcome: str
    call_at: int
    ringing_at: int | None
    answer_at: int | None
    hangup_at: int
    call_duration: int
    charged_duration: int
    termination_code: str
    termination_reason: str
    feedback_value: str
    bill_period: str
    usd_rate: Decimal


@dataclass(frozen=True)
class Pricing:
    """Money fields of a record; cost fields are only shown once the call is final."""

    currency: str
    rate: str
    cost: str
    base_cost: str
    settle_rate: str
    quote_exchange: str
    settle_pay: str
    base_cost_usd: Decimal


def charged_seconds(duration: int, bill_period: str) -> int:
    """Round a talk time up per billPeriod "first+next" (e.g. 20+20, 60+60, 1+1)."""
    if duration <= 0:
        return 0
    first, step = (int(part) for part in bill_period.split("+"))
    if duration <= first:
        return first
    extra = duration - first
    return first + -(-extra // step) * step


def _fractions(voice_id: str, callee: str) -> list[float]:
    digest = hashlib.sha256(f"{voice_id}|{callee}".encode()).digest()
    return [int.from_bytes(digest[i : i + 2], "big") / 65536 for i in range(0, 32, 2)]


def _operator(callee: str, pick: float) -> tuple[str, str, str]:
    """(record code "Country(Operator)", USD rate, billPeriod) of a callee."""
    found = country_of(callee)
    if found is None:
        _, rate, period = _OTHER_TARIFF
        return UNKNOWN_COUNTRY, rate, period
    _code, region, country = found
    operators, rate, period = _TARIFFS.get(region, _OTHER_TARIFF)
    operator = operators[int(pick * len(operators))]
    return f"{country}({operator})", rate, period


def make_life(
    voice_id: str,
    callee: str,
    *,
    max_duration: int | None = None,
    max_ringing_time: int | None = None,
) -> Life:
    """Derive a call's whole life from a hash of its voiceId and callee (runs repeat).

    About 65 % answered (terminationCode 1000, as seed 003), 25 % no answer (480, rings
    maxRingingTime), 10 % busy (486) or failed (487). Offsets are seconds from submission.
    """
    u = _fractions(voice_id, callee)
    code, rate, period = _operator(callee, u[0])
    ring_limit = max_ringing_time or DEFAULT_MAX_RINGING
    call_at = 1 + int(u[2] * 4)  # dialled 1-4 s after submission
    if u[1] < 0.65:
        ringing_at = call_at + 1 + int(u[3] * 3)
        answer_at = ringing_at + 2 + int(u[4] * min(14, ring_limit - 2))
        talk = 5 + int(u[5] * 56)  # 5-60 s
        if max_duration is not None:
            talk = min(talk, max_duration)  # itnio-api.md §3.2: forced hang-up N s after answer
        feedback = str(int(u[7] * 10)) if u[6] < 0.3 else "-1"
        return Life(
            code=code,
            outcome=ANSWERED,
            call_at=call_at,
            ringing_at=ringing_at,
            answer_at=answer_at,
            hangup_at=answer_at + talk,
            call_duration=talk,
            charged_duration=charged_seconds(talk, period),
            termination_code=SUCCESS_CODE,
            termination_reason="success",
            feedback_value=feedback,
            bill_period=period,
            usd_rate=Decimal(rate),
        )
    if u[1] < 0.90:
        ringing_at = call_at + 1 + int(u[3] * 3)
        outcome, hangup_at, term, reason = NO_ANSWER, ringing_at + ring_limit, "480", "no answer"
    else:
        ringing_at = None
        hangup_at = call_at + 1 + int(u[4] * 3)
        if u[8] < 0.6:
            outcome, term, reason = BUSY, "486", "user busy"
        else:
            outcome, term, reason = FAILED, "487", "request terminated"
    return Life(
        code=code,
        outcome=outcome,
        call_at=call_at,
        ringing_at=ringing_at,
        answer_at=None,
        hangup_at=hangup_at,
        call_duration=0,
        charged_duration=0,
        termination_code=term,
        termination_reason=reason,
        feedback_value="-1",
        bill_period=period,
        usd_rate=Decimal(rate),
    )


def price(life: Life, currency: str) -> Pricing:
    """Exact pricing: cost = rate x charged minutes; baseCost always USD (itnio-api.md §3.5).

    For a non-USD quote currency, rate/cost are in that currency (USD rate x quoteExchange) and
    settleRate/settlePay repeat them as the "local currency" amounts; quoteExchange is units of
    the quote currency per USD. For USD apps currency and the three settle fields are blank.
    """
    with decimal.localcontext() as ctx:
        ctx.traps[decimal.Inexact] = True
        ctx.traps[decimal.Rounded] = True
        seconds = Decimal(life.charged_duration)
        base = life.usd_rate * seconds / 60
        if currency == "USD":
            return Pricing("", money(life.usd_rate), money(base), money(base), "", "", "", base)
        exchange = EXCHANGE[currency]
        rate = life.usd_rate * exchange
        cost = rate * seconds / 60
        return Pricing(
            currency=currency,
            rate=money(rate),
            cost=money(cost),
            base_cost=money(base),
            settle_rate=money(rate),
            quote_exchange=money(exchange),
            settle_pay=money(cost),
            base_cost_usd=base,
        )


@dataclass
class Call:
    """One accepted call (sendGroup callee, sendCode or sendSip)."""

    voice_id: str
    api_key: str
    app_id: str
    type: int
    callee: str
    display_num: str
    voice_file_id: str
    called_info: str
    submit_at: float
    scale: float
    life: Life
    pricing: Pricing
    request_seq: int
    final: bool = False
    # sendSip calls only: the phone group and phone name the account belongs to, and the account.
    sip_group_name: str = ""
    phone_name: str = ""
    account: str = ""

    def reached_at(self, offset: int) -> float:
        """Sandbox-clock moment at which an offset of the life is reached (life_scale applied)."""
        return self.submit_at + offset * self.scale

    @property
    def final_at(self) -> float:
        return self.reached_at(self.life.hangup_at)

    @property
    def is_sip(self) -> bool:
        return self.type == TYPE_SIP

    @property
    def recording_file_id(self) -> str:
        """A SIP call's recording: only an answered call has one, known once it is final."""
        if not self.is_sip or not self.final or self.life.answer_at is None:
            return ""
        return f"rec{self.voice_id}.mp3"

    def shown_time(self, offset: int | None) -> float | None:
        """The time written in records: submission + unscaled offset (durations stay coherent)."""
        return None if offset is None else self.submit_at + offset

    def record(self, now: float) -> dict[str, Any]:
        """The §3.5 record as known at ``now``: unreached times and final-only values are ""."""
        life, pricing = self.life, self.pricing

        def when(offset: int | None) -> str:
            if offset is None or now < self.reached_at(offset):
                return ""
            return iso(self.submit_at + offset)

        final = self.final
        if self.is_sip:
            return self._sip_record(when)
        return {
            "voiceId": self.voice_id,
            "callee": self.callee,
            "displayNum": self.display_num,
            "code": life.code,
            "submitTime": iso(self.submit_at),
            "callTime": when(life.call_at),
            "ringingTime": when(life.ringing_at),
            "answerTime": when(life.answer_at),
            "hangupTime": iso(self.submit_at + life.hangup_at) if final else "",
            "callDuration": life.call_duration if final else 0,
            "chargedDuration": life.charged_duration if final else 0,
            "terminationCode": life.termination_code if final else "",
            "terminationReason": life.termination_reason if final else "",
            "cost": pricing.cost if final else "",
            "billPeriod": life.bill_period,
            "rate": pricing.rate,
            "baseCost": pricing.base_cost if final else "",
            "voiceFileId": self.voice_file_id,
            "feedbackValue": life.feedback_value if final else "",
            "calledInfo": self.called_info,
            "settleRate": pricing.settle_rate,
            "quoteExchange": pricing.quote_exchange,
            "currency": pricing.currency,
            "settlePay": pricing.settle_pay if final else "",
        }

    def _sip_record(self, when: Callable[[int | None], str]) -> dict[str, Any]:
        """The §3.7 recordSip fields, in the page's order (no baseCost, voiceFileId, DTMF)."""
        life, pricing, final = self.life, self.pricing, self.final
        return {
            "voiceId": self.voice_id,
            "sipGroupName": self.sip_group_name,
            "phoneName": self.phone_name,
            "callee": self.callee,
            "displayNum": self.display_num,
            "code": life.code,
            "submitTime": iso(self.submit_at),
            "callTime": when(life.call_at),
            "ringingTime": when(life.ringing_at),
            "answerTime": when(life.answer_at),
            "hangupTime": iso(self.submit_at + life.hangup_at) if final else "",
            "callDuration": life.call_duration if final else 0,
            "chargedDuration": life.charged_duration if final else 0,
            "terminationCode": life.termination_code if final else "",
            "terminationReason": life.termination_reason if final else "",
            "cost": pricing.cost if final else "",
            "billPeriod": life.bill_period,
            "rate": pricing.rate,
            "recordingFileId": self.recording_file_id,
            "settleRate": pricing.settle_rate,
            "quoteExchange": pricing.quote_exchange,
            "settlePay": pricing.settle_pay if final else "",
            "currency": pricing.currency,
        }

    def push_body(self) -> dict[str, Any]:
        """The §6.1 status report of a final call; times as millisecond epoch (null if never)."""
        life, pricing = self.life, self.pricing

        def ms(offset: int | None) -> int | None:
            return None if offset is None else round(self.submit_at * 1000) + offset * 1000

        return {
            "voiceId": self.voice_id,
            "type": self.type,
            "callee": self.callee,
            "displayNum": self.display_num,
            "submitTime": ms(0),
            "callTime": ms(life.call_at),
            "ringingTime": ms(life.ringing_at),
            "answerTime": ms(life.answer_at),
            "hangupTime": ms(life.hangup_at),
            "callDuration": life.call_duration,
            "chargedDuration": life.charged_duration,
            "billPeriod": life.bill_period,
            "code": life.code,
            "voiceFileId": self.voice_file_id,
            "rate": pricing.rate,
            "baseCost": pricing.base_cost,
            "cost": pricing.cost,
            "terminationCode": life.termination_code,
            "terminationReason": life.termination_reason,
            "feedbackValue": life.feedback_value,
            "calledInfo": self.called_info,
            "currency": pricing.currency,
            "settleRate": pricing.settle_rate,
            "quoteExchange": pricing.quote_exchange,
            "settlePay": pricing.settle_pay,
            # In the newer ZH push (§6.1); sent for phone calls, which have recordings.
            **({"recordingFileId": self.recording_file_id} if self.is_sip else {}),
        }

    def to_dict(self, now: float) -> dict[str, Any]:
        """Sandbox-internal view for the control API (includes the planned outcome)."""
        return {
            "voiceId": self.voice_id,
            "apiKey": self.api_key,
            "appId": self.app_id,
            "type": self.type,
            "callee": self.callee,
            **({"account": self.account} if self.is_sip else {}),
            "requestSeq": self.request_seq,
            "submitAt": self.submit_at,
            "finalAt": self.final_at,
            "final": self.final,
            "outcome": self.life.outcome,
            "record": self.record(now),
        }
