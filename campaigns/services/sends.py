"""Creates at ITNIO (voice-file upload, SIP group create, AI task create): write the intent, send,
write the outcome (design.md convention 3), once for all three.

Every row that stands for something created at ITNIO has explicit states: SENDING (the intent is
committed, the request is out), then CREATED/UPLOADED, FAILED (ITNIO said no), UNKNOWN (no usable
answer: ITNIO may have created it) or back to the state before (nothing reached ITNIO). A SENDING
row older than ITNIO_STALE_SEND_MINUTES belongs to a sender that died: it is UNKNOWN. An UNKNOWN
outcome is reconciled by its caller (find by name, a duplicate answer), never silently resent.

Both writes are `transaction.atomic(durable=True)`: called inside a caller's transaction they
raise, so no ITNIO request can ever leave while its intent is uncommitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from itnio_portal.itnio import ItnioApiError, ItnioError, ItnioLimitError, ItnioNotSentError

T = TypeVar("T")
Row = TypeVar("Row", bound=models.Model)

SENDING = "sending"
UNKNOWN = "unknown"
# Marked for translation; written through gettext at the time they are stored.
IN_FLIGHT = gettext_noop("Create request in flight")
STOPPED = gettext_noop(
    "The portal stopped while the request was in flight, so its outcome is not known."
)


@dataclass(frozen=True)
class Intent(Generic[Row]):
    """The committed intent: the row (now SENDING) and what it was before."""

    row: Row
    previous_state: str
    previous_error: str

    @property
    def was_unknown(self) -> bool:
        """An earlier request's outcome is not known: the caller reconciles before resending."""
        return self.previous_state == UNKNOWN


@dataclass(frozen=True)
class Answer(Generic[T]):
    """What came of the request: exactly one of value, not_sent, refused or unknown is set
    (value may be None for endpoints that answer nothing)."""

    value: T | None = None
    not_sent: ItnioError | None = None
    refused: ItnioApiError | None = None
    unknown: ItnioError | None = None


def send_is_stale(row: Any, started_field: str) -> bool:
    """A SENDING row whose request started longer ago than ITNIO_STALE_SEND_MINUTES."""
    started = getattr(row, started_field)
    stale = timedelta(minutes=settings.ITNIO_STALE_SEND_MINUTES)
    return started is None or timezone.now() - started >= stale


def send_check_in_flight(
    row: Any, started_field: str, *, what: str, error: type[Exception]
) -> None:
    """Raise `error` when the row's request is still in flight: `what` names the request, e.g.
    "A create request for task X"."""
    if row.state == SENDING and not send_is_stale(row, started_field):
        started = getattr(row, started_field)
        raise error(
            gettext("%(what)s is still in flight (started %(time)s); wait for its answer.")
            % {"what": what, "time": f"{started:%H:%M:%S}"}
        )


def send_state(row: Any, started_field: str) -> str:
    """The row's state as the protocol reads it: a stale SENDING row is UNKNOWN."""
    if row.state == SENDING and send_is_stale(row, started_field):
        return UNKNOWN
    return row.state


def send_intent(
    model: type[Row],
    pk: int,
    *,
    started_field: str,
    check: Callable[[Row], None],
    what: Callable[[Row], str],
    error: type[Exception],
    explain_unknown: str,
    note: str | None = None,
    fields: dict[str, Any] | None = None,
) -> Intent[Row]:
    """Settle a stale SENDING row as UNKNOWN (its sender died; `explain_unknown` says what to
    do), then lock the row, refuse a request still in flight (see send_check_in_flight), run
    `check` (raises to refuse) and commit the row as SENDING with `note (started …)` (the note
    is IN_FLIGHT by default)."""
    if note is None:
        note = gettext(IN_FLIGHT)
    _settle_stale(model, pk, started_field, explain_unknown)
    with transaction.atomic(durable=True):
        row = model.objects.select_for_update().get(pk=pk)  # type: ignore[attr-defined]
        send_check_in_flight(row, started_field, what=what(row), error=error)
        check(row)
        previous_state = row.state  # never SENDING here: fresh refused, stale settled
        previous_error = row.last_error
        now = timezone.now()
        updates = {
            "state": SENDING,
            "last_error": gettext("%(note)s (started %(time)s).")
            % {"note": note, "time": now.isoformat(timespec="seconds")},
            started_field: now,
            **(fields or {}),
        }
        for name, value in updates.items():
            setattr(row, name, value)
        row.save(update_fields=list(updates))
    return Intent(row, previous_state, previous_error)


def _settle_stale(model: type[Row], pk: int, started_field: str, explain_unknown: str) -> None:
    cutoff = timezone.now() - timedelta(minutes=settings.ITNIO_STALE_SEND_MINUTES)
    with transaction.atomic(durable=True):
        model.objects.filter(  # type: ignore[attr-defined]
            models.Q(**{f"{started_field}__lt": cutoff})
            | models.Q(**{f"{started_field}__isnull": True}),
            pk=pk,
            state=SENDING,
        ).update(
            state=UNKNOWN,
            last_error=f"{gettext(STOPPED)} {explain_unknown}",
        )


def send_request(intent: Intent[Any], request: Callable[[], T], *, crash_note: str) -> Answer[T]:
    """Run the request (never inside a transaction) and sort its outcome. A crash of the portal
    itself marks the row UNKNOWN with `crash_note` before it propagates."""
    try:
        return Answer(value=request())
    except (ItnioNotSentError, ItnioLimitError) as exc:
        return Answer(not_sent=exc)
    except ItnioApiError as exc:
        return Answer(refused=exc)
    except ItnioError as exc:
        return Answer(unknown=exc)
    except BaseException:
        send_outcome(intent.row, UNKNOWN, crash_note)
        raise


def send_outcome(row: Row, state: str, error: str, **fields: Any) -> Row:
    """Write the outcome in its own short durable transaction and return the fresh row."""
    with transaction.atomic(durable=True):
        type(row).objects.filter(pk=row.pk).update(state=state, last_error=error, **fields)  # type: ignore[attr-defined]
    row.refresh_from_db()
    return row


def send_not_sent(intent: Intent[Row], exc: ItnioError, *, prefix: str | None = None) -> Row:
    """Nothing reached ITNIO: back to the state before, keeping an earlier unknown's note
    (`prefix` is "Not sent" by default)."""
    note = gettext("%(prefix)s: %(error)s. Nothing reached ITNIO; try again.") % {
        "prefix": gettext("Not sent") if prefix is None else prefix,
        "error": exc,
    }
    if intent.was_unknown:
        note += f" {intent.previous_error}"
    return send_outcome(intent.row, intent.previous_state, note)
