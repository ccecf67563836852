"""`make backup` / `make restore` (scripts/backup.sh, scripts/restore.sh) round trip on a real database: the test
database with the demo (committed) plus cases with uploaded photos and other uploaded files, backed up, restored into
a scratch database of its own and a fresh media directory, and compared table by table (row count and an md5 of every
row's text), geometry by geometry (md5 of ST_AsEWKB), schema object by schema object (indexes, triggers, functions,
sequences, extensions) and file by file (bytes). Then: a non-empty database is refused without --force and replaced
with it. The cases and jobs it adds are removed afterwards (the demo stays as it was)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.conf import settings
from django.db import connection
from PIL import Image

ROOT = Path(settings.BASE_DIR)
pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "pg_dump"], capture_output=True).returncode != 0, reason="pg_dump is not installed"
)


def jpeg(colour, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def conninfo(dbname: str) -> dict:
    d = connection.settings_dict
    return {
        "host": d.get("HOST") or "127.0.0.1",
        "port": d.get("PORT") or 5432,
        "user": d.get("USER") or "postgres",
        "password": d.get("PASSWORD") or "",
        "dbname": dbname,
    }


def url(dbname: str) -> str:
    c = conninfo(dbname)
    auth = c["user"] + (f":{c['password']}" if c["password"] else "")
    return f"postgis://{auth}@{c['host']}:{c['port']}/{dbname}"


def sql_text(definition: str) -> str:
    """A definition as PostgreSQL prints it, without the casts and parentheses it adds when it re-reads a restored
    `col IN (...)` (ARRAY['a'::varchar, …] comes back as ARRAY[('a'::varchar)::text, …])."""
    return re.sub(r"::(character varying|text)(\[\])?|[()]", "", definition)


def fingerprint(dbname: str) -> dict:
    """Everything the round trip must keep, read with plain SQL."""
    conn = psycopg2.connect(**conninfo(dbname))
    out: dict = {"tables": {}, "geometries": {}}
    with conn, conn.cursor() as cur:
        cur.execute(
            """SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1, 2"""
        )
        for schema, name in cur.fetchall():
            cur.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
                f'FROM "{schema}"."{name}" t'
            )
            out["tables"][f"{schema}.{name}"] = cur.fetchone()
        cur.execute("SELECT f_table_schema, f_table_name, f_geometry_column FROM geometry_columns ORDER BY 1, 2, 3")
        for schema, table, column in cur.fetchall():
            cur.execute(
                f'SELECT count("{column}"), md5(coalesce(string_agg(md5(ST_AsEWKB("{column}")), \'\' '
                f'ORDER BY t::text), \'\')) FROM "{schema}"."{table}" t'
            )
            out["geometries"][f"{schema}.{table}.{column}"] = cur.fetchone()
        cur.execute("SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes ORDER BY 1, 2, 3")
        out["indexes"] = [(*row[:3], sql_text(row[3])) for row in cur.fetchall()]
        cur.execute(
            "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal "
            "ORDER BY 1, 2"
        )
        out["triggers"] = cur.fetchall()
        cur.execute(
            """SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc)
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
               ORDER BY 1, 2, 3"""
        )
        out["functions"] = cur.fetchall()
        cur.execute("SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2")
        out["sequences"] = cur.fetchall()
        cur.execute("SELECT extname, extversion FROM pg_extension ORDER BY 1")
        out["extensions"] = cur.fetchall()
        cur.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint ORDER BY 1, 2"
        )
        out["constraints"] = [(*row[:3], sql_text(row[3])) for row in cur.fetchall()]
    conn.close()
    return out


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def script(name: str, *args: str, db: str, media: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=url(db), MEDIA_ROOT=str(media))
    return subprocess.run(
        ["bash", f"scripts/{name}.sh", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


ADD_CONTENT = """
import io, os, sys
from pathlib import Path
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image
from cases import services
from cases.models import Attachment, Case
from lanes.models import Lane

def jpeg(colour):
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()

with connection.cursor() as cur:
    cur.execute("SELECT coalesce(max(id), 0) FROM procrastinate_jobs")
    last_job = cur.fetchone()[0]
for i, lane in enumerate(Lane.objects.order_by("id")[:3]):
    line = lane.geom[0].coords
    photos = [SimpleUploadedFile(f"p{i}{k}.jpg", jpeg((40 * i, 90, 30 * k)), "image/jpeg") for k in range(1 + (i == 0))]
    services.report_case(category_code="SJ0402", point=Point(*line[len(line) // 2][:2], srid=4326),
                         description=f"备份测试 {i}", photos=photos)
media = Path(os.environ["MEDIA_ROOT"])
(media / "exports" / "周报").mkdir(parents=True)
(media / "exports" / "周报" / "第 48 周.xlsx").write_bytes(os.urandom(5000))
(media / "empty.txt").write_bytes(b"")
assert Attachment.objects.count() == 4 and Case.objects.count() == 3, (Attachment.objects.count(), Case.objects.count())
print(last_job)
"""

REMOVE_CONTENT = """
import sys
from django.db import connection
from cases import services
services.purge_all_cases()
with connection.cursor() as cur:
    cur.execute("DELETE FROM procrastinate_jobs WHERE id > %s", [int(sys.argv[-1])])
"""


def manage_shell(code: str, *args: str, db: str, media: Path) -> str:
    env = dict(os.environ, DATABASE_URL=url(db), MEDIA_ROOT=str(media), DEBUG="true")
    env.pop("TEST_DB_NAME", None)
    run = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", "import django, sys; django.setup(); exec(sys.argv[1])", code, *args],
        cwd=ROOT,
        env=dict(env, DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


@pytest.fixture
def content(demo, tmp_path):
    """The demo (committed by the session fixture) plus three cases with photos (one with two) and two other
    uploaded files, committed by a process of their own (this test's own connection sits in a transaction)."""
    media = tmp_path / "media"
    source = connection.settings_dict["NAME"]
    last_job = manage_shell(ADD_CONTENT, db=source, media=media).strip().splitlines()[-1]
    yield media
    manage_shell(REMOVE_CONTENT, last_job, db=source, media=media)


@pytest.mark.django_db  # sets up the test database; everything here reads and writes through other connections
def test_backup_and_restore_round_trip(content, tmp_path, django_db_blocker):
    source = connection.settings_dict["NAME"]
    scratch = f"lanechief_bktest_{uuid.uuid4().hex[:10]}"
    restored_media = tmp_path / "restored" / "media"
    started = time.monotonic()
    try:
        backup = script("backup", "--output", str(tmp_path / "backups"), db=source, media=content)
        assert backup.returncode == 0, backup.stderr
        archive = Path(backup.stdout.strip().splitlines()[-1])
        assert archive.parent == tmp_path / "backups" and archive.name.startswith(source) and archive.suffix == ".tar"

        restore = script(
            "restore",
            "--database",
            scratch,
            "--media-root",
            str(restored_media),
            str(archive),
            db=source,
            media=content,
        )
        assert restore.returncode == 0, restore.stderr
        elapsed = time.monotonic() - started
        print(f"backup + restore: {elapsed:.1f} s")
        assert "verified" in restore.stderr and "SHA-256 verified" in restore.stderr

        with django_db_blocker.unblock():
            want = fingerprint(source)
            got = fingerprint(scratch)
        assert want["tables"]["public.cases_attachment"][0] == 4 and want["tables"]["public.lanes_lane"][0] > 300
        assert "public.spatial_ref_sys" in got["tables"] and any("procrastinate" in t for t in got["tables"])
        for part in (
            "tables",
            "geometries",
            "indexes",
            "triggers",
            "functions",
            "sequences",
            "extensions",
            "constraints",
        ):
            assert got[part] == want[part], part
        assert files_of(restored_media) == files_of(content)
        assert elapsed < 60, f"backup + restore took {elapsed:.1f} s"

        # the restored database works: its sequences continue and its triggers derive lane cells
        conn = psycopg2.connect(**conninfo(scratch))
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO lanes_lane (name, name_zh, kind, geom, source_key, osm_way_ids, tags, created_at, updated_at) "
                "SELECT name || '（副本）', name_zh, kind, geom, '', '{}', '{}', now(), now() FROM lanes_lane "
                "WHERE id = (SELECT min(l.id) FROM lanes_lane l JOIN lanes_lanecell c ON c.lane_id = l.id) RETURNING id"
            )
            new_id = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM lanes_lanecell WHERE lane_id = %s", [new_id])
            assert cur.fetchone()[0] > 0
        conn.rollback()  # leaves the restored database as it was
        conn.close()

        # a database that is not empty is refused, and left as it was
        again = script("restore", "--database", scratch, "--no-media", str(archive), db=source, media=content)
        assert again.returncode != 0 and "not empty" in again.stderr and "--force" in again.stderr
        media_again = script(
            "restore",
            "--database",
            scratch + "_x",
            "--media-root",
            str(restored_media),
            str(archive),
            db=source,
            media=content,
        )
        assert media_again.returncode != 0 and "media directory" in media_again.stderr
        with django_db_blocker.unblock():
            assert fingerprint(scratch)["tables"] == want["tables"]
        # --force replaces both (restored and verified first); the old files are kept beside
        forced = script(
            "restore",
            "--force",
            "--database",
            scratch,
            "--media-root",
            str(restored_media),
            str(archive),
            db=source,
            media=content,
        )
        assert forced.returncode == 0, forced.stderr
        with django_db_blocker.unblock():
            assert fingerprint(scratch)["tables"] == want["tables"]
        assert files_of(restored_media) == files_of(content)
        assert len(list(restored_media.parent.glob("media.before-restore-*"))) == 1

        # a damaged archive is refused before anything is touched
        broken = tmp_path / "broken.tar"
        broken.write_bytes(archive.read_bytes()[:4096])
        bad = script("restore", "--database", scratch + "_y", "--no-media", str(broken), db=source, media=content)
        assert bad.returncode != 0 and "restore:" in bad.stderr
    finally:
        conn = psycopg2.connect(**conninfo("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            for name in (scratch, scratch + "_x", scratch + "_y"):
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
