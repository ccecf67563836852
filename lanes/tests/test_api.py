"""The lanes read API on the real extract: lanes imported from data/osm/shanghai_huangpu.osm (lanes.importers.osm)
into the illustrative hierarchy of grid/tests/test_api.py (4 communities, 200 m cells), so lanes have communities
and grid cells. Expected answers are computed from the stored geometries with shapely/pyproj, not by the SQL under
test."""

from __future__ import annotations

import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry
from pyproj import Geod
from shapely.geometry import box
from shapely.strtree import STRtree

from common.geo import wgs84_to_gcj02
from grid.models import Area
from grid.tests.test_api import build_areas
from lanes.importers.osm import import_osm
from lanes.models import Lane, LaneKind
from lanes.tests.conftest import OSM_PATH, wipe_lanes_and_areas

GEOD = Geod(ellps="WGS84")


def to_shape(geom: GEOSGeometry):
    return shapely.from_wkb(bytes(geom.wkb))


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        wipe_lanes_and_areas()
        layout = build_areas()
        import_osm(OSM_PATH, commit=True)
        yield layout
        wipe_lanes_and_areas()


@pytest.fixture(scope="module")
def stored_lanes(world, django_db_blocker) -> dict[int, Lane]:
    with django_db_blocker.unblock():
        return {lane.id: lane for lane in Lane.objects.select_related("community")}


@pytest.fixture
def lanes(stored_lanes, db) -> dict[int, Lane]:
    return stored_lanes


def all_features(client, query: dict) -> list[dict]:
    features, url, query = [], "/api/lanes/", {**query, "page_size": 1000}
    while url:
        body = client.get(url, query).json()
        features += body["features"]
        url, query = body["next"], None
    return features


# --- GET /api/lanes/ ---------------------------------------------------------------------------------------------


def test_list_is_a_paginated_feature_collection_in_two_queries(lanes, client, django_assert_num_queries):
    assert len(lanes) > 100
    assert sum(1 for lane in lanes.values() if lane.community_id) > 100  # related rows to load: no N+1
    with django_assert_num_queries(2):  # count + one page with communities joined
        response = client.get("/api/lanes/")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["count"] == len(lanes)
    assert len(body["features"]) == 100  # default page size
    assert body["previous"] is None and "page=2" in body["next"]
    with django_assert_num_queries(2):
        body = client.get("/api/lanes/", {"page_size": 1000}).json()
    assert len(body["features"]) == len(lanes) and body["next"] is None


def test_pages_cover_every_lane_once_ordered_by_name_then_id(lanes, client):
    ids, url, query = [], "/api/lanes/", {"page_size": 37}
    while url:
        body = client.get(url, query).json()
        ids += [f["id"] for f in body["features"]]
        url, query = body["next"], None
    assert ids == [lane.id for lane in sorted(lanes.values(), key=lambda lane: (lane.name, lane.id))]


def test_feature_properties_and_geometry_match_the_stored_lane(lanes, client):
    features = all_features(client, {})
    assert len(features) == len(lanes)
    for feature in features:
        lane = lanes[feature["id"]]
        props = feature["properties"]
        assert feature["type"] == "Feature"
        assert set(props) == {"id", "name", "name_zh", "kind", "length_m", "community"}
        assert props["id"] == lane.id
        assert (props["name"], props["name_zh"], props["kind"]) == (lane.name, lane.name_zh, lane.kind)
        shape = to_shape(lane.geom)
        assert props["length_m"] == pytest.approx(GEOD.geometry_length(shape), abs=0.06)
        assert props["length_m"] == round(props["length_m"], 1)
        if lane.community:
            assert props["community"] == {"code": lane.community.code, "name": lane.community.name}
        else:
            assert props["community"] is None
        assert feature["geometry"]["type"] == "MultiLineString"
        assert shapely.hausdorff_distance(shapely.geometry.shape(feature["geometry"]), shape) < 1e-7


def test_in_bbox_returns_lanes_whose_envelope_overlaps_the_box(lanes, client):
    query_box = (121.470, 31.226, 121.476, 31.231)
    got = {f["id"] for f in all_features(client, {"in_bbox": ",".join(map(str, query_box))})}
    expected = {i for i, lane in lanes.items() if box(*to_shape(lane.geom).bounds).intersects(box(*query_box))}
    assert got == expected
    assert 5 < len(got) < len(lanes)


@pytest.mark.parametrize("kind", LaneKind.values)
def test_kind_filter(lanes, client, kind):
    got = {f["id"] for f in all_features(client, {"kind": kind})}
    assert got == {i for i, lane in lanes.items() if lane.kind == kind}
    assert got


def test_community_filter_by_code(world, lanes, client):
    seen = 0
    for code in world.codes["community"]:
        got = {f["id"] for f in all_features(client, {"community": code})}
        assert got == {i for i, lane in lanes.items() if lane.community and lane.community.code == code}
        seen += len(got)
    assert seen == sum(1 for lane in lanes.values() if lane.community_id)
    assert all_features(client, {"community": "310101009009"}) == []


@pytest.mark.parametrize("part", ["中路", "南京", "西藏"])
def test_name_filter_matches_chinese_partial_names(lanes, client, part):
    got = {f["id"] for f in all_features(client, {"name": part})}
    expected = {i for i, lane in lanes.items() if part in lane.name or part in lane.name_zh}
    assert got == expected
    assert 0 < len(got) < len(lanes)


def test_filters_combine(lanes, client):
    query_box = (121.465, 31.222, 121.482, 31.238)
    got = {f["id"] for f in all_features(client, {"kind": "main", "in_bbox": ",".join(map(str, query_box))})}
    expected = {
        i
        for i, lane in lanes.items()
        if lane.kind == "main" and box(*to_shape(lane.geom).bounds).intersects(box(*query_box))
    }
    assert got == expected and got


# --- GET /api/lanes/{id}/ ----------------------------------------------------------------------------------------


def test_detail_lists_the_grid_cells_the_lane_runs_through_in_one_query(lanes, client, django_assert_num_queries):
    cells = list(Area.objects.grid_cells().values_list("code", "geom"))
    tree = STRtree([to_shape(g) for _code, g in cells])
    checked = 0
    for lane in sorted(lanes.values(), key=lambda lane: -lane.length_m)[:15]:
        with django_assert_num_queries(1):
            response = client.get(f"/api/lanes/{lane.id}/")
        assert response.status_code == 200
        feature = response.json()
        assert feature["id"] == lane.id and feature["type"] == "Feature"
        expected = sorted(cells[i][0] for i in tree.query(to_shape(lane.geom), predicate="intersects"))
        assert feature["properties"]["grid_cells"] == expected
        assert len(expected) > 1
        checked += 1
    assert checked == 15


def test_unknown_or_malformed_id_is_404(lanes, client):
    missing = max(lanes) + 1000
    for url in (f"/api/lanes/{missing}/", "/api/lanes/abc/", "/api/lanes/-1/"):
        response = client.get(url)
        assert response.status_code == 404
        assert set(response.json()) == {"detail"}


# --- GET /api/lanes/nearest/ ---------------------------------------------------------------------------------------


def nearest(client, lon: float, lat: float, **extra):
    return client.get("/api/lanes/nearest/", {"lon": repr(float(lon)), "lat": repr(float(lat)), **extra})


def test_nearest_is_one_statement_sorted_in_metres_within_the_radius(lanes, client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = nearest(client, 121.4735, 31.2300, within=300, limit=10)
    assert response.status_code == 200
    body = response.json()
    assert body["within_m"] == 300
    distances = [lane["distance_m"] for lane in body["lanes"]]
    assert 1 < len(distances) <= 10
    assert distances == sorted(distances)
    assert all(0 <= d <= 300 for d in distances)
    first = body["lanes"][0]
    lane = lanes[first["id"]]
    assert first["name"] == lane.name and first["kind"] == lane.kind
    assert first["community"] == (
        {"code": lane.community.code, "name": lane.community.name} if lane.community else None
    )


def test_nearest_defaults_and_limits(lanes, client, settings):
    body = nearest(client, 121.4735, 31.2300).json()
    assert body["within_m"] == settings.LANE_NEAREST_DEFAULT_M
    assert len(body["lanes"]) <= 5
    assert all(lane["distance_m"] <= settings.LANE_NEAREST_DEFAULT_M for lane in body["lanes"])
    assert len(nearest(client, 121.4735, 31.2300, within=2000, limit=50).json()["lanes"]) == 50
    assert len(nearest(client, 121.4735, 31.2300, within=2000, limit=1).json()["lanes"]) == 1


def test_nearest_far_from_every_lane_is_empty(lanes, client):
    # About 3 km east of the extract (the Huangpu river and Pudong: no lanes imported there).
    response = nearest(client, 121.52, 31.23, within=1000)
    assert response.status_code == 200
    assert response.json()["lanes"] == []


def test_nearest_accepts_gcj02_coordinates(lanes, client):
    lon, lat = 121.4735, 31.2300
    glon, glat = wgs84_to_gcj02(lon, lat)
    # The datum shift in Shanghai is hundreds of metres: getting it wrong gives another street.
    shift_m = GEOD.inv(lon, lat, glon, glat)[2]
    assert 300 < shift_m < 800
    as_wgs = nearest(client, lon, lat, within=500).json()
    as_gcj = nearest(client, glon, glat, within=500, coordsys="gcj02").json()
    assert as_gcj["point"]["lon"] == pytest.approx(lon, abs=1e-7)
    assert as_gcj["point"]["lat"] == pytest.approx(lat, abs=1e-7)
    assert [x["id"] for x in as_gcj["lanes"]] == [x["id"] for x in as_wgs["lanes"]]
    for a, b in zip(as_gcj["lanes"], as_wgs["lanes"], strict=True):
        assert a["distance_m"] == pytest.approx(b["distance_m"], abs=0.11)
    misread = nearest(client, glon, glat, within=500).json()
    assert [x["id"] for x in misread["lanes"]] != [x["id"] for x in as_wgs["lanes"]]


def test_nearest_within_cannot_exceed_the_setting(lanes, client, settings):
    settings.LANE_NEAREST_MAX_M = 100.0
    assert nearest(client, 121.4735, 31.2300, within=100).status_code == 200
    response = nearest(client, 121.4735, 31.2300, within=101)
    assert response.status_code == 400
    assert "within" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ({"lon": "121.47"}, "lat"),
        ({"lat": "31.23"}, "lon"),
        ({"lat": "31,23", "lon": "121.47"}, "lat"),
        ({"lat": "31.23", "lon": "NaN"}, "lon"),
        ({"lat": "-inf", "lon": "121.47"}, "lat"),
        ({"lat": "95", "lon": "121.47"}, "latitude"),
        ({"lat": "31.23", "lon": "190"}, "longitude"),
        ({"lat": "31.23", "lon": "121.47", "coordsys": "baidu"}, "coordsys"),
        ({"lat": "31.23", "lon": "121.47", "within": "0"}, "within"),
        ({"lat": "31.23", "lon": "121.47", "within": "-5"}, "within"),
        ({"lat": "31.23", "lon": "121.47", "within": "1e9"}, "within"),
        ({"lat": "31.23", "lon": "121.47", "within": "far"}, "within"),
        ({"lat": "31.23", "lon": "121.47", "within": "nan"}, "within"),
        ({"lat": "31.23", "lon": "121.47", "limit": "0"}, "limit"),
        ({"lat": "31.23", "lon": "121.47", "limit": "51"}, "limit"),
        ({"lat": "31.23", "lon": "121.47", "limit": "2.5"}, "limit"),
        ({"lat": "31.23", "lon": "121.47", "limit": "all"}, "limit"),
    ],
)
def test_nearest_bad_input_is_400_with_detail(lanes, client, query, mentions):
    response = client.get("/api/lanes/nearest/", query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail"}
    assert mentions in body["detail"]


# --- bad input on the list, methods, access --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "mentions"),
    [
        ({"in_bbox": "121.46,31.22,121.47"}, "in_bbox"),
        ({"in_bbox": "121.46,31.22,121.47,31.23,0"}, "in_bbox"),
        ({"in_bbox": "a,b,c,d"}, "in_bbox"),
        ({"in_bbox": "121.47,31.22,121.46,31.23"}, "in_bbox"),
        ({"in_bbox": "121.46,31.22,121.47,99"}, "in_bbox"),
        ({"in_bbox": "100,20,130,40"}, "in_bbox"),
        ({"in_bbox": "121.46,31.22,inf,31.23"}, "in_bbox"),
        ({"kind": "alley"}, "kind"),
        ({"page_size": "many"}, "page_size"),
        ({"page_size": "5000"}, "page_size"),
    ],
)
def test_list_bad_input_is_400_with_detail(lanes, client, query, mentions):
    response = client.get("/api/lanes/", query)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail"}
    assert mentions in body["detail"]


def test_page_past_the_end_is_404(lanes, client):
    assert client.get("/api/lanes/", {"page": 999}).status_code == 404


@pytest.mark.parametrize("path", ["/api/lanes/", "/api/lanes/{id}/", "/api/lanes/nearest/?lat=31.23&lon=121.47"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_only_get_is_allowed(lanes, client, path, method):
    lane_id = min(lanes)
    response = getattr(client, method)(path.format(id=lane_id), data={"name": "x"}, content_type="application/json")
    assert response.status_code == 405
    assert Lane.objects.get(pk=lane_id).name == lanes[lane_id].name


def test_public_without_login(lanes, client):
    lane_id = min(lanes)
    for url in ("/api/lanes/", f"/api/lanes/{lane_id}/", "/api/lanes/nearest/?lat=31.23&lon=121.4735"):
        assert client.get(url).status_code == 200
