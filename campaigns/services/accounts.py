"""Services for ITNIO accounts and apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import ItnioAccount, ItnioApp, new_push_token
from campaigns.services.actors import Actor
from itnio_portal.itnio import ItnioError


@dataclass(frozen=True)
class AccountSetupResult:
    account: ItnioAccount
    account_created: bool
    apps: list[tuple[ItnioApp, bool]]


def account_setup(
    *,
    name: str,
    api_key: str,
    api_secret: str,
    voice_app_id: str,
    ai_app_id: str | None = None,
    base_url: str | None = None,
) -> AccountSetupResult:
    """Create or update an account and its apps by name and app ID, without calling ITNIO."""
    with transaction.atomic():
        account, created = ItnioAccount.objects.select_for_update().get_or_create(
            name=name, defaults={"api_key": api_key, "api_secret": api_secret}
        )
        if not created:
            account.api_key = api_key
            account.api_secret = api_secret
        if base_url is not None:
            account.base_url = base_url
        account.full_clean()
        account.save()
        apps = [_app_upsert(account, voice_app_id, ItnioApp.Kind.VOICE)]
        if ai_app_id:
            apps.append(_app_upsert(account, ai_app_id, ItnioApp.Kind.AI))
    return AccountSetupResult(account, created, apps)


def _app_upsert(account: ItnioAccount, app_id: str, kind: str) -> tuple[ItnioApp, bool]:
    app = ItnioApp.objects.select_for_update().filter(app_id=app_id).first()
    if app is not None and app.account_id != account.pk:
        raise ValueError(
            _(
                "App ID %(app_id)s already belongs to account %(account)s; "
                "an ITNIO app ID is unique."
            )
            % {"app_id": app_id, "account": app.account.name}
        )
    created = app is None
    if created:
        app = ItnioApp(account=account, app_id=app_id, kind=kind)
    app.kind = kind
    app.full_clean()
    app.save()
    return app, created


def account_verify(*, account: ItnioAccount, actor: Actor) -> ItnioAccount:
    """Check the credentials with GET /sms/getBalance; store the balance or the exact reason.

    Raises the ItnioError after storing it, so the caller can show it.
    """
    from campaigns.services.request_log import logged_client

    now = timezone.now()
    try:
        balance = logged_client(account, actor=actor, obj=account).get_balance()
    except ItnioError as exc:
        ItnioAccount.objects.filter(pk=account.pk).update(verify_error=str(exc), verified_at=now)
        account.refresh_from_db()
        raise
    ItnioAccount.objects.filter(pk=account.pk).update(
        balance=balance.balance,
        gift=balance.gift,
        credit=balance.credit,
        verified_at=now,
        verify_error="",
    )
    account.refresh_from_db()
    return account


def app_rotate_push_token(
    *, app: ItnioApp, new_token: str | None = None, revoke_now: bool = False
) -> ItnioApp:
    """Give the app a new push token. The old one keeps working for PUSH_TOKEN_GRACE_SECONDS
    (ITNIO retries a failed push for about 90 minutes, itnio-api.md §6.4), unless `revoke_now`
    (a leaked URL): then the old token, and any earlier one still in its grace period, stop
    at once (within the receiver's cache time, campaigns/webhooks.py).

    Applying the same `new_token` twice (a form sent twice) changes nothing the second time.
    """
    grace = settings.PUSH_TOKEN_GRACE_SECONDS
    with transaction.atomic():
        app = ItnioApp.objects.select_for_update().get(pk=app.pk)
        if new_token is not None and new_token == app.push_token:
            return app
        keep_old = not revoke_now and grace > 0
        app.previous_push_token = app.push_token if keep_old else None
        app.previous_push_token_expires_at = (
            timezone.now() + timedelta(seconds=grace) if keep_old else None
        )
        app.push_token = new_token or new_push_token()
        app.save(
            update_fields=["push_token", "previous_push_token", "previous_push_token_expires_at"]
        )
    return app
