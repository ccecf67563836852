"""Unit grid generation (grid.services.generate_grid_cells / plan_grid_cells, manage.py generate_grid) on the
illustrative hierarchy derived from the real streets of the OSM extract (conftest.py).

The hierarchy is committed once per module; each test runs in a transaction rolled back afterwards, so the
cells a test generates do not leak into the next one."""

from __future__ import annotations

import math
import re
from io import StringIO

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from pyproj import Transformer

from common.geo import utm_srid
from grid.models import Area, Level
from grid.services import GRID_MAX_CELLS_PER_COMMUNITY, generate_grid_cells, plan_grid_cells
from grid.tests.conftest import UTM, create_hierarchy, delete_under, to_shape

DISTRICT = "310102"  # a code of its own, so this module's data never meets test_lookup's


@pytest.fixture(scope="module")
def areas(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        delete_under(DISTRICT)
        created = create_hierarchy(DISTRICT)
        yield created
        delete_under(DISTRICT)


def _communities(areas) -> list[Area]:
    return sorted((a for a in areas.values() if a.level == Level.COMMUNITY), key=lambda a: a.code)


def _largest_community(areas) -> Area:
    return max(_communities(areas), key=lambda a: a.area_m2)


def _cells(community: Area) -> list[Area]:
    return list(Area.objects.filter(parent=community, level=Level.GRID_CELL).order_by("code"))


def _utm_for(community: Area) -> Transformer:
    c = community.geom.centroid
    return Transformer.from_crs(4326, utm_srid(c.x, c.y), always_xy=True)


def _project(shape, tr: Transformer):
    def fn(xy):
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(shape, fn)


@pytest.mark.django_db
def test_cells_are_numbered_north_to_south_then_west_to_east(areas):
    community = _largest_community(areas)
    generate_grid_cells(area=community, size_m=100.0)
    cells = _cells(community)
    assert len(cells) > 20
    assert [c.code for c in cells] == [f"{community.code}{i:03d}" for i in range(1, len(cells) + 1)]
    tr = _utm_for(community)
    squares = []
    for cell in cells:
        g = _project(to_shape(cell.geom), tr)
        # Each cell lies in exactly one 100 m square of the zone's grid (clipped cells included), up to 1 cm: a
        # cell's edges are straight in longitude/latitude between corners computed in UTM.
        xmin, ymin, xmax, ymax = g.bounds
        col, row = math.floor((xmin + 0.01) / 100.0), math.floor((ymin + 0.01) / 100.0)
        assert math.floor((xmax - 0.01) / 100.0) == col and math.floor((ymax - 0.01) / 100.0) == row
        c = g.centroid
        assert (math.floor(c.x / 100.0), math.floor(c.y / 100.0)) == (col, row)
        squares.append((row, col))
    assert len(set(squares)) == len(squares)
    # Rows from north (larger y) to south; within a row, columns from west to east.
    assert squares == sorted(squares, key=lambda rc: (-rc[0], rc[1]))
    assert len({r for r, _c in squares}) > 3


@pytest.mark.django_db
def test_cells_tile_their_community_exactly(areas):
    office = next(a for a in areas.values() if a.level == Level.STREET_OFFICE)
    report = generate_grid_cells(area=office, size_m=100.0)
    assert report.created == Area.objects.filter(code__startswith=office.code, level=Level.GRID_CELL).count()
    for community in Area.objects.filter(parent=office).order_by("code"):
        outline = to_shape(community.geom)
        utm = UTM(outline)
        cells = [to_shape(c.geom) for c in _cells(community)]
        assert cells and all(c.is_valid for c in cells)
        union = shapely.union_all(cells)
        assert utm.area(union) == pytest.approx(utm.area(outline), rel=1e-4)
        assert sum(utm.area(c) for c in cells) == pytest.approx(utm.area(union), rel=1e-6)  # no overlaps
        for cell in cells:  # clipped to the community, up to floating-point noise
            assert utm.area(shapely.difference(cell, outline)) < 0.01
        # No part of 0.5 m² or less was kept.
        assert min(utm.area(p) for c in cells for p in shapely.get_parts(c)) > 0.5


@pytest.mark.django_db
def test_interior_cells_are_about_ten_thousand_square_metres(areas):
    community = _largest_community(areas)
    generate_grid_cells(area=community, size_m=100.0)
    outline = to_shape(community.geom)
    tr = _utm_for(community)
    interior = []
    for cell in _cells(community):
        g = _project(to_shape(cell.geom), tr)
        xmin, ymin, xmax, ymax = g.bounds
        untouched = to_shape(cell.geom).distance(outline.boundary) > 0
        if untouched and xmax - xmin == pytest.approx(100, abs=0.01) and ymax - ymin == pytest.approx(100, abs=0.01):
            interior.append(cell)
    assert len(interior) > 10
    for cell in interior:
        assert cell.area_m2 == pytest.approx(10_000, rel=5e-3)  # measured on the spheroid (geography)
    # Border cells are smaller, never larger.
    assert max(c.area_m2 for c in _cells(community)) < 10_000 * 1.005


@pytest.mark.django_db
def test_other_sizes(areas):
    community = _largest_community(areas)
    small = plan_grid_cells(area=community, size_m=50.0).planned
    large = plan_grid_cells(area=community, size_m=200.0).planned
    base = plan_grid_cells(area=community, size_m=100.0).planned
    assert small > base > large
    # Roughly area / size² plus the partial cells along the border.
    assert community.area_m2 / 200**2 <= large < community.area_m2 / 200**2 * 2.5
    report = generate_grid_cells(area=community, size_m=200.0)
    assert report.created == large
    assert all(c.area_m2 < 40_000 * 1.005 for c in _cells(community))


@pytest.mark.django_db
def test_more_than_999_cells_is_refused_with_advice(areas):
    community = _largest_community(areas)
    assert community.area_m2 / 10**2 > GRID_MAX_CELLS_PER_COMMUNITY
    with pytest.raises(ValidationError) as exc:
        generate_grid_cells(area=community, size_m=10.0)
    text = " ".join(exc.value.messages)
    assert "--size" in text and community.code in text
    assert not Area.objects.filter(parent=community).exists()
    # The advice works: the suggested size fits every community of the district.
    suggested = int(re.search(r"--size (\d+)", exc.value.messages[0]).group(1))
    assert 10 < suggested <= 2000
    plan_grid_cells(area=areas[DISTRICT], size_m=suggested)
    # Just over the limit after clipping: the exact count is checked too, not only the area estimate.
    size = math.sqrt(community.area_m2 / 990)
    assert community.area_m2 / size**2 <= GRID_MAX_CELLS_PER_COMMUNITY
    with pytest.raises(ValidationError):
        plan_grid_cells(area=community, size_m=size)


@pytest.mark.django_db
def test_existing_cells_need_replace(areas):
    community = _largest_community(areas)
    generate_grid_cells(area=community, size_m=100.0)
    first = {c.code: c.pk for c in _cells(community)}
    with pytest.raises(ValidationError) as exc:
        generate_grid_cells(area=community, size_m=100.0)
    assert "--replace" in " ".join(exc.value.messages)
    assert {c.code: c.pk for c in _cells(community)} == first
    report = generate_grid_cells(area=community, size_m=100.0, replace=True)
    second = {c.code: c.pk for c in _cells(community)}
    assert set(second) == set(first) and not set(second.values()) & set(first.values())
    assert report.deleted == len(first) and report.created == len(second)
    report = generate_grid_cells(area=community, size_m=150.0, replace=True)
    assert len(_cells(community)) == report.created < len(first)


@pytest.mark.django_db
def test_replace_at_district_level_covers_every_community(areas):
    district = areas[DISTRICT]
    generate_grid_cells(area=_largest_community(areas), size_m=100.0)
    with pytest.raises(ValidationError):
        generate_grid_cells(area=district, size_m=100.0)  # one community already has cells
    report = generate_grid_cells(area=district, size_m=100.0, replace=True)
    assert len(report.communities) == len(_communities(areas))
    assert Area.objects.filter(code__startswith=DISTRICT, level=Level.GRID_CELL).count() == report.created


@pytest.mark.django_db
def test_dry_run_writes_nothing_and_matches_the_real_run(areas):
    office = next(a for a in areas.values() if a.level == Level.STREET_OFFICE)
    before = Area.objects.count()
    plan = plan_grid_cells(area=office, size_m=100.0)
    assert Area.objects.count() == before
    assert plan.planned > 0 and not plan.committed
    report = generate_grid_cells(area=office, size_m=100.0)
    assert report.created == plan.planned
    planned = {cell.code: cell.geom for c in plan.communities for cell in c.cells}
    stored = {a.code: a.geom for a in Area.objects.filter(code__in=planned)}
    assert set(stored) == set(planned)
    assert all(stored[code].equals_exact(planned[code], tolerance=0) for code in planned)


@pytest.mark.django_db
@pytest.mark.parametrize("size", [0, 5, 9.99, 2000.1, 10_000, -100, float("nan"), float("inf"), "abc", None])
def test_bad_size_is_refused(areas, size):
    with pytest.raises(ValidationError) as exc:
        plan_grid_cells(area=_largest_community(areas), size_m=size)
    assert "10" in " ".join(exc.value.messages) and "2000" in " ".join(exc.value.messages)


@pytest.mark.django_db
def test_cells_cannot_be_gridded_and_areas_without_communities_are_refused(areas):
    community = _largest_community(areas)
    generate_grid_cells(area=community, size_m=100.0)
    with pytest.raises(ValidationError):
        plan_grid_cells(area=_cells(community)[0])
    lonely = Area.objects.create(
        level=Level.DISTRICT, code="310199", name="无社区", geom=community.geom, illustrative=True
    )
    with pytest.raises(ValidationError) as exc:
        plan_grid_cells(area=lonely)
    assert "import_boundaries" in " ".join(exc.value.messages)


@pytest.mark.django_db
def test_cells_inherit_illustrative_and_lanes_get_linked_by_triggers(areas):
    """The database triggers link lanes to the new cells (nothing in the service writes LaneCell)."""
    from lanes.models import Lane, LaneCell

    community = _largest_community(areas)
    outline = to_shape(community.geom)
    x0, y0, x1, y1 = outline.bounds
    line = shapely.intersection(shapely.LineString([(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2)]), outline)
    line = max(shapely.get_parts(line), key=lambda p: p.length)
    lane = Lane.objects.create(
        name="测试路", geom=GEOSGeometry(shapely.to_wkt(shapely.MultiLineString([line])), srid=4326)
    )
    generate_grid_cells(area=community, size_m=100.0)
    cells = _cells(community)
    assert all(c.illustrative == community.illustrative for c in cells)
    linked = set(LaneCell.objects.filter(lane=lane).values_list("cell__code", flat=True))
    expected = {c.code for c in cells if to_shape(c.geom).intersects(line)}
    assert linked == expected and len(expected) > 3


@pytest.mark.django_db
def test_command_dry_run_and_commit(areas):
    community = _largest_community(areas)
    out, err = StringIO(), StringIO()
    call_command("generate_grid", area=community.code, stdout=out, stderr=err)
    assert not Area.objects.filter(parent=community).exists()
    assert "--commit" in out.getvalue()
    planned = plan_grid_cells(area=community).planned
    assert str(planned) in out.getvalue()
    call_command("generate_grid", "--commit", area=community.code, size=100, stdout=out, stderr=err)
    assert len(_cells(community)) == planned
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_grid", "--commit", area=community.code, stdout=out, stderr=err)
    call_command("generate_grid", "--commit", "--replace", area=community.code, size=200, stdout=out, stderr=err)
    assert 0 < len(_cells(community)) < planned
    with pytest.raises(CommandError, match="999999"):
        call_command("generate_grid", area="999999", stdout=out, stderr=err)
    with pytest.raises(CommandError):
        call_command("generate_grid", area=community.code, size=5, stdout=out, stderr=err)
