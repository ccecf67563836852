"""Overlay coordinates for the base map's datum.

Everything stored is WGS-84. Amap (高德) tiles are drawn in GCJ-02, offset from WGS-84 by up to ~700 m in mainland
China, so on such a base map every overlay is shifted WGS-84 → GCJ-02 before it is drawn and every click is shifted
back (the browser side of this lives in maps/static/maps/lanechief-map.js). This module is the vectorised (numpy)
form of common.geo.wgs84_to_gcj02 for whole geometries; it agrees with it to floating-point precision (tested).
"""

from __future__ import annotations

import numpy as np

from maps.offline import tile_config

WGS84 = "wgs84"
GCJ02 = "gcj02"

_A = 6378245.0
_EE = 0.00669342162296594323


def overlay_datum() -> str:
    """The datum overlays must be drawn in on the configured base map ("wgs84" or "gcj02")."""
    tiles = tile_config()
    return tiles["datum"] if tiles else WGS84


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def wgs84_to_gcj02_array(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Arrays of WGS-84 longitudes and latitudes → GCJ-02 (points outside China unchanged)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    x, y = lon - 105.0, lat - 35.0
    pi = np.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * pi)
    inside = _in_china(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _shift_coords(coords):
    """Nested GeoJSON coordinate lists → the same nesting, shifted to GCJ-02."""
    if not coords:
        return coords
    if isinstance(coords[0], (int, float)):
        lon, lat = wgs84_to_gcj02_array([coords[0]], [coords[1]])
        return [float(lon[0]), float(lat[0]), *coords[2:]]
    if isinstance(coords[0][0], (int, float)):
        arr = np.asarray(coords, dtype=float)
        lon, lat = wgs84_to_gcj02_array(arr[:, 0], arr[:, 1])
        return np.column_stack([lon, lat]).tolist()
    return [_shift_coords(part) for part in coords]


def shift_geometry(geometry: dict, datum: str) -> dict:
    """A GeoJSON geometry dict (WGS-84) in `datum`; unchanged for WGS-84."""
    if datum != GCJ02 or not geometry:
        return geometry
    if geometry.get("type") == "GeometryCollection":
        return {**geometry, "geometries": [shift_geometry(g, datum) for g in geometry["geometries"]]}
    return {**geometry, "coordinates": _shift_coords(geometry["coordinates"])}


def shift_latlon(lat: float, lon: float, datum: str) -> tuple[float, float]:
    """One (lat, lon) pair, Leaflet's order, in `datum`."""
    if datum != GCJ02:
        return lat, lon
    glon, glat = wgs84_to_gcj02_array([lon], [lat])
    return float(glat[0]), float(glon[0])
