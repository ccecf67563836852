"""Reads for the map pages: lane search, lanes in a map view, the nearest lane, one lane's outline.

Geometry leaves the database already simplified and rounded (ST_SimplifyPreserveTopology + ST_AsGeoJSON with a
limited number of decimals) and is passed through as text, never parsed and re-serialised in Python.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.db.models import Extent, GeometryField
from django.contrib.gis.db.models.functions import AsGeoJSON, Distance, GeoFunc, GeometryDistance
from django.contrib.gis.geos import Polygon
from django.core.cache import cache
from django.db.models import F, FloatField, Q, Value

from common.geo import CoordinateError, check_lonlat, parse_number
from lanes.models import Lane

SEARCH_LIMIT = 30
# A map view may ask for lanes only inside a box at most this wide or high (metres): a phone or desktop screen at
# zoom 15 or closer. Wider views get nothing and are told to zoom in.
LOOKUP_MAX_VIEW_M = 12_000.0
LOOKUP_MAX_LANES = 1500
METRES_PER_DEGREE_LAT = 111_320.0
NEAREST_SHORTLIST = 24


class SimplifyPreserveTopology(GeoFunc):
    function = "ST_SimplifyPreserveTopology"
    output_field = GeometryField(srid=settings.GEO_SRID)


def degrees_for(metres: float) -> float:
    """A simplification tolerance in degrees that moves no vertex by more than `metres` anywhere (a degree of
    latitude is the longest ground distance a degree spans). Used for drawing only, never for measuring."""
    return metres / METRES_PER_DEGREE_LAT


def simplified_geojson(field: str, *, tolerance_m: float, precision: int):
    """ST_AsGeoJSON(ST_SimplifyPreserveTopology(field, tolerance), precision) as a query expression."""
    geom = field
    if tolerance_m > 0:
        geom = SimplifyPreserveTopology(field, Value(degrees_for(tolerance_m), output_field=FloatField()))
    return AsGeoJSON(geom, precision=precision)


def tolerance_for_zoom(zoom: float | None, *, lat: float = 31.0, pixels: float = 1.0) -> float:
    """Ground size in metres of `pixels` screen pixels at web-map zoom `zoom` (what simplification may remove
    without a visible change)."""
    if zoom is None:
        return 2.0
    zoom = max(0.0, min(22.0, float(zoom)))
    return pixels * 156_543.03 * math.cos(math.radians(lat)) / (2**zoom)


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @property
    def polygon(self) -> Polygon:
        return Polygon.from_bbox((self.min_lon, self.min_lat, self.max_lon, self.max_lat))

    @property
    def centre_lat(self) -> float:
        return (self.min_lat + self.max_lat) / 2

    @property
    def width_m(self) -> float:
        return (self.max_lon - self.min_lon) * METRES_PER_DEGREE_LAT * math.cos(math.radians(self.centre_lat))

    @property
    def height_m(self) -> float:
        return (self.max_lat - self.min_lat) * METRES_PER_DEGREE_LAT


def parse_bbox(value: str | None) -> BBox:
    """ "min_lon,min_lat,max_lon,max_lat" (WGS-84) → BBox; CoordinateError with a readable message otherwise."""
    if not value:
        raise CoordinateError("bbox is required: min_lon,min_lat,max_lon,max_lat")
    parts = value.split(",")
    if len(parts) != 4:
        raise CoordinateError("bbox must have four numbers: min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = (parse_number(p, "bbox") for p in parts)
    check_lonlat(min_lon, min_lat)
    check_lonlat(max_lon, max_lat)
    if min_lon >= max_lon or min_lat >= max_lat:
        raise CoordinateError("bbox must be min_lon,min_lat,max_lon,max_lat with min < max")
    return BBox(min_lon, min_lat, max_lon, max_lat)


def lanes_matching(query: str, *, limit: int = SEARCH_LIMIT):
    """Lanes whose name contains `query` (Chinese partial match), with their community, name order."""
    query = (query or "").strip()
    if not query:
        return Lane.objects.none()
    return (
        Lane.objects.filter(name__icontains=query)
        .select_related("community")
        .only("id", "name", "kind", "length_m", "community__name", "community__code")
        .order_by("name", "community__code", "id")[:limit]
    )


def lanes_extent() -> tuple[float, float, float, float] | None:
    """(minlon, minlat, maxlon, maxlat) of all lanes, cached for a few minutes."""
    extent = cache.get("maps:lanes_extent")
    if extent is None:
        extent = Lane.objects.aggregate(e=Extent("geom"))["e"]
        cache.set("maps:lanes_extent", extent, 300)
    return extent


def map_centre() -> tuple[float, float]:
    """(lat, lon) to open a city map on: the middle of all lanes, or settings.MAP_DEFAULT_CENTER."""
    extent = lanes_extent()
    if extent:
        return ((extent[1] + extent[3]) / 2, (extent[0] + extent[2]) / 2)
    return tuple(getattr(settings, "MAP_DEFAULT_CENTER", (31.2304, 121.4737)))


def _compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def feature_collection(rows, *, extra: dict | None = None) -> str:
    """GeoJSON text from (id, geometry_json_text, properties_dict) rows; the geometry text is passed through."""
    features = ",".join(
        f'{{"type":"Feature","id":{int(pk)},"geometry":{geometry},"properties":{_compact(props)}}}'
        for pk, geometry, props in rows
    )
    head = '{"type":"FeatureCollection"'
    if extra:
        head += "," + _compact(extra)[1:-1]
    return head + ',"features":[' + features + "]}"


def public_lanes_in_view(bbox: BBox, *, zoom: float | None = None, limit: int = LOOKUP_MAX_LANES) -> str:
    """The lanes crossing a map view, for the public lookup map, as GeoJSON text: name, community name and kind
    only. Views wider than LOOKUP_MAX_VIEW_M get no features ("too_wide": true); more than `limit` lanes are cut,
    longest first ("truncated": true)."""
    if bbox.width_m > LOOKUP_MAX_VIEW_M or bbox.height_m > LOOKUP_MAX_VIEW_M:
        return feature_collection([], extra={"too_wide": True, "truncated": False})
    tolerance = tolerance_for_zoom(zoom, lat=bbox.centre_lat)
    qs = (
        Lane.objects.filter(geom__bboverlaps=bbox.polygon)
        .annotate(gj=simplified_geojson("geom", tolerance_m=tolerance, precision=6 if tolerance < 1 else 5))
        .order_by("-length_m", "id")
        .values_list("id", "gj", "name", "kind", "community__name")[: limit + 1]
    )
    rows = list(qs)
    truncated = len(rows) > limit
    return feature_collection(
        [
            (pk, gj, {"name": name, "kind": kind, "community": community or ""})
            for pk, gj, name, kind, community in rows[:limit]
        ],
        extra={"too_wide": False, "truncated": truncated},
    )


def nearest_public_lane(point, *, within_m: float) -> dict | None:
    """The lane nearest to `point` (WGS-84) within `within_m` metres as public data with its outline, or None."""
    # KNN on the GiST index shortlists candidates (in degrees, so a generous shortlist); the true distance on the
    # spheroid (metres) picks the nearest.
    shortlist = Lane.objects.order_by(GeometryDistance("geom", point)).values("pk")[:NEAREST_SHORTLIST]
    found = list(
        Lane.objects.filter(pk__in=shortlist)
        .annotate(distance_m=Distance("geom", point, spheroid=True))
        .filter(distance_m__lte=within_m)
        .annotate(gj=simplified_geojson("geom", tolerance_m=1.0, precision=6))
        .order_by("distance_m", "pk")
        .values("id", "name", "kind", "community__name", "distance_m", "gj")[:1]
    )
    if not found:
        return None
    row = found[0]
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "community": row["community__name"] or "",
        "distance_m": round(row["distance_m"].m, 1),
        "geometry": json.loads(row["gj"]),
    }


def lane_outline(lane_id: int, *, tolerance_m: float = 1.0) -> dict:
    """One lane's geometry as a GeoJSON dict (simplified by `tolerance_m`), for a small map."""
    text = (
        Lane.objects.filter(pk=lane_id)
        .annotate(gj=simplified_geojson("geom", tolerance_m=tolerance_m, precision=6))
        .values_list("gj", flat=True)
        .get()
    )
    return json.loads(text)


# --- squad map -------------------------------------------------------------------------------------------------
SQUAD_MAP_LIMIT = 500


def squads_for_scope(scope):
    """Squads whose map `scope` (cases.permissions.Scope) may open: their own squads; a street office's staff
    also its squads; a district admin every squad."""
    from people.models import Squad

    qs = Squad.objects.select_related("kind", "street_office").order_by("street_office__code", "kind__order", "name")
    if scope.district_admin:
        return qs
    q = Q(pk__in=scope.squad_ids)
    if scope.street_office_ids:
        q |= Q(street_office_id__in=scope.street_office_ids)
    return qs.filter(q)


def squad_dispatches(squad, scope, *, now, limit: int = SQUAD_MAP_LIMIT) -> list[dict]:
    """The squad's open dispatches (clock running or suspended) that `scope` may read, earliest deadline first,
    each with its traffic light (cases.selectors.case_clock). Plain data for the page and its map."""
    from cases.calendar import WorkCalendar
    from cases.models import CLOCK_STATUSES, OwnerQueue, Status
    from cases.selectors import case_clock, visible_cases

    calendar = WorkCalendar.load()
    cases = (
        visible_cases(scope)
        .filter(owner_queue=OwnerQueue.SQUAD, squad=squad, status__in=[*CLOCK_STATUSES, Status.SUSPENDED])
        .order_by(F("deadline").asc(nulls_last=True), "id")[:limit]
    )
    rows = []
    for case in cases:
        clock = case_clock(case, now=now, calendar=calendar)
        rows.append(
            {
                "id": case.pk,
                "code": case.tracking_code,
                "category": case.category.name,
                "status": case.status,
                "status_label": str(case.get_status_display()),
                "lane": case.lane.name if case.lane_id else "",
                "description": (case.description or "")[:120],
                "deadline": case.deadline,
                "light": clock.light if case.status != Status.SUSPENDED else (clock.light or ""),
                "suspended": case.status == Status.SUSPENDED,
                "remaining_seconds": clock.remaining_seconds,
                "working_clock": case.clock_unit == "working",
                "lat": case.point.y,
                "lon": case.point.x,
            }
        )
    return rows
