#!/usr/bin/env bash
# make restore ARGS="[--database NAME] [--media-root DIR | --no-media] [--force] FILE": restore an archive of
# `make backup` (database and uploaded files) and verify it against the archive's manifest.
# Default target: the project database (DATABASE_URL, or the project-local PostGIS) and MEDIA_ROOT. A database or a
# media directory that is not empty is refused unless --force; with --force the archive is first restored into a new
# database and verified, and only then does it replace the old one. See docs/backup.md.
set -euo pipefail
cd "$(dirname "$0")/.."
for cmd in pg_restore psql; do
  command -v "$cmd" >/dev/null || { echo "restore: $cmd is missing; install the PostgreSQL client (Debian: apt-get install postgresql-client-15)" >&2; exit 1; }
done
[ -x .venv/bin/python ] || { echo "restore: .venv/ is missing; run make run (or bash scripts/setup.sh run) first" >&2; exit 1; }
source scripts/env.sh >&2
exec .venv/bin/python - "$@" <<'PY'
"""The restore itself (see scripts/restore.sh)."""

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


sys.path.insert(0, str(Path.cwd() / "scripts"))
import backup_common  # noqa: E402
from backup_common import fail, say, sha256  # noqa: E402

backup_common.PROG = "restore"


def media_root():
    return backup_common.media_root(hint="use --media-root DIR or --no-media")


parser = argparse.ArgumentParser(prog="make restore", description="restore a backup archive of make backup")
parser.add_argument("archive", help="the .tar written by make backup")
parser.add_argument("--database", metavar="NAME", help="database to restore into, on the same server (default: the "
                    "project database); created when missing")
parser.add_argument("--media-root", metavar="DIR", help="where the uploaded files go (default: MEDIA_ROOT)")
parser.add_argument("--no-media", action="store_true", help="restore the database only")
parser.add_argument("--force", action="store_true", help="replace a database / media directory that is not empty")
args = parser.parse_args()

archive = Path(args.archive)
if not archive.is_file():
    fail(f"no such archive: {archive} (make backup writes them under backups/)", 2)
url = os.environ["DATABASE_URL"]
u = urlparse(url)
if u.scheme not in ("postgis", "postgres", "postgresql"):
    fail(f"DATABASE_URL must be postgis://user:password@host:port/db, not {u.scheme}://…")
target = args.database or unquote(u.path.lstrip("/"))
if not NAME.match(target):
    fail(f"database name {target!r}: use letters, digits and underscores (at most 63)", 2)
conninfo = {"host": u.hostname or "127.0.0.1", "port": str(u.port or 5432), "user": unquote(u.username or "postgres"),
            "password": unquote(u.password or "")}
pgenv = dict(os.environ, PGPASSWORD=conninfo["password"], PGHOST=conninfo["host"], PGPORT=conninfo["port"],
             PGUSER=conninfo["user"], PGAPPNAME="lanechief-restore")

import psycopg2  # noqa: E402


def connect(db):
    try:
        c = psycopg2.connect(dbname=db, application_name="lanechief-restore", **conninfo)
    except psycopg2.OperationalError as exc:
        fail(f"cannot connect to {conninfo['host']}:{conninfo['port']}/{db}: {str(exc).strip()}\n"
             "check DATABASE_URL, or start the local database with make db")
    c.autocommit = True
    return c


USER_TABLES = """
    SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    ORDER BY 1"""


def user_tables(db):
    c = connect(db)
    with c.cursor() as cur:
        cur.execute(USER_TABLES)
        out = [r[0] for r in cur.fetchall()]
    c.close()
    return out


def counts_of(db):
    c = connect(db)
    out = {}
    with c.cursor() as cur:
        cur.execute("""
            SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2""")
        for schema, name in cur.fetchall():
            cur.execute(f'SELECT count(*) FROM "{schema}"."{name}"')
            out[f"{schema}.{name}"] = cur.fetchone()[0]
    c.close()
    return out


# --- the archive -----------------------------------------------------------------------------------------------
t0 = time.monotonic()
work = Path(tempfile.mkdtemp(prefix=".restore-", dir=archive.parent))
admin = None
scratch = None
try:
    try:
        with tarfile.open(archive) as tar:
            names = tar.getnames()
            if "manifest.json" not in names or "database.dump" not in names:
                fail(f"{archive} is not an archive of make backup (no manifest.json / database.dump in it)")
            for name in ("manifest.json", "database.dump", "media.tar"):
                if name in names:
                    tar.extract(name, work, filter="data")
    except tarfile.TarError as exc:
        fail(f"{archive} cannot be read ({exc}); it is incomplete or damaged — use another backup")
    manifest = json.loads((work / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != "lanechief-backup/1":
        fail(f"{archive}: unknown manifest format {manifest.get('format')!r}")
    dump = work / "database.dump"
    if sha256(dump) != manifest["database_dump"]["sha256"]:
        fail(f"{archive}: the database dump does not match its SHA-256 in the manifest (damaged); use another backup")
    media_meta = manifest.get("media") or {}
    restore_media = not args.no_media and media_meta.get("file")
    say(f"==> archive {archive.name}: database {manifest['database']['name']} of {manifest['created_at']}, "
        f"{len(manifest['row_counts'])} tables, {sum(manifest['row_counts'].values()):,} rows, "
        f"{len(media_meta.get('files') or [])} uploaded files")

    # --- the target database ------------------------------------------------------------------------------------
    admin = connect("postgres")
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target])
        exists = cur.fetchone() is not None
        cur.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
        if cur.fetchone() is None:
            fail(f"the server {conninfo['host']}:{conninfo['port']} has no PostGIS; install postgresql-15-postgis-3")
    occupied = user_tables(target) if exists else []
    if occupied and not args.force:
        fail(f"database {target} is not empty ({len(occupied)} tables, e.g. {', '.join(occupied[:3])}); nothing was "
             f"changed. Restore into a new database with --database NEW_NAME, or add --force to replace its content "
             f"(it is replaced only after the archive restored and verified).")

    media = None
    if restore_media:
        media = Path(args.media_root) if args.media_root else media_root()
        if media.exists() and any(media.iterdir()) and not args.force:
            fail(f"the media directory {media} is not empty; nothing was changed. Use --media-root EMPTY_DIR, "
                 f"--no-media, or --force to replace it (the old one is kept as {media.name}.before-restore-…).")

    # restore into the target when it is empty, else into a scratch database that replaces it once verified
    into = target
    if exists and occupied:
        into = f"{target[:40]}_restore_{os.getpid()}"
    if into != target or not exists:
        scratch = into  # dropped again if anything below fails
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{into}"')
            # template0: the dump brings its own extensions (PostGIS, btree_gist …), spatial_ref_sys included
            cur.execute(f"CREATE DATABASE \"{into}\" TEMPLATE template0 ENCODING 'UTF8'")
    say(f"==> restoring into database {into} on {conninfo['host']}:{conninfo['port']}")
    pg_restore = shutil.which("pg_restore")
    with admin.cursor() as cur:
        cur.execute("SELECT current_setting('server_version_num')::int / 10000")
        major = cur.fetchone()[0]
    versioned = Path(f"/usr/lib/postgresql/{major}/bin/pg_restore")
    if versioned.exists():
        pg_restore = str(versioned)
    # Everything but the comments on extensions, which only an extension's owner may set (a non-superuser restore).
    toc = subprocess.run([pg_restore, "--list", str(dump)], capture_output=True, text=True, check=True).stdout
    (work / "toc.list").write_text(
        "\n".join(line for line in toc.splitlines() if " COMMENT - EXTENSION " not in line) + "\n", encoding="utf-8"
    )
    run = subprocess.run([pg_restore, "--no-owner", "--no-acl", "--exit-on-error", "--single-transaction",
                          "--no-password", f"--use-list={work / 'toc.list'}", f"--dbname={into}", str(dump)],
                         env=pgenv, capture_output=True, text=True)
    if run.returncode != 0:
        fail(f"pg_restore failed; the restore was rolled back{' and ' + target + ' is unchanged' if into != target else ''}:\n"
             + run.stderr.strip()[-2000:])

    # --- verify against the manifest ---------------------------------------------------------------------------
    got = counts_of(into)
    want = manifest["row_counts"]
    diff = {t: (want.get(t), got.get(t)) for t in sorted(set(want) | set(got)) if want.get(t) != got.get(t)}
    if diff:
        fail("the restored row counts differ from the manifest (table: manifest → restored): "
             + "; ".join(f"{t}: {a} → {b}" for t, (a, b) in list(diff.items())[:10]))
    with connect(into).cursor() as cur:
        cur.execute("ANALYZE")
    say(f"    verified: {len(got)} tables, {sum(got.values()):,} rows equal the manifest")

    if into != target:
        with admin.cursor() as cur:
            say(f"==> --force: replacing database {target} (its sessions are closed)")
            cur.execute(f'DROP DATABASE "{target}" WITH (FORCE)')
            cur.execute(f'ALTER DATABASE "{into}" RENAME TO "{target}"')
    scratch = None  # the database is in place: kept whatever happens to the files

    # --- uploaded files ----------------------------------------------------------------------------------------
    if restore_media:
        media.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{media.name}.restore-", dir=media.parent))
        with tarfile.open(work / "media.tar") as tar:
            tar.extractall(staging, filter="data")
        for f in media_meta["files"]:
            p = staging / f["path"]
            if not p.is_file() or sha256(p) != f["sha256"]:
                shutil.rmtree(staging, ignore_errors=True)
                fail(f"uploaded file {f['path']} does not match the manifest (damaged archive); "
                     f"the database was restored, the files were not ({media} unchanged)")
        if media.exists() and any(media.iterdir()):
            kept = media.with_name(f"{media.name}.before-restore-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}")
            media.rename(kept)
            say(f"==> --force: the previous uploaded files are kept in {kept}")
        elif media.exists():
            media.rmdir()
        staging.rename(media)
        say(f"    {len(media_meta['files'])} uploaded files restored into {media}, SHA-256 verified")
    elif not args.no_media:
        say("==> the archive holds no uploaded files")
finally:
    if scratch and admin is not None:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    if admin is not None:
        admin.close()
    shutil.rmtree(work, ignore_errors=True)
say(f"==> restored {archive.name} into database {target} in {time.monotonic() - t0:.1f} s")
if target != (unquote(u.path.lstrip("/"))):
    say(f"    use it with DATABASE_URL={u.scheme}://{u.netloc}/{target}")
PY
