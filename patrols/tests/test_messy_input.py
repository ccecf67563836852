"""Bad and messy tracks, through the upload API: each is cleaned, refused or de-duplicated, with a message."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from shapely.geometry import LineString

from common.geo import wgs84_to_gcj02
from lanes.models import Lane
from patrols.models import Patrol, PatrolLane
from patrols.tests.conftest import TZ, Fixes, geojson, gpx, morning, single_line, utm, walk, with_jumps
from people.models import Person

pytestmark = pytest.mark.urls("patrols.tests.urls")

DAY = date(2025, 3, 4)
URL = "/api/patrols/upload/"


@pytest.fixture
def road(city, db):
    lanes = [(single_line(lane), lane) for lane in Lane.objects.filter(name="福州路")]
    return max(((line.length, line, lane) for line, lane in lanes if line is not None), key=lambda x: x[0])[1:]


@pytest.fixture
def client_for(db):
    def make(name="巡查员乙"):
        user = get_user_model().objects.create_user(username=f"u-{name}", password="x-Secret-123")
        person = Person.objects.create(name=name, user=user)
        client = APIClient()
        client.force_authenticate(user)
        client.person = person
        return client

    return make


@pytest.fixture
def client(client_for):
    return client_for()


def post(client, data: bytes, name="track.gpx", **fields):
    return client.post(URL, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def covered(patrol_id: int) -> set[int]:
    return set(PatrolLane.objects.filter(patrol_id=patrol_id, covered=True).values_list("lane_id", flat=True))


def test_gps_jumps_are_removed_and_the_track_stays_on_the_street(road, client):
    line, lane = road
    clean = walk(line, start=morning(DAY), seed=21)
    jumpy = with_jumps(clean, at=[0, 60, 61, 140], offset_m=700.0)
    r = post(client, gpx(jumpy))
    assert r.status_code == 201, r.json()
    feature = r.json()["patrols"]["features"][0]
    assert feature["properties"]["cleaning"]["dropped"] == {"jump": 4}
    assert any("漂移" in m for m in feature["properties"]["cleaning"]["messages"])
    track = utm(LineString(feature["geometry"]["coordinates"]))
    assert track.hausdorff_distance(line) < 40.0  # no spike left: every vertex near the street
    assert len(feature["geometry"]["coordinates"]) == len(clean) - 4
    assert lane.id in covered(feature["id"])


def test_a_real_signal_gap_is_kept_not_taken_for_a_jump(road, client):
    """A patroller who loses signal for two minutes and reappears 150 m on is walking, not jumping."""
    line, _lane = road
    fixes = walk(line, start=morning(DAY), seed=4)
    keep = [i for i in range(len(fixes)) if not 40 <= i < 70]
    gap = Fixes(fixes.lon[keep], fixes.lat[keep], [fixes.t[i] for i in keep], fixes.true_path)
    r = post(client, gpx(gap))
    assert r.status_code == 201
    assert r.json()["patrols"]["features"][0]["properties"]["cleaning"]["dropped"] == {}


def test_a_spike_in_a_track_without_times_is_removed(road, client):
    line, lane = road
    fixes = with_jumps(walk(line, start=morning(DAY), seed=8), at=[50], offset_m=900.0)
    r = post(client, geojson(fixes, times=False), name="t.geojson", day=DAY.isoformat())
    assert r.status_code == 201, r.json()
    props = r.json()["patrols"]["features"][0]["properties"]
    assert props["cleaning"]["dropped"] == {"jump": 1}
    assert props["day"] == DAY.isoformat() and props["started_at"] is None
    assert lane.id in covered(r.json()["patrols"]["features"][0]["id"])


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (b"", "空"),
        (b'<?xml version="1.0"?><gpx version="1.1"><trk><trkseg></trkseg></trk></gpx>', "没有轨迹点"),
        (b'<gpx><wpt lat="31.23" lon="121.47"/></gpx>', "没有轨迹点"),
        (b'<gpx><trk><trkseg><trkpt lat="31.23" lon="121.47"><time>2025-03-04T01:00:00Z</time></trkpt>', "格式错误"),
        (b'<gpx><trk><trkseg><trkpt lat="abc" lon="121.47"/></trkseg></trk></gpx>', "不是数字"),
        (b'<gpx><trk><trkseg><trkpt lon="121.47"/></trkseg></trk></gpx>', "缺少经纬度"),
        (
            b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b'<gpx><trk><trkseg><trkpt lat="31.23" lon="121.47"><name>&b;</name></trkpt></trkseg></trk></gpx>',
            "DOCTYPE",
        ),
        (b'{"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[121.47, 31.23]', "格式错误"),
        (b'{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": []}}', "Polygon"),
        (b'{"type": "FeatureCollection", "features": []}', "没有要素"),
        (b"just some text", "无法识别"),
    ],
)
def test_malformed_files_are_refused_with_a_message(client, payload, needle):
    r = post(client, payload, name="track.dat")
    assert r.status_code == 400
    assert needle in r.json()["detail"]
    assert not Patrol.objects.exists()


def test_one_point_and_repeated_point_tracks_are_refused(road, client):
    line, _lane = road
    one = walk(line, start=morning(DAY))
    one = Fixes(one.lon[:1], one.lat[:1], one.t[:1], one.true_path)
    r = post(client, gpx(one))
    assert r.status_code == 400 and "少于 2 个" in r.json()["detail"]
    same = Fixes(
        np.repeat(one.lon, 5), np.repeat(one.lat, 5), [one.t[0] + timedelta(seconds=i) for i in range(5)], one.true_path
    )
    r = post(client, gpx(same))
    assert r.status_code == 400 and "少于 2 个" in r.json()["detail"]


@pytest.mark.parametrize(("lon", "lat"), [(121.47, 95.0), (200.0, 31.2), (121.47, -91.0)])
def test_coordinates_out_of_range_are_refused(road, client, lon, lat):
    line, _lane = road
    fixes = walk(line, start=morning(DAY))
    fixes.lon[10], fixes.lat[10] = lon, lat
    r = post(client, gpx(fixes))
    assert r.status_code == 400
    assert "第 11 个点" in r.json()["detail"]


def test_non_finite_geojson_coordinates_are_refused(client):
    body = b'{"type": "LineString", "coordinates": [[121.47, 31.23], [121.471, NaN]]}'
    r = post(client, body, name="t.geojson", day=DAY.isoformat())
    assert r.status_code == 400


@override_settings(PATROL_UPLOAD_MAX_BYTES=2_000)
def test_oversized_files_answer_413(road, client):
    r = post(client, gpx(walk(road[0], start=morning(DAY))))
    assert r.status_code == 413
    assert "上限" in r.json()["detail"]


@override_settings(PATROL_MAX_POINTS=50)
def test_too_many_points_answer_413(road, client):
    r = post(client, gpx(walk(road[0], start=morning(DAY))))
    assert r.status_code == 413


def test_a_track_dated_on_another_day_than_declared_is_refused(road, client):
    r = post(client, gpx(walk(road[0], start=morning(DAY))), day=(DAY + timedelta(days=1)).isoformat())
    assert r.status_code == 400
    assert DAY.isoformat() in r.json()["detail"]


def test_a_track_without_times_needs_a_day(road, client):
    r = post(client, gpx(walk(road[0], start=morning(DAY)), times=False))
    assert r.status_code == 400 and "day" in r.json()["detail"]
    r = post(client, gpx(walk(road[0], start=morning(DAY)), times=False), day=DAY.isoformat())
    assert r.status_code == 201
    assert r.json()["patrols"]["features"][0]["properties"]["day"] == DAY.isoformat()


def test_a_track_across_midnight_is_split_into_one_patrol_per_day(road, client):
    line, lane = road
    start = datetime(DAY.year, DAY.month, DAY.day, 23, 58, tzinfo=TZ)
    r = post(client, gpx(walk(line, start=start, speed_mps=2.0, seed=1)))
    assert r.status_code == 201, r.json()
    patrols = r.json()["patrols"]["features"]
    assert [p["properties"]["day"] for p in patrols] == [DAY.isoformat(), (DAY + timedelta(days=1)).isoformat()]
    assert any("午夜" in m for m in r.json()["messages"])
    for p in patrols:
        local = [datetime.fromisoformat(p["properties"][k]).astimezone(TZ).date() for k in ("started_at", "ended_at")]
        assert local == [date.fromisoformat(p["properties"]["day"])] * 2
    # each half covers part of the street; neither alone is enough for a 1.2 km lane walked 2 min + 8 min
    total = sum(len(p["geometry"]["coordinates"]) for p in patrols)
    assert total == len(walk(line, start=start, speed_mps=2.0, seed=1))


def test_the_same_upload_twice_returns_the_first_patrol(road, client, client_for):
    data = gpx(walk(road[0], start=morning(DAY), seed=2))
    first = post(client, data)
    assert first.status_code == 201
    again = post(client, data, name="renamed.gpx")
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert [p["id"] for p in again.json()["patrols"]["features"]] == [
        p["id"] for p in first.json()["patrols"]["features"]
    ]
    assert "已上传过" in again.json()["messages"][0]
    assert Patrol.objects.count() == 1
    # another person uploading the same file records their own patrol
    other = post(client_for("巡查员丙"), data)
    assert other.status_code == 201 and Patrol.objects.count() == 2


def test_a_track_far_from_every_lane_is_refused(road, client):
    line, _lane = road
    from shapely.affinity import translate

    away = translate(line, xoff=6_000.0, yoff=-6_000.0)  # 8.5 km south-east, outside the extract
    r = post(client, gpx(walk(away, start=morning(DAY))))
    assert r.status_code == 400
    assert "200 米" in r.json()["detail"]
    assert not Patrol.objects.exists()


def test_gcj02_tracks_are_converted(road, client, client_for):
    line, lane = road
    fixes = walk(line, start=morning(DAY), seed=6)
    gcj = [list(wgs84_to_gcj02(float(x), float(y))) for x, y in zip(fixes.lon, fixes.lat, strict=True)]
    data = geojson(fixes, coords=gcj)
    r = post(client, data, name="amap.geojson", coordsys="gcj02")
    assert r.status_code == 201, r.json()
    assert lane.id in covered(r.json()["patrols"]["features"][0]["id"])
    # read as WGS-84, the same file lies hundreds of metres off and does not cover the street
    r = post(client_for("巡查员丁"), data, name="amap.geojson")
    assert r.status_code == 201  # still near other streets of the extract
    assert lane.id not in covered(r.json()["patrols"]["features"][0]["id"])


def test_fixes_out_of_order_are_sorted_and_future_times_refused(road, client):
    line, lane = road
    fixes = walk(line, start=morning(DAY), seed=12)
    order = list(range(len(fixes)))
    order[20], order[21] = order[21], order[20]
    shuffled = Fixes(fixes.lon[order], fixes.lat[order], [fixes.t[i] for i in order], fixes.true_path)
    r = post(client, gpx(shuffled))
    assert r.status_code == 201
    assert any("排序" in m for m in r.json()["messages"])
    future = walk(line, start=timezone.now() + timedelta(hours=2))
    r = post(client, gpx(future))
    assert r.status_code == 400 and "晚于当前时间" in r.json()["detail"]


def test_point_feature_collections_with_times_are_read(road, client):
    line, lane = road
    fixes = walk(line, start=morning(DAY), seed=13)
    features = [
        {
            "type": "Feature",
            "properties": {"time": int(t.timestamp() * 1000)},
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
        }
        for x, y, t in zip(fixes.lon, fixes.lat, fixes.t, strict=True)
    ]
    r = post(client, json.dumps({"type": "FeatureCollection", "features": features}).encode(), name="phone.json")
    assert r.status_code == 201, r.json()
    assert r.json()["patrols"]["features"][0]["properties"]["source"] == "geojson"
    assert lane.id in covered(r.json()["patrols"]["features"][0]["id"])


def test_upload_needs_a_login_and_a_person(road, db):
    data = gpx(walk(road[0], start=morning(DAY)))
    assert APIClient().post(URL, {"file": SimpleUploadedFile("t.gpx", data)}, format="multipart").status_code == 403
    user = get_user_model().objects.create_user(username="nobody", password="x-Secret-123")
    c = APIClient()
    c.force_authenticate(user)
    r = c.post(URL, {"file": SimpleUploadedFile("t.gpx", data)}, format="multipart")
    assert r.status_code == 403 and "人员" in r.json()["detail"]


def test_the_import_command_is_a_dry_run_unless_committed(road, client, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    good = tmp_path / "walk.gpx"
    good.write_bytes(gpx(walk(road[0], start=morning(DAY), seed=30)))
    bad = tmp_path / "broken.gpx"
    bad.write_bytes(b"<gpx><trk>")
    out, err = StringIO(), StringIO()
    call_command("import_tracks", str(good), str(bad), person=client.person.id, stdout=out, stderr=err)
    assert "试运行" in out.getvalue() and "保留" in out.getvalue()
    assert "broken.gpx: 未导入" in err.getvalue()
    assert not Patrol.objects.exists()
    call_command("import_tracks", str(good), person=client.person.id, commit=True, stdout=out, stderr=err)
    assert Patrol.objects.filter(person=client.person, day=DAY).count() == 1
    out = StringIO()
    call_command("import_tracks", str(good), person=client.person.id, commit=True, stdout=out, stderr=err)
    assert "已上传过" in out.getvalue() and Patrol.objects.count() == 1
