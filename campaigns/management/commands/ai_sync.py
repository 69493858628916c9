"""manage.py ai_sync [--since DATE]: AI tasks (taskList) and AI call records (recordQuery)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, parse_moment, usage_error
from campaigns.models import ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.ai_records import ai_sync


class Command(PortalCommand):
    help = gettext_lazy(
        "For every active AI app: refresh the tasks from taskList (status, totals; tasks made in "
        "ITNIO's console are added), then fetch the AI call records from --since (default: 24 "
        "hours ago) to now with recordQuery, upserting them by callId."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--since", help=gettext_lazy("start date (YYYY-MM-DD) or ISO date-time")
        )
        parser.add_argument("--app", help=gettext_lazy("only this AI app (ITNIO app ID)"))

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        since = parse_moment(options["since"], "--since") if options["since"] else None
        since = since or now - timedelta(hours=24)
        if since >= now:
            raise usage_error(_("--since must be in the past"))
        app = None
        if options["app"]:
            app = ItnioApp.objects.filter(app_id=options["app"], kind=ItnioApp.Kind.AI).first()
            if app is None:
                raise usage_error(
                    _("--app: no AI voice app with ITNIO app ID %(app)s")
                    % {"app": repr(options["app"])}
                )
        result = ai_sync(actor=Actor.system("ai_sync"), since=since, app=app)
        self.stdout.write(str(result))
        if result.errors:
            raise data_error("; ".join(result.errors))
