"""The areas read API on an illustrative hierarchy laid over the real extract (data/osm/shanghai_huangpu.osm).

`build_areas()` tiles the streets' bounds with 200 m cells made in UTM zone 51N (corners transformed to WGS-84 once
and shared, so the tiling has no gaps or overlaps): one district, two street offices (west/east half), four
communities (their north/south halves) and the cells, numbered west→east, north→south inside each community.
Expected answers are computed with shapely/pyproj from the stored geometries, never by the SQL under test.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry
from pyproj import Geod, Transformer
from shapely.geometry import MultiPolygon, Point, Polygon, box

from grid.models import Area, Level
from lanes.tests.conftest import named_street_ways, wipe_lanes_and_areas

CELL_M = 200.0
DISTRICT = "310101"
GEOD = Geod(ellps="WGS84")


def to_geos(shape) -> GEOSGeometry:
    if isinstance(shape, Polygon):
        shape = MultiPolygon([shape])
    return GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=4326)


def to_shape(geom: GEOSGeometry):
    return shapely.from_wkb(bytes(geom.wkb))


@dataclass(frozen=True)
class Layout:
    nodes_lon: np.ndarray  # grid corner longitudes, [row from south, column from west]
    nodes_lat: np.ndarray
    split_row: int
    split_col: int
    codes: dict  # level → list of codes


def build_areas() -> Layout:
    """Create the hierarchy (illustrative) in the database; return where its corners are."""
    bounds = [w.line.bounds for w in named_street_ways()]
    lon0, lat0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    lon1, lat1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)
    xs, ys = to_utm.transform([lon0, lon1, lon0, lon1], [lat0, lat0, lat1, lat1])
    x0, y0 = math.floor(min(xs) / CELL_M) * CELL_M, math.floor(min(ys) / CELL_M) * CELL_M
    ncols, nrows = math.ceil((max(xs) - x0) / CELL_M), math.ceil((max(ys) - y0) / CELL_M)
    gx, gy = np.meshgrid(x0 + CELL_M * np.arange(ncols + 1), y0 + CELL_M * np.arange(nrows + 1))
    lon, lat = Transformer.from_crs(32651, 4326, always_xy=True).transform(gx, gy)
    split_row, split_col = nrows // 2, ncols // 2

    def cell(r: int, c: int) -> Polygon:
        return Polygon(
            [
                (lon[r, c], lat[r, c]),
                (lon[r, c + 1], lat[r, c + 1]),
                (lon[r + 1, c + 1], lat[r + 1, c + 1]),
                (lon[r + 1, c], lat[r + 1, c]),
            ]
        )

    # (office code, community code) → cell (row, col) ranges; rows counted from the south.
    quadrants = {
        ("310101001", "310101001001"): (range(split_row, nrows), range(0, split_col)),  # north-west
        ("310101001", "310101001002"): (range(0, split_row), range(0, split_col)),  # south-west
        ("310101002", "310101002001"): (range(split_row, nrows), range(split_col, ncols)),  # north-east
        ("310101002", "310101002002"): (range(0, split_row), range(split_col, ncols)),  # south-east
    }
    community_cells = {}
    for (_office, community), (rows, cols) in quadrants.items():
        # North first, then west to east.
        community_cells[community] = [cell(r, c) for r in reversed(rows) for c in cols]
    all_cells = [c for cells in community_cells.values() for c in cells]
    district = Area.objects.create(
        level=Level.DISTRICT,
        code=DISTRICT,
        name="黄浦区(示意)",
        geom=to_geos(shapely.union_all(all_cells)),
        illustrative=True,
    )
    codes = {Level.DISTRICT: [DISTRICT], Level.STREET_OFFICE: [], Level.COMMUNITY: [], Level.GRID_CELL: []}
    offices = {}
    for (office_code, community_code), _ranges in quadrants.items():
        if office_code not in offices:
            office_cells = [c for (o, cc), _r in quadrants.items() if o == office_code for c in community_cells[cc]]
            offices[office_code] = Area.objects.create(
                level=Level.STREET_OFFICE,
                code=office_code,
                name=f"街道{office_code[-1]}(示意)",
                parent=district,
                geom=to_geos(shapely.union_all(office_cells)),
                illustrative=True,
            )
            codes[Level.STREET_OFFICE].append(office_code)
        community = Area.objects.create(
            level=Level.COMMUNITY,
            code=community_code,
            name=f"社区{community_code[-4:]}(示意)",
            parent=offices[office_code],
            geom=to_geos(shapely.union_all(community_cells[community_code])),
            illustrative=True,
        )
        codes[Level.COMMUNITY].append(community_code)
        cells = [
            Area(
                level=Level.GRID_CELL,
                code=f"{community_code}{n:03d}",
                name=f"网格{community_code[-3:]}-{n:03d}",
                parent=community,
                geom=to_geos(shape),
                illustrative=True,
            )
            for n, shape in enumerate(community_cells[community_code], start=1)
        ]
        Area.objects.bulk_create(cells)
        codes[Level.GRID_CELL] += [c.code for c in cells]
    return Layout(lon, lat, split_row, split_col, codes)


@pytest.fixture(scope="module")
def areas(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        wipe_lanes_and_areas()
        layout = build_areas()
        yield layout
        wipe_lanes_and_areas()


def stored() -> dict[str, tuple[Area, object]]:
    return {a.code: (a, to_shape(a.geom)) for a in Area.objects.select_related("parent")}


def params(lon: float, lat: float, **extra) -> dict:
    return {"lon": repr(float(lon)), "lat": repr(float(lat)), **extra}


# --- GET /api/areas/at/ ---------------------------------------------------------------------------------------


def test_at_matches_shapely_covers_on_random_points(areas, client, django_assert_num_queries):
    shapes = stored()
    lon_min, lat_min = areas.nodes_lon.min(), areas.nodes_lat.min()
    lon_max, lat_max = areas.nodes_lon.max(), areas.nodes_lat.max()
    rng = random.Random(20240601)
    seen_levels = set()
    for _ in range(60):
        lon, lat = rng.uniform(lon_min, lon_max), rng.uniform(lat_min, lat_max)
        with django_assert_num_queries(1):
            response = client.get("/api/areas/at/", params(lon, lat))
        assert response.status_code == 200
        body = response.json()
        got = [a["code"] for a in body["areas"]]
        point = Point(lon, lat)
        expected = {code for code, (_a, shape) in shapes.items() if shape.covers(point)}
        assert set(got) == expected
        assert len(got) == len(set(got))
        depths = [Level.values.index(a["level"]) for a in body["areas"]]
        assert depths == sorted(depths)  # outermost first
        for row in body["areas"]:
            area = shapes[row["code"]][0]
            assert row["name"] == area.name
            assert row["illustrative"] is True
            assert row["parent"] == (area.parent.code if area.parent else None)
            assert row["level_name"] == str(Level(row["level"]).label)
        seen_levels |= {a["level"] for a in body["areas"]}
        assert body["point"] == {"lon": pytest.approx(lon, abs=1e-12), "lat": pytest.approx(lat, abs=1e-12)}
    assert seen_levels == set(Level.values)


def test_at_interior_point_has_one_area_per_level_each_the_parent_of_the_next(areas, client):
    # The centre of the first cell of the north-west community.
    cell = Area.objects.get(code="310101001001001")
    centre = to_shape(cell.geom).centroid
    body = client.get("/api/areas/at/", params(centre.x, centre.y)).json()
    rows = body["areas"]
    assert [r["level"] for r in rows] == [Level.DISTRICT, Level.STREET_OFFICE, Level.COMMUNITY, Level.GRID_CELL]
    assert [r["code"] for r in rows] == [DISTRICT, "310101001", "310101001001", "310101001001001"]
    assert [r["parent"] for r in rows] == [None, DISTRICT, "310101001", "310101001001"]


def test_at_point_on_the_corner_shared_by_all_four_communities_belongs_to_each(areas, client):
    lon = float(areas.nodes_lon[areas.split_row, areas.split_col])
    lat = float(areas.nodes_lat[areas.split_row, areas.split_col])
    rows = client.get("/api/areas/at/", params(lon, lat)).json()["areas"]
    by_level = {}
    for r in rows:
        by_level.setdefault(r["level"], []).append(r["code"])
    assert by_level[Level.DISTRICT] == [DISTRICT]
    assert by_level[Level.STREET_OFFICE] == ["310101001", "310101002"]
    assert by_level[Level.COMMUNITY] == sorted(areas.codes[Level.COMMUNITY])
    assert len(by_level[Level.GRID_CELL]) == 4
    assert {c[:12] for c in by_level[Level.GRID_CELL]} == set(areas.codes[Level.COMMUNITY])


def test_at_outside_every_area_is_an_empty_list(areas, client):
    response = client.get("/api/areas/at/", params(121.60, 31.30))
    assert response.status_code == 200
    assert response.json()["areas"] == []


def test_at_accepts_gcj02_coordinates(areas, client):
    from common.geo import wgs84_to_gcj02

    cell = Area.objects.get(code="310101002002005")
    centre = to_shape(cell.geom).centroid
    glon, glat = wgs84_to_gcj02(centre.x, centre.y)
    as_gcj = client.get("/api/areas/at/", params(glon, glat, coordsys="gcj02")).json()
    as_wgs = client.get("/api/areas/at/", params(centre.x, centre.y)).json()
    assert [a["code"] for a in as_gcj["areas"]] == [a["code"] for a in as_wgs["areas"]]
    assert as_gcj["areas"][-1]["code"] == "310101002002005"
    assert as_gcj["point"]["lon"] == pytest.approx(centre.x, abs=1e-7)
    assert as_gcj["point"]["lat"] == pytest.approx(centre.y, abs=1e-7)
    # Read as WGS-84, the same numbers are a few hundred metres away: another cell.
    misread = client.get("/api/areas/at/", params(glon, glat)).json()
    assert "310101002002005" not in [a["code"] for a in misread["areas"]]


# --- GET /api/areas/ and /api/areas/{code}/ ----------------------------------------------------------------------


def test_list_is_paginated_geojson_ordered_by_code(areas, client, django_assert_num_queries):
    total = sum(len(v) for v in areas.codes.values())
    with django_assert_num_queries(2):  # count + page, parents joined
        response = client.get("/api/areas/", {"page_size": 50})
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["count"] == total
    assert len(body["features"]) == 50
    assert body["previous"] is None and "page=2" in body["next"]
    codes = []
    url, query = "/api/areas/", {"page_size": 50}
    while url:
        page = client.get(url, query).json()
        codes += [f["id"] for f in page["features"]]
        url, query = page["next"], None
    assert codes == sorted(c for v in areas.codes.values() for c in v)


def test_list_feature_properties_match_the_stored_area(areas, client):
    shapes = stored()
    body = client.get("/api/areas/", {"level": Level.COMMUNITY}).json()
    assert [f["id"] for f in body["features"]] == sorted(areas.codes[Level.COMMUNITY])
    for feature in body["features"]:
        area, shape = shapes[feature["id"]]
        props = feature["properties"]
        assert feature["type"] == "Feature"
        assert props["code"] == feature["id"]
        assert props["name"] == area.name
        assert props["level"] == Level.COMMUNITY and props["level_name"] == "社区"
        assert props["parent"] == feature["id"][:9]
        assert props["illustrative"] is True
        geod_area = abs(GEOD.geometry_area_perimeter(shape)[0])
        assert props["area_m2"] == pytest.approx(geod_area, rel=1e-5)
        assert feature["geometry"]["type"] == "MultiPolygon"
        returned = shapely.geometry.shape(feature["geometry"])
        assert shapely.hausdorff_distance(returned, shape) < 1e-7


@pytest.mark.parametrize("parent", ["310101001", "310101002002"])
def test_list_filters_by_parent_code(areas, client, parent):
    body = client.get("/api/areas/", {"parent": parent, "page_size": 1000}).json()
    expected = sorted(c for v in areas.codes.values() for c in v if c.startswith(parent) and len(c) == len(parent) + 3)
    assert [f["id"] for f in body["features"]] == expected
    assert expected


def test_list_in_bbox_returns_areas_whose_envelope_overlaps_the_box(areas, client):
    shapes = stored()
    lon = float(areas.nodes_lon[1, 1])
    lat = float(areas.nodes_lat[1, 1])
    bbox = (lon + 0.0005, lat + 0.0005, lon + 0.003, lat + 0.002)
    response = client.get("/api/areas/", {"in_bbox": ",".join(repr(float(v)) for v in bbox), "level": Level.GRID_CELL})
    got = {f["id"] for f in response.json()["features"]}
    query_box = box(*bbox)
    expected = {
        code
        for code, (area, shape) in shapes.items()
        if area.level == Level.GRID_CELL and box(*shape.bounds).intersects(query_box)
    }
    assert got == expected
    assert 2 <= len(got) < len(areas.codes[Level.GRID_CELL])


def test_retrieve_by_code_is_one_query(areas, client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/api/areas/310101001002/")
    assert response.status_code == 200
    feature = response.json()
    assert feature["id"] == "310101001002"
    assert feature["properties"]["parent"] == "310101001"
    assert feature["properties"]["level"] == Level.COMMUNITY


def test_district_has_no_parent(areas, client):
    feature = client.get(f"/api/areas/{DISTRICT}/").json()
    assert feature["properties"]["parent"] is None


# --- bad input --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ({}, "lat"),
        ({"lon": "121.47"}, "lat"),
        ({"lat": "31.23"}, "lon"),
        ({"lat": "abc", "lon": "121.47"}, "lat"),
        ({"lat": "31.23", "lon": ""}, "lon"),
        ({"lat": "nan", "lon": "121.47"}, "lat"),
        ({"lat": "31.23", "lon": "inf"}, "lon"),
        ({"lat": "91", "lon": "121.47"}, "latitude"),
        ({"lat": "31.23", "lon": "-180.5"}, "longitude"),
        ({"lat": "31.23", "lon": "121.47", "coordsys": "bd09"}, "coordsys"),
    ],
)
def test_at_bad_input_is_400_with_detail(areas, client, query, mentions):
    response = client.get("/api/areas/at/", query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail"}
    assert mentions in body["detail"]


@pytest.mark.parametrize(
    "bbox",
    [
        "121.46,31.22,121.47",  # 3 numbers
        "121.46,31.22,121.47,31.23,1",  # 5 numbers
        "121.46,31.22,east,31.23",  # not a number
        "121.46,nan,121.47,31.23",
        "121.47,31.22,121.46,31.23",  # min lon > max lon
        "121.46,31.23,121.47,31.22",  # min lat > max lat
        "121.46,31.22,181,31.23",  # out of range
        "121.46,-91,121.47,31.23",
        "120,30,122,32",  # 4 square degrees: too large
    ],
)
def test_list_bad_bbox_is_400(areas, client, bbox):
    response = client.get("/api/areas/", {"in_bbox": bbox})
    assert response.status_code == 400
    assert "in_bbox" in response.json()["detail"]


def test_bbox_limit_follows_the_setting(areas, client, settings):
    bbox = "121.0,31.0,121.9,31.9"  # 0.81 square degrees
    assert client.get("/api/areas/", {"in_bbox": bbox}).status_code == 200
    settings.BBOX_MAX_DEG2 = 0.5
    assert client.get("/api/areas/", {"in_bbox": bbox}).status_code == 400


@pytest.mark.parametrize(
    ("query", "mentions"),
    [({"level": "province"}, "level"), ({"page_size": "0"}, "page_size"), ({"page_size": "1001"}, "page_size")],
)
def test_list_bad_filters_are_400(areas, client, query, mentions):
    response = client.get("/api/areas/", query)
    assert response.status_code == 400
    assert mentions in response.json()["detail"]


def test_unknown_code_is_404(areas, client):
    for url in ("/api/areas/310101009/", "/api/areas/nonsense/"):
        response = client.get(url)
        assert response.status_code == 404
        assert "detail" in response.json()


@pytest.mark.parametrize("url", ["/api/areas/", "/api/areas/310101/", "/api/areas/at/?lat=31.23&lon=121.47"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_get_is_allowed(areas, client, url, method):
    response = getattr(client, method)(url)
    assert response.status_code == 405
    assert Area.objects.filter(code=DISTRICT).exists()


def test_public_without_login(areas, client):
    assert client.get("/api/areas/").status_code == 200
    assert client.get("/api/areas/at/", params(121.47, 31.23)).status_code == 200
