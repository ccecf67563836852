#!/usr/bin/env bash
# make bench: city-scale benchmarks in a separate database (lanechief_bench), never the demo or test databases.
# BENCH_LANES=FILE: the same suite on a real street file, in a database of its own (lanechief_bench_<file stem>)
# unless BENCH_DB_NAME or BENCH_DATABASE_URL names one; bench/realfile.py refuses a database holding another data set.
set -euo pipefail
if [ -n "${BENCH_LANES:-}" ]; then
  [ -f "$BENCH_LANES" ] || { echo "BENCH_LANES=$BENCH_LANES: no such file (OSM XML/PBF, GeoJSON, GeoPackage, Shapefile or GeoParquet)" >&2; exit 2; }
  BENCH_LANES=$(cd "$(dirname "$BENCH_LANES")" && pwd)/$(basename "$BENCH_LANES")
  export BENCH_LANES
  if [ -z "${BENCH_DB_NAME:-}" ] && [ -z "${BENCH_DATABASE_URL:-}" ]; then
    stem=$(basename "$BENCH_LANES" | sed -E 's/(\.(osm|pbf|gz|bz2|geojson|json|gpkg|shp|zip|parquet|geoparquet))+$//I' \
      | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9\n' '_' | cut -c1-40)
    BENCH_DB_NAME=lanechief_bench_${stem:-file}
  fi
  echo "==> BENCH_LANES=$BENCH_LANES → database ${BENCH_DB_NAME:-from BENCH_DATABASE_URL}"
fi
cd "$(dirname "$0")/.."
# test mode: the dashboard scenario draws the page in Debian's chromium (with a CJK font), as the browser tests do
bash scripts/setup.sh test
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
