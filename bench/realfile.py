"""`BENCH_LANES=FILE make bench`: the benchmark suite on a real street file instead of the synthetic city.

FILE is OSM XML/PBF (imported by lanes.importers.osm) or a line file — GeoJSON, GeoPackage, Shapefile, GeoParquet of
LineStrings in any SRID (lanes.importers.lines; BENCH_NAME_FIELD, BENCH_KIND_FIELD, BENCH_KEY_FIELD and BENCH_SRID
pass its options, unnamed features are skipped). Over the lanes' extent (in its UTM zone, padded by PAD_M) it builds
what every scenario needs, like bench/city.py does: the district DISTRICT_CODE (so bench/org.py works), communities
as a regular split of the extent (about 8 per side, 250 m to 2 km wide, so no community holds more than 999 unit grid
cells), street offices of up to 4 × 4 communities — all illustrative — and 100 m unit grid cells through
grid.services.generate_grid_cells. One transaction: a build is complete or absent.

The district's `source` records the file (name and SHA-256), so a later run on the same file reuses the data set and a
database holding any other data set (the synthetic city, another file) is refused, never mixed: scripts/bench.sh
gives each file a database of its own (lanechief_bench_<file stem>); `--rebuild` replaces what is there.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from pathlib import Path

from django.db import connection, transaction

from bench.city import DISTRICT_CODE

PAD_M = 60.0
COMMUNITIES_PER_SIDE = 8
COMMUNITY_MIN_M, COMMUNITY_MAX_M = 250.0, 2000.0
COMMUNITIES_PER_OFFICE_SIDE = 4
GRID_SIZE_M = 100.0
OSM_SUFFIXES = (".osm", ".pbf", ".osm.gz", ".osm.bz2")
SCENARIO_LANE_PREFIXES = ("benchdash:",)  # lanes scenarios add next to any data set (bench/dashboard.py)


class DatasetMismatch(RuntimeError):
    """The bench database holds another data set; the message says what to do."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def identity(path: Path, digest: str) -> str:
    return f"BENCH_LANES={path.name} sha256={digest}"[:200]


def _counts() -> dict:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM lanes_lane WHERE NOT source_key LIKE 'benchdash:%%'),"
            " (SELECT count(*) FROM grid_area WHERE level = 'grid_cell' AND code LIKE %s),"
            " (SELECT count(*) FROM grid_area WHERE level = 'street_office' AND code LIKE %s),"
            " (SELECT count(*) FROM grid_area WHERE level = 'community' AND code LIKE %s),"
            " (SELECT count(*) FROM lanes_lanecell)",
            [DISTRICT_CODE + "%"] * 3,
        )
        lanes, cells, offices, communities, links = cur.fetchone()
    return {
        "lanes": lanes,
        "grid_cells": cells,
        "street_offices": offices,
        "communities": communities,
        "lane_cell_links": links,
    }


def _state(ident: str) -> str:
    """ "same" (this file's complete data set), "empty", or a description of what else is there."""
    with connection.cursor() as cur:
        cur.execute("SELECT source FROM grid_area WHERE code = %s", [DISTRICT_CODE])
        row = cur.fetchone()
        if row is not None:
            return "same" if row[0] == ident else f"district {DISTRICT_CODE} of “{row[0]}”"
        cur.execute(
            "SELECT count(*) FROM lanes_lane WHERE NOT ("
            + " OR ".join(["source_key LIKE %s"] * len(SCENARIO_LANE_PREFIXES))
            + ")",
            [p + "%" for p in SCENARIO_LANE_PREFIXES],
        )
        lanes = cur.fetchone()[0]
    return f"{lanes:,} lanes of another import" if lanes else "empty"


def _import_lanes(path: Path, log) -> dict:
    if path.name.lower().endswith(OSM_SUFFIXES):
        from lanes.importers.osm import ImportRejected, import_osm

        try:
            report = import_osm(path, commit=True, progress=log)
        except ImportRejected as exc:
            raise SystemExit(f"BENCH_LANES={path}: {exc}") from None
        log(f"  {report.summary()}")
        return {"format": "OSM", "features": report.ways_read}

    from lanes.importers.lines import ImportRejected, LineFileError, import_lines

    srid = os.environ.get("BENCH_SRID")
    try:
        report = import_lines(
            path,
            name_field=os.environ.get("BENCH_NAME_FIELD", "name"),
            kind_field=os.environ.get("BENCH_KIND_FIELD") or None,
            key_field=os.environ.get("BENCH_KEY_FIELD") or None,
            srid=int(srid) if srid else None,
            skip_unnamed=True,
            commit=True,
            progress=log,
        )
    except (ImportRejected, LineFileError, ValueError) as exc:
        raise SystemExit(
            f"BENCH_LANES={path}: {exc}\n(BENCH_NAME_FIELD, BENCH_KIND_FIELD, BENCH_KEY_FIELD and BENCH_SRID pass the "
            "options of manage.py import_lanes; try the file with it first)"
        ) from None
    log(f"  {report.summary()}")
    return {"format": report.driver, "features": report.features, "crs": report.crs}


def _build_areas(ident: str, log) -> dict:
    """District, street offices and communities as a regular split of the lanes' extent, in its UTM zone."""
    from common.geo import utm_srid

    with connection.cursor() as cur:
        cur.execute("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)::geometry) c FROM lanes_lane) s")
        lon, lat = cur.fetchone()
        srid = utm_srid(lon, lat)
        cur.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(ST_Transform(geom, %s)) e FROM lanes_lane) s",
            [srid],
        )
        x0, y0, x1, y1 = cur.fetchone()
    x0, y0, x1, y1 = x0 - PAD_M, y0 - PAD_M, x1 + PAD_M, y1 + PAD_M
    width, height = x1 - x0, y1 - y0
    side = min(COMMUNITY_MAX_M, max(COMMUNITY_MIN_M, max(width, height) / COMMUNITIES_PER_SIDE))
    nx, ny = max(1, math.ceil(width / side)), max(1, math.ceil(height / side))
    cw, ch = width / nx, height / ny
    k = COMMUNITIES_PER_OFFICE_SIDE
    ox, oy = math.ceil(nx / k), math.ceil(ny / k)
    if ox * oy > 999:
        raise SystemExit(
            f"BENCH_LANES: the lanes span {width / 1000:.0f} × {height / 1000:.0f} km, more than 999 street offices of "
            f"{k * side / 1000:.0f} km; benchmark a smaller extract"
        )
    log(
        f"  areas over {width / 1000:.1f} × {height / 1000:.1f} km (EPSG:{srid}): {ox * oy} street offices, "
        f"{nx * ny} communities of {cw:.0f} × {ch:.0f} m"
    )

    def rect(ax, ay, bx, by):
        return f"ST_Multi(ST_Transform(ST_MakeEnvelope({ax},{ay},{bx},{by},{srid}),4326))"

    insert = (
        "INSERT INTO grid_area (level, code, name, parent_id, geom, illustrative, source, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, {geom}, true, %s, now(), now()) RETURNING id"
    )
    with connection.cursor() as cur:
        cur.execute(insert.format(geom=rect(x0, y0, x1, y1)), ["district", DISTRICT_CODE, "实测街巷区", None, ident])
        district_id = cur.fetchone()[0]
        seq = 0
        for j in range(oy):  # offices north → south, west → east
            for i in range(ox):
                seq += 1
                cols = range(i * k, min(nx, (i + 1) * k))
                rows = range(j * k, min(ny, (j + 1) * k))
                top = y1 - rows[0] * ch
                bottom = y1 - (rows[-1] + 1) * ch
                left, right = x0 + cols[0] * cw, x0 + (cols[-1] + 1) * cw
                code = f"{DISTRICT_CODE}{seq:03d}"
                cur.execute(
                    insert.format(geom=rect(left, bottom, right, top)),
                    ["street_office", code, f"第{seq}街道", district_id, "bench real file"],
                )
                office_id = cur.fetchone()[0]
                cseq = 0
                for r in rows:
                    for c in cols:
                        cseq += 1
                        ax, ay = x0 + c * cw, y1 - (r + 1) * ch
                        cur.execute(
                            insert.format(geom=rect(ax, ay, ax + cw, ay + ch)),
                            [
                                "community",
                                f"{code}{cseq:03d}",
                                f"第{seq}街道第{cseq}社区",
                                office_id,
                                "bench real file",
                            ],
                        )
    return {"utm_srid": srid, "extent_km": [round(width / 1000, 2), round(height / 1000, 2)]}


def load(path, *, log=print, rebuild: bool = False) -> dict:
    """The data set of `path` in the current (bench) database: built once, reused while the file is unchanged."""
    from grid.models import Area
    from grid.services import generate_grid_cells

    path = Path(path)
    if not path.is_file():
        raise SystemExit(
            f"BENCH_LANES={path}: no such file (OSM XML/PBF, GeoJSON, GeoPackage, Shapefile or GeoParquet)"
        )
    digest = _sha256(path)
    ident = identity(path, digest)
    source = f"BENCH_LANES={path.name}"
    state = _state(ident)
    if state == "same" and not rebuild:
        log(
            f"dataset: reusing {path.name} (sha256 {digest[:12]}…) already in the bench database (--rebuild to rebuild)"
        )
        return {"source": source, "sha256": digest, **_counts()}
    if state not in ("same", "empty"):
        if not rebuild:
            raise DatasetMismatch(
                f"the bench database {connection.settings_dict['NAME']} holds another data set ({state}); "
                f"{path.name} is not mixed into it. Run with the default database of this file (unset BENCH_DB_NAME / "
                f"BENCH_DATABASE_URL), or ARGS=--rebuild to replace the data set in this one"
            )
    t0 = time.perf_counter()
    with transaction.atomic():
        if state != "empty":
            log("dataset: --rebuild: dropping the data set in the bench database")
            with connection.cursor() as cur:
                cur.execute("TRUNCATE lanes_lane, grid_area RESTART IDENTITY CASCADE")
        log(f"dataset: importing the lanes of {path} (once; reused by later runs)")
        imported = _import_lanes(path, log)
        built = _build_areas(ident, log)
        t1 = time.perf_counter()
        generate_grid_cells(area=Area.objects.get(code=DISTRICT_CODE), size_m=GRID_SIZE_M)
        log(f"  grid cells ({time.perf_counter() - t1:.1f} s); lanes' communities and cells by the DB triggers")
    with connection.cursor() as cur:
        cur.execute("ANALYZE grid_area; ANALYZE lanes_lane; ANALYZE lanes_lanecell")
    counts = _counts()
    log(
        f"  {counts['lanes']:,} lanes, {counts['street_offices']} street offices, {counts['communities']} communities, "
        f"{counts['grid_cells']:,} grid cells, {counts['lane_cell_links']:,} lane-cell links "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return {
        "source": source,
        "sha256": digest,
        **imported,
        **built,
        **counts,
        "build_seconds": round(time.perf_counter() - t0, 1),
    }
