"""Shared test data for lanes: the real OSM extract, read independently of the importer (xml.etree)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from shapely.geometry import LineString

OSM_PATH = Path(settings.BASE_DIR) / "data" / "osm" / "shanghai_huangpu.osm"

# Highway values that are streets, as the importer's specification lists them (issue "Foundation", part 3).
STREET_HIGHWAYS = {
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified_link",
    "residential_link",
}


@dataclass(frozen=True)
class XmlWay:
    id: int
    tags: dict
    refs: tuple[int, ...]
    line: LineString  # WGS-84 lon/lat

    @property
    def name(self) -> str:
        return self.tags.get("name") or self.tags.get("name:zh") or ""


@lru_cache(maxsize=1)
def xml_ways() -> tuple[XmlWay, ...]:
    root = ET.parse(OSM_PATH).getroot()
    nodes = {int(n.get("id")): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    out = []
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        refs = tuple(int(nd.get("ref")) for nd in way.iter("nd"))
        out.append(XmlWay(int(way.get("id")), tags, refs, LineString([nodes[r] for r in refs])))
    return tuple(out)


def named_street_ways() -> list[XmlWay]:
    return [w for w in xml_ways() if w.tags.get("highway") in STREET_HIGHWAYS and w.name]


def wipe_lanes_and_areas() -> None:
    """Remove what a module-scoped fixture wrote (lanes first; areas from the finest level up)."""
    from grid.models import Area
    from lanes.models import Lane

    Lane.objects.all().delete()
    for depth in (3, 2, 1, 0):
        Area.objects.filter(depth=depth).delete()
