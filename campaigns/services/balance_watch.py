"""The balance watch: every BALANCE_WATCH_MINUTES the scheduler reads each account's balance
(getBalance, which spends nothing), keeps the reading for the account page's chart, and warns
when balance + gift + credit falls under the account's low-balance threshold: a banner on every
admin page while it is low, and one e-mail to the Admins per crossing (not one per reading)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from campaigns.formatting import balance_currency, money
from campaigns.models import BalanceReading, ItnioAccount
from campaigns.roles import ADMIN
from campaigns.services.actors import Actor
from itnio_portal.itnio.errors import ItnioError

logger = logging.getLogger(__name__)
WATCH = Actor.system("balance watch")


def threshold_of(account: ItnioAccount) -> Decimal:
    if account.low_balance_threshold is not None:
        return account.low_balance_threshold
    return Decimal(str(settings.PORTAL_LOW_BALANCE))


def total_of(account: ItnioAccount) -> Decimal | None:
    """What the account can spend: balance + gift + credit (None before the first reading)."""
    if account.balance is None:
        return None
    return account.balance + (account.gift or 0) + (account.credit or 0)


def is_low(account: ItnioAccount) -> bool:
    total = total_of(account)
    return total is not None and total < threshold_of(account)


@dataclass
class WatchReport:
    read: int = 0
    failed: int = 0
    crossed: int = 0

    def __str__(self) -> str:
        return f"read={self.read} failed={self.failed} crossed={self.crossed}"


def balances_watch(*, now: datetime | None = None) -> WatchReport:
    """Read every account once; record, compare, warn. No transaction around a request."""
    now = now or timezone.now()
    report = WatchReport()
    for account in ItnioAccount.objects.order_by("pk"):
        crossed = balance_read(account, now=now)
        if crossed is None:
            report.failed += 1
            continue
        report.read += 1
        report.crossed += crossed
    cutoff = now - timedelta(days=settings.BALANCE_HISTORY_DAYS)
    BalanceReading.objects.filter(read_at__lt=cutoff).delete()
    return report


def balance_read(account: ItnioAccount, *, now: datetime, actor: Actor = WATCH) -> int | None:
    """Read one account's balance now (getBalance, outside any transaction), keep the reading
    and compare it: 1 when it crossed under the threshold, 0 when not, None when it could not
    be read (the reason kept)."""
    from campaigns.services.accounts import account_verify

    try:
        account = account_verify(account=account, actor=actor)
    except ItnioError as exc:
        BalanceReading.objects.create(account=account, read_at=now, error=str(exc)[:2000])
        return None
    BalanceReading.objects.create(
        account=account,
        read_at=now,
        balance=account.balance,
        gift=account.gift,
        credit=account.credit,
    )
    return _compare(account, now)


def _compare(account: ItnioAccount, now: datetime) -> int:
    """1 when this reading crossed under the threshold (the e-mail goes out once)."""
    if not is_low(account):
        if account.low_balance_since is not None:
            ItnioAccount.objects.filter(pk=account.pk).update(low_balance_since=None)
        return 0
    # Conditional: of two watchers reading at once, one sends the e-mail.
    crossed = ItnioAccount.objects.filter(pk=account.pk, low_balance_since__isnull=True).update(
        low_balance_since=now
    )
    if crossed:
        account.refresh_from_db()
        _mail_admins(account)
        from campaigns.services.outbound_hooks import BALANCE_LOW, emit

        emit(
            BALANCE_LOW,
            [
                {
                    "account": account.name,
                    "total": str(total_of(account)),
                    "threshold": str(threshold_of(account)),
                    "currency": balance_currency(),
                }
            ],
        )
    return crossed


def low_accounts() -> list[ItnioAccount]:
    """Accounts whose last reading is under their threshold (the banner)."""
    return list(ItnioAccount.objects.filter(low_balance_since__isnull=False).order_by("name"))


def low_balance_text(account: ItnioAccount) -> str:
    currency = balance_currency()
    return gettext(
        "Low balance on %(account)s: %(total)s left (balance, gift and credit), under the "
        "threshold of %(threshold)s."
    ) % {
        "account": account.name,
        "total": money(total_of(account), currency),
        "threshold": money(threshold_of(account), currency),
    }


def _admin_addresses() -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    admins = users.filter(Q(is_superuser=True) | Q(groups__name=ADMIN)).distinct()
    return sorted(admins.values_list("email", flat=True))


def _mail_admins(account: ItnioAccount) -> None:
    recipients = _admin_addresses()
    if not recipients:
        logger.warning("Low balance on %s: no Admin has an e-mail address", account.name)
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = gettext("ITNIO Portal: low balance on %(account)s") % {"account": account.name}
        body = "\n\n".join(
            [
                low_balance_text(account),
                gettext("Top up the account on ITNIO before campaigns stop for want of balance."),
                f"{settings.PORTAL_PUBLIC_URL.rstrip('/')}/admin/campaigns/itnioaccount/"
                f"{account.pk}/change/",
            ]
        )
    try:
        send_mail(subject, body, None, recipients)
    except Exception:  # the watch goes on; the banner still shows
        logger.exception("Low-balance e-mail for %s could not be sent", account.name)


def balance_history(account: ItnioAccount, *, days: int = 30) -> dict[str, object]:
    """The account page's chart: the readings of the last `days` days, oldest first, as plain
    numbers (the series' names in the reader's language, the threshold as a flat line)."""
    since = timezone.now() - timedelta(days=days)
    rows = list(
        account.balance_readings.filter(read_at__gte=since, balance__isnull=False)
        .order_by("read_at")
        .values_list("read_at", "balance", "gift", "credit")[:5000]
    )
    threshold = float(threshold_of(account))
    return {
        "currency": balance_currency(),
        "labels": [timezone.localtime(at).strftime("%Y-%m-%d %H:%M") for at, *_ in rows],
        "series": {
            gettext("balance + gift + credit"): [
                float(b + (g or 0) + (c or 0)) for _at, b, g, c in rows
            ],
            gettext("balance"): [float(b) for _at, b, _g, _c in rows],
            gettext("low-balance threshold"): [threshold for _row in rows],
        },
    }
