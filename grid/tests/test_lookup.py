"""Point-in-area lookups on a real-geometry hierarchy, and the blocks it is derived from.

The hierarchy (district → street offices → communities, conftest.py) is derived from the real streets of the
OSM extract with grid.derive, written through grid.services, and tiled with 100 m unit grid cells by
generate_grid_cells. Lookups through the database (Area.objects.covering / selectors.areas_at) must equal a
brute-force shapely check over the very geometries stored in the database.

Semantics, decided once (grid/selectors.py): an area holds a point when its polygon *covers* it — interior or
boundary — which is ST_Intersects(area, point) in PostGIS and `covers` (= `intersects` for a point) in shapely. A
point on the border of two communities belongs to both; a point on the district's outer edge is in the district.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import Point
from pyproj import Transformer
from shapely.strtree import STRtree

from grid import selectors
from grid.derive import DEFAULT_MIN_AREA_M2, DEFAULT_MIN_WIDTH_M, blocks_from_streets
from grid.models import Area, Level
from grid.services import generate_grid_cells
from grid.tests.conftest import (
    DISTRICT_CODE,
    MAJOR,
    UTM,
    create_hierarchy,
    delete_under,
    derived_hierarchy,
    district_outline,
    lines,
    to_shape,
)

SEED = 20240601
N_POINTS = 1000
MARGIN_DEG = 0.002  # about 200 m outside the district's bounding box


@pytest.fixture(scope="module")
def stored(django_db_setup, django_db_blocker):
    """The hierarchy and its grid cells, committed for the module; code → shapely geometry read back from the DB."""
    with django_db_blocker.unblock():
        delete_under(DISTRICT_CODE)
        areas = create_hierarchy()
        report = generate_grid_cells(area=areas[DISTRICT_CODE], size_m=100.0)
        assert report.created > 0
        shapes = {a.code: (a.level, to_shape(a.geom)) for a in Area.objects.filter(code__startswith=DISTRICT_CODE)}
        yield shapes
        delete_under(DISTRICT_CODE)


def _overlap_m2(polys: list, utm: UTM) -> float:
    tree = STRtree(polys)
    total = 0.0
    for i, j in zip(*tree.query(polys, predicate="intersects"), strict=True):
        if i < j:
            total += utm.area(shapely.intersection(polys[i], polys[j]))
    return total


# ---------------------------------------------------------------------------------------------------------------
# Derived blocks


def test_street_office_blocks_tile_the_district():
    h = derived_hierarchy()
    utm = UTM(h.district)
    assert len(h.offices) >= 2
    assert all(p.is_valid and isinstance(p, shapely.Polygon) for p in h.offices)
    boundary_m2 = utm.area(h.district)
    union_m2 = utm.area(shapely.union_all(h.offices))
    assert union_m2 == pytest.approx(boundary_m2, rel=1e-3)
    assert sum(utm.area(p) for p in h.offices) == pytest.approx(boundary_m2, rel=1e-3)
    assert _overlap_m2(h.offices, utm) < 1.0


def test_community_blocks_tile_their_street_office():
    h = derived_hierarchy()
    utm = UTM(h.district)
    assert sum(len(c) for c in h.communities) > len(h.offices)
    for office, communities in zip(h.offices, h.communities, strict=True):
        assert all(p.is_valid for p in communities)
        office_m2 = utm.area(office)
        assert utm.area(shapely.union_all(communities)) == pytest.approx(office_m2, rel=1e-3)
        assert sum(utm.area(p) for p in communities) == pytest.approx(office_m2, rel=1e-3)
        assert _overlap_m2(communities, utm) < 1.0


def test_no_sliver_survives_where_it_has_a_neighbour():
    """Every block that shares a border with another is at least min_area_m2 and min_width_m wide."""
    h = derived_hierarchy()
    utm = UTM(h.district)
    for blocks in [h.offices, *h.communities]:
        if len(blocks) < 2:
            continue
        for block in blocks:
            g = utm(block)
            assert g.area >= DEFAULT_MIN_AREA_M2
            assert 2 * g.area / g.length >= DEFAULT_MIN_WIDTH_M


def test_raw_faces_do_have_slivers_that_merging_removes():
    """Without merging, the major roads of the extract cut thin strips (dual carriageways, slip roads)."""
    district = district_outline()
    utm = UTM(district)
    raw = blocks_from_streets(lines(MAJOR), boundary=district, min_area_m2=0, min_width_m=0)
    merged = derived_hierarchy().offices
    thin = [p for p in raw if 2 * utm(p).area / utm(p).length < DEFAULT_MIN_WIDTH_M]
    assert thin, "the extract's major roads should produce thin faces between carriageways"
    assert len(merged) < len(raw)
    # Merging only regroups faces: every raw face lies in exactly one merged block.
    for face in raw:
        holders = [m for m in merged if utm.area(shapely.intersection(face, m)) > 0.99 * utm.area(face)]
        assert len(holders) == 1


def test_dual_carriageway_strip_merges_into_the_neighbour_with_the_longest_border():
    """A 400 m × 600 m boundary (UTM 51N, near the extract) crossed by two carriageways 20 m apart; a cross street
    cuts the eastern side only. The 20 m × 600 m strip between the carriageways (12,000 m²) shares 600 m with the
    western block and 300 m with each eastern one, so it joins the western block."""
    to_wgs = Transformer.from_crs(32651, 4326, always_xy=True)

    def wgs(coords):
        x, y = to_wgs.transform(*np.array(coords).T)
        return list(zip(x, y, strict=True))

    x0, y0 = 350_000.0, 3_455_000.0
    boundary = shapely.Polygon(wgs([(x0, y0), (x0 + 400, y0), (x0 + 400, y0 + 600), (x0, y0 + 600)]))
    west = shapely.LineString(wgs([(x0 + 150, y0 - 50), (x0 + 150, y0 + 650)]))
    east = shapely.LineString(wgs([(x0 + 170, y0 - 50), (x0 + 170, y0 + 650)]))
    cross = shapely.LineString(wgs([(x0 + 170, y0 + 300), (x0 + 450, y0 + 300)]))
    blocks = blocks_from_streets([west, east, cross], boundary=boundary)
    utm = UTM(boundary)
    areas = sorted(utm.area(b) for b in blocks)
    assert len(blocks) == 3
    assert areas == pytest.approx([230 * 300, 230 * 300, 170 * 600], rel=5e-3)
    assert all(b.is_valid for b in blocks)
    raw = blocks_from_streets([west, east, cross], boundary=boundary, min_area_m2=0, min_width_m=0)
    assert sorted(utm.area(b) for b in raw) == pytest.approx([20 * 600, 230 * 300, 230 * 300, 150 * 600], rel=5e-3)
    # Blocks come north to south: the two eastern blocks are one above the other.
    assert [round(b.point_on_surface().y, 6) for b in blocks] == sorted(
        (round(b.point_on_surface().y, 6) for b in blocks), reverse=True
    )


# ---------------------------------------------------------------------------------------------------------------
# The stored hierarchy


@pytest.mark.django_db
def test_communities_nest_in_their_street_offices(stored):
    utm = UTM(district_outline())
    communities = Area.objects.filter(code__startswith=DISTRICT_CODE, level=Level.COMMUNITY).select_related("parent")
    assert communities.count() == sum(len(c) for c in derived_hierarchy().communities)
    for community in communities:
        inner, outer = to_shape(community.geom), to_shape(community.parent.geom)
        assert outer.covers(inner.point_on_surface())
        # Outside the parent: at most snap-rounding noise along the border (1 cm × perimeter).
        assert utm.area(shapely.difference(inner, outer)) < 0.01 * utm(inner).length
        assert community.code.startswith(community.parent.code)
    # And every office is (up to the same noise) the union of its communities.
    for office in Area.objects.filter(code__startswith=DISTRICT_CODE, level=Level.STREET_OFFICE):
        union = shapely.union_all([to_shape(c.geom) for c in office.children.all()])
        assert utm.area(shapely.symmetric_difference(union, to_shape(office.geom))) < 0.01 * utm(union).length


@pytest.mark.django_db
def test_random_points_db_equals_shapely(stored):
    """1,000 points (fixed seed) over the district's bounding box and a margin around it."""
    everything = {a.code: to_shape(a.geom) for a in Area.objects.all()}  # every area in the table, not only ours
    codes = np.array(list(everything))
    geoms = np.array([everything[c] for c in codes])
    shapely.prepare(geoms)
    xmin, ymin, xmax, ymax = district_outline().bounds
    rng = random.Random(SEED)
    hits_by_level = {level: 0 for level in Level.values}
    outside = 0
    for _ in range(N_POINTS):
        lon = rng.uniform(xmin - MARGIN_DEG, xmax + MARGIN_DEG)
        lat = rng.uniform(ymin - MARGIN_DEG, ymax + MARGIN_DEG)
        found = [a.code for a in selectors.areas_at(Point(lon, lat, srid=4326))]
        p = shapely.Point(lon, lat)
        expected = set(codes[shapely.covers(geoms, p)].tolist())
        assert set(found) == expected, (lon, lat)
        assert len(found) == len(set(found))
        levels = [stored[c][0] for c in found if c in stored]
        for level in set(levels):
            hits_by_level[level] += 1
        outside += not found
    # The sample exercises every level, and points outside everything.
    assert all(n > 50 for n in hits_by_level.values()), hits_by_level
    assert outside > 50


@pytest.mark.django_db
def test_each_point_inside_the_district_has_one_area_per_level(stored):
    """Away from borders the levels nest: district, street office, community, cell — outermost first."""
    rng = random.Random(SEED + 1)
    district = stored[DISTRICT_CODE][1]
    xmin, ymin, xmax, ymax = district.bounds
    checked = 0
    while checked < 200:
        p = shapely.Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
        if not district.contains(p) or district.boundary.distance(p) < 1e-5:
            continue
        found = selectors.areas_at(Point(p.x, p.y, srid=4326))
        found = [a for a in found if a.code.startswith(DISTRICT_CODE)]
        if any(stored[a.code][1].boundary.distance(p) < 1e-6 for a in found):
            continue  # within about 10 cm of an inner border: may legitimately be in two areas
        assert [a.level for a in found] == [Level.DISTRICT, Level.STREET_OFFICE, Level.COMMUNITY, Level.GRID_CELL]
        assert found[3].code.startswith(found[2].code) and found[2].code.startswith(found[1].code)
        checked += 1


@pytest.mark.django_db
def test_points_on_borders_belong_to_both_sides(stored):
    """A vertex shared by two neighbouring communities is in both (DB and shapely); a vertex of the district's
    outer ring is in the district."""
    communities = {c: g for c, (level, g) in stored.items() if level == Level.COMMUNITY}
    vertex_owners: dict[tuple[float, float], set[str]] = {}
    for code, geom in communities.items():
        for poly in shapely.get_parts(geom):
            for xy in poly.exterior.coords:
                vertex_owners.setdefault(xy, set()).add(code)
    shared = [(xy, owners) for xy, owners in vertex_owners.items() if len(owners) >= 2]
    assert len(shared) > 10
    for (x, y), owners in shared[:50]:
        found = {a.code for a in selectors.areas_at(Point(x, y, srid=4326)) if a.level == Level.COMMUNITY}
        assert owners <= found
        assert found == {c for c, g in communities.items() if g.covers(shapely.Point(x, y))}
    district = stored[DISTRICT_CODE][1]
    for x, y in list(shapely.get_parts(district)[0].exterior.coords)[:20]:
        found = {a.code for a in selectors.areas_at(Point(x, y, srid=4326))}
        assert DISTRICT_CODE in found
        assert district.covers(shapely.Point(x, y)) and not district.contains(shapely.Point(x, y))


@pytest.mark.django_db
def test_areas_at_is_one_query(stored, django_assert_num_queries):
    c = stored[f"{DISTRICT_CODE}001"][1].point_on_surface()
    with django_assert_num_queries(1):
        found = selectors.areas_at(Point(c.x, c.y, srid=4326))
    assert [a.depth for a in found] == sorted(a.depth for a in found)


@pytest.mark.django_db
def test_selectors_by_code_and_hierarchy(stored):
    district = selectors.area_by_code(DISTRICT_CODE)
    assert district is not None and district.level == Level.DISTRICT
    assert selectors.area_by_code("999999") is None
    assert selectors.area_by_code("") is None
    n_communities = sum(1 for level, _g in stored.values() if level == Level.COMMUNITY)
    n_cells = sum(1 for level, _g in stored.values() if level == Level.GRID_CELL)
    assert selectors.communities_under(district).count() == n_communities
    assert selectors.cells_under(district).count() == n_cells
    office = selectors.area_by_code(f"{DISTRICT_CODE}001")
    assert set(selectors.communities_under(office).values_list("parent__code", flat=True)) == {office.code}
    community = selectors.communities_under(office).first()
    assert list(selectors.communities_under(community)) == [community]
    cell = selectors.cells_under(community).first()
    assert [a.code for a in selectors.ancestors(cell)] == [DISTRICT_CODE, office.code, community.code]
    assert set(selectors.street_offices_under(district)) == set(Area.objects.filter(parent=district))
    lon, lat = to_shape(cell.geom).point_on_surface().coords[0]
    by_level = selectors.hierarchy_at(Point(lon, lat, srid=4326))
    assert by_level[Level.COMMUNITY] == community and by_level[Level.DISTRICT] == district
