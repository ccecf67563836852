#!/usr/bin/env bash
# make bench: city-scale benchmarks in a separate database (lanechief_bench), never the demo or test databases.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh run
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "Install wrk: sudo apt-get install -y wrk (macOS: brew install wrk)" >&2; exit 1; fi
fi
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  DB_NAME=${BENCH_DB_NAME:-lanechief_bench} bash scripts/db.sh start
  BENCH_DATABASE_URL=$(DB_NAME=${BENCH_DB_NAME:-lanechief_bench} bash scripts/db.sh url)
fi
export DATABASE_URL=$BENCH_DATABASE_URL DJANGO_SETTINGS_MODULE=config.settings
echo "==> migrating the bench database"
DEBUG=true .venv/bin/python manage.py migrate --noinput -v 0
# gunicorn runs with DEBUG off: static files come from STATIC_ROOT through whitenoise.
SECRET_KEY=collectstatic-only .venv/bin/python manage.py collectstatic --noinput -v 0


DEBUG=true .venv/bin/python bench/run.py "$@"
