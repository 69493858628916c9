"""A campaign's per-callee results, for the export (CSV/XLSX through campaigns/exports.py):
number, name, custom fields, attempts, final outcome, DTMF key, opt-out, cost, variant.

Name and custom fields come from the contact of the campaign's contact lists with the callee's
number (the first one, when several lists hold it); one column per custom field any of those
contacts has. Cost sums every attempt's call. Read with an iterator, one statement for the rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import DecimalField, OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.exports import EXPORT_CHUNK, cell, neutralise
from campaigns.models import Call, Callee, Campaign, Contact
from campaigns.services.retries import NOT_FINAL_AFTER
from campaigns.services.variant_figures import NO_KEY

FIXED_COLUMNS = ("number", "name")
RESULT_COLUMNS = (
    "attempts",
    "outcome",
    "dtmf_key",
    "opted_out",
    "cost",
    "currency",
    "variant",
)


def custom_field_names(campaign: Campaign) -> list[str]:
    """Every custom field name of the contacts of the campaign's lists (sorted)."""
    list_ids = list(campaign.contact_lists.values_list("id", flat=True))
    if not list_ids:
        return []
    table = connection.ops.quote_name(Contact._meta.db_table)
    marks = ", ".join(["%s"] * len(list_ids))
    if connection.vendor == "postgresql":
        sql = (
            f"SELECT DISTINCT jsonb_object_keys(fields::jsonb) FROM {table} "
            f"WHERE contact_list_id IN ({marks}) AND jsonb_typeof(fields::jsonb) = 'object'"
        )
    else:
        sql = (
            f"SELECT DISTINCT j.key FROM {table}, json_each({table}.fields) j "
            f"WHERE contact_list_id IN ({marks}) AND json_type({table}.fields) = 'object'"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, list_ids)
        return sorted(str(row[0]) for row in cursor.fetchall())


def outcome(callee: Callee, now: Any) -> str:
    """The callee's final outcome in plain words (its latest attempt's record decides)."""
    call = callee.call
    if callee.state == Callee.State.SUBMITTED and call is not None:
        if call.answer_time is not None:
            return gettext("reached")
        if call.hangup_time is not None or call.placed_at < now - NOT_FINAL_AFTER:
            return gettext("not reached")
        return gettext("submitted")
    if callee.state == Callee.State.SKIPPED and callee.skip_reason:
        return gettext("skipped (%(reason)s)") % {
            "reason": Callee.SkipReason(callee.skip_reason).label
        }
    return str(callee.get_state_display())


def result_rows(campaign: Campaign) -> Iterator[list[Any]]:
    """The header, then one row per callee of the campaign (staged ones left out)."""
    names = custom_field_names(campaign)
    yield [neutralise(c) for c in (*FIXED_COLUMNS, *names, *RESULT_COLUMNS)]
    contact = Contact.objects.filter(
        contact_list__in=campaign.contact_lists.all(), number=OuterRef("number")
    ).order_by("id")
    cost = (
        Call.objects.filter(campaign_callee=OuterRef("pk"), cost__isnull=False)
        .order_by()
        .values("campaign_callee")
        .annotate(total=Sum("cost"))
        .values("total")
    )
    callees = (
        Callee.objects.filter(campaign_id=campaign.pk)
        .exclude(state=Callee.State.STAGED)
        .select_related("call", "variant")
        .annotate(
            contact_name=Subquery(contact.values("name")[:1]),
            contact_fields=Subquery(contact.values("fields")[:1]),
            total_cost=Subquery(cost, output_field=DecimalField(max_digits=18, decimal_places=6)),
        )
        .order_by("id")
    )
    now = timezone.now()
    key = campaign.opt_out_key
    for callee in callees.iterator(chunk_size=EXPORT_CHUNK):
        fields = callee.contact_fields
        if isinstance(fields, str):  # a JSON text on some backends
            fields = json.loads(fields or "{}")
        fields = fields if isinstance(fields, dict) else {}
        call = callee.call
        dtmf = call.feedback_value if call is not None and call.feedback_value not in NO_KEY else ""
        total = callee.total_cost
        yield [
            cell(v)
            for v in (
                callee.number,
                callee.contact_name or "",
                *(fields.get(name, "") for name in names),
                callee.attempts,
                outcome(callee, now),
                dtmf,
                "yes" if key and dtmf == key else "",
                Decimal(total) if total is not None else "",
                (call.currency or "USD") if call is not None and total is not None else "",
                callee.variant.label if callee.variant else "",
            )
        ]
