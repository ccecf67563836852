"""Boundary import (grid.importers.boundaries, manage.py import_boundaries) from GeoJSON, Shapefile (.shp and
.zip) and GeoPackage files, made in each test from the illustrative blocks derived from the real streets of the
OSM extract (conftest.py). GeoJSON is written by hand; Shapefile and GeoPackage are produced from it with the
`ogr2ogr` CLI (gdal-bin). Each test runs in a transaction rolled back afterwards."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import shapely
from django.core.management import CommandError, call_command
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, mapping

from grid.importers.boundaries import BoundaryFileError, ImportRejected, import_boundaries
from grid.models import Area, Level
from grid.services import area_create
from grid.tests.conftest import UTM, derived_hierarchy, to_geos, to_shape

DISTRICT = "310104"
OGR2OGR = shutil.which("ogr2ogr")
needs_ogr2ogr = pytest.mark.skipif(OGR2OGR is None, reason="ogr2ogr (Debian package gdal-bin) is not installed")


# ---------------------------------------------------------------------------------------------------------------
# Files


def write_geojson(path: Path, features: list[dict], *, crs: str | None = None) -> Path:
    """features: dicts with "properties" and "geometry" (a shapely geometry, None, or a raw GeoJSON dict)."""
    out = []
    for f in features:
        geom = f.get("geometry")
        if geom is not None and not isinstance(geom, dict):
            geom = mapping(geom)
        feature = {"type": "Feature", "properties": f.get("properties", {}), "geometry": geom}
        out.append(feature)
    doc = {"type": "FeatureCollection", "features": out}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def ogr2ogr(src: Path, dst: Path, *args: str) -> Path:
    fmt = {".shp": "ESRI Shapefile", ".gpkg": "GPKG"}[dst.suffix]
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([OGR2OGR, "-f", fmt, *args, str(dst), str(src)], check=True, capture_output=True)
    return dst


def zip_shapefile(shp: Path, dst: Path) -> Path:
    with zipfile.ZipFile(dst, "w") as zf:
        for part in shp.parent.glob(shp.stem + ".*"):
            zf.write(part, f"boundaries/{part.name}")
    return dst


def office_features() -> list[dict]:
    return [
        {"properties": {"code": f"{DISTRICT}{i:03d}", "name": f"示意街道{i}"}, "geometry": MultiPolygon([poly])}
        for i, poly in enumerate(derived_hierarchy().offices, start=1)
    ]


def community_features() -> list[dict]:
    out = []
    for i, communities in enumerate(derived_hierarchy().communities, start=1):
        for j, poly in enumerate(communities, start=1):
            out.append(
                {
                    "properties": {"code": f"{DISTRICT}{i:03d}{j:03d}", "name": f"示意社区{i}-{j}"},
                    "geometry": MultiPolygon([poly]),
                }
            )
    return out


def metric_polygon(coords_m: list[tuple[float, float]], holes=(), *, office: int = 0) -> Polygon:
    """A polygon given in metres relative to a point inside a derived street office (UTM 51N), in WGS-84."""
    origin = derived_hierarchy().offices[office].point_on_surface()
    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)
    to_wgs = Transformer.from_crs(32651, 4326, always_xy=True)
    x0, y0 = to_utm.transform(origin.x, origin.y)

    def ring(coords):
        xs, ys = to_wgs.transform([x0 + x for x, _y in coords], [y0 + y for _x, y in coords])
        return list(zip(xs, ys, strict=True))

    return Polygon(ring(coords_m), [ring(h) for h in holes])


@pytest.fixture
def district(db):
    return area_create(
        level=Level.DISTRICT,
        code=DISTRICT,
        name="徐汇区（测试）",
        geom=to_geos(derived_hierarchy().district),
        illustrative=True,
    )


@pytest.fixture
def offices(district, tmp_path):
    path = write_geojson(tmp_path / "offices.geojson", office_features())
    import_boundaries(path, level=Level.STREET_OFFICE, commit=True)
    return {a.code: a for a in Area.objects.filter(level=Level.STREET_OFFICE, code__startswith=DISTRICT)}


def stored_shapes(prefix: str, level: str) -> dict[str, object]:
    return {a.code: to_shape(a.geom) for a in Area.objects.filter(code__startswith=prefix, level=level)}


def same_shape(a, b, tol=1e-9) -> bool:
    return shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), tolerance=tol)


# ---------------------------------------------------------------------------------------------------------------
# Valid files


def test_geojson_dry_run_commit_and_idempotent_reimport(district, tmp_path):
    features = office_features()
    path = write_geojson(tmp_path / "offices.geojson", features)
    report = import_boundaries(path, level=Level.STREET_OFFICE, illustrative=True)
    codes = [f["properties"]["code"] for f in features]
    assert sorted(report.created) == codes and not report.committed
    assert report.features == len(features) and report.size_bytes == path.stat().st_size
    outline = to_shape(district.geom)
    assert report.total_area_m2 == pytest.approx(UTM(outline).area(outline), rel=1e-3)
    assert not Area.objects.filter(level=Level.STREET_OFFICE, code__startswith=DISTRICT).exists()

    report = import_boundaries(path, level=Level.STREET_OFFICE, illustrative=True, commit=True)
    assert report.committed and sorted(report.created) == codes
    stored = Area.objects.filter(level=Level.STREET_OFFICE, code__startswith=DISTRICT).order_by("code")
    assert [a.code for a in stored] == codes
    for area, feature in zip(stored, features, strict=True):
        assert area.parent == district and area.illustrative and area.name == feature["properties"]["name"]
        assert same_shape(to_shape(area.geom), feature["geometry"], tol=0)
        assert "offices.geojson" in area.source

    again = import_boundaries(path, level=Level.STREET_OFFICE, illustrative=True, commit=True)
    assert sorted(again.unchanged) == codes and not again.created and not again.updated
    updated_at = {a.code: a.updated_at for a in stored}
    assert {a.code: a.updated_at for a in Area.objects.filter(code__in=codes)} == updated_at

    # One renamed, one reshaped (a 50 m square cut out of it).
    features[0]["properties"]["name"] = "改名街道"
    cut = metric_polygon([(0, 0), (50, 0), (50, 50), (0, 50)], office=1)
    features[1]["geometry"] = MultiPolygon(
        [p for p in shapely.get_parts(features[1]["geometry"].difference(cut)) if isinstance(p, Polygon)]
    )
    path2 = write_geojson(tmp_path / "offices2.geojson", features)
    report = import_boundaries(path2, level=Level.STREET_OFFICE, illustrative=True)
    assert report.updated == codes[:2] and report.unchanged == codes[2:]
    import_boundaries(path2, level=Level.STREET_OFFICE, illustrative=True, commit=True)
    assert Area.objects.get(code=codes[0]).name == "改名街道"
    assert same_shape(to_shape(Area.objects.get(code=codes[1]).geom), features[1]["geometry"], tol=0)
    # The illustrative flag is part of what an import sets.
    report = import_boundaries(path2, level=Level.STREET_OFFICE, commit=True)
    assert sorted(report.updated) == codes
    assert not Area.objects.filter(code__in=codes, illustrative=True).exists()


@needs_ogr2ogr
@pytest.mark.parametrize("fmt", ["shp", "zip", "gpkg"])
def test_shapefile_zip_and_geopackage_import_the_same_areas_as_geojson(offices, tmp_path, fmt):
    src = write_geojson(tmp_path / "communities.geojson", community_features())
    if fmt == "gpkg":
        path = ogr2ogr(src, tmp_path / "communities.gpkg", "-nln", "communities")
    else:
        path = ogr2ogr(src, tmp_path / "shp" / "communities.shp", "-lco", "ENCODING=UTF-8")
        if fmt == "zip":
            path = zip_shapefile(path, tmp_path / "communities.zip")
    report = import_boundaries(path, level=Level.COMMUNITY, commit=True)
    expected = {f["properties"]["code"]: f for f in community_features()}
    assert sorted(report.created) == sorted(expected)
    assert report.driver == ("GPKG" if fmt == "gpkg" else "ESRI Shapefile")
    for area in Area.objects.filter(code__in=expected):
        feature = expected[area.code]
        assert area.name == feature["properties"]["name"]  # Chinese names survive the format
        assert area.parent.code == area.code[:9]
        assert same_shape(to_shape(area.geom), feature["geometry"])
    # The GeoJSON original now changes nothing.
    again = import_boundaries(src, level=Level.COMMUNITY)
    assert sorted(again.unchanged) == sorted(expected) and not again.updated


@needs_ogr2ogr
def test_declared_projected_crs_is_transformed(offices, tmp_path):
    """A GeoPackage in CGCS2000 / 3-degree Gauss-Krüger CM 120E (EPSG:4549), as Chinese surveying data often is."""
    src = write_geojson(tmp_path / "communities.geojson", community_features())
    path = ogr2ogr(src, tmp_path / "gk.gpkg", "-t_srs", "EPSG:4549", "-nln", "gk")
    report = import_boundaries(path, level=Level.COMMUNITY, commit=True)
    assert report.crs == "EPSG:4549"
    stored = stored_shapes(DISTRICT, Level.COMMUNITY)
    assert len(stored) == len(community_features())
    for f in community_features():
        # Round trip through a projection: equal to about 1 mm.
        assert same_shape(stored[f["properties"]["code"]], f["geometry"], tol=1e-8)


def test_parent_found_by_code_prefix_and_warning_outside_parent(offices, tmp_path):
    features = community_features()
    first, last = features[0], features[-1]
    assert first["properties"]["code"][:9] != last["properties"]["code"][:9]
    assert import_boundaries(write_geojson(tmp_path / "c.geojson", [first, last]), level=Level.COMMUNITY).warnings == []
    # Give the first community a detached piece 5 km away, 5 % of its size: outside its street office.
    side = (0.05 * UTM(first["geometry"]).area(first["geometry"])) ** 0.5
    outside = metric_polygon(
        [(-5000, -5000), (-5000 + side, -5000), (-5000 + side, -5000 + side), (-5000, -5000 + side)]
    )
    first = {**first, "geometry": MultiPolygon([*first["geometry"].geoms, outside])}
    report = import_boundaries(
        write_geojson(tmp_path / "c2.geojson", [first, last]), level=Level.COMMUNITY, commit=True
    )
    assert [n.code for n in report.warnings] == [first["properties"]["code"]]
    assert "FID 0" in str(report.warnings[0])
    for f in (first, last):
        area = Area.objects.get(code=f["properties"]["code"])
        assert area.parent.code == f["properties"]["code"][:9]


@needs_ogr2ogr
def test_gbk_shapefile_without_cpg_needs_encoding(district, tmp_path):
    """Chinese GIS software often writes GBK attributes without a .cpg file: GDAL cannot recode them."""
    src = write_geojson(tmp_path / "o.geojson", office_features())
    shp = ogr2ogr(src, tmp_path / "gbk" / "o.shp", "-lco", "ENCODING=CP936")
    shp.with_suffix(".cpg").unlink()
    with pytest.raises(ImportRejected, match="--encoding") as exc:
        import_boundaries(shp, level=Level.STREET_OFFICE)
    assert {n.fid for n in exc.value.report.rejected} == set(range(len(office_features())))
    report = import_boundaries(shp, level=Level.STREET_OFFICE, encoding="gbk", commit=True)
    assert len(report.created) == len(office_features())
    names = set(Area.objects.filter(code__in=report.created).values_list("name", flat=True))
    assert names == {f["properties"]["name"] for f in office_features()}
    with pytest.raises(BoundaryFileError, match="nope"):
        import_boundaries(shp, level=Level.STREET_OFFICE, encoding="nope")


def test_numeric_codes_are_read_as_digits(district, tmp_path):
    features = office_features()
    for f in features:
        f["properties"]["code"] = int(f["properties"]["code"])
    report = import_boundaries(write_geojson(tmp_path / "n.geojson", features), level=Level.STREET_OFFICE)
    assert sorted(report.created) == sorted(str(f["properties"]["code"]) for f in features)


# ---------------------------------------------------------------------------------------------------------------
# Geometry repairs


def test_bowtie_is_repaired_and_reported(offices, tmp_path):
    office_code = next(iter(sorted(offices)))
    bowtie = metric_polygon([(0, 0), (200, 200), (200, 0), (0, 200), (0, 0)])
    assert not bowtie.is_valid
    features = [{"properties": {"code": f"{office_code}901", "name": "蝴蝶结社区"}, "geometry": bowtie}]
    report = import_boundaries(write_geojson(tmp_path / "b.geojson", features), level=Level.COMMUNITY, commit=True)
    assert [n.fid for n in report.repaired] == [0]
    assert "repaired" in str(report.repaired[0]) and "Self-intersection" in str(report.repaired[0])
    assert "FID 0" in str(report.repaired[0])
    area = Area.objects.get(code=f"{office_code}901")
    assert area.geom.valid and len(area.geom) == 2
    assert area.area_m2 == pytest.approx(2 * 200 * 100 / 2, rel=1e-3)  # two triangles of 200 m base, 100 m high


def test_unclosed_ring_is_closed_and_reported(offices, tmp_path):
    office_code = next(iter(sorted(offices)))
    square = metric_polygon([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)])
    ring = [list(xy) for xy in square.exterior.coords][:-1]  # drop the closing point
    geometry = {"type": "Polygon", "coordinates": [ring]}
    features = [{"properties": {"code": f"{office_code}902", "name": "未闭合社区"}, "geometry": geometry}]
    report = import_boundaries(write_geojson(tmp_path / "u.geojson", features), level=Level.COMMUNITY, commit=True)
    assert [n.fid for n in report.repaired] == [0]
    assert "闭合" in report.repaired[0].message
    assert Area.objects.get(code=f"{office_code}902").area_m2 == pytest.approx(10_000, rel=2e-3)


# ---------------------------------------------------------------------------------------------------------------
# Rejections: the whole file, nothing written, every reason with its feature id


def test_every_bad_feature_is_listed_and_nothing_is_written(offices, tmp_path):
    office = sorted(offices)[0]
    good = community_features()[0]
    square = metric_polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    line = shapely.LineString(list(square.exterior.coords)[:3])
    hole_outside = metric_polygon(
        [(0, 0), (100, 0), (100, 100), (0, 100)], holes=[[(300, 0), (400, 0), (400, 100), (300, 100)]]
    )
    x, y = square.exterior.coords[0]
    collapsed = Polygon([(x, y), (x + 0.001, y), (x + 0.002, y), (x, y)])  # zero area: all on one parallel
    features = [
        good,  # FID 0: fine
        {"properties": {"code": f"{office}903", "name": "线"}, "geometry": line},  # 1
        {"properties": {"code": "", "name": "无编码"}, "geometry": square},  # 2
        {"properties": {"code": f"{office}904", "name": ""}, "geometry": square},  # 3
        {"properties": {"code": f"{DISTRICT}099001", "name": "无上级"}, "geometry": square},  # 4
        {"properties": {"code": good["properties"]["code"], "name": "重复"}, "geometry": square},  # 5
        {"properties": {"code": f"{office}90", "name": "短编码"}, "geometry": square},  # 6
        {"properties": {"code": f"{office}9a5", "name": "非数字"}, "geometry": square},  # 7
        {"properties": {"code": f"{office}905", "name": "空几何"}, "geometry": None},  # 8
        {"properties": {"code": f"{office}906", "name": "洞在外"}, "geometry": hole_outside},  # 9
        {"properties": {"code": f"{office}907", "name": "塌缩"}, "geometry": collapsed},  # 10
        {"properties": {"code": f"{office}908", "name": "点"}, "geometry": square.centroid},  # 11
    ]
    path = write_geojson(tmp_path / "bad.geojson", features)
    before = Area.objects.count()
    with pytest.raises(ImportRejected) as exc:
        import_boundaries(path, level=Level.COMMUNITY, commit=True)
    assert Area.objects.count() == before
    rejected = {n.fid: str(n) for n in exc.value.report.rejected}
    assert sorted(rejected) == list(range(1, 12))
    for fid, text in rejected.items():
        assert f"FID {fid}" in text and text in str(exc.value)
    assert "LineString" in rejected[1]
    assert "编码" in rejected[2] and "名称" in rejected[3]
    assert f"{DISTRICT}099" in rejected[4] and "上级" in rejected[4]
    assert "重复" in rejected[5] and "FID 0" in rejected[5]
    assert "12 位" in rejected[6] and "12 位" in rejected[7]
    assert "几何" in rejected[8]
    assert "面积" in rejected[9] and "Hole lies outside shell" in rejected[9]
    assert "不再是面" in rejected[10]
    assert "Point" in rejected[11]
    # The dry run gives the same verdict.
    with pytest.raises(ImportRejected):
        import_boundaries(path, level=Level.COMMUNITY)


def test_code_not_starting_with_the_given_parent_is_rejected(offices, tmp_path):
    first, second = sorted(offices)[:2]
    features = [f for f in community_features() if f["properties"]["code"].startswith(second)][:1]
    path = write_geojson(tmp_path / "p.geojson", features)
    with pytest.raises(ImportRejected) as exc:
        import_boundaries(path, level=Level.COMMUNITY, parent_code=first, commit=True)
    assert "FID 0" in str(exc.value) and first in str(exc.value)
    assert not Area.objects.filter(level=Level.COMMUNITY, code__startswith=DISTRICT).exists()
    report = import_boundaries(path, level=Level.COMMUNITY, parent_code=second, commit=True)
    assert report.created == [features[0]["properties"]["code"]]


@needs_ogr2ogr
def test_projected_shapefile_without_crs_needs_srid(offices, tmp_path):
    src = write_geojson(tmp_path / "c.geojson", community_features())
    shp = ogr2ogr(src, tmp_path / "utm" / "c.shp", "-t_srs", "EPSG:32651", "-lco", "ENCODING=UTF-8")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(ImportRejected) as exc:
        import_boundaries(shp, level=Level.COMMUNITY, commit=True)
    notes = exc.value.report.rejected
    assert len(notes) == len(community_features())
    assert all("--srid" in str(n) and f"FID {n.fid}" in str(n) for n in notes)
    assert not Area.objects.filter(level=Level.COMMUNITY, code__startswith=DISTRICT).exists()
    report = import_boundaries(shp, level=Level.COMMUNITY, srid=32651, commit=True)
    assert len(report.created) == len(community_features())
    stored = stored_shapes(DISTRICT, Level.COMMUNITY)
    for f in community_features():
        assert same_shape(stored[f["properties"]["code"]], f["geometry"], tol=1e-8)


def test_projected_geojson_without_crs_needs_srid(offices, tmp_path):
    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)

    def fn(xy):
        x, y = to_utm.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    features = [{**f, "geometry": shapely.transform(f["geometry"], fn)} for f in community_features()[:2]]
    path = write_geojson(tmp_path / "utm.geojson", features)
    with pytest.raises(ImportRejected, match="--srid"):
        import_boundaries(path, level=Level.COMMUNITY)
    report = import_boundaries(path, level=Level.COMMUNITY, srid=32651)
    assert len(report.created) == 2
    declared = write_geojson(tmp_path / "utm2.geojson", features, crs="urn:ogc:def:crs:EPSG::32651")
    assert len(import_boundaries(declared, level=Level.COMMUNITY).created) == 2


# ---------------------------------------------------------------------------------------------------------------
# Files that cannot be read at all


def test_file_level_errors(district, tmp_path, settings):
    with pytest.raises(BoundaryFileError, match="找不到"):
        import_boundaries(tmp_path / "missing.geojson", level=Level.STREET_OFFICE)
    (tmp_path / "x.kml").write_text("<kml/>")
    with pytest.raises(BoundaryFileError, match=".kml"):
        import_boundaries(tmp_path / "x.kml", level=Level.STREET_OFFICE)
    path = write_geojson(tmp_path / "o.geojson", office_features())
    with pytest.raises(BoundaryFileError, match="--code-field") as exc:
        import_boundaries(path, level=Level.STREET_OFFICE, code_field="bm")
    assert "code, name" in str(exc.value)
    report = import_boundaries(path, level=Level.STREET_OFFICE, code_field="code", name_field="name")
    assert report.created
    with pytest.raises(BoundaryFileError, match="999999999"):
        import_boundaries(path, level=Level.COMMUNITY, parent_code="999999999")
    with pytest.raises(BoundaryFileError):
        import_boundaries(path, level=Level.COMMUNITY, parent_code=DISTRICT)  # a district is not a street office
    (tmp_path / "broken.geojson").write_text("{not json")
    with pytest.raises(BoundaryFileError):
        import_boundaries(tmp_path / "broken.geojson", level=Level.STREET_OFFICE)
    settings.IMPORT_MAX_BYTES = 1000
    with pytest.raises(BoundaryFileError, match="IMPORT_MAX_BYTES"):
        import_boundaries(path, level=Level.STREET_OFFICE)
    assert not Area.objects.filter(level=Level.STREET_OFFICE, code__startswith=DISTRICT).exists()


@needs_ogr2ogr
def test_geopackage_with_several_layers_needs_layer(district, tmp_path):
    src = write_geojson(tmp_path / "o.geojson", office_features())
    gpkg = ogr2ogr(src, tmp_path / "two.gpkg", "-nln", "offices")
    subprocess.run([OGR2OGR, "-update", "-nln", "copy", str(gpkg), str(src)], check=True, capture_output=True)
    with pytest.raises(BoundaryFileError, match="--layer") as exc:
        import_boundaries(gpkg, level=Level.STREET_OFFICE)
    assert "offices" in str(exc.value) and "copy" in str(exc.value)
    report = import_boundaries(gpkg, level=Level.STREET_OFFICE, layer="offices")
    assert report.layer == "offices" and len(report.created) == len(office_features())
    with pytest.raises(BoundaryFileError, match="nope"):
        import_boundaries(gpkg, level=Level.STREET_OFFICE, layer="nope")


# ---------------------------------------------------------------------------------------------------------------
# The command


def test_command(district, tmp_path):
    path = write_geojson(tmp_path / "o.geojson", office_features())
    out, err = StringIO(), StringIO()
    call_command("import_boundaries", str(path), level="street_office", stdout=out, stderr=err)
    assert "--commit" in out.getvalue()
    assert not Area.objects.filter(level=Level.STREET_OFFICE, code__startswith=DISTRICT).exists()
    call_command(
        "import_boundaries", str(path), "--commit", "--illustrative", level="street_office", stdout=out, stderr=err
    )
    assert Area.objects.filter(level=Level.STREET_OFFICE, code__startswith=DISTRICT, illustrative=True).count() == len(
        office_features()
    )
    bad = write_geojson(
        tmp_path / "bad.geojson",
        [*community_features()[:1], {"properties": {"code": "1", "name": "x"}, "geometry": None}],
    )
    with pytest.raises(CommandError) as exc:
        call_command("import_boundaries", str(bad), "--commit", level="community", stdout=out, stderr=err)
    assert "FID 1" in str(exc.value) and "未写入" in str(exc.value)
    assert not Area.objects.filter(level=Level.COMMUNITY, code__startswith=DISTRICT).exists()
    with pytest.raises(CommandError, match="找不到"):
        call_command("import_boundaries", str(tmp_path / "nope.shp"), level="community", stdout=out, stderr=err)
