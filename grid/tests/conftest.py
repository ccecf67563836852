"""Shared test data for the geography: the real OSM extract (data/osm/shanghai_huangpu.osm, © OpenStreetMap
contributors, ODbL), read with xml.etree independently of any importer, and an illustrative hierarchy derived
from its streets with grid.derive:

- district: the convex hull of all highway ways;
- street offices: the blocks its major roads (motorway/trunk/primary) cut the district into;
- communities: each street office cut by the secondary and tertiary roads crossing it (so they nest).

Codes use 黄浦区's real GB/T 2260 code 310101 for the district (the streets are in central Shanghai); the
boundaries themselves are illustrative, never official.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon

from common.geo import utm_srid
from grid.derive import PRECISION_DEG, blocks_from_streets, blocks_within

OSM_PATH = Path(settings.BASE_DIR) / "data" / "osm" / "shanghai_huangpu.osm"
MAJOR = frozenset({"motorway", "trunk", "primary"})
SECONDARY = frozenset({"secondary", "tertiary"})
DISTRICT_CODE = "310101"
SOURCE = "test: derived from OSM streets (© OpenStreetMap contributors, ODbL)"


@lru_cache(maxsize=1)
def osm_highways() -> tuple[tuple[str, LineString], ...]:
    """(highway value, WGS-84 line) for every way of the extract with a highway tag."""
    root = ET.parse(OSM_PATH).getroot()
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    out = []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        coords = [nodes[nd.get("ref")] for nd in way.iter("nd") if nd.get("ref") in nodes]
        if tags.get("highway") and len(coords) >= 2:
            out.append((tags["highway"], LineString(coords)))
    return tuple(out)


def lines(highways: frozenset[str] | None = None) -> list[LineString]:
    return [line for hw, line in osm_highways() if highways is None or hw in highways]


@lru_cache(maxsize=1)
def district_outline() -> Polygon:
    hull = shapely.convex_hull(shapely.MultiLineString(lines()))
    return shapely.set_precision(hull, PRECISION_DEG)


@dataclass
class DerivedHierarchy:
    district: Polygon
    offices: list[Polygon]
    communities: list[list[Polygon]]  # per street office
    codes: dict[str, object] = field(default_factory=dict)  # code → shapely polygon


@lru_cache(maxsize=1)
def derived_hierarchy() -> DerivedHierarchy:
    district = district_outline()
    offices = blocks_from_streets(lines(MAJOR), boundary=district)
    communities = blocks_within(offices, lines(SECONDARY))
    return DerivedHierarchy(district, offices, communities)


class UTM:
    """Metric projection of WGS-84 shapes for assertions."""

    def __init__(self, geom):
        c = geom.centroid
        self.srid = utm_srid(c.x, c.y)
        self._tr = Transformer.from_crs(4326, self.srid, always_xy=True)

    def __call__(self, geom):
        def fn(xy):
            x, y = self._tr.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geom, fn)

    def area(self, geom) -> float:
        return float(self(geom).area)


def to_geos(shape) -> GEOSGeometry:
    if isinstance(shape, Polygon):
        shape = MultiPolygon([shape])
    return GEOSGeometry(memoryview(shapely.to_wkb(shape)), srid=settings.GEO_SRID)


def to_shape(geom: GEOSGeometry):
    return shapely.from_wkb(bytes(geom.wkb))


def create_hierarchy(district_code: str = DISTRICT_CODE) -> dict[str, object]:
    """Write the derived hierarchy (district, street offices, communities) through the service; returns
    code → Area."""
    from grid.models import Level
    from grid.services import area_create

    h = derived_hierarchy()
    created = {}
    district = area_create(
        level=Level.DISTRICT,
        code=district_code,
        name="黄浦区（示意）",
        geom=to_geos(h.district),
        illustrative=True,
        source=SOURCE,
    )
    created[district.code] = district
    for i, (office_poly, community_polys) in enumerate(zip(h.offices, h.communities, strict=True), start=1):
        office = area_create(
            level=Level.STREET_OFFICE,
            code=f"{district_code}{i:03d}",
            name=f"示意街道{i}",
            geom=to_geos(office_poly),
            parent=district,
            illustrative=True,
            source=SOURCE,
        )
        created[office.code] = office
        for j, poly in enumerate(community_polys, start=1):
            community = area_create(
                level=Level.COMMUNITY,
                code=f"{office.code}{j:03d}",
                name=f"示意街道{i}第{j}社区",
                geom=to_geos(poly),
                parent=office,
                illustrative=True,
                source=SOURCE,
            )
            created[community.code] = community
    return created


def delete_under(code_prefix: str) -> None:
    """Remove the areas whose code starts with `code_prefix`, finest level first, with their lane links.

    Plain SQL on purpose: test clean-up must not depend on every other app's related models having their tables
    (the ORM's delete visits each of them). Foreign keys are deferred, and the lanes triggers re-derive
    Lane.community when a community goes."""
    from django.db import connection

    like = code_prefix.replace("%", r"\%").replace("_", r"\_") + "%"
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM lanes_lanecell WHERE cell_id IN (SELECT id FROM grid_area WHERE code LIKE %s)", [like]
        )
        for depth in (3, 2, 1, 0):
            cursor.execute("DELETE FROM grid_area WHERE code LIKE %s AND depth = %s", [like, depth])
