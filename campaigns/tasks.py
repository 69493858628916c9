"""Background tasks of the campaigns app (django.tasks API through the django-tasks backport).

Queues (settings.TASK_QUEUES), each served by a worker of its own so nothing long delays the
quick housekeeping: "default" only has short jobs (heartbeat, tick, stale-send sweep);
"dispatch" the campaign dispatchers; "sync" record sync, callee imports, pruning and the
personal-data retention; "figures" the daily figures refresh, which is time-boxed as well;
"webhooks" the outbound webhook delivery (time-boxed too).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_tasks import task, task_backends

from campaigns.models import Heartbeat
from campaigns.scheduler import periodic


@periodic(every=timedelta(minutes=1), label=_("Worker heartbeat"))
@task()
def worker_heartbeat() -> str:
    """Prove a worker is executing tasks: the admin shows how long ago this last ran."""
    backend = type(task_backends["default"]).__name__
    Heartbeat.objects.update_or_create(
        name="worker",
        defaults={
            "last_seen_at": timezone.now(),
            "detail": gettext("task ran on %(backend)s") % {"backend": backend},
        },
    )
    return backend


@periodic(every=timedelta(hours=6), label=_("Pruning of old task results"))
@task(queue_name="sync")
def prune_task_results() -> int:
    """Delete finished task results of the database backend after TASK_RESULT_RETENTION_DAYS."""
    if "django_tasks_db" not in settings.INSTALLED_APPS:
        return 0
    from django_tasks_db.models import DBTaskResult

    cutoff = timezone.now() - timedelta(days=settings.TASK_RESULT_RETENTION_DAYS)
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    return deleted


@periodic(every=timedelta(minutes=1), label=_("Sweep of calls left sending"))
@task()
def sweep_stale_sends() -> int:
    """Calls left SENDING by a sender that died become UNKNOWN (never resent)."""
    from campaigns.services.calls import calls_sweep_stale_sends

    return calls_sweep_stale_sends()


@periodic(every=timedelta(minutes=1), label=_("Daily call figures refresh"))
@task(queue_name="figures")
def refresh_call_stats() -> int:
    """Recompute the daily call figures of the days whose calls changed (see services/reports)."""
    from campaigns.services.reports import refresh_call_stats as refresh

    return refresh()


@periodic(every=timedelta(minutes=1), label=_("Push inbox backlog (when no apply worker runs)"))
@task(queue_name="sync")
def apply_pushes_backlog() -> str:
    """The fallback for a deployment without `manage.py apply_pushes`: apply what is due, for at
    most PUSH_APPLY_MAX_SECONDS (the worker and this share the queue safely)."""
    from campaigns.services.pushes import pushes_apply_due

    return str(pushes_apply_due())


@periodic(every=timedelta(hours=1), label=_("Pruning of applied pushes"))
@task(queue_name="sync")
def prune_push_inbox() -> int:
    """Delete applied push-inbox entries older than PUSH_RETENTION_DAYS."""
    from campaigns.services.pushes import pushes_prune

    return pushes_prune()


@periodic(every=timedelta(hours=1), label=_("Personal data retention"))
@task(queue_name="sync")
def apply_retention() -> str:
    """Delete or blank the personal data older than the retention settings (all off by default:
    CALLEE_RETENTION_DAYS, CALL_NUMBER_RETENTION_DAYS, RECORDING_LINK_RETENTION_DAYS,
    PUSH_BODY_RETENTION_DAYS; see services/retention.py)."""
    from campaigns.services.retention import retention_apply

    return str(retention_apply())


@periodic(every=timedelta(minutes=5), label=_("Call record sync"))
@task(queue_name="sync")
def sync_records() -> str:
    """Refresh the calls that are not final yet (recordGroup), and expire the too old ones."""
    from campaigns.services.actors import Actor
    from campaigns.services.calls import calls_sync_due

    return str(calls_sync_due(actor=Actor.system("sync_records")))


@periodic(every=timedelta(hours=24), label=_("Rate tables backfill from existing calls"))
@task(queue_name="sync")
def backfill_rates() -> int:
    """Learn every app's rates from its existing final calls (services/rates.py); the record
    apply keeps them up to date in between. Idempotent: the newest rate per prefix wins."""
    from campaigns.services.rates import rates_backfill

    return rates_backfill()


@task(queue_name="dispatch")
def dispatch_campaign(campaign_id: int) -> str:
    """Send a running campaign's pending callees (see campaigns.services.dispatch)."""
    from campaigns.services.dispatch import campaign_dispatch

    return str(campaign_dispatch(campaign_id))


@periodic(every=timedelta(minutes=1), label=_("Campaign tick (scheduled starts, stuck batches)"))
@task()
def campaigns_tick() -> str:
    """Start scheduled campaigns, mark stuck batches unknown, restart dead dispatchers."""
    from campaigns.services.campaigns import campaigns_tick as tick

    return str(tick())


@task(queue_name="sync")
def run_callee_import(import_id: int) -> str:
    """Read a large callee file into staged callees, updating its progress; also resumes one
    whose worker stopped (import_jobs.py)."""
    from campaigns.services.import_jobs import import_run

    return import_run(import_id)


@task(queue_name="sync")
def run_contact_import(import_id: int) -> str:
    """Read a large contact file into its list, updating its progress (contact_imports.py)."""
    from campaigns.services.contact_imports import contact_import_run

    return contact_import_run(import_id)


@task(queue_name="sync")
def confirm_callee_import(import_id: int) -> str:
    """Make a large confirmed import's callees pending in chunks (import_jobs.py)."""
    from campaigns.services.import_jobs import import_confirm_run

    return import_confirm_run(import_id)


@periodic(every=timedelta(minutes=1), label=_("Resume of callee imports whose worker stopped"))
@task()
def resume_stale_imports() -> str:
    """Callee imports whose worker stopped mid-file are enqueued again, to resume."""
    from campaigns.services.import_jobs import imports_resume_stale

    return f"resumed={imports_resume_stale()}"


@periodic(every=timedelta(minutes=5), label=_("AI task and record sync"))
@task(queue_name="sync")
def ai_sync_records() -> str:
    """AI tasks (taskList) and the last two hours of AI call records (recordQuery): ITNIO retries
    a failed push every 30 minutes up to 3 times (itnio-api.md §6.4), so a record whose push never
    arrived is filled in; `manage.py ai_sync --since` reaches further back."""
    from campaigns.services.actors import Actor
    from campaigns.services.ai_records import ai_sync

    since = timezone.now() - timedelta(hours=2)
    return str(ai_sync(actor=Actor.system("ai_sync_records"), since=since))


@periodic(every=timedelta(minutes=settings.BALANCE_WATCH_MINUTES), label=_("Balance watch"))
@task(queue_name="sync")
def watch_balances() -> str:
    """Read each account's balance, keep it for the chart, warn under the threshold."""
    from campaigns.services.balance_watch import balances_watch

    return str(balances_watch())


@periodic(every=timedelta(minutes=10), label=_("E-mail reports"))
@task(queue_name="sync")
def send_email_reports() -> int:
    """Users' daily and weekly reports whose hour has come."""
    from campaigns.services.email_reports import reports_send_due

    return reports_send_due()


@task(queue_name="sync")
def mail_campaign_state(campaign_id: int) -> int:
    """A campaign paused or completed: its creator and subscribers get an e-mail."""
    from campaigns.services.email_reports import campaign_state_mail

    return campaign_state_mail(campaign_id)


@periodic(every=timedelta(minutes=1), label=_("Alerts"))
@task()
def check_alerts() -> int:
    """Check the alert rules: banners while they fire, one e-mail per crossing."""
    from campaigns.services.alerts import check_alerts as check

    return check()


@periodic(every=timedelta(minutes=1), label=_("Outbound webhook delivery"))
@task(queue_name="webhooks")
def deliver_webhooks() -> str:
    """Deliver the due webhook messages of the outbox, for at most WEBHOOKS_DELIVER_MAX_SECONDS
    (retries wait their backoff; outbound_hooks_delivery.py)."""
    from campaigns.services.outbound_hooks_delivery import webhooks_deliver_due

    return str(webhooks_deliver_due())


@periodic(every=timedelta(hours=1), label=_("Pruning of delivered webhooks"))
@task(queue_name="sync")
def prune_webhooks() -> int:
    """Delete delivered webhook messages older than WEBHOOKS_RETENTION_DAYS."""
    from campaigns.services.outbound_hooks_delivery import webhooks_prune

    return webhooks_prune()


@periodic(every=timedelta(minutes=5), label=_("Bill check"))
@task(queue_name="sync")
def check_bills() -> str:
    """Check the charge of the calls that became final and priced since the last run."""
    from campaigns.services.bill_check import bill_check_due

    report = bill_check_due()
    return f"checked={report.checked} mismatches={report.mismatches}"
