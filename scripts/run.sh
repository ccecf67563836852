#!/usr/bin/env bash
# make run: set up, migrate, load the demo once, start the queue worker and serve http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
source scripts/env.sh
export DEBUG=${DEBUG:-true}
PY=.venv/bin/python
echo "==> migrating"
$PY manage.py migrate --noinput -v 0
$PY manage.py load_demo
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
echo "==> starting the queue worker (notifications, periodic tasks)"
# restarted whenever it exits: procrastinate's worker stops (code 0) when it loses the database
( while :; do $PY manage.py procrastinate worker; sleep 1; done ) > .worker.log 2>&1 &
WORKER=$!
trap 'pkill -P $WORKER 2>/dev/null; kill $WORKER 2>/dev/null || true' EXIT INT TERM
echo "==> serving http://$HOST:$PORT/  (Ctrl-C stops; \`make stop\` stops the local database)"
$PY manage.py runserver "$HOST:$PORT" --noreload
