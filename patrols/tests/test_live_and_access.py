"""Live patrols from the phone page's API, who may see and do what, the report API, pages and schema."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from patrols import services
from patrols.models import DailyReport, Patrol, PatrolPoint, PatrolStatus
from patrols.tests.conftest import TZ, WORLD_DAY, gpx, morning, single_line, walk

DAY = WORLD_DAY

pytestmark = pytest.mark.urls("patrols.tests.urls")


def client_of(user) -> APIClient:
    c = APIClient()
    c.force_login(user)
    return c


def live_fixes(line, *, seed=1):
    """Fixes along `line` ending now (cycling pace), never before today's local midnight."""
    now = timezone.now()
    midnight = datetime.combine(timezone.localdate(), datetime.min.time(), tzinfo=TZ)
    duration = timedelta(seconds=line.length / 5.0)
    start = max(now - duration, midnight + timedelta(seconds=1))
    fixes = walk(line, start=start, speed_mps=5.0, seed=seed)
    return [
        {"lon": float(x), "lat": float(y), "t": t.isoformat(), "accuracy": 8}
        for x, y, t in zip(fixes.lon, fixes.lat, fixes.t, strict=True)
    ]


def test_a_live_patrol_point_by_point(world):
    lane = world.lanes["B"]
    c = client_of(world.p1.user)
    r = c.post("/api/patrols/", {"coordsys": "wgs84", "notes": "早班"}, format="json")
    assert r.status_code == 201, r.json()
    pid = r.json()["id"]
    assert r.json()["properties"]["status"] == "live" and r.json()["geometry"] is None
    pts = live_fixes(single_line(lane))
    half = len(pts) // 2
    r = c.post(f"/api/patrols/{pid}/points/", {"points": pts[:half]}, format="json")
    assert r.status_code == 200 and r.json()["stored"] == half
    again = c.post(f"/api/patrols/{pid}/points/", {"points": pts[:half]}, format="json")  # a phone retrying
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == half
    yesterday = [
        {"lon": pts[0]["lon"], "lat": pts[0]["lat"], "t": (timezone.now() - timedelta(days=1, hours=1)).isoformat()}
    ]
    r = c.post(f"/api/patrols/{pid}/points/", {"points": pts[half:] + yesterday}, format="json")
    assert r.json()["stored"] == len(pts) - half + 1
    assert any("不在巡查当天" in m for m in r.json()["messages"])
    assert r.json()["points_kept"] == len(pts), Patrol.objects.get(pk=pid).cleaning
    bad = c.post(f"/api/patrols/{pid}/points/", {"points": [{"lon": 121.47, "lat": 91.0}]}, format="json")
    assert bad.status_code == 400
    assert PatrolPoint.objects.filter(patrol_id=pid).count() == len(pts) + 1
    r = c.post(f"/api/patrols/{pid}/finish/")
    assert r.status_code == 200, r.json()
    props = r.json()["properties"]
    assert props["status"] == "finished"
    assert lane.id in [ln["id"] for ln in props["lanes"] if ln["covered"]]
    assert len(r.json()["geometry"]["coordinates"]) == len(pts)
    late = c.post(f"/api/patrols/{pid}/points/", {"points": pts[:1]}, format="json")
    assert late.status_code == 409
    f = c.post(
        f"/api/patrols/{pid}/findings/",
        {"description": "占道经营", "category_code": "SJ0402", "lon": pts[5]["lon"], "lat": pts[5]["lat"]},
        format="json",
    )
    assert f.status_code == 201 and f.json()["properties"]["case_id"]


def test_a_live_patrol_without_a_track_cannot_finish_but_can_be_discarded(world):
    c = client_of(world.p2.user)
    pid = c.post("/api/patrols/", {}, format="json").json()["id"]
    pts = live_fixes(single_line(world.lanes["E"]))[:1]
    c.post(f"/api/patrols/{pid}/points/", {"points": pts}, format="json")
    r = c.post(f"/api/patrols/{pid}/finish/")
    assert r.status_code == 400 and "少于 2 个" in r.json()["detail"]
    assert c.delete(f"/api/patrols/{pid}/").status_code == 204
    assert not Patrol.objects.filter(pk=pid).exists()


def test_gcj02_live_points_are_converted(world):
    from common.geo import wgs84_to_gcj02

    c = client_of(world.p1.user)
    pid = c.post("/api/patrols/", {"coordsys": "gcj02"}, format="json").json()["id"]
    pts = live_fixes(single_line(world.lanes["A"]), seed=4)
    for p in pts:
        p["lon"], p["lat"] = wgs84_to_gcj02(p["lon"], p["lat"])
    c.post(f"/api/patrols/{pid}/points/", {"points": pts}, format="json")
    r = c.post(f"/api/patrols/{pid}/finish/")
    assert world.lanes["A"].id in [ln["id"] for ln in r.json()["properties"]["lanes"] if ln["covered"]]


@pytest.fixture
def closed(world):
    a = services.patrol_upload(
        person=world.p1, data=gpx(walk(single_line(world.lanes["A"]), start=morning(DAY))), filename="a.gpx"
    ).patrols[0]
    other = services.patrol_upload(
        person=world.p3, data=gpx(walk(single_line(world.lanes["F"]), start=morning(DAY))), filename="f.gpx"
    ).patrols[0]
    services.close_day(day=DAY)
    return {"a": a, "other": other}


def test_who_sees_which_patrols(world, closed):
    from cases.models import StaffScope

    a, other = closed["a"], closed["other"]
    users = get_user_model().objects

    def ids(user):
        r = client_of(user).get("/api/patrols/", {"day": DAY.isoformat()})
        assert r.status_code == 200
        return {f["id"] for f in r.json()["features"]}

    assert ids(world.p1.user) == {a.id}
    assert ids(world.p2.user) == set()
    assert ids(world.leader1.user) == {a.id}  # leads p1's group
    assert ids(world.leader2.user) == set()
    staff = users.create_user("staff-west", password="x-Secret-1")
    StaffScope.objects.create(user=staff, area=world.so_west)
    assert ids(staff) == {other.id}  # p3's department belongs to the west street office
    admin = users.create_superuser("root", password="x-Secret-1")
    assert ids(admin) == {a.id, other.id}
    assert client_of(world.p2.user).get(f"/api/patrols/{a.id}/").status_code == 404
    assert client_of(world.leader1.user).get(f"/api/patrols/{a.id}/").status_code == 200
    r = client_of(world.leader1.user).post(f"/api/patrols/{a.id}/findings/", {"description": "x"}, format="json")
    assert r.status_code == 403  # leaders read, only the patroller writes
    assert APIClient().get("/api/patrols/").status_code == 403


def test_reports_api_pages_and_xlsx(world, closed):
    leader = client_of(world.leader1.user)
    r = leader.get("/api/patrols/reports/", {"day": DAY.isoformat()})
    assert r.status_code == 200
    seen = {(x["scope"], x["scope_id"]) for x in r.json()}
    assert seen == {("work_group", world.wg1.id), ("department", world.d1.id)}
    report = DailyReport.objects.get(day=DAY, scope="work_group", scope_id=world.wg1.id)
    detail = leader.get(f"/api/patrols/reports/{report.id}/")
    assert detail.status_code == 200 and detail.json()["data"]["lanes_due"] == 3
    x = leader.get(f"/api/patrols/reports/{report.id}/xlsx/")
    assert x.status_code == 200 and x["Content-Type"].startswith("application/vnd.openxmlformats")
    summary = {row[0]: row[1] for row in load_workbook(io.BytesIO(x.content))["汇总"].iter_rows(values_only=True)}
    assert summary["已巡街巷"] == report.lanes_covered
    wg3 = DailyReport.objects.get(day=DAY, scope="work_group", scope_id=world.wg3.id)
    assert leader.get(f"/api/patrols/reports/{wg3.id}/").status_code == 404
    page = leader.get("/patrols/reports/", {"day": DAY.isoformat()})
    assert page.status_code == 200 and "第一组" in page.content.decode() and "背街组" not in page.content.decode()
    page = leader.get(f"/patrols/reports/{report.id}/")
    assert page.status_code == 200 and "福州路" in page.content.decode()
    assert leader.get(f"/patrols/reports/{report.id}/xlsx/").status_code == 200
    assert leader.get("/patrols/live/").status_code == 200


def test_coverage_api_is_scoped(world, closed):
    leader = client_of(world.leader1.user)
    r = leader.get("/api/patrols/coverage/", {"day": DAY.isoformat(), "by": "work_group"})
    assert r.status_code == 200 and r.json()["closed"] is True
    assert [(x["id"], x["due"], x["covered"]) for x in r.json()["rows"]] == [(world.wg1.id, 3, 1)]
    admin = client_of(get_user_model().objects.create_superuser("root2", password="x-Secret-1"))
    rows = admin.get("/api/patrols/coverage/", {"day": DAY.isoformat(), "by": "work_group"}).json()["rows"]
    assert {x["id"] for x in rows} >= {world.wg1.id, world.wg2.id, world.wg3.id}
    missed = leader.get("/api/patrols/coverage/lanes/", {"day": DAY.isoformat(), "missed": "1"}).json()
    assert {f["id"] for f in missed["features"]} == {world.lanes["B"].id, world.lanes["C"].id}
    assert all(f["properties"]["missed"] for f in missed["features"])
    assert missed["features"][0]["geometry"]["type"] == "MultiLineString"
    not_closed = leader.get("/api/patrols/coverage/", {"day": (DAY + timedelta(days=30)).isoformat()}).json()
    assert not_closed["closed"] is False
    assert leader.get("/api/patrols/coverage/", {"day": "yesterday"}).status_code == 400


def test_closing_a_day_by_api_needs_the_permission(world):
    from django.contrib.auth.models import Permission

    assert client_of(world.p1.user).post(f"/api/patrols/days/{DAY.isoformat()}/close/").status_code == 403
    world.p1.user.user_permissions.add(Permission.objects.get(codename="close_patrol_day"))
    r = client_of(get_user_model().objects.get(pk=world.p1.user.pk)).post(f"/api/patrols/days/{DAY.isoformat()}/close/")
    assert r.status_code == 200 and r.json()["reports"] == DailyReport.objects.filter(day=DAY).count()
    future = (date.today() + timedelta(days=5)).isoformat()
    assert client_of(world.p1.user).post(f"/api/patrols/days/{future}/close/").status_code == 400


def test_the_schema_documents_the_patrol_api(world):
    r = client_of(world.p1.user).get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in (
        "/api/patrols/",
        "/api/patrols/upload/",
        "/api/patrols/{id}/points/",
        "/api/patrols/coverage/",
        "/api/patrols/reports/{id}/xlsx/",
    ):
        assert p in paths, p
    assert "413" in paths["/api/patrols/upload/"]["post"]["responses"]


def test_live_status_choices_are_consistent():
    assert {s.value for s in PatrolStatus} == {"live", "finished", "flagged"}


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_photos_and_ticked_lanes(world, closed, tmp_path, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    a = closed["a"]
    c = client_of(world.p1.user)
    r = c.patch(
        f"/api/patrols/{a.id}/",
        {"ticked_lanes": [world.lanes["A"].id, world.lanes["C"].id], "notes": "C 路段施工未进入"},
        format="json",
    )
    assert r.status_code == 200
    assert sorted(r.json()["properties"]["ticked_lanes"]) == sorted([world.lanes["A"].id, world.lanes["C"].id])
    r = c.patch(f"/api/patrols/{a.id}/", {"ticked_lanes": [999_999_999]}, format="json")
    assert r.status_code == 400 and "999999999" in r.json()["detail"]
    r = c.post(f"/api/patrols/{a.id}/photos/", {"photos": [SimpleUploadedFile("p.png", _png())]}, format="multipart")
    assert r.status_code == 201 and len(r.json()) == 1
    assert list(tmp_path.rglob("*.png"))
    r = c.post(
        f"/api/patrols/{a.id}/photos/", {"photos": [SimpleUploadedFile("p.png", b"not an image")]}, format="multipart"
    )
    assert r.status_code == 400
    point = a.track.coords[3]
    r = c.post(
        f"/api/patrols/{a.id}/findings/",
        {
            "description": "路灯不亮",
            "category_code": "LBB02",
            "lon": point[0],
            "lat": point[1],
            "photos": [SimpleUploadedFile("f.png", _png())],
        },
        format="multipart",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["properties"]["case_id"] and len(r.json()["properties"]["photos"]) == 1
    from cases.models import Attachment

    assert Attachment.objects.filter(case_id=r.json()["properties"]["case_id"]).count() == 1
