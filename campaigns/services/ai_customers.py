"""An AI task's customers at ITNIO (itnio-api.md §5.5-5.7): push them (importCustomer, ≤100 a
request), remove the uncalled ones (importCustomer/del), the not-yet-called list (taskNoCall),
and the counts by state.

Money rule (design.md convention 3): customers are marked SENDING before a push leaves and get
their outcome afterwards; an unknown outcome is never resent, it is reconciled by reading
taskNoCall, which lists the numbers ITNIO has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, OuterRef
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from campaigns.models import AiCallRecord, AiCustomer, AiTask
from campaigns.services.actors import Actor
from campaigns.services.ai_errors import AiTaskError, ai_error_message
from campaigns.services.ai_tasks import _check_app, _client, _require, _require_on_itnio
from campaigns.services.suppression import suppressed
from itnio_portal.itnio import (
    AiCustomerRow,
    AiNoCall,
    ItnioApiError,
    ItnioError,
    ItnioLimitError,
    ItnioNotSentError,
)

CUSTOMERS_UNKNOWN = gettext_lazy(
    "The request may have reached ITNIO, so these customers may have been added. The portal does "
    "not resend them: open “Not yet called”, which marks every number ITNIO lists as on ITNIO."
)


# ---------------------------------------------------------------------------
# Customers: push (importCustomer), remove (importCustomer/del), not yet called (taskNoCall)
# ---------------------------------------------------------------------------
@dataclass
class PushResult:
    chunks: int = 0
    pushed: int = 0
    rejected: int = 0
    unknown: int = 0
    error: str = ""
    rejected_rows: list[tuple[str, str, str]] = field(default_factory=list)  # name, phone, why

    def __str__(self) -> str:
        values = {
            "pushed": self.pushed,
            "chunks": self.chunks,
            "rejected": self.rejected,
            "unknown": self.unknown,
        }
        if self.unknown:
            return (
                gettext(
                    "%(pushed)s customer(s) pushed to ITNIO in %(chunks)s request(s), "
                    "%(rejected)s rejected, %(unknown)s with an unknown outcome."
                )
                % values
            )
        return (
            gettext(
                "%(pushed)s customer(s) pushed to ITNIO in %(chunks)s request(s), "
                "%(rejected)s rejected."
            )
            % values
        )


#: Keys a failed importCustomer row might carry a reason in: the response shape of the failed
#: rows was never documented beyond "the rows that failed" (§5.5).
REASON_KEYS = ("reason", "failReason", "failMsg", "errorMsg", "msg", "message", "remark")
NO_REASON = gettext_lazy(
    "ITNIO listed this row among the rows that failed to import (it gave no reason)."
)


def _row_reason(row: dict[str, Any]) -> str:
    for key in REASON_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return gettext("ITNIO refused this row: “%(reason)s”.") % {"reason": value.strip()}
    return str(NO_REASON)


LEFT_OUT = gettext_noop("Left out: the number is on a do-not-call list.")


def ai_customers_push(*, task: AiTask, actor: Actor) -> PushResult:
    """Push the task's customers that are not on ITNIO yet with importCustomer, ≤100 per request
    (§5.5). Rows ITNIO lists as failed become REJECTED with its reason. A business refusal
    (-51, -32, …) stops the push and leaves the rest local; an unknown outcome marks that chunk
    UNKNOWN and stops (never resent)."""
    _require(actor, gettext("push AI customers to ITNIO"))
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    size = client.limits.import_customer_max
    result = PushResult()
    # Do-not-call: suppressed numbers are left out with the reason (one UPDATE, before any send).
    AiCustomer.objects.filter(task=task, state=AiCustomer.State.LOCAL).filter(
        suppressed(task.app_id, number=OuterRef("phone_number"))
    ).update(state=AiCustomer.State.SKIPPED, reason=LEFT_OUT)
    pending = list(
        AiCustomer.objects.filter(task=task, state=AiCustomer.State.LOCAL)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not pending:
        raise AiTaskError(
            gettext("Task %(task)s has no customers waiting to be pushed: import customers first.")
            % {"task": task.name}
        )
    for start in range(0, len(pending), size):
        ids = pending[start : start + size]
        with transaction.atomic(durable=True):  # the intent, committed before the request
            chunk = list(
                AiCustomer.objects.select_for_update()
                .filter(id__in=ids, state=AiCustomer.State.LOCAL)
                .order_by("id")
            )
            AiCustomer.objects.filter(id__in=[c.id for c in chunk]).update(
                state=AiCustomer.State.SENDING, reason=""
            )
        if not chunk:
            continue
        rows = [
            AiCustomerRow(c.name, c.phone_number, c.gender or None, c.properties or None)
            for c in chunk
        ]
        result.chunks += 1
        try:
            failed = client.import_customer(
                app_id=task.app.app_id,
                job_id=task.remote_job_id,
                customers=rows,
                call_record_dup=task.call_record_dup or None,
            )
        except (ItnioNotSentError, ItnioLimitError, ItnioApiError) as exc:
            # A definite "no": nothing of this chunk was added; it stays local with the reason.
            message = ai_error_message(exc)
            if isinstance(exc, ItnioNotSentError | ItnioLimitError):
                message = gettext("Not sent: %(error)s. Nothing reached ITNIO; push again.") % {
                    "error": exc
                }
            _mark(chunk, AiCustomer.State.LOCAL, message)
            result.error = message
            return result
        except ItnioError as exc:
            message = gettext("%(error)s. %(explanation)s") % {
                "error": exc,
                "explanation": CUSTOMERS_UNKNOWN,
            }
            _mark(chunk, AiCustomer.State.UNKNOWN, message)
            result.unknown += len(chunk)
            result.error = message
            return result
        except BaseException:
            _mark(
                chunk,
                AiCustomer.State.UNKNOWN,
                gettext("The portal failed. %(explanation)s") % {"explanation": CUSTOMERS_UNKNOWN},
            )
            raise
        rejected = _match_failed(chunk, failed)
        now = timezone.now()
        with transaction.atomic(durable=True):
            for customer in chunk:
                if customer.id in rejected:
                    reason = rejected[customer.id]
                    AiCustomer.objects.filter(pk=customer.pk).update(
                        state=AiCustomer.State.REJECTED, reason=reason
                    )
                    result.rejected += 1
                    result.rejected_rows.append((customer.name, customer.phone_number, reason))
                else:
                    AiCustomer.objects.filter(pk=customer.pk).update(
                        state=AiCustomer.State.PUSHED, reason="", pushed_at=now
                    )
                    result.pushed += 1
    if result.pushed:
        # An earlier refusal (e.g. -45 "no customers") no longer describes the task.
        AiTask.objects.filter(pk=task.pk).update(last_error="")
    return result


def _mark(customers: Iterable[AiCustomer], state: str, reason: str) -> None:
    with transaction.atomic(durable=True):
        ids = [c.id for c in customers]
        AiCustomer.objects.filter(id__in=ids).update(state=state, reason=reason)


def _match_failed(chunk: Sequence[AiCustomer], failed: list[dict[str, Any]]) -> dict[int, str]:
    """Customer id → reason for each failed row: by phone number, else by name."""
    by_phone = {c.phone_number: c for c in chunk}
    by_name: dict[str, list[AiCustomer]] = {}
    for c in chunk:
        by_name.setdefault(c.name, []).append(c)
    out: dict[int, str] = {}
    for row in failed:
        phone = str(row.get("phoneNumber") or "")
        customer = by_phone.get(phone)
        if customer is None or customer.id in out:
            candidates = [c for c in by_name.get(str(row.get("name") or ""), []) if c.id not in out]
            customer = candidates[0] if candidates else None
        if customer is not None:
            out[customer.id] = _row_reason(row)
    return out


def ai_task_no_call(*, task: AiTask, actor: Actor, limit: int = 1000) -> tuple[list[AiNoCall], int]:
    """The task's customers ITNIO has not called yet (taskNoCall, §5.7): (rows up to `limit`,
    total). Customers whose push outcome was unknown and that ITNIO lists are marked on ITNIO."""
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    rows, total = _no_call(_client(task, actor), task, limit)
    phones = {r.called_phone_number for r in rows}
    AiCustomer.objects.filter(
        task=task, state=AiCustomer.State.UNKNOWN, phone_number__in=phones
    ).update(
        state=AiCustomer.State.PUSHED,
        reason=gettext("Resolved: ITNIO lists this number among the task's customers."),
        pushed_at=timezone.now(),
    )
    return rows, total


def _no_call(client: Any, task: AiTask, limit: int | None) -> tuple[list[AiNoCall], int]:
    out: list[AiNoCall] = []
    page, total = 1, 0
    while True:
        batch = client.task_no_call(
            app_id=task.app.app_id, job_id=task.remote_job_id, current=page, size=100
        )
        total = batch.total
        out.extend(r for r in batch.records if r.job_id in (None, task.remote_job_id))
        if (limit is not None and len(out) >= limit) or page >= batch.pages or not batch.records:
            return (out[:limit] if limit is not None else out), total
        page += 1


@dataclass
class RemoveResult:
    requested: int = 0
    removed: int = 0
    error: str = ""

    def __str__(self) -> str:
        return gettext(
            "ITNIO removed %(removed)s uncalled customer(s) of the %(requested)s asked for."
        ) % {"removed": self.removed, "requested": self.requested}


def ai_customers_remove_uncalled(*, task: AiTask, actor: Actor) -> RemoveResult:
    """Remove the task's not-yet-called customers from ITNIO (importCustomer/del, §5.6).

    taskNoCall says which numbers are uncalled; they are removed in requests of ≤100 numbers
    (no limit is documented), then taskNoCall is read again and every asked-for number that is
    gone and was never called becomes REMOVED, whatever the answers were (even unknown ones).
    """
    _require(actor, gettext("remove AI customers from ITNIO"))
    task = AiTask.objects.select_related("app__account").get(pk=task.pk)
    _require_on_itnio(task)
    _check_app(task.app)
    client = _client(task, actor)
    assert task.remote_job_id is not None
    uncalled, _ = _no_call(client, task, None)
    listed = {r.called_phone_number for r in uncalled}
    candidates = list(
        AiCustomer.objects.filter(
            task=task,
            state__in=(AiCustomer.State.PUSHED, AiCustomer.State.UNKNOWN),
            phone_number__in=listed,
        ).order_by("id")
    )
    result = RemoveResult(requested=len(candidates))
    if not candidates:
        raise AiTaskError(
            gettext("ITNIO lists no uncalled customers of task %(task)s that the portal pushed.")
            % {"task": task.name}
        )
    size = client.limits.import_customer_max
    for start in range(0, len(candidates), size):
        chunk = candidates[start : start + size]
        try:
            result.removed += client.import_customer_del(
                app_id=task.app.app_id,
                job_id=task.remote_job_id,
                numbers=[(c.phone_number, c.name) for c in chunk],
            )
        except ItnioApiError as exc:
            result.error = ai_error_message(exc)
            break
        except ItnioError as exc:
            result.error = gettext(
                "%(error)s. The portal checked with taskNoCall what was removed."
            ) % {"error": exc}
            break
    still, _ = _no_call(client, task, None)
    remaining = {r.called_phone_number for r in still}
    gone = [c.id for c in candidates if c.phone_number not in remaining]
    called = set(
        AiCallRecord.objects.filter(customer_id__in=gone).values_list("customer_id", flat=True)
    )
    AiCustomer.objects.filter(id__in=[i for i in gone if i not in called]).update(
        state=AiCustomer.State.REMOVED,
        reason=gettext("Removed from ITNIO before it was called."),
        removed_at=timezone.now(),
    )
    AiCustomer.objects.filter(
        id__in=[c.id for c in candidates if c.phone_number in remaining],
        state=AiCustomer.State.UNKNOWN,
    ).update(state=AiCustomer.State.PUSHED, reason=gettext("Resolved: ITNIO lists this number."))
    return result


def ai_customer_counts(task: AiTask) -> dict[str, int]:
    rows = AiCustomer.objects.filter(task=task).values("state").annotate(n=Count("id"))
    counts = {state: 0 for state in AiCustomer.State.values}
    for row in rows:
        counts[row["state"]] = row["n"]
    return counts
