"""Track reading and cleaning rules, without the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from patrols.importers.tracks import TrackError, parse_geojson, parse_gpx, parse_time, parse_track
from patrols.tracks import Fix, clean, distance_m, split_by_day

T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
M_PER_DEG_LAT = 111_000.0


def line_fixes(n: int, *, step_m: float = 5.0, dt_s: float = 4.0, t0=T0) -> list[Fix]:
    """A straight walk north from (121.47, 31.23): `step_m` metres every `dt_s` seconds."""
    return [
        Fix(121.47, 31.23 + i * step_m / M_PER_DEG_LAT, t0 + timedelta(seconds=i * dt_s), None, i) for i in range(n)
    ]


def test_gpx_namespaces_segments_and_route_fallback():
    gpx10 = b"""<?xml version="1.0"?><gpx version="1.0" xmlns="http://www.topografix.com/GPX/1/0">
      <wpt lat="1" lon="1"/><trk><trkseg><trkpt lat="31.23" lon="121.47"><time>2025-03-03T01:00:00Z</time></trkpt></trkseg>
      <trkseg><trkpt lat="31.231" lon="121.471"><time>2025-03-03T09:00:10+08:00</time></trkpt></trkseg></trk></gpx>"""
    pts = parse_gpx(gpx10)
    assert [(p.lon, p.lat) for p in pts] == [(121.47, 31.23), (121.471, 31.231)]
    assert pts[1].t - pts[0].t == timedelta(seconds=10)
    route = b'<gpx><rte><rtept lat="31.23" lon="121.47"/><rtept lat="31.24" lon="121.48"/></rte></gpx>'
    assert len(parse_gpx(route)) == 2 and parse_gpx(route)[0].t is None


def test_naive_gpx_times_are_utc_and_unix_times_are_read():
    assert parse_time("2025-03-03T01:00:00") == T0
    assert parse_time(T0.timestamp()) == T0
    assert parse_time(T0.timestamp() * 1000) == T0
    with pytest.raises(TrackError):
        parse_time("yesterday")


def test_geojson_multilinestring_with_nested_times():
    doc = {
        "type": "Feature",
        "properties": {"coordTimes": [["2025-03-03T01:00:00Z", "2025-03-03T01:00:05Z"], ["2025-03-03T01:01:00Z"]]},
        "geometry": {
            "type": "MultiLineString",
            "coordinates": [[[121.47, 31.23], [121.4701, 31.23]], [[121.4702, 31.23]]],
        },
    }
    import json

    pts = parse_geojson(json.dumps(doc).encode())
    assert len(pts) == 3 and pts[2].t == T0 + timedelta(minutes=1)
    doc["properties"]["coordTimes"] = [["2025-03-03T01:00:00Z"], ["2025-03-03T01:01:00Z"]]
    with pytest.raises(TrackError, match="个数"):
        parse_geojson(json.dumps(doc).encode())


def test_the_format_is_sniffed_from_the_content_not_the_name():
    assert parse_track(b'{"type": "LineString", "coordinates": [[1, 2], [3, 4]]}', filename="x.gpx").format == "geojson"
    assert parse_track(b'\xef\xbb\xbf<gpx><trk><trkseg><trkpt lat="1" lon="2"/></trkseg></trk></gpx>').format == "gpx"


def test_a_jump_at_the_very_first_fix_is_removed():
    fixes = line_fixes(30)
    fixes[0] = Fix(121.48, 31.24, fixes[0].t, None, 0)  # ~1.4 km away, 4 s before the next fix
    result = clean(fixes, now=T0 + timedelta(hours=1))
    assert [f.index for f in result.dropped] == [0]
    assert result.fixes[0].index == 1


def test_a_run_of_drifted_fixes_is_removed_but_a_real_relocation_is_kept():
    fixes = line_fixes(60)
    for i in range(20, 24):  # four fixes drifted 500 m east, then back
        fixes[i] = Fix(fixes[i].lon + 0.0053, fixes[i].lat, fixes[i].t, None, i)
    result = clean(fixes, now=T0 + timedelta(hours=1))
    assert sorted(f.index for f in result.dropped) == [20, 21, 22, 23]

    moved = line_fixes(60)
    for i in range(30, 60):  # after fix 30 the walk continues 2 km east (a vehicle ride with no fixes)
        moved[i] = Fix(moved[i].lon + 0.021, moved[i].lat, moved[i].t, None, i)
    result = clean(moved, now=T0 + timedelta(hours=1))
    assert len(result.fixes) >= 60 - 8  # at most the first few fixes of the new place wait for confirmation
    assert result.fixes[-1].index == 59


def test_noise_between_fixes_a_second_apart_is_not_speed():
    fixes = line_fixes(40, step_m=1.4, dt_s=1.0)
    for i in range(0, 40, 2):  # ±8 m of zig-zag between consecutive 1 s fixes
        fixes[i] = Fix(fixes[i].lon + 8 / 95_000, fixes[i].lat, fixes[i].t, None, i)
    assert clean(fixes, now=T0 + timedelta(hours=1)).dropped == []


def test_inaccurate_repeated_and_timeless_fixes():
    fixes = line_fixes(10)
    fixes[3].accuracy_m = 250.0
    fixes.insert(5, Fix(fixes[4].lon, fixes[4].lat, fixes[4].t + timedelta(seconds=1), None, 99))
    fixes.append(Fix(121.47, 31.25, None, None, 100))
    result = clean(fixes, now=T0 + timedelta(hours=1))
    assert {f.reason for f in result.dropped} == {"inaccurate", "repeat", "no_time"}
    assert len(result.fixes) == 9  # ten walked, one inaccurate dropped (the repeat and the timeless fix were extra)
    assert len(result.messages) == 2  # inaccurate and missing time are worth saying; repeats are not


def test_split_by_local_day():
    start = datetime(2025, 3, 3, 15, 59, 50, tzinfo=UTC)  # 23:59:50 in Shanghai
    days = split_by_day(line_fixes(6, t0=start))
    assert [str(d) for d in days] == ["2025-03-03", "2025-03-04"]
    assert [len(v) for v in days.values()] == [3, 3]


def test_distance_is_haversine_metres():
    a, b = Fix(121.47, 31.23), Fix(121.47, 31.24)
    assert distance_m(a, b) == pytest.approx(1112, rel=0.002)
