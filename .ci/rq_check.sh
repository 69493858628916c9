#!/usr/bin/env bash
# Enqueue a real task on the RQ backend, run `rqworker --burst`, assert its effect in the database.
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_URL=$1
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export TASKS_BACKEND=rq REDIS_URL DATABASE_URL="sqlite:///$WORK/rq-check.sqlite3"
PY=.venv/bin/python

redis-cli -u "$REDIS_URL" flushdb >/dev/null
$PY manage.py migrate --noinput -v 0
$PY manage.py shell -v 0 -c "
from campaigns.models import Heartbeat
from campaigns.tasks import refresh_call_stats, worker_heartbeat
assert not Heartbeat.objects.filter(name='worker').exists()
result = worker_heartbeat.enqueue()
print('enqueued', result.id, result.status)
figures = refresh_call_stats.enqueue()  # on a queue of its own
print('enqueued', figures.id, figures.status, 'on', refresh_call_stats.queue_name)
open('$WORK/figures-id', 'w').write(str(figures.id))
"
timeout 120 $PY manage.py rqworker default figures --burst --job-class django_tasks_rq.Job
$PY manage.py shell -v 0 -c "
from campaigns.models import Heartbeat
from campaigns.tasks import refresh_call_stats
hb = Heartbeat.objects.get(name='worker')
assert hb.detail == 'task ran on RQBackend', hb.detail
print('RQ worker ran the task:', hb.detail, hb.last_seen_at)
figures = refresh_call_stats.get_result(open('$WORK/figures-id').read())
assert figures.status == 'SUCCESSFUL', figures.status
print('RQ worker ran the figures refresh:', figures.status)
"
