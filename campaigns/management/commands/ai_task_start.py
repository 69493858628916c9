"""manage.py ai_task_start --app A --job-id N: start an AI task (POST /aivoice/taskStart)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import ItnioApp
from campaigns.services.actors import Actor
from campaigns.services.ai_errors import AiTaskError
from campaigns.services.ai_tasks import ai_task_start_job


class Command(PortalCommand):
    help = gettext_lazy(
        "Start an AI outbound task by its ITNIO job ID (POST /aivoice/taskStart). Works for any "
        "job of the app: the local task record is created or updated from taskList. ITNIO's "
        "refusals (-45 no customers, -39 already running, …) are explained on stderr."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--app", required=True, help=gettext_lazy("ITNIO app ID of an AI voice app")
        )
        parser.add_argument(
            "--job-id", required=True, type=int, help=gettext_lazy("ITNIO job ID (jobId)")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        app = ItnioApp.objects.select_related("account").filter(app_id=options["app"]).first()
        if app is None or app.kind != ItnioApp.Kind.AI:
            raise usage_error(
                _("--app: no AI voice app with ITNIO app ID %(app)s")
                % {"app": repr(options["app"])}
            )
        if options["job_id"] < 1:
            raise usage_error(_("--job-id must be a positive number"))
        try:
            task = ai_task_start_job(
                app=app, job_id=options["job_id"], actor=Actor(label=label, user=user)
            )
        except AiTaskError as exc:
            raise data_error(
                _("job %(job)s: %(error)s") % {"job": options["job_id"], "error": exc}
            ) from exc
        values = {
            "job": task.remote_job_id,
            "name": task.name,
            "app": app.app_id,
            "status": task.remote_status,
        }
        if task.remote_status:
            line = _("Started job %(job)s (%(name)s) of app %(app)s. ITNIO status: %(status)s.")
        else:
            line = _("Started job %(job)s (%(name)s) of app %(app)s.")
        self.stdout.write(line % values)
