"""Lanes and unit grid cells on the real extract: the links the database derives (LaneCell, Lane.community) must
equal what shapely computes over the same stored geometries, and follow every change.

The grid is built here: one district / street office / community (codes 370602 / 370602001 / 370602001001,
illustrative) tiled by 100 m cells made in UTM zone 51N and transformed to WGS-84, numbered west→east,
north→south. Cells share their transformed corners, so the tiling has no gaps or overlaps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import shapely.affinity
from django.contrib.gis.geos import GEOSGeometry
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.strtree import STRtree

from grid.models import Area, Level
from lanes.importers.osm import import_osm
from lanes.models import Lane, LaneCell
from lanes.tests.conftest import OSM_PATH, named_street_ways, wipe_lanes_and_areas

CELL_M = 100.0
DISTRICT, STREET_OFFICE, COMMUNITY = "370602", "370602001", "370602001001"
EAST_COMMUNITY = "370602001002"


def to_geos(shape) -> GEOSGeometry:
    if isinstance(shape, Polygon):
        shape = MultiPolygon([shape])
    return GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=4326)


def to_shape(geom: GEOSGeometry):
    return shapely.from_wkb(bytes(geom.wkb))


def grid_cells() -> list[list[Polygon]]:
    """Rows (north→south) of 100 m cells (west→east) covering the extract's bounds, in WGS-84."""
    bounds = [w.line.bounds for w in named_street_ways()]
    lon0, lat0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    lon1, lat1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    to_utm = Transformer.from_crs(4326, 32651, always_xy=True)
    xs, ys = to_utm.transform([lon0, lon1, lon0, lon1], [lat0, lat0, lat1, lat1])
    x0, y0 = math.floor(min(xs) / CELL_M) * CELL_M, math.floor(min(ys) / CELL_M) * CELL_M
    ncols, nrows = math.ceil((max(xs) - x0) / CELL_M), math.ceil((max(ys) - y0) / CELL_M)
    gx, gy = np.meshgrid(x0 + CELL_M * np.arange(ncols + 1), y0 + CELL_M * np.arange(nrows + 1))
    lon, lat = Transformer.from_crs(32651, 4326, always_xy=True).transform(gx, gy)
    rows = []
    for r in reversed(range(nrows)):  # north first
        rows.append(
            [
                Polygon(
                    [
                        (lon[r, c], lat[r, c]),
                        (lon[r, c + 1], lat[r, c + 1]),
                        (lon[r + 1, c + 1], lat[r + 1, c + 1]),
                        (lon[r + 1, c], lat[r + 1, c]),
                    ]
                )
                for c in range(ncols)
            ]
        )
    return rows


@pytest.fixture(scope="module")
def grid(django_db_setup, django_db_blocker):
    rows = grid_cells()
    cells = [cell for row in rows for cell in row]
    assert len(cells) <= 999  # 3-digit cell sequence
    outline = shapely.union_all(cells)
    with django_db_blocker.unblock():
        wipe_lanes_and_areas()
        district = Area.objects.create(level=Level.DISTRICT, code=DISTRICT, name="芝罘区(示意)", geom=to_geos(outline))
        office = Area.objects.create(
            level=Level.STREET_OFFICE, code=STREET_OFFICE, name="街道(示意)", parent=district, geom=to_geos(outline)
        )
        community = Area.objects.create(
            level=Level.COMMUNITY, code=COMMUNITY, name="社区(示意)", parent=office, geom=to_geos(outline)
        )
        Area.objects.bulk_create(
            Area(
                level=Level.GRID_CELL,
                code=f"{COMMUNITY}{n:03d}",
                name=f"网格{n:03d}",
                parent=community,
                geom=to_geos(cell),
                illustrative=True,
            )
            for n, cell in enumerate(cells, start=1)
        )
        report = import_osm(OSM_PATH, commit=True)
        yield {"rows": rows, "report": report}
        wipe_lanes_and_areas()


def expected_links() -> set[tuple[int, int]]:
    cells = list(Area.objects.grid_cells().values_list("id", "geom"))
    tree = STRtree([to_shape(g) for _id, g in cells])
    out = set()
    for lane_id, geom in Lane.objects.values_list("id", "geom"):
        for idx in tree.query(to_shape(geom), predicate="intersects"):
            out.add((lane_id, cells[idx][0]))
    return out


def actual_links() -> set[tuple[int, int]]:
    return set(LaneCell.objects.values_list("lane_id", "cell_id"))


def test_lane_cells_equal_shapely_intersects(grid, db):
    links = actual_links()
    assert len(links) > Lane.objects.count()  # lanes run through several cells
    assert links == expected_links()
    assert Lane.objects.filter(cell_links__isnull=True).count() == 0


def test_all_lanes_inside_the_community_belong_to_it(grid, db):
    assert grid["report"].lanes == Lane.objects.count()
    for key, code in Lane.objects.values_list("source_key", "community__code"):
        assert key.endswith(f":{code}" if code else ":-"), key
    assert Lane.objects.filter(community__code=COMMUNITY).count() > 0


def test_links_follow_a_changed_lane_geometry(grid, db):
    lane = Lane.objects.get(osm_way_ids__contains=[50323216])
    old_cells = set(lane.cell_links.values_list("cell_id", flat=True))
    # move the lane 250 m north (about 0.00225 degrees): it leaves its cells and enters others
    lane.geom = to_geos_lines(shapely.affinity.translate(to_shape(lane.geom), yoff=0.00225))
    lane.save()
    new_cells = set(lane.cell_links.values_list("cell_id", flat=True))
    assert new_cells and new_cells != old_cells
    assert actual_links() == expected_links()


def to_geos_lines(shape) -> GEOSGeometry:
    return GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=4326)


def test_links_follow_a_moved_and_a_deleted_cell(grid, db):
    cell = Area.objects.grid_cells().filter(lane_links__isnull=False).order_by("code").first()
    empty = Area.objects.grid_cells().filter(lane_links__isnull=True).order_by("code").first()
    assert cell and empty
    lanes_of_cell = set(cell.lane_links.values_list("lane_id", flat=True))

    # swap their polygons: links move with the geometry
    cell_geom, empty_geom = cell.geom, empty.geom
    cell.geom, empty.geom = empty_geom, cell_geom
    cell.save()
    empty.save()
    assert set(empty.lane_links.values_list("lane_id", flat=True)) == lanes_of_cell
    assert actual_links() == expected_links()

    empty.delete()
    assert not LaneCell.objects.filter(cell_id=empty.pk).exists()
    assert actual_links() == expected_links()


def test_community_border_splits_a_crossing_street(grid, db):
    rows = grid["rows"]
    half = len(rows[0]) // 2
    west = shapely.union_all([cell for row in rows for cell in row[:half]])
    east = shapely.union_all([cell for row in rows for cell in row[half:]])
    border = shapely.intersection(west.boundary, east.boundary)
    # a street crossing the border with a good stretch on both sides (found from the XML, not the importer)
    crossing = max(
        (w for w in named_street_ways() if w.line.crosses(border)),
        key=lambda w: min(w.line.intersection(west).length, w.line.intersection(east).length),
    )
    assert min(crossing.line.intersection(west).length, crossing.line.intersection(east).length) > 1e-4  # > ~10 m

    office = Area.objects.get(code=STREET_OFFICE)
    Area.objects.filter(code=COMMUNITY).update(geom=to_geos(west))
    Area.objects.create(
        level=Level.COMMUNITY, code=EAST_COMMUNITY, name="东社区(示意)", parent=office, geom=to_geos(east)
    )
    report = import_osm(OSM_PATH, commit=True, prune=True)
    assert report.lanes_created > 0 and report.lanes_removed > 0

    pieces = Lane.objects.filter(osm_way_ids__contains=[crossing.id]).select_related("community")
    assert sorted(p.community.code for p in pieces) == [COMMUNITY, EAST_COMMUNITY]
    polygons = {COMMUNITY: west, EAST_COMMUNITY: east}
    for piece in pieces:
        assert piece.name == crossing.name
        assert piece.source_key.endswith(f":{piece.community.code}")
        assert polygons[piece.community.code].buffer(1e-9).covers(to_shape(piece.geom))
    # every lane is in the community its key names, no piece is shorter than 1 m, links still exact
    for key, code, length in Lane.objects.values_list("source_key", "community__code", "length_m"):
        assert key.endswith(f":{code}" if code else ":-"), key
        assert length >= 1.0
    assert actual_links() == expected_links()
    # the split keeps every street name
    assert set(Lane.objects.values_list("name", flat=True)) == {w.name for w in named_street_ways()}
