"""bench/pushes.py --features: what a real campaign's pushes also drive in the apply (a budget,
an opt-out key, a call.final webhook to a local receiver), set up before the load and read after.
"""

from __future__ import annotations

#: The first voiceId the load pushes (bench/pushes.py Bodies), then one more per new report.
FIRST_ID = 8_100_000_000_000_000_000

FEATURE_CALLS = 400_000  # more voiceIds than a default run pushes (about 170,000)


def seed_features(campaign, sink_url: str) -> None:
    """A budgeted campaign with an opt-out key whose calls are the voiceIds the load will push
    (one template call copied by one INSERT … SELECT), and a call.final subscription."""
    from decimal import Decimal

    from django.db import connection

    from campaigns.models import Call, Campaign
    from campaigns.services.outbound_hooks import webhook_subscribe

    featured = Campaign.objects.create(
        name="bench-features",
        app=campaign.app,
        voice_file=campaign.voice_file,
        state="running",
        opt_out_key="9",
        budget_amount=Decimal("1000000"),
        budget_currency="USD",
    )
    template = Call.objects.create(
        app=campaign.app,
        campaign=featured,
        kind=Call.Kind.GROUP,
        state=Call.State.SUBMITTED,
        callee="6590000000",
        voice_id="template",
        created_by="bench",
    )
    columns = [
        f.column
        for f in Call._meta.concrete_fields
        if f.column not in ("id", "voice_id", "callee") and not f.generated
    ]
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO campaigns_call ({names}, voice_id, callee) "
            f"SELECT {names}, (%s + g)::text, '6591' || right((%s + g)::text, 7) "
            "FROM campaigns_call, generate_series(0, %s) g WHERE id = %s",
            [FIRST_ID, FIRST_ID, FEATURE_CALLS - 1, template.pk],
        )
    template.delete()
    webhook_subscribe(url=sink_url, events=["call.final"], created_by="bench")


SINK = """
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import sys
class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
"""


def feature_facts(db_url: str) -> dict:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "budget billed USD": one(
                "SELECT budget_billed FROM campaigns_campaign WHERE name = 'bench-features'"
            ),
            "opt-outs": one(
                "SELECT count(*) FROM campaigns_suppressionentry WHERE source = 'opt_out'"
            ),
            "call.final messages": one("SELECT count(*) FROM campaigns_webhookmessage"),
            "delivered": one(
                "SELECT count(*) FROM campaigns_webhookmessage WHERE delivered_at IS NOT NULL"
            ),
        }
