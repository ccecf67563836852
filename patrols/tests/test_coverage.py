"""Coverage of real streets by synthetic GPS walks (noisy fixes along real OSM lane geometry), in PostGIS.

The expected lanes come from an independent oracle: the rule applied with shapely to the noise-free path in UTM
(share of each lane within 20 m). Lanes clearly above the 0.6 threshold (≥ 0.7) must be covered, lanes clearly
below (≤ 0.5) must not; the margin absorbs the GPS noise."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import override_settings
from shapely.geometry import LineString, Point
from shapely.ops import linemerge

from lanes.models import Lane
from patrols.models import PatrolLane
from patrols.services import patrol_upload
from patrols.tests.conftest import gpx, lane_shape, morning, part, single_line, walk
from people.models import Person

DAY = date(2025, 3, 3)


@pytest.fixture
def person(db):
    return Person.objects.create(name="巡查员甲")


def lane_named(name: str) -> Lane:
    """The longest single-line lane of that name (a street may be cut into lanes at community borders)."""
    lanes = [(single_line(lane), lane) for lane in Lane.objects.filter(name=name)]
    return max(((line.length, lane) for line, lane in lanes if line is not None), key=lambda x: x[0])[1]


def oracle(path: LineString, buffer_m: float = 20.0) -> dict[int, float]:
    zone = path.buffer(buffer_m)
    out = {}
    for lane in Lane.objects.all():
        shape = lane_shape(lane)
        if shape.distance(path) <= buffer_m:
            out[lane.id] = shape.intersection(zone).length / shape.length
    return out


def upload(person, fixes, **kw):
    return patrol_upload(person=person, data=gpx(fixes), filename="walk.gpx", **kw)


def shares(patrol) -> dict[int, float]:
    return dict(PatrolLane.objects.filter(patrol=patrol).values_list("lane_id", "share"))


def covered(patrol) -> set[int]:
    return set(PatrolLane.objects.filter(patrol=patrol, covered=True).values_list("lane_id", flat=True))


def test_a_walk_along_a_real_street_covers_the_lanes_the_rule_says(city, person):
    road = lane_named("福州路")
    path = single_line(road)
    fixes = walk(path, start=morning(DAY), sigma_m=6.0, seed=11)
    out = upload(person, fixes)
    assert out.created and len(out.patrols) == 1
    patrol = out.patrols[0]
    expected = oracle(path)
    got = covered(patrol)
    must = {lid for lid, s in expected.items() if s >= 0.7}
    must_not = {lid for lid in Lane.objects.values_list("id", flat=True) if expected.get(lid, 0.0) <= 0.5}
    assert road.id in must
    assert must <= got
    assert not (got & must_not)
    assert shares(patrol)[road.id] > 0.95
    # crossing streets are touched (a buffer's width), far from enough
    crossing = [lid for lid, s in expected.items() if 0 < s < 0.3]
    assert crossing, "福州路 has cross streets in the extract"
    assert all(lid not in got for lid in crossing)
    # the stored track length is the walked length give or take the noise (metres, not degrees)
    assert patrol.length_m == pytest.approx(path.length, rel=0.35)


def test_a_route_over_two_connected_streets_covers_both(city, person):
    lines = {lane.id: single_line(lane) for lane in Lane.objects.order_by("name", "id")}
    lines = {k: v for k, v in lines.items() if v is not None and v.length >= 200}
    pair = None
    for a_id, a in lines.items():
        for b_id, b in lines.items():
            if a_id < b_id and Point(a.coords[-1]).distance(Point(b.coords[0])) < 2.0:
                pair = (a_id, b_id)
                break
        if pair:
            break
    assert pair, "the extract has connected streets"
    a, b = lines[pair[0]], lines[pair[1]]
    route = linemerge([a, LineString([a.coords[-1], b.coords[0]]), b])
    route = route if isinstance(route, LineString) else LineString(list(a.coords) + list(b.coords))
    patrol = upload(person, walk(route, start=morning(DAY), seed=5)).patrols[0]
    got = covered(patrol)
    assert set(pair) <= got
    expected = oracle(route)
    assert not {lid for lid in got if expected.get(lid, 0.0) <= 0.5}


@pytest.mark.parametrize(("walked", "is_covered"), [(0.5, False), (0.7, True)])
def test_partial_walks_around_the_threshold(city, person, walked, is_covered):
    road = lane_named("汉口路")
    line = single_line(road)
    fixes = walk(part(line, 0.0, walked), start=morning(DAY), seed=3)
    patrol = upload(person, fixes).patrols[0]
    share = shares(patrol).get(road.id, 0.0)
    # the buffer reaches 20 m past the last fix along the street
    assert share == pytest.approx(walked + 20.0 / line.length, abs=0.03)
    assert (road.id in covered(patrol)) is is_covered


@override_settings(PATROL_MIN_SHARE=0.4)
def test_the_minimum_share_is_a_setting(city, person):
    road = lane_named("汉口路")
    patrol = upload(person, walk(part(single_line(road), 0.0, 0.5), start=morning(DAY), seed=3)).patrols[0]
    assert road.id in covered(patrol)


@pytest.mark.parametrize(("buffer_m", "is_covered"), [(20.0, False), (45.0, True)])
def test_the_buffer_is_in_metres(city, person, buffer_m, is_covered):
    road = lane_named("汉口路")
    beside = single_line(road).offset_curve(32.0)  # a walk 32 m beside the street (e.g. one block in)
    with override_settings(PATROL_BUFFER_M=buffer_m):
        patrol = upload(person, walk(beside, start=morning(DAY), sigma_m=3.0, seed=9)).patrols[0]
    assert (road.id in covered(patrol)) is is_covered


def test_a_dual_carriageway_lane_is_covered_by_walking_either_side(city, person):
    """Lanes with several parts (both carriageways of one street) count their whole length."""
    candidates = []
    for lane in Lane.objects.all():
        shape = lane_shape(lane)
        if shape.geom_type == "MultiLineString" and len(shape.geoms) == 2 and shape.length > 300:
            g1, g2 = shape.geoms
            if 0.8 < g1.length / g2.length < 1.25 and g1.hausdorff_distance(g2) < 30:
                candidates.append((lane, g1))
    assert candidates, "the extract has dual carriageways merged into one lane"
    lane, side = sorted(candidates, key=lambda c: c[0].name)[0]
    patrol = upload(person, walk(side, start=morning(DAY), sigma_m=4.0, seed=2)).patrols[0]
    expected = oracle(side).get(lane.id, 0.0)
    assert shares(patrol)[lane.id] == pytest.approx(expected, abs=0.08)
    assert (lane.id in covered(patrol)) is (expected >= 0.6)
