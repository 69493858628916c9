"""Alerts: every minute each active rule is checked with a few bounded queries. While its
condition holds it is *firing*: a banner on every admin page says what was found; at the
crossing (not firing → firing) its recipients get one e-mail, unless one went out within the
rule's quiet period. What was found is kept as numbers and names and put into words when shown,
in the reader's language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone, translation
from django.utils.translation import gettext

from campaigns.formatting import count, money
from campaigns.models import (
    AlertRule,
    Call,
    Campaign,
    Heartbeat,
    ItnioAccount,
    ItnioApp,
    PushEvent,
)
from campaigns.services.reports import CallSlice, stat_totals

logger = logging.getLogger(__name__)
Kind = AlertRule.Kind
CAP = 100_000  # counts stop here ("100,000+"): an alert needs "more than X", not the exact sum


def _asr_low(rule: AlertRule, now: datetime) -> dict[str, Any]:
    running = Campaign.objects.filter(state=Campaign.State.RUNNING)
    if rule.app_id:
        running = running.filter(app_id=rule.app_id)
    low = []
    for campaign in running.order_by("name")[:50]:
        last = Call.objects.filter(campaign=campaign, hangup_time__isnull=False).order_by(
            "-hangup_time"
        )[: rule.window]
        ids = list(last.values_list("pk", flat=True))
        if len(ids) < rule.window:
            continue  # too few final calls to judge yet
        answered = Call.objects.filter(pk__in=ids, answer_time__isnull=False).count()
        asr = 100 * answered / len(ids)
        if asr < rule.threshold:
            low.append([campaign.name, round(asr, 1)])
    return {"campaigns": low} if low else {}


def _spend_high(rule: AlertRule, now: datetime) -> dict[str, Any]:
    today = now.astimezone(UTC).date()
    apps = ItnioApp.objects.filter(pk=rule.app_id) if rule.app_id else ItnioApp.objects.all()
    high = []
    for app in apps.order_by("app_id"):
        rows = stat_totals(CallSlice(app_id=app.pk, since=today, until=today), ("currency",))
        for row in rows:
            spent = Decimal(str(row["cost_sum"] or 0))
            if row["priced"] and spent > rule.threshold:
                high.append([app.app_id, str(spent), row["currency"] or "USD"])
    return {"apps": high} if high else {}


def _balance_low(rule: AlertRule, now: datetime) -> dict[str, Any]:
    names = list(
        ItnioAccount.objects.filter(low_balance_since__isnull=False)
        .order_by("name")
        .values_list("name", flat=True)
    )
    return {"accounts": names} if names else {}


def _capped(queryset: Any) -> int:
    return len(queryset.values_list("pk", flat=True)[: CAP + 1])


def _pushes_failed(rule: AlertRule, now: datetime) -> dict[str, Any]:
    failed = PushEvent.objects.filter(
        state=PushEvent.State.FAILED, received_at__gte=now - timedelta(hours=1)
    )
    n = _capped(failed)
    return {"n": n} if n > rule.threshold else {}


def _unknown_waiting(rule: AlertRule, now: datetime) -> dict[str, Any]:
    old = Call.objects.filter(
        state=Call.State.UNKNOWN, created_at__lt=now - timedelta(hours=rule.window)
    )
    n = _capped(old)
    return {"n": n} if n > rule.threshold else {}


def _worker_silent(rule: AlertRule, now: datetime) -> dict[str, Any]:
    from campaigns.templatetags.portal_status import COMPONENTS

    cutoff = now - timedelta(minutes=rule.window)
    seen = dict(Heartbeat.objects.values_list("name", "last_seen_at"))
    silent = [name for name, _label, _cmd in COMPONENTS[:2] if (seen.get(name) or cutoff) <= cutoff]
    return {"components": silent} if silent else {}


CHECKS: dict[str, Callable[[AlertRule, datetime], dict[str, Any]]] = {
    Kind.ASR_LOW: _asr_low,
    Kind.SPEND_HIGH: _spend_high,
    Kind.BALANCE_LOW: _balance_low,
    Kind.PUSHES_FAILED: _pushes_failed,
    Kind.UNKNOWN_WAITING: _unknown_waiting,
    Kind.WORKER_SILENT: _worker_silent,
}


def alert_text(rule: AlertRule) -> str:
    """What the rule found, in the active language."""
    f, x, n = rule.finding, rule.threshold, rule.window
    if rule.kind == Kind.ASR_LOW:
        parts = ", ".join(f"{name} {asr} %" for name, asr in f.get("campaigns", []))
        return gettext(
            "Answer-seizure ratio under %(x)s %% over the last %(n)s final calls: %(parts)s"
        ) % {"x": x, "n": count(n), "parts": parts}
    if rule.kind == Kind.SPEND_HIGH:
        parts = ", ".join(f"{app} {money(v, c)}" for app, v, c in f.get("apps", []))
        return gettext("Spend today over %(x)s: %(parts)s") % {"x": x, "parts": parts}
    if rule.kind == Kind.BALANCE_LOW:
        return gettext("Balance low: %(accounts)s") % {"accounts": ", ".join(f["accounts"])}
    if rule.kind == Kind.PUSHES_FAILED:
        return gettext("%(n)s pushes failed in the last hour (more than %(x)s)") % {
            "n": count(f["n"]),
            "x": count(int(x)),
        }
    if rule.kind == Kind.UNKNOWN_WAITING:
        return gettext(
            "%(n)s calls have been unknown for more than %(h)s hours: reconcile them"
        ) % {
            "n": count(f["n"]),
            "h": count(n),
        }
    from campaigns.templatetags.portal_status import COMPONENTS

    labels = {name: str(label) for name, label, _cmd in COMPONENTS}
    return gettext("Not seen for %(m)s minutes: %(components)s") % {
        "m": count(n),
        "components": ", ".join(labels[c] for c in f.get("components", [])),
    }


def check_alerts(*, now: datetime | None = None) -> int:
    """Check every active rule; returns how many e-mails went out."""
    now = now or timezone.now()
    mailed = 0
    for rule in AlertRule.objects.filter(active=True).order_by("pk"):
        try:
            finding = CHECKS[rule.kind](rule, now)
        except Exception:  # one broken rule never stops the others
            logger.exception("Alert %s could not be checked", rule.name)
            continue
        mailed += _record(rule, finding, now)
    return mailed


def _record(rule: AlertRule, finding: dict[str, Any], now: datetime) -> int:
    rows = AlertRule.objects.filter(pk=rule.pk)
    if not finding:
        rows.update(firing_since=None, finding={}, checked_at=now)
        return 0
    if rule.firing_since is not None:
        rows.update(finding=finding, checked_at=now)
        return 0
    quiet = rule.notified_at is not None and now - rule.notified_at < timedelta(
        minutes=rule.quiet_minutes
    )
    # The crossing, claimed by one checker: only it sends the e-mail.
    crossed = rows.filter(firing_since__isnull=True).update(
        firing_since=now, finding=finding, checked_at=now
    )
    if not crossed or quiet:
        return 0
    rows.update(notified_at=now)
    rule.refresh_from_db()
    return _mail(rule)


def _mail(rule: AlertRule) -> int:
    recipients = sorted(
        rule.recipients.filter(is_active=True).exclude(email="").values_list("email", flat=True)
    )
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = gettext("ITNIO Portal alert: %(name)s") % {"name": rule.name}
        body = f"{alert_text(rule)}\n\n{settings.PORTAL_PUBLIC_URL.rstrip('/')}/admin/"
    try:
        send_mail(subject, body, None, recipients)
    except Exception:
        logger.exception("Alert e-mail for %s could not be sent", rule.name)
        return 0
    return 1


def firing_alerts() -> list[AlertRule]:
    return list(AlertRule.objects.filter(active=True, firing_since__isnull=False).order_by("name"))
