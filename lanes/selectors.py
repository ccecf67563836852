"""Reads and spatial queries on lanes."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.contrib.gis.db.models.functions import GeoFunc, GeometryDistance
from django.contrib.gis.geos import Point
from django.contrib.gis.measure import D
from django.db.models import BooleanField, FloatField, Value
from django.db.models.expressions import RawSQL

from common.geo import GeogDistance

# The shortest ground length of one degree of latitude on the WGS-84 spheroid (at the equator), in metres; a degree
# of longitude at latitude φ is at least this × cos φ. So a point within m metres of P (latitude φ) lies within
# m / (METRES_PER_DEGREE_MIN · cos(|φ| + m / METRES_PER_DEGREE_MIN)) planar degrees of it.
METRES_PER_DEGREE_MIN = 110_574.0
DEGREE_MARGIN = 1.01  # on top of the bound above: covers the local-flatness approximation, a few km at most
# Absolute slack (about 1 cm) so a point lying on a lane, where the spheroid and planar distances are both rounding
# noise (1e-6 m against 1e-9 degrees), still finds it.
DEGREE_SLACK = 1e-7
POLAR_LAT = 89.0  # beyond this the degree bound is useless; no longitude limit there


class _DWithin(GeoFunc):
    """ST_DWithin(geometry, geometry, degrees): planar, index-assisted (GiST on the first argument)."""

    function = "ST_DWithin"
    output_field = BooleanField()


def _sql(queryset) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def nearest_lane_ids_sql(queryset, point: Point, *, within: D | None = None, limit: int = 5):
    """The `limit` lanes of `queryset` nearest to `point` (WGS-84), nearest first (ties by id), annotated with
    `distance_m`: metres on the spheroid (ST_Distance on geography). Only lanes within `within` when given.
    Exact, and one SQL statement:

    1. KNN on the GiST index (`<->`, planar degrees) picks `limit` lanes near the point; the largest spheroid
       distance among them, r, bounds the distance of the true `limit`-th nearest lane (capped by `within`).
       Degrees alone are no ranking: at 31°N a degree east-west is about 14 % shorter on the ground than
       north-south, so the lane `<->` ranks first is sometimes not the nearest one (lanes/tests/test_nearest.py).
    2. Every lane within r metres lies inside a degree radius derived from r and the latitude (ST_DWithin on the
       geometry, index-assisted); those candidates are ranked by their spheroid distance.

    `queryset` may carry filters, select_related and only(); they apply to both steps.
    """
    limit = int(limit)
    if limit < 1:
        return queryset.none()
    # A geometry parameter psycopg2 can adapt (a bare GEOS Point inside a plain Func cannot be).
    point = Value(point, output_field=GeometryField(srid=point.srid or settings.GEO_SRID))
    base = queryset.order_by()
    knn = (
        base.annotate(knn_m=GeogDistance("geom", point))
        .order_by(GeometryDistance("geom", point))
        .values("knn_m")[:limit]
    )
    knn_sql, params = _sql(knn)
    radius_sql = f"(SELECT max(knn.knn_m) FROM ({knn_sql}) knn)"
    if within is not None:
        radius_sql = f"LEAST({radius_sql}, %s)"
        params.append(float(within.m))
    lat = min(abs(point.value.y), 90.0)
    # Planar degrees that certainly hold every lane within r metres of the point (360: no bound near the poles).
    # OFFSET 0 keeps r one sub-plan, computed once.
    degrees = RawSQL(
        "(SELECT CASE WHEN %s + s.r / %s >= %s THEN 360.0 "
        "ELSE %s * s.r / (%s * cos(radians(%s + s.r / %s))) + %s END "
        f"FROM (SELECT {radius_sql} AS r OFFSET 0) s)",
        [
            lat,
            METRES_PER_DEGREE_MIN,
            POLAR_LAT,
            DEGREE_MARGIN,
            METRES_PER_DEGREE_MIN,
            lat,
            METRES_PER_DEGREE_MIN,
            DEGREE_SLACK,
            *params,
        ],
        output_field=FloatField(),
    )
    # The candidates hold every lane within r metres, and r is at least the distance of the `limit`-th nearest
    # lane: ranking them by spheroid distance gives the true nearest ones.
    qs = base.filter(_DWithin("geom", point, degrees)).annotate(distance_m=GeogDistance("geom", point))
    if within is not None:
        qs = qs.filter(distance_m__lte=float(within.m))
    return qs.order_by("distance_m", "pk")[:limit]


# The hot path of GET /api/lanes/nearest/: the algorithm of nearest_lane_ids_sql written once as SQL, so a lookup
# costs one prepared-shape statement and no ORM query building (which cost ~10× the query itself). Kept equal to the
# ORM version by lanes/tests/test_nearest.py.
_PT = "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)"
NEAREST_SQL = f"""
SELECT l.id, l.name, l.name_zh, l.kind, l.length_m, c.code, c.name,
       ST_Distance(l.geom::geography, {_PT}::geography) AS distance_m
FROM lanes_lane l
LEFT JOIN grid_area c ON c.id = l.community_id
WHERE ST_DWithin(l.geom, {_PT}, (
        SELECT CASE WHEN %(abslat)s + s.r / {METRES_PER_DEGREE_MIN} >= {POLAR_LAT} THEN 360.0
               ELSE {DEGREE_MARGIN} * s.r / ({METRES_PER_DEGREE_MIN} * cos(radians(%(abslat)s + s.r / {METRES_PER_DEGREE_MIN})))
                    + {DEGREE_SLACK} END
        FROM (SELECT LEAST(max(k.d), %(within)s) AS r FROM (
                SELECT ST_Distance(geom::geography, {_PT}::geography) AS d
                FROM lanes_lane ORDER BY geom <-> {_PT} LIMIT %(limit)s) k OFFSET 0) s))
  AND ST_Distance(l.geom::geography, {_PT}::geography) <= %(within)s
ORDER BY distance_m, l.id
LIMIT %(limit)s
"""


def nearest_params(lon: float, lat: float, *, within_m: float, limit: int) -> dict:
    """The parameters of NEAREST_SQL (the fast path of config/wsgi.py binds them in this order, NEAREST_ARGS)."""
    return {"lon": lon, "lat": lat, "abslat": min(abs(lat), 90.0), "within": float(within_m), "limit": int(limit)}


NEAREST_ARGS = ("lon", "lat", "abslat", "within", "limit")


def nearest_rows(rows) -> list[dict]:
    """Rows of NEAREST_SQL as the API shows them."""
    return [
        {
            "id": row[0],
            "name": row[1],
            "name_zh": row[2],
            "kind": row[3],
            "length_m": round(float(row[4]), 1),
            "community": {"code": row[5], "name": row[6]} if row[5] is not None else None,
            "distance_m": round(float(row[7]), 1),
        }
        for row in rows
    ]


def nearest_lanes(lon: float, lat: float, *, within_m: float, limit: int) -> list[dict]:
    """The `limit` lanes nearest to (lon, lat) in WGS-84 within `within_m` metres, as plain rows for the API."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(NEAREST_SQL, nearest_params(lon, lat, within_m=within_m, limit=limit))
        rows = cursor.fetchall()
    return nearest_rows(rows)
