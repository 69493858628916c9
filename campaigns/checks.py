"""Django system checks of the settings the engine relies on (run by `manage.py check`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

#: itnio-api.md §3.2: the largest documented sendGroup list (new ZH docs; the others say 200).
DOCUMENTED_SEND_GROUP_MAX = 1000


@checks.register(checks.Tags.compatibility)
def check_send_group_max(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    value = settings.ITNIO_SEND_GROUP_MAX
    if not isinstance(value, int) or not 1 <= value <= DOCUMENTED_SEND_GROUP_MAX:
        return [
            checks.Error(
                f"ITNIO_SEND_GROUP_MAX is {value!r}; a sendGroup request holds 1 to "
                f"{DOCUMENTED_SEND_GROUP_MAX} numbers (the largest documented limit), so a larger "
                "batch would be refused by ITNIO every time it is sent.",
                hint="Set ITNIO_SEND_GROUP_MAX to 200 (every ITNIO version) or at most 1000.",
                id="itnio.E001",
            )
        ]
    return []
