#!/usr/bin/env bash
# make backup [ARGS="--output DIR"]: one archive of the project database (pg_dump, custom format) and the uploaded
# files (MEDIA_ROOT), with a manifest of every table's row count and every file's SHA-256, taken in one snapshot.
# Database: DATABASE_URL, or the project-local PostGIS (scripts/env.sh). Restore with `make restore ARGS=FILE`.
# See docs/backup.md.
set -euo pipefail
cd "$(dirname "$0")/.."
for cmd in pg_dump psql; do
  command -v "$cmd" >/dev/null || { echo "backup: $cmd is missing; install the PostgreSQL client (Debian: apt-get install postgresql-client-15)" >&2; exit 1; }
done
[ -x .venv/bin/python ] || { echo "backup: .venv/ is missing; run make run (or bash scripts/setup.sh run) first" >&2; exit 1; }
source scripts/env.sh >&2
exec .venv/bin/python - "$@" <<'PY'
"""The backup itself (see scripts/backup.sh): pg_dump runs inside a snapshot exported by a REPEATABLE READ
transaction that also counts every table's rows, so the manifest describes exactly what the dump holds."""

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path.cwd()


sys.path.insert(0, str(Path.cwd() / "scripts"))
import backup_common  # noqa: E402
from backup_common import fail, say, sha256  # noqa: E402

backup_common.PROG = "backup"


def media_root():
    return backup_common.media_root(hint="set MEDIA_ROOT explicitly")


parser = argparse.ArgumentParser(prog="make backup", description="archive the database and the uploaded files")
parser.add_argument("--output", default=os.environ.get("BACKUP_DIR", "backups"), help="directory of the archive (default backups/)")
parser.add_argument("--no-media", action="store_true", help="leave the uploaded files out")
args = parser.parse_args()

url = os.environ["DATABASE_URL"]
u = urlparse(url)
if u.scheme not in ("postgis", "postgres", "postgresql"):
    fail(f"DATABASE_URL must be postgis://user:password@host:port/db, not {u.scheme}://…")
dbname = unquote(u.path.lstrip("/"))
conninfo = {
    "host": u.hostname or "127.0.0.1", "port": str(u.port or 5432), "user": unquote(u.username or "postgres"), "dbname": dbname,
}
pgenv = dict(os.environ, PGPASSWORD=unquote(u.password or ""), PGHOST=conninfo["host"], PGPORT=conninfo["port"],
             PGUSER=conninfo["user"], PGDATABASE=dbname, PGAPPNAME="lanechief-backup")

import psycopg2  # noqa: E402

try:
    conn = psycopg2.connect(**conninfo, password=pgenv["PGPASSWORD"], application_name="lanechief-backup")
except psycopg2.OperationalError as exc:
    fail(f"cannot connect to {conninfo['host']}:{conninfo['port']}/{dbname}: {str(exc).strip()}\n"
         "check DATABASE_URL, or start the local database with make db")
conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
cur = conn.cursor()
cur.execute("SELECT pg_export_snapshot(), current_setting('server_version'), now()")
snapshot, server_version, taken_at = cur.fetchone()
cur.execute("SELECT extname, extversion FROM pg_extension ORDER BY 1")
extensions = dict(cur.fetchall())
# every table of the database (extension-owned ones too: spatial_ref_sys), counted in the dump's snapshot
cur.execute("""
    SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    ORDER BY 1, 2""")
tables = cur.fetchall()
if not any(name == "django_migrations" for _schema, name in tables):
    fail(f"database {dbname} has no django_migrations table: it is not a lane-chief database (wrong DATABASE_URL?)")
counts = {}
for schema, name in tables:
    cur.execute(f'SELECT count(*) FROM "{schema}"."{name}"')
    counts[f"{schema}.{name}"] = cur.fetchone()[0]
cur.execute("SELECT app, max(name) FROM django_migrations GROUP BY app ORDER BY app")
migrations = dict(cur.fetchall())

stamp = taken_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
out_dir = Path(args.output)
out_dir.mkdir(parents=True, exist_ok=True)
archive = out_dir / f"{dbname}-{stamp}.tar"
if archive.exists():
    fail(f"{archive} already exists; wait a second and retry")
work = Path(tempfile.mkdtemp(prefix=".backup-", dir=out_dir))
try:
    t0 = time.monotonic()
    say(f"==> dumping database {dbname} on {conninfo['host']}:{conninfo['port']} "
        f"({len(tables)} tables, {sum(counts.values()):,} rows; PostgreSQL {server_version}, "
        f"PostGIS {extensions.get('postgis', '-')})")
    dump = work / "database.dump"
    pg_dump = shutil.which("pg_dump")
    versioned = Path(f"/usr/lib/postgresql/{server_version.split('.')[0]}/bin/pg_dump")
    if versioned.exists():
        pg_dump = str(versioned)  # pg_dump must not be older than the server
    run = subprocess.run([pg_dump, "--format=custom", "--compress=6", f"--snapshot={snapshot}", "--no-password",
                          f"--file={dump}"], env=pgenv, capture_output=True, text=True)
    if run.returncode != 0:
        fail("pg_dump failed, no archive written:\n" + run.stderr.strip()[-2000:])
    conn.rollback()
    conn.close()
    say(f"    {dump.stat().st_size / 2**20:.1f} MB in {time.monotonic() - t0:.1f} s")

    files = []
    media = media_root()
    if not args.no_media and media.is_dir():
        say(f"==> packing the uploaded files of {media}")
        with tarfile.open(work / "media.tar", "w") as tar:
            for p in sorted(media.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    rel = p.relative_to(media).as_posix()
                    files.append({"path": rel, "bytes": p.stat().st_size, "sha256": sha256(p)})
                    tar.add(p, arcname=rel, recursive=False)
        say(f"    {len(files)} files, {sum(f['bytes'] for f in files) / 2**20:.1f} MB")
    elif not args.no_media:
        say(f"==> no uploaded files ({media} does not exist)")

    manifest = {
        "format": "lanechief-backup/1",
        "created_at": taken_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "database": {"name": dbname, "host": conninfo["host"], "port": conninfo["port"], "server_version": server_version,
                     "extensions": extensions, "migrations": migrations},
        "database_dump": {"file": "database.dump", "format": "pg_dump custom", "bytes": dump.stat().st_size,
                          "sha256": sha256(dump)},
        "row_counts": counts,
        "media": None if args.no_media else {"root": str(media), "file": "media.tar" if files else None, "files": files},
    }
    (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    partial = archive.with_suffix(".tar.partial")
    with tarfile.open(partial, "w") as tar:
        for name in ("manifest.json", "database.dump", "media.tar"):
            if (work / name).exists():
                tar.add(work / name, arcname=name)
    partial.rename(archive)
finally:
    shutil.rmtree(work, ignore_errors=True)
say(f"==> backup written: {archive} ({archive.stat().st_size / 2**20:.1f} MB, {time.monotonic() - t0:.1f} s)")
say(f"    restore: make restore ARGS=\"{archive}\" (into an empty database) — see docs/backup.md")
print(archive)
PY
