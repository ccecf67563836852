"""Overlays on GCJ-02 base maps: the vectorised shift equals common.geo's point formula, whole geometries keep their
shape, and the configured tiles decide the datum."""

from __future__ import annotations

import numpy as np
import pytest

from common.geo import gcj02_to_wgs84, wgs84_to_gcj02
from maps.datum import GCJ02, WGS84, overlay_datum, shift_geometry, shift_latlon, wgs84_to_gcj02_array


def test_vectorised_shift_equals_the_point_formula_across_china_and_outside():
    rng = np.random.default_rng(5)
    lon = np.concatenate([rng.uniform(73, 135, 500), [121.4737, -0.1276, 151.2093]])
    lat = np.concatenate([rng.uniform(18, 53, 500), [31.2304, 51.5072, -33.8688]])
    glon, glat = wgs84_to_gcj02_array(lon, lat)
    for x, y, gx, gy in zip(lon, lat, glon, glat, strict=True):
        ex, ey = wgs84_to_gcj02(float(x), float(y))
        assert gx == pytest.approx(ex, abs=1e-12) and gy == pytest.approx(ey, abs=1e-12)
    # London and Sydney are outside China: unchanged
    assert (glon[-2], glat[-2]) == (lon[-2], lat[-2]) and (glon[-1], glat[-1]) == (lon[-1], lat[-1])


def test_shift_geometry_moves_every_vertex_and_round_trips():
    line = {
        "type": "MultiLineString",
        "coordinates": [[[121.47, 31.23], [121.48, 31.235]], [[121.46, 31.22], [121.461, 31.221]]],
    }
    assert shift_geometry(line, WGS84) is line
    shifted = shift_geometry(line, GCJ02)
    assert shifted["type"] == "MultiLineString"
    for part, shifted_part in zip(line["coordinates"], shifted["coordinates"], strict=True):
        for (x, y), (gx, gy) in zip(part, shifted_part, strict=True):
            # the offset in Shanghai is several hundred metres, and the inverse brings it back within 1 cm
            assert abs(gx - x) > 0.003
            bx, by = gcj02_to_wgs84(gx, gy)
            assert bx == pytest.approx(x, abs=1e-7) and by == pytest.approx(y, abs=1e-7)
    point = shift_geometry({"type": "Point", "coordinates": [121.47, 31.23]}, GCJ02)
    assert point["coordinates"] == pytest.approx(list(wgs84_to_gcj02(121.47, 31.23)))
    assert shift_latlon(31.23, 121.47, GCJ02) == pytest.approx(wgs84_to_gcj02(121.47, 31.23)[::-1])


@pytest.mark.parametrize(
    ("tiles", "datum"),
    [("none", WGS84), ("osm", WGS84), ("amap", GCJ02), ("http://tiles.local/{z}/{x}/{y}.png", WGS84)],
)
def test_datum_follows_the_configured_base_map(settings, tiles, datum):
    settings.MAP_TILES = tiles
    assert overlay_datum() == datum
