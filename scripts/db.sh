#!/usr/bin/env bash
# Project-local PostGIS cluster in .pgdata/ (git-ignored), listening on 127.0.0.1:${PGPORT:-54329}.
# Used only when DATABASE_URL is not set. Run as root, the server runs as the `postgres` user.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PGPORT=${PGPORT:-54329}
PGDATA="$ROOT/.pgdata/data"
PGSOCK="$ROOT/.pgdata/sock"
PGLOG="$ROOT/.pgdata/postgres.log"
PGBIN=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")
DBNAME=${DB_NAME:-lanechief}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  mkdir -p "$ROOT/.pgdata" "$PGSOCK"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$ROOT/.pgdata"
    # the server runs as postgres: it must be able to reach .pgdata/ (e.g. a checkout inside a mktemp -d directory,
    # mode 700): add the traverse bit (x, not r) on the checkout and each parent it cannot pass
    dir="$ROOT"
    while [ "$dir" != / ]; do
      runuser -u postgres -- test -x "$dir" 2>/dev/null || chmod o+x "$dir" 2>/dev/null || true
      dir=$(dirname "$dir")
    done
  fi
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "==> initialising a project-local PostgreSQL cluster in .pgdata/"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PGPORT
unix_socket_directories = '$PGSOCK'
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
fsync = ${PG_FSYNC:-on}
synchronous_commit = ${PG_SYNCHRONOUS_COMMIT:-on}
CONF
  fi
  if as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    echo "==> local PostGIS already running on 127.0.0.1:$PGPORT"
  else
    echo "==> starting local PostGIS on 127.0.0.1:$PGPORT (log: .pgdata/postgres.log)"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null \
      || { echo "PostgreSQL did not start; see .pgdata/postgres.log" >&2; tail -20 "$PGLOG" >&2; exit 1; }
  fi
  psql -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DBNAME'" | grep -q 1 \
    || psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -c "CREATE DATABASE $DBNAME"
  psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DBNAME" -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist;" 2>&1 | grep -v NOTICE || true
  # template1 gets the extensions too, so test databases created from it have them.
  psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d template1 -c "CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS btree_gist;" 2>&1 | grep -v NOTICE || true
}

stop() {
  if [ -s "$PGDATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null && echo "==> local PostGIS stopped"
  else
    echo "==> local PostGIS is not running"
  fi
}

url() { echo "postgis://postgres@127.0.0.1:$PGPORT/$DBNAME"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  *) echo "usage: scripts/db.sh start|stop|url" >&2; exit 2 ;;
esac
