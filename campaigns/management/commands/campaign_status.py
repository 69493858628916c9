"""manage.py campaign_status NAME: state, counters, progress and batches of a campaign."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.management.base import PortalCommand
from campaigns.management.campaign_commands import get_campaign
from campaigns.models import DispatchBatch
from campaigns.services.campaign_plan import campaign_progress
from campaigns.services.campaign_state import (
    SKIP_KEYS,
    skipped_by_reason,
    waiting_for_reconciliation,
)
from campaigns.services.opt_outs import opt_out_count
from campaigns.services.windows import waiting_for_window


class Command(PortalCommand):
    help = gettext_lazy("Show a campaign's state, callee counters, progress and estimated finish.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = get_campaign(options["name"])
        progress = campaign_progress(campaign)
        self.stdout.write(
            f"{campaign.name}: {progress.state_display}  ({campaign.state_reason or '-'})"
        )
        if progress.waiting:
            self.stdout.write(
                _("not finished: %(waiting)s (manage.py reconcile_campaign %(name)s)")
                % {
                    "waiting": waiting_for_reconciliation(progress.waiting),
                    "name": repr(campaign.name),
                }
            )
        self.stdout.write(
            "callees: "
            + " ".join(f"{state}={n}" for state, n in progress.counts.items())
            + f" total={progress.total}"
        )
        # Plain keys and integers (never translated): scripts read them.
        skipped = skipped_by_reason(campaign)
        self.stdout.write(" ".join(f"skipped_{SKIP_KEYS[r]}={n}" for r, n in skipped.items()))
        if campaign.opt_out_key:
            self.stdout.write(f"opt_outs={opt_out_count(campaign)}")
        self.stdout.write(" ".join(f"{k}={n}" for k, n in progress.attempts.items()))
        self.stdout.write(f"progress: {progress.percent:.1f}% (final callees of all)")
        groups = waiting_for_window(campaign)
        self.stdout.write(f"waiting_window={sum(g.count for g in groups)}")
        for group in groups:
            self.stdout.write(group.text())
        if progress.eta:
            self.stdout.write(
                _("estimated finish: %(eta)s (%(rate)s/min)")
                % {"eta": f"{progress.eta:%Y-%m-%d %H:%M:%S %Z}", "rate": progress.rate_per_minute}
            )
        batches = " ".join(f"{state}={n}" for state, n in sorted(progress.batches.items()))
        self.stdout.write(f"batches: {batches or 'none yet'}")
        for batch in (
            DispatchBatch.objects.filter(campaign=campaign)
            .exclude(state=DispatchBatch.State.SENT)
            .order_by("sequence")[:20]
        ):
            self.stdout.write(f"  batch {batch.sequence}: {batch.state} {batch.reason[:120]}")
