"""Preflight at scale (issue 14): a campaign whose audience is two contact lists of 500,000
contacts each (1,000,000 rows, 250,000 numbers in both), a segment on a custom field, and a
portal-wide do-not-call list of 1,000,000 entries (every 20th contact among them). Times the
launch plan's preflight (`audience_preflight`: audience, will be called, skipped by reason) and,
beside it in the same process, one hand-written SQL statement that counts only "will be called"
(the contacts in the segment, distinct numbers, not on the list): the floor any preflight pays.

Target: the preflight ≤ 10 s (the issue's figure); the ratio to the bare statement is printed.

    python bench/preflight.py [--contacts 500000] [--dnc 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import setup_django

TARGET_S = 10.0


def fill(contacts: int, dnc: int) -> int:
    """The lists, the do-not-call entries and the campaign, written with INSERT … SELECT."""
    from django.db import connection

    from campaigns.models import (
        Campaign,
        Contact,
        ContactList,
        ItnioAccount,
        ItnioApp,
        SuppressionEntry,
        SuppressionList,
        VoiceFile,
    )

    Campaign.objects.filter(name="bench-preflight").delete()
    ContactList.objects.filter(name__startswith="bench-").delete()
    SuppressionEntry.objects.all().delete()
    account, _ = ItnioAccount.objects.get_or_create(
        name="bench", defaults={"api_key": "benchKey", "api_secret": "benchSecret"}
    )
    app, _ = ItnioApp.objects.get_or_create(account=account, app_id="BENCHAPP")
    voice, _ = VoiceFile.objects.get_or_create(
        app=app, file_name="b.wav", defaults={"state": "uploaded"}
    )
    portal = SuppressionList.objects.get(portal_wide=True)
    lists = [ContactList.objects.create(name=f"bench-{i}") for i in (1, 2)]
    table = connection.ops.quote_name(Contact._meta.db_table)
    entries = connection.ops.quote_name(SuppressionEntry._meta.db_table)
    half = contacts // 2
    with connection.cursor() as cursor:
        for offset, contact_list in ((0, lists[0]), (half, lists[1])):
            # List 2 starts halfway into list 1's numbers: a quarter of all rows are shared.
            cursor.execute(
                f"INSERT INTO {table} (contact_list_id, number, name, country, fields, "
                "row_number, created_at) "
                "SELECT %s, (6591000000 + g)::text, '', 'SG', "
                "jsonb_build_object('tier', CASE WHEN g %% 4 = 0 THEN 'blue' ELSE 'gold' END), "
                "g, now() FROM generate_series(%s, %s) g",
                [contact_list.pk, offset + 1, offset + contacts],
            )
        # Every 20th contact number, then other numbers, up to `dnc` entries.
        cursor.execute(
            f"INSERT INTO {entries} (suppression_list_id, number, reason, source, added_by, "
            "created_at) SELECT %s, (6591000001 + g * 20)::text, 'bench', 'import', 'bench', "
            "now() FROM generate_series(1, %s) g",
            [portal.pk, dnc],
        )
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ANALYZE {entries}")
    campaign = Campaign.objects.create(
        name="bench-preflight",
        app=app,
        voice_file=voice,
        segment_field="tier",
        segment_value="gold",
    )
    campaign.contact_lists.set(lists)
    return campaign.pk


def bare_will_call(campaign_id: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT DISTINCT c.number FROM campaigns_contact c "
            "JOIN campaigns_campaign_contact_lists l ON l.contactlist_id = c.contact_list_id "
            "WHERE l.campaign_id = %s AND c.fields ->> 'tier' = 'gold' AND c.country <> '' "
            "AND NOT EXISTS (SELECT 1 FROM campaigns_suppressionentry e "
            "WHERE e.number = c.number)) AS n",
            [campaign_id],
        )
        return cursor.fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=500_000, help="contacts per list")
    parser.add_argument("--dnc", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    setup_django("itnio_bench_preflight")
    from campaigns.models import Campaign
    from campaigns.services.audience import audience_preflight

    started = time.perf_counter()
    campaign_id = fill(args.contacts, args.dnc)
    print(f"filled {2 * args.contacts:,} contacts, {args.dnc:,} do-not-call entries "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    campaign = Campaign.objects.get(pk=campaign_id)
    ours, bare = [], []
    for _ in range(args.runs):
        t = time.perf_counter()
        result = audience_preflight(campaign)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        floor = bare_will_call(campaign_id)
        bare.append(time.perf_counter() - t)
    print(f"audience={result.audience} will_call={result.will_call} "
          f"skipped={dict(result.skipped)}")  # fmt: skip
    print(f"bare statement: will_call={floor}")
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    print(f"preflight median {ours_s:.2f} s (runs {', '.join(f'{x:.2f}' for x in ours)})")
    print(f"bare statement median {bare_s:.2f} s; ratio {ours_s / bare_s:.2f}x")
    ok = ours_s <= TARGET_S and result.will_call == floor
    print(f"target: preflight <= {TARGET_S:.0f} s and the same will_call: "
          f"{'OK' if ok else 'MISSED'}")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
