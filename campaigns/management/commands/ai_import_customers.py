"""manage.py ai_import_customers TASK FILE [--push]: import an AI task's customers from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand, data_error, usage_error
from campaigns.models import AiTask
from campaigns.services.actors import Actor
from campaigns.services.ai_customer_import import CustomerFileError, ai_customers_import
from campaigns.services.ai_customers import ai_customers_push
from campaigns.services.ai_errors import AiTaskError
from campaigns.services.tabular_guards import ImportFileError, check_in_memory

SHOWN = 50


class Command(PortalCommand):
    help = gettext_lazy(
        "Import customers (name, phone number, gender, other columns as properties) from a CSV "
        "or XLSX file into an AI task, with the admin's row checks. With --push, send the "
        "customers that are not on ITNIO yet with importCustomer, 100 per request, and list the "
        "rows ITNIO rejected."
    )
    spends_money = True

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "task", help=gettext_lazy("the task: its portal ID, its name, or job:JOBID")
        )
        parser.add_argument("file", help=gettext_lazy("a CSV or XLSX file with a header row"))
        parser.add_argument(
            "--push", action="store_true", help=gettext_lazy("push the customers to ITNIO")
        )
        parser.add_argument(
            "--dry-run", action="store_true", help=gettext_lazy("check the file, store nothing")
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user, label = self.acting(options)
        task = self._task(options["task"])
        path = Path(options["file"])
        if not path.is_file():
            raise usage_error(_("FILE: %(path)s is not a file") % {"path": path})
        try:
            check_in_memory(path.stat().st_size)  # the file is read whole
        except ImportFileError as exc:
            raise data_error(f"{path.name}: {exc}") from exc
        try:
            summary = ai_customers_import(
                task=task,
                data=path.read_bytes(),
                file_name=path.name,
                dry_run=options["dry_run"],
            )
        except CustomerFileError as exc:
            raise data_error(f"{path.name}: {exc}") from exc
        if options["dry_run"]:
            line = _("Would import into task %(task)s: %(summary)s")
        else:
            line = _("Imported into task %(task)s: %(summary)s")
        self.stdout.write(line % {"task": task.name, "summary": summary})
        for row, name, phone, reason in summary.skipped[:SHOWN]:
            self.stdout.write(
                _("  row %(row)s skipped (%(name)s, %(phone)s): %(reason)s")
                % {"row": row, "name": name or "-", "phone": phone or "-", "reason": reason}
            )
        if len(summary.skipped) > SHOWN:
            self.stdout.write(
                _("  … and %(count)s more skipped rows") % {"count": len(summary.skipped) - SHOWN}
            )
        if not options["push"] or options["dry_run"]:
            return
        try:
            result = ai_customers_push(task=task, actor=Actor(label=label, user=user))
        except AiTaskError as exc:
            raise data_error(str(exc)) from exc
        self.stdout.write(_("Pushed: %(result)s") % {"result": result})
        for name, phone, reason in result.rejected_rows[:SHOWN]:
            self.stdout.write(
                _("  rejected %(name)s (%(phone)s): %(reason)s")
                % {"name": name, "phone": phone, "reason": reason}
            )
        if result.error:
            raise data_error(result.error)

    @staticmethod
    def _task(spec: str) -> AiTask:
        tasks = AiTask.objects.select_related("app__account")
        if spec.startswith("job:") and spec[4:].isdigit():
            found = list(tasks.filter(remote_job_id=int(spec[4:])))
        elif spec.isdigit():
            found = list(tasks.filter(pk=int(spec))) or list(tasks.filter(name=spec))
        else:
            found = list(tasks.filter(name=spec))
        if not found:
            raise usage_error(
                _("TASK: no AI task %(task)s (give its ID, name or job:JOBID)")
                % {"task": repr(spec)}
            )
        if len(found) > 1:
            raise usage_error(
                _("TASK: several AI tasks match %(task)s; give its ID") % {"task": repr(spec)}
            )
        return found[0]
