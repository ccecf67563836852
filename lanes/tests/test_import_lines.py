"""The line-file lane importer (lanes.importers.lines, manage.py import_lanes) on files made from the real extract:
the lanes the OSM importer makes from data/osm/shanghai_huangpu.osm are exported once per module to GeoJSON (written
by hand, WGS-84), GeoPackage (ogr2ogr, UTM 51N), Shapefile (ogr2ogr, Web Mercator, plain and zipped) and GeoParquet
(pyarrow, WKB + PROJJSON of UTM 51N); each test imports them again into an empty lane table, inside a transaction
rolled back afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from io import StringIO
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from django.core.management import CommandError, call_command
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, MultiLineString, Point, Polygon, mapping

from lanes.importers.lines import ImportRejected, LineFileError, import_lines
from lanes.importers.osm import import_osm
from lanes.models import Lane
from lanes.tests.conftest import OSM_PATH, wipe_lanes_and_areas

OGR2OGR = shutil.which("ogr2ogr")
pytestmark = pytest.mark.skipif(OGR2OGR is None, reason="ogr2ogr (Debian package gdal-bin) is not installed")
GEOD = Geod(ellps="WGS84")
CM = 0.01  # metres


def write_geojson(path: Path, features: list[dict]) -> Path:
    out = []
    for f in features:
        geom = f.get("geometry")
        if geom is not None and not isinstance(geom, dict):
            geom = mapping(geom)
        out.append({"type": "Feature", "properties": f.get("properties", {}), "geometry": geom})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": out}, ensure_ascii=False), encoding="utf-8")
    return path


def ogr2ogr(src: Path, dst: Path, *args: str) -> Path:
    fmt = {".shp": "ESRI Shapefile", ".gpkg": "GPKG"}[dst.suffix]
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([OGR2OGR, "-f", fmt, *args, str(dst), str(src)], check=True, capture_output=True)
    return dst


def write_geoparquet(path: Path, lanes: list[dict], *, srid: int | None, crs_key: bool = True) -> Path:
    """GeoParquet 1.0: WKB geometry column "geometry", CRS as PROJJSON (None → "crs": null, i.e. unknown)."""
    tr = Transformer.from_crs(4326, srid, always_xy=True) if srid and srid != 4326 else None

    def project(g):
        if tr is None:
            return g
        return shapely.transform(g, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))

    geoms = [project(lane["geom"]) for lane in lanes]
    column = {"encoding": "WKB", "geometry_types": ["MultiLineString"]}
    if crs_key:
        column["crs"] = CRS.from_epsg(srid).to_json_dict() if srid else None
    table = pa.table(
        {
            "name": [lane["name"] for lane in lanes],
            "kind": [lane["kind"] for lane in lanes],
            "osm_key": [lane["key"] for lane in lanes],
            "geometry": pa.array(shapely.to_wkb(np.asarray(geoms, dtype=object)).tolist(), type=pa.binary()),
        }
    )
    meta = {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": column}}
    table = table.replace_schema_metadata({b"geo": json.dumps(meta).encode()})
    pq.write_table(table, path)
    return path


@pytest.fixture(scope="module")
def reference(django_db_setup, django_db_blocker):
    """The OSM importer's lanes of the extract: [{key, name, kind, geom (shapely, WGS-84)}]; the table is left empty."""
    with django_db_blocker.unblock():
        wipe_lanes_and_areas()
        import_osm(OSM_PATH, commit=True)
        lanes = [
            {"key": key, "name": name, "kind": kind, "geom": shapely.from_wkb(bytes(geom.wkb))}
            for key, name, kind, geom in Lane.objects.order_by("source_key").values_list(
                "source_key", "name", "kind", "geom"
            )
        ]
        wipe_lanes_and_areas()
    assert len(lanes) > 200  # 225 without communities to split at
    return lanes


@pytest.fixture(scope="module")
def files(reference, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("lines")
    src = write_geojson(
        d / "lanes.geojson",
        [
            {"properties": {"name": r["name"], "kind": r["kind"], "osm_key": r["key"]}, "geometry": r["geom"]}
            for r in reference
        ],
    )
    shp = ogr2ogr(src, d / "shp" / "lanes3857.shp", "-t_srs", "EPSG:3857", "-lco", "ENCODING=UTF-8")
    zipped = d / "lanes3857.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for part in shp.parent.glob("lanes3857.*"):
            zf.write(part, part.name)
    return {
        "geojson": src,
        "gpkg": ogr2ogr(src, d / "lanes32651.gpkg", "-t_srs", "EPSG:32651", "-nln", "lanes"),
        "shp": shp,
        "zip": zipped,
        "parquet": write_geoparquet(d / "lanes32651.parquet", reference, srid=32651),
    }


def max_vertex_error_m(a, b) -> float:
    """Largest geodesic distance between corresponding vertices of two WGS-84 geometries (same vertex order)."""
    ca, cb = shapely.get_coordinates(a), shapely.get_coordinates(b)
    assert ca.shape == cb.shape
    _az1, _az2, dist = GEOD.inv(ca[:, 0], ca[:, 1], cb[:, 0], cb[:, 1])
    return float(np.max(dist))


def imported_lanes(source: str) -> dict[str, Lane]:
    return {
        lane.source_key.split(":", 2)[2]: lane
        for lane in Lane.objects.filter(source_key__startswith=f"lines:{source}:")
    }


# --- every format, every SRID ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt,driver,crs",
    [
        ("geojson", "GeoJSON", "EPSG:4326"),
        ("gpkg", "GPKG", "EPSG:32651"),
        ("shp", "ESRI Shapefile", "EPSG:3857"),
        ("zip", "ESRI Shapefile", "EPSG:3857"),
        ("parquet", "GeoParquet", "EPSG:32651"),
    ],
)
def test_every_format_round_trips_within_centimetres(fmt, driver, crs, files, reference, db):
    path = files[fmt]
    dry = import_lines(path, kind_field="kind", key_field="osm_key")
    assert (dry.driver, dry.crs, dry.committed) == (driver, crs, False)
    assert len(dry.created) == dry.lanes == dry.features == len(reference)
    assert Lane.objects.count() == 0  # the dry run wrote nothing

    report = import_lines(path, kind_field="kind", key_field="osm_key", commit=True)
    assert report.committed and len(report.created) == len(reference)
    lanes = imported_lanes(report.source)
    assert set(lanes) == {r["key"] for r in reference}
    worst = 0.0
    for r in reference:
        lane = lanes[r["key"]]
        assert (lane.name, lane.kind, lane.geom.srid, lane.geom.geom_type) == (
            r["name"],
            r["kind"],
            4326,
            "MultiLineString",
        )
        worst = max(worst, max_vertex_error_m(r["geom"], shapely.from_wkb(bytes(lane.geom.wkb))))
    assert worst < CM, f"{fmt}: a vertex moved {worst * 100:.2f} cm"
    # the stored lengths (geography, metres) agree with the source lanes' too
    total = sum(GEOD.geometry_length(r["geom"]) for r in reference)
    assert abs(sum(lane.length_m for lane in lanes.values()) - total) < 0.05
    assert report.total_length_m == pytest.approx(total, abs=0.05)


def test_reimport_changes_nothing_and_a_changed_file_updates_only_its_changes(files, reference, tmp_path, db):
    first = import_lines(files["gpkg"], kind_field="kind", key_field="osm_key", commit=True)
    before = sorted(Lane.objects.values_list("id", "source_key", "updated_at"))
    again = import_lines(files["gpkg"], kind_field="kind", key_field="osm_key", commit=True)
    assert (again.created, again.updated, again.removed, again.unchanged) == ([], [], [], len(reference))
    assert sorted(Lane.objects.values_list("id", "source_key", "updated_at")) == before

    # the same lanes in another file of the same source: one renamed, one dropped
    changed = [dict(r) for r in reference[1:]]
    changed[0]["name"] = changed[0]["name"] + "（改）"
    path = write_geoparquet(tmp_path / "lanes32651.parquet", changed, srid=32651)
    kept = import_lines(path, kind_field="kind", key_field="osm_key", source=first.source, commit=True)
    assert (kept.created, kept.updated, kept.removed) == ([], [f"lines:{first.source}:{changed[0]['key']}"], [])
    pruned = import_lines(path, kind_field="kind", key_field="osm_key", source=first.source, prune=True, commit=True)
    assert pruned.removed == [f"lines:{first.source}:{reference[0]['key']}"]
    assert Lane.objects.count() == len(reference) - 1


def test_fid_is_the_key_without_a_key_field(files, reference, db):
    report = import_lines(files["geojson"], commit=True)
    assert {lane.source_key for lane in Lane.objects.all()} == {f"lines:lanes:{i}" for i in range(len(reference))}
    assert set(Lane.objects.values_list("kind", flat=True)) == {"back"}  # no kind field: every lane a back lane
    assert report.unchanged == 0


# --- rejected files write nothing ------------------------------------------------------------------------------


def test_bad_geometries_and_non_lines_reject_the_whole_file(reference, tmp_path, db):
    good = reference[0]["geom"]
    x, y = good.geoms[0].coords[0]
    path = write_geojson(
        tmp_path / "bad.geojson",
        [
            {"properties": {"name": "好路", "kind": "residential"}, "geometry": good},  # FID 0: fine
            {"properties": {"name": "点", "kind": "back"}, "geometry": Point(x, y)},  # 1
            {"properties": {"name": "面", "kind": "back"}, "geometry": Polygon([(x, y), (x + 1e-3, y), (x, y + 1e-3)])},
            {"properties": {"name": "空", "kind": "back"}, "geometry": None},  # 3
            {"properties": {"name": "零长", "kind": "back"}, "geometry": LineString([(x, y), (x, y)])},  # 4
            {"properties": {"name": "", "kind": "back"}, "geometry": good},  # 5: no name
            {"properties": {"name": "怪类", "kind": "highway-ish"}, "geometry": good},  # 6: unknown kind
            {
                "properties": {"name": "多段", "kind": "main"},
                "geometry": MultiLineString([[(x, y), (x + 1e-3, y)], [(x, y + 1e-3), (x, y + 1e-3)]]),
            },  # 7: a degenerate part
        ],
    )
    with pytest.raises(ImportRejected) as caught:
        import_lines(path, kind_field="kind", commit=True)
    report = caught.value.report
    assert [n.fid for n in report.rejected] == [1, 2, 3, 4, 5, 6, 7]
    reasons = {n.fid: n.message for n in report.rejected}
    assert "Point" in reasons[1] and "Polygon" in reasons[2] and "空几何" in reasons[3]
    assert "长度为零" in reasons[4] and "--skip-unnamed" in reasons[5] and "highway-ish" in reasons[6]
    assert "第 2 段" in reasons[7]
    assert "未写入任何数据" in str(caught.value) and "FID 6" in str(caught.value)
    assert Lane.objects.count() == 0
    with pytest.raises(CommandError, match="FID 4"):
        call_command(
            "import_lanes", str(path), "--kind-field", "kind", "--commit", stdout=StringIO(), stderr=StringIO()
        )
    assert Lane.objects.count() == 0


def test_unnamed_features_can_be_skipped_and_kinds_map_from_osm_and_chinese(reference, tmp_path, db):
    g = reference[0]["geom"]
    path = write_geojson(
        tmp_path / "kinds.geojson",
        [
            {"properties": {"name": "甲路", "kind": "primary_link"}, "geometry": g},
            {"properties": {"name": "乙路", "kind": "次干道"}, "geometry": g},
            {"properties": {"name": "丙路", "kind": "Secondary"}, "geometry": g},
            {"properties": {"name": "丁路", "kind": None}, "geometry": g},
            {"properties": {"name": None, "kind": "main"}, "geometry": g},
        ],
    )
    report = import_lines(path, kind_field="kind", skip_unnamed=True, commit=True)
    assert (report.features, report.skipped_unnamed, report.lanes) == (5, 1, 4)
    assert dict(Lane.objects.values_list("name", "kind")) == {
        "甲路": "main",
        "乙路": "secondary",
        "丙路": "secondary",
        "丁路": "back",
    }
    assert set(Lane.objects.values_list("name_zh", flat=True)) == {"甲路", "乙路", "丙路", "丁路"}


def test_duplicate_keys_are_rejected(reference, tmp_path, db):
    g = reference[0]["geom"]
    path = write_geojson(
        tmp_path / "dup.geojson",
        [{"properties": {"name": n, "code": "A1"}, "geometry": g} for n in ("甲路", "乙路")],
    )
    with pytest.raises(ImportRejected, match="与要素 FID 0 重复"):
        import_lines(path, key_field="code", commit=True)
    assert Lane.objects.count() == 0


def test_a_projected_file_without_crs_needs_srid(files, reference, tmp_path, db):
    shp_dir = tmp_path / "noprj"
    shp_dir.mkdir()
    for part in files["shp"].parent.glob("lanes3857.*"):
        if part.suffix != ".prj":
            shutil.copy(part, shp_dir / part.name)
    shp = shp_dir / "lanes3857.shp"
    with pytest.raises(ImportRejected) as caught:
        import_lines(shp, key_field="osm_key", commit=True)
    assert len(caught.value.report.rejected) == len(reference)
    assert "--srid" in caught.value.report.rejected[0].message
    assert Lane.objects.count() == 0
    report = import_lines(shp, key_field="osm_key", srid=3857, commit=True)
    assert report.crs == "EPSG:3857 (--srid)"
    lanes = imported_lanes(report.source)
    worst = max(max_vertex_error_m(r["geom"], shapely.from_wkb(bytes(lanes[r["key"]].geom.wkb))) for r in reference)
    assert worst < CM

    # GeoParquet with "crs": null (unknown) and projected coordinates: the same answer
    unknown = write_geoparquet(tmp_path / "unknown.parquet", reference[:5], srid=32651)
    meta = json.loads(pq.read_schema(unknown).metadata[b"geo"])
    meta["columns"]["geometry"]["crs"] = None
    table = pq.read_table(unknown).replace_schema_metadata({b"geo": json.dumps(meta).encode()})
    pq.write_table(table, unknown)
    with pytest.raises(ImportRejected, match="--srid"):
        import_lines(unknown, key_field="osm_key", commit=True)
    assert import_lines(unknown, key_field="osm_key", srid=32651).lanes == 5


def test_geoparquet_without_crs_key_is_lonlat(reference, tmp_path, db):
    path = write_geoparquet(tmp_path / "crs84.parquet", reference[:3], srid=4326, crs_key=False)
    report = import_lines(path, key_field="osm_key", commit=True)
    assert report.crs == "OGC:CRS84" and report.lanes == 3


def test_file_level_errors_say_what_to_do(files, tmp_path, db):
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"name": ["x"], "geometry": [b"\x00"]}), plain)
    with pytest.raises(LineFileError, match="不是 GeoParquet"):
        import_lines(plain)
    with pytest.raises(LineFileError, match="没有字段 street"):
        import_lines(files["gpkg"], name_field="street")
    with pytest.raises(LineFileError, match="import_osm"):
        import_lines(OSM_PATH)
    with pytest.raises(LineFileError, match="不支持的文件类型"):
        import_lines(tmp_path / "lanes.csv")
    with pytest.raises(LineFileError, match="找不到文件"):
        import_lines(tmp_path / "missing.gpkg")
    with pytest.raises(LineFileError, match="EPSG"):
        import_lines(files["gpkg"], srid=999999)
    assert Lane.objects.count() == 0


def test_command_dry_run_and_commit(files, reference, db):
    out = StringIO()
    call_command(
        "import_lanes",
        str(files["gpkg"]),
        "--kind-field",
        "kind",
        "--key-field",
        "osm_key",
        stdout=out,
        stderr=StringIO(),
    )
    assert "试运行" in out.getvalue() and f"新增 {len(reference)}" in out.getvalue()
    assert Lane.objects.count() == 0
    out = StringIO()
    call_command(
        "import_lanes",
        str(files["parquet"]),
        "--kind-field",
        "kind",
        "--key-field",
        "osm_key",
        "--commit",
        stdout=out,
        stderr=StringIO(),
    )
    assert "已写入" in out.getvalue() and Lane.objects.count() == len(reference)
