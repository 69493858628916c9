"""manage.py generate_calls N [--app A] [--days D] [--campaigns K]: realistic call records for
load tests."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from campaigns import formatting
from campaigns.management.base import PortalCommand, usage_error
from campaigns.management.demo_audio import tone_wav
from campaigns.models import Call, Campaign, ItnioApp, VoiceFile

REGIONS = [
    ("India(Airtel)", "91", Decimal("0.012"), "60+60"),
    ("India(Jio)", "91", Decimal("0.011"), "60+60"),
    ("Indonesia(Telkomsel)", "62", Decimal("0.045"), "20+20"),
    ("Vietnam(Viettel)", "84", Decimal("0.039"), "20+20"),
    ("Philippines(Globe)", "63", Decimal("0.021"), "1+1"),
    ("Bangladesh(Grameenphone)", "880", Decimal("0.018"), "60+60"),
]
KINDS = [(Call.Kind.GROUP, 80), (Call.Kind.TTS, 15), (Call.Kind.SIP, 5)]
CHUNK = 20_000


class Command(PortalCommand):
    help = gettext_lazy(
        "Create N realistic final call records (regions, answer rates, durations, DTMF keys, "
        "costs in USD and EUR) spread over the last --days days, for load tests and benchmarks. "
        "Nothing is sent to ITNIO. With --campaigns K the group calls are spread over K finished "
        'campaigns named "Generated campaign 1"…K (created when missing, reused otherwise).'
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("count", type=int)
        parser.add_argument(
            "--app", help=gettext_lazy("ITNIO app ID (default: every voice app in turn)")
        )
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--campaigns",
            type=int,
            default=0,
            help=gettext_lazy(
                "spread the group calls over this many generated campaigns (default: none)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["count"] < 1 or options["days"] < 1:
            raise usage_error(gettext("count and --days must be positive"))
        if options["campaigns"] < 0:
            raise usage_error(gettext("--campaigns cannot be negative"))
        apps = ItnioApp.objects.filter(kind=ItnioApp.Kind.VOICE)
        if options["app"]:
            apps = apps.filter(app_id=options["app"])
        app_ids = list(apps.values_list("id", flat=True))
        if not app_ids:
            raise usage_error(gettext("No voice app: create one first (manage.py itnio_setup)."))
        # (campaign id, its app id) pairs; a group call takes a campaign, then that campaign's app.
        campaigns = self._campaigns(options["campaigns"], app_ids) if options["campaigns"] else []
        rng = random.Random(options["seed"])
        now = timezone.now()
        prefix = f"g{int(now.timestamp() * 1000)}"  # ms: two runs in one second stay distinct
        fields = [f for f in Call._meta.concrete_fields if not (f.primary_key or f.generated)]
        columns = [f.column for f in fields]
        made = 0
        while made < options["count"]:
            n = min(CHUNK, options["count"] - made)
            rows = [
                self._row(
                    rng,
                    fields,
                    app_ids,
                    campaigns,
                    now,
                    options["days"],
                    f"{prefix}{made + i:09d}",
                )
                for i in range(n)
            ]
            self._write(columns, rows)
            made += n
        values = {
            "count": formatting.count(made),
            "days": options["days"],
            "campaigns": len(campaigns),
        }
        if campaigns:
            line = gettext(
                "Created %(count)s calls over the last %(days)s days, "
                "group calls spread over %(campaigns)s campaigns."
            )
        else:
            line = gettext("Created %(count)s calls over the last %(days)s days.")
        self.stdout.write(line % values)

    def _campaigns(self, count: int, app_ids: list[int]) -> list[tuple[int, int]]:
        """Finished campaigns named "Generated campaign 1"…count, dealt round-robin to the apps
        (one generated voice file per app); existing ones of that name are reused as they are."""
        apps = {a.pk: a for a in ItnioApp.objects.filter(pk__in=app_ids).select_related("account")}
        now = timezone.now()
        made = []
        for i in range(1, count + 1):
            app = apps[app_ids[(i - 1) % len(app_ids)]]
            campaign = Campaign.objects.filter(name=f"Generated campaign {i}").first()
            if campaign is None:
                voice_file, _ = VoiceFile.objects.get_or_create(
                    account=app.account,
                    file_name=f"generated-{app.pk}.wav",
                    # Never sent to ITNIO: a draft, which no new campaign is offered (its
                    # Upload action would send it for real).
                    defaults={
                        "app": app,
                        "audio": f"voice/{app.account_id}/generated-{app.pk}.wav",
                        "state": VoiceFile.State.DRAFT,
                    },
                )
                storage = voice_file.audio.storage
                if not storage.exists(voice_file.audio.name):
                    # A file behind the player (the list would show a broken one otherwise).
                    storage.save(voice_file.audio.name, ContentFile(tone_wav()))
                campaign = Campaign.objects.create(
                    name=f"Generated campaign {i}",
                    app=app,
                    voice_file=voice_file,
                    called_info="generated",
                    state=Campaign.State.COMPLETED,
                    state_reason="generated by generate_calls",
                    state_changed_at=now,
                    state_changed_by="generate_calls",
                    created_by="generate_calls",
                    launched_at=now,
                    completed_at=now,
                )
            elif campaign.app_id not in apps:
                raise usage_error(
                    gettext("%(name)s exists for another app; pick its app or fewer campaigns.")
                    % {"name": campaign.name}
                )
            made.append((campaign.pk, campaign.app_id))
        return made

    def _row(
        self,
        rng: random.Random,
        fields: list,
        app_ids: list[int],
        campaigns: list[tuple[int, int]],
        now,
        days: int,
        voice_id: str,
    ) -> list[Any]:
        region, cc, rate, period = rng.choice(REGIONS)
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        submit = now - timedelta(seconds=rng.randint(60, days * 86400))
        answered = rng.random() < 0.65
        ringing = submit + timedelta(seconds=rng.randint(2, 6))
        answer = ringing + timedelta(seconds=rng.randint(3, 20)) if answered else None
        talk = rng.randint(5, 90) if answered else 0
        hangup = (answer + timedelta(seconds=talk)) if answer else ringing + timedelta(seconds=60)
        step = int(period.split("+")[0])
        charged = -(-talk // step) * step if talk else 0
        eur = rng.random() < 0.2
        quote = rate * Decimal("0.92") if eur else rate
        cost = (quote * charged / 60).quantize(Decimal("0.000001"))
        app_id = rng.choice(app_ids)
        campaign_id = None
        if campaigns and kind == Call.Kind.GROUP:
            campaign_id, app_id = rng.choice(campaigns)
        values = {
            "app_id": app_id,
            "campaign_id": campaign_id,
            "kind": kind,
            "state": Call.State.FINAL,
            "state_reason": "",
            "callee": cc + str(rng.randint(10**8, 10**10 - 1)),
            "display_num": "1008122211",
            "called_info": "generated",
            "voice_id": voice_id,
            "request": "{}",
            "created_by": "generate_calls",
            "created_at": submit,
            "code": region,
            "submit_time": submit,
            "call_time": submit + timedelta(seconds=1),
            "ringing_time": ringing,
            "answer_time": answer,
            "hangup_time": hangup,
            "call_duration": talk,
            "charged_duration": charged,
            "termination_code": "1000" if answered else rng.choice(["480", "486", "487"]),
            "termination_reason": "success" if answered else "no answer",
            "cost": cost,
            "rate": quote,
            "base_cost": (rate * charged / 60).quantize(Decimal("0.000001")),
            "bill_period": period,
            "currency": "EUR" if eur else "USD",
            "settle_rate": quote if eur else None,
            "quote_exchange": Decimal("0.92") if eur else None,
            "settle_pay": cost if eur else None,
            "voice_file_id": "generated.wav" if kind == Call.Kind.GROUP else "",
            "feedback_value": str(rng.randint(0, 9)) if answered and rng.random() < 0.3 else "-1",
            "sip_group_name": "sales" if kind == Call.Kind.SIP else "",
            "phone_name": "desk" if kind == Call.Kind.SIP else "",
            "recording_file_id": "",
            "raw_record": None,
            "record_source": "generated",
            "synced_at": hangup,
        }
        return [values.get(f.column, f.get_default()) for f in fields]

    def _write(self, columns: list[str], rows: list[list[Any]]) -> None:
        table = Call._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608
                    [[str(v) if isinstance(v, Decimal) else v for v in row] for row in rows],
                )
