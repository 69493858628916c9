"""manage.py rotate_field_keys: re-encrypt stored secrets with the first ITNIO_FIELD_KEYS key."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.fields import UndecryptableSecret
from campaigns.management.base import PortalCommand, data_error
from campaigns.models import ItnioAccount


class Command(PortalCommand):
    help = gettext_lazy(
        "Re-encrypt every stored API secret with the newest key. Put the new key first in "
        "ITNIO_FIELD_KEYS (keep the old ones after it), run this, then drop the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        bad: list[str] = []
        count = 0
        with transaction.atomic():
            for account in ItnioAccount.objects.select_for_update():
                if isinstance(account.api_secret, UndecryptableSecret):
                    bad.append(account.name)
                    continue
                account.save(update_fields=["api_secret"])
                count += 1
        self.stdout.write(_("Re-encrypted %(count)s secret(s).") % {"count": count})
        if bad:
            raise data_error(
                _(
                    "No configured key decrypts the secret of: %(accounts)s. Add the old key to "
                    "ITNIO_FIELD_KEYS or re-enter those secrets."
                )
                % {"accounts": ", ".join(bad)}
            )
