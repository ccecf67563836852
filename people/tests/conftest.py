"""Test places for the people app: real lanes from the OSM extract (© OpenStreetMap contributors, ODbL), read here
with xml.etree independently of the lane importer, inside illustrative (not official) areas drawn around them.

Layout (WGS-84; the boundaries are made up for the tests, only the streets are real):

    district 黄浦区 310101 ─ street office 南京东路街道 310101002 (x 121.470–121.4865, y 31.230–31.2415)
                          │   ├ community 西片社区 310101002001 (x < 121.479)
                          │   │   └ grid cell 310101002001001: ~100 m square on the 福州路 × 湖北路 crossing
                          │   └ community 东片社区 310101002002 (x > 121.479)
                          └ street office 人民广场街道 310101003 (x 121.461–121.470), no lanes of ours

    lanes: 福州路 (west part, 西片社区), 福州路 (east part, 东片社区), 湖北路 (西片社区)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.gis.geos import LineString, MultiLineString, MultiPolygon, Polygon

OSM_PATH = Path(settings.BASE_DIR) / "data" / "osm" / "shanghai_huangpu.osm"

BORDER_X = 121.479  # between the two communities
CROSSING = (121.4764234, 31.2352563)  # the OSM node shared by 福州路 and 湖北路


@lru_cache(maxsize=1)
def _ways() -> dict[str, list[list[tuple[float, float]]]]:
    root = ET.parse(OSM_PATH).getroot()
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    out: dict[str, list] = {}
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if tags.get("highway") and tags.get("name"):
            out.setdefault(tags["name"], []).append([nodes[nd.get("ref")] for nd in way.iter("nd")])
    return out


def street(name: str, *, west_of: float | None = None, east_of: float | None = None) -> MultiLineString:
    """The OSM ways named `name` (optionally only those whose midpoint lies west/east of a longitude)."""
    lines = []
    for coords in _ways()[name]:
        mid_x = sum(x for x, _ in coords) / len(coords)
        if west_of is not None and mid_x >= west_of:
            continue
        if east_of is not None and mid_x < east_of:
            continue
        lines.append(LineString(coords, srid=4326))
    assert lines, f"no OSM way named {name!r} in {OSM_PATH}"
    return MultiLineString(lines, srid=4326)


def box(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((x0, y0, x1, y1)), srid=4326)


def make_place():
    from grid.models import Area, Level
    from lanes.models import Lane

    district = Area.objects.create(
        level=Level.DISTRICT,
        code="310101",
        name="黄浦区",
        geom=box(121.461, 31.219, 121.4865, 31.2415),
        illustrative=True,
    )
    so = Area.objects.create(
        level=Level.STREET_OFFICE,
        code="310101002",
        name="南京东路街道",
        parent=district,
        geom=box(121.470, 31.230, 121.4865, 31.2415),
        illustrative=True,
    )
    other_so = Area.objects.create(
        level=Level.STREET_OFFICE,
        code="310101003",
        name="人民广场街道",
        parent=district,
        geom=box(121.461, 31.230, 121.470, 31.2415),
        illustrative=True,
    )
    west = Area.objects.create(
        level=Level.COMMUNITY,
        code="310101002001",
        name="西片社区",
        parent=so,
        geom=box(121.470, 31.230, BORDER_X, 31.2415),
        illustrative=True,
    )
    east = Area.objects.create(
        level=Level.COMMUNITY,
        code="310101002002",
        name="东片社区",
        parent=so,
        geom=box(BORDER_X, 31.230, 121.4865, 31.2415),
        illustrative=True,
    )
    x, y = CROSSING
    cell = Area.objects.create(
        level=Level.GRID_CELL,
        code="310101002001001",
        name="西片社区第1网格",
        parent=west,
        geom=box(x - 0.0005, y - 0.00045, x + 0.0005, y + 0.00045),
        illustrative=True,
    )
    fuzhou_w = Lane.objects.create(name="福州路", geom=street("福州路", west_of=BORDER_X), source_key="test:福州路:w")
    fuzhou_e = Lane.objects.create(name="福州路", geom=street("福州路", east_of=BORDER_X), source_key="test:福州路:e")
    hubei = Lane.objects.create(name="湖北路", geom=street("湖北路"), source_key="test:湖北路")
    for lane in (fuzhou_w, fuzhou_e, hubei):
        lane.refresh_from_db()  # community is set by a database trigger
    return SimpleNamespace(
        district=district,
        so=so,
        other_so=other_so,
        west=west,
        east=east,
        cell=cell,
        fuzhou_w=fuzhou_w,
        fuzhou_e=fuzhou_e,
        hubei=hubei,
    )


@pytest.fixture
def place(db):
    return make_place()


@pytest.fixture
def kinds(db):
    """The three squad kinds seeded by migration people 0002, by code."""
    from people.models import SquadKind

    found = {k.code: k for k in SquadKind.objects.all()}
    assert {"street_order", "sanitation", "municipal"} <= set(found)
    return found
