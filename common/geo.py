"""Coordinates at the edge: parse, validate and transform incoming coordinates exactly once.

Everything inside the system is WGS-84 (settings.GEO_SRID). Chinese phone map SDKs (Amap, Tencent)
report GCJ-02, an obfuscated datum offset from WGS-84 by up to ~700 m; `to_wgs84` converts it back
(iterative inverse, error under 1 cm). Outside mainland China GCJ-02 equals WGS-84.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.db.models.functions import GeoFunc
from django.contrib.gis.geos import Point
from django.db.models import FloatField, Func

COORDSYS = ("wgs84", "gcj02")


class CoordinateError(ValueError):
    """A coordinate a user sent is not usable; the message says why (shown to the user)."""


@dataclass(frozen=True)
class LonLat:
    lon: float
    lat: float


def parse_number(value, name: str) -> float:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        raise CoordinateError(f"{name} is required")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CoordinateError(f"{name} must be a number, got {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise CoordinateError(f"{name} must be a finite number")
    return number


def check_lonlat(lon: float, lat: float) -> None:
    if not -180.0 <= lon <= 180.0:
        raise CoordinateError(f"longitude {lon} is out of range [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise CoordinateError(f"latitude {lat} is out of range [-90, 90]")


def _out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _gcj_delta(lon: float, lat: float) -> tuple[float, float]:
    a = 6378245.0
    ee = 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * math.cos(radlat) * math.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if _out_of_china(lon, lat):
        return lon, lat
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    if _out_of_china(lon, lat):
        return lon, lat
    wlon, wlat = lon, lat
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = glon - lon, glat - lat
        wlon, wlat = wlon - dlon, wlat - dlat
        if abs(dlon) < 1e-9 and abs(dlat) < 1e-9:
            break
    return wlon, wlat


def to_wgs84(lon: float, lat: float, coordsys: str | None = "wgs84") -> LonLat:
    """Validate a lon/lat pair in `coordsys` and return it in WGS-84."""
    coordsys = (coordsys or "wgs84").lower()
    if coordsys not in COORDSYS:
        raise CoordinateError(f"coordsys must be one of {', '.join(COORDSYS)}, got {coordsys[:20]!r}")
    check_lonlat(lon, lat)
    if coordsys == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    return LonLat(lon, lat)


def point_from_params(params, *, lat_key="lat", lon_key="lon", coordsys_key="coordsys") -> Point:
    """A WGS-84 Point from query or form parameters; raises CoordinateError with a user-facing message."""
    lat = parse_number(params.get(lat_key), lat_key)
    lon = parse_number(params.get(lon_key), lon_key)
    ll = to_wgs84(lon, lat, params.get(coordsys_key))
    return Point(ll.lon, ll.lat, srid=settings.GEO_SRID)


class GeogDistance(Func):
    """Distance in metres on the spheroid: ST_Distance(a::geography, b::geography). Geometry arguments (GEOS
    objects) are wrapped as typed values so psycopg2 can adapt them."""

    template = "ST_Distance((%(expressions)s)::geography)"
    arg_joiner = ")::geography, ("
    output_field = FloatField()

    def __init__(self, *expressions, **extra):
        from django.contrib.gis.db.models import GeometryField
        from django.contrib.gis.geos import GEOSGeometry
        from django.db.models import Value

        wrapped = [
            Value(e, output_field=GeometryField(srid=e.srid or settings.GEO_SRID)) if isinstance(e, GEOSGeometry) else e
            for e in expressions
        ]
        super().__init__(*wrapped, **extra)


class GeogLength(GeoFunc):
    """Length in metres of a (multi)line on the spheroid; immutable, usable in generated columns."""

    template = "ST_Length((%(expressions)s)::geography)"
    output_field = FloatField()


class GeogArea(GeoFunc):
    """Area in square metres on the spheroid; immutable, usable in generated columns."""

    template = "ST_Area((%(expressions)s)::geography)"
    output_field = FloatField()


def utm_srid(lon: float, lat: float) -> int:
    """EPSG code of the UTM zone holding a WGS-84 point: metric work (grid cells, buffers) happens there."""
    zone = int((lon + 180) // 6) + 1
    return (32600 if lat >= 0 else 32700) + zone
