"""Services for ITNIO accounts and apps."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from campaigns.models import ItnioAccount, ItnioApp


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
            f"App ID {app_id} already belongs to account {app.account.name}; "
            "an ITNIO app ID is unique."
        )
    created = app is None
    if created:
        app = ItnioApp(account=account, app_id=app_id, kind=kind)
    app.kind = kind
    app.full_clean()
    app.save()
    return app, created
