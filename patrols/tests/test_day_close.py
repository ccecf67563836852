"""Closing a day: coverage per lane reconciled with who answers for it, daily reports and their XLSX export
(read back with openpyxl), rest days, late uploads, missed-lane alerts, the periodic tasks, history."""

from __future__ import annotations

import io
import sys
import types
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.test import override_settings
from openpyxl import load_workbook
from rest_framework.test import APIClient

from lanes.models import Lane, LaneKind
from patrols import selectors, services, tasks
from patrols.models import DailyReport, LaneDayCoverage, Patrol, PatrolLane, PatrolStatus
from patrols.reports import report_xlsx
from patrols.tests.conftest import TZ, WORLD_DAY, gpx, morning, part, single_line, walk

pytestmark = pytest.mark.urls("patrols.tests.urls")

DAY = WORLD_DAY  # a Wednesday


def upload(person, line, *, day=DAY, hour=9, seed=1):
    return services.patrol_upload(
        person=person, data=gpx(walk(line, start=morning(day, hour), seed=seed)), filename="t.gpx"
    ).patrols


@pytest.fixture
def day_walked(world):
    """P1 walks A and B fully, P2 walks half of E; nobody walks C, F, G."""
    a = upload(world.p1, single_line(world.lanes["A"]), hour=8)[0]
    b = upload(world.p1, single_line(world.lanes["B"]), hour=10)[0]
    e = upload(world.p2, part(single_line(world.lanes["E"]), 0.0, 0.5), hour=9)[0]
    return {"A": a, "B": b, "E": e}


def row(lane) -> LaneDayCoverage:
    return LaneDayCoverage.objects.get(day=DAY, lane=lane)


def test_close_day_reconciles_coverage_with_responsibility(world, day_walked):
    result = services.close_day(day=DAY)
    lanes = world.lanes
    assert result.lanes == Lane.objects.count() == LaneDayCoverage.objects.filter(day=DAY).count()
    assert result.patrols == 3
    assert {k for k, lane in lanes.items() if row(lane).covered} == {"A", "B"}
    assert row(lanes["A"]).patrol_ids == [day_walked["A"].id]
    assert row(lanes["A"]).patroller_ids == [world.p1.id]
    assert row(lanes["A"]).work_group_ids == [world.wg1.id]
    assert row(lanes["E"]).best_share == pytest.approx(0.5 + 20 / single_line(lanes["E"]).length, abs=0.04)
    assert row(lanes["F"]).department_ids == [world.d2.id]  # through the lane chief's department
    assert row(lanes["F"]).chief_ids == [world.p3.id]
    assert row(lanes["A"]).street_office_id == world.so_east.id

    by_group = {r["id"]: r for r in selectors.coverage_summary(day=DAY, by="work_group")}
    assert (by_group[world.wg1.id]["due"], by_group[world.wg1.id]["covered"], by_group[world.wg1.id]["missed"]) == (
        3,
        2,
        1,
    )
    assert by_group[world.wg1.id]["rate"] == pytest.approx(2 / 3)
    assert (by_group[world.wg2.id]["due"], by_group[world.wg2.id]["covered"], by_group[world.wg2.id]["rate"]) == (
        1,
        0,
        0.0,
    )
    by_dept = {r["id"]: r for r in selectors.coverage_summary(day=DAY, by="department")}
    assert (by_dept[world.d1.id]["due"], by_dept[world.d1.id]["covered"]) == (4, 2)
    assert (by_dept[world.d2.id]["due"], by_dept[world.d2.id]["covered"]) == (2, 0)
    assigned = {lane.id for lane in lanes.values()}
    assert by_dept[None]["due"] == Lane.objects.exclude(id__in=assigned).count()

    # street office and community figures agree with an independent count from the patrols' own coverage
    walked = set(PatrolLane.objects.filter(covered=True, patrol__day=DAY).values_list("lane_id", flat=True))
    by_office = {r["id"]: r for r in selectors.coverage_summary(day=DAY, by="street_office")}
    for office in (world.so_west, world.so_east):
        in_office = set(Lane.objects.filter(community__parent=office).values_list("id", flat=True))
        assert by_office[office.id]["due"] == len(in_office)
        assert by_office[office.id]["covered"] == len(in_office & walked)
    by_community = selectors.coverage_summary(day=DAY, by="community")
    assert sum(r["due"] for r in by_community) == Lane.objects.count()


def test_person_day_separates_own_patrols_from_others(world, day_walked):
    services.close_day(day=DAY)
    mine = selectors.person_day(person_id=world.p1.id, day=DAY)
    assert mine["due"] == 3
    assert set(mine["covered_by_self"]) == {world.lanes["A"].id, world.lanes["B"].id}
    assert mine["missed"] == [world.lanes["C"].id]
    chief = selectors.person_day(person_id=world.p3.id, day=DAY)
    assert chief["answered_for"] == [world.lanes["F"].id] and chief["missed"] == [world.lanes["F"].id]


def test_daily_reports_and_xlsx_agree_with_the_coverage_tables(world, day_walked):
    finding = services.finding_add(
        patrol=day_walked["A"],
        description="路口有暴露垃圾",
        category_code="SJ0101",
        point=Point(*day_walked["A"].track.coords[10], srid=4326),
    )
    assert finding.lane_id is not None
    services.close_day(day=DAY)
    report = DailyReport.objects.get(day=DAY, scope="work_group", scope_id=world.wg1.id)
    rows = LaneDayCoverage.objects.filter(day=DAY, work_group_ids__contains=[world.wg1.id])
    due = rows.filter(due=True)
    assert report.lanes_due == due.count() == 3
    assert report.lanes_covered == due.filter(covered=True).count() == 2
    assert report.lanes_missed == 1
    assert report.patrols == 2 and report.findings == 1
    assert report.data["patrollers"] == 1
    assert report.data["cases_reported"] == (1 if finding.case_id else 0)

    wb = load_workbook(io.BytesIO(report_xlsx(report)))
    assert wb.sheetnames[:2] == ["汇总", "街巷"]
    summary = {r[0]: r[1] for r in wb["汇总"].iter_rows(values_only=True)}
    assert summary["应巡街巷"] == due.count()
    assert summary["已巡街巷"] == due.filter(covered=True).count()
    assert summary["漏巡街巷"] == due.filter(covered=False).count()
    assert summary["覆盖率"] == "66.7%"
    assert summary["巡查次数"] == Patrol.objects.filter(day=DAY, work_group=world.wg1, status="finished").count()
    assert summary["发现问题"] == 1
    lane_rows = list(wb["街巷"].iter_rows(min_row=2, values_only=True))
    assert {(r[0], r[4] == "是") for r in lane_rows} == {(r.lane_id, r.covered) for r in due}
    a_row = next(r for r in lane_rows if r[0] == world.lanes["A"].id)
    assert a_row[6] == "干部甲"
    patrol_rows = list(wb["巡查"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[0] for r in patrol_rows) == sorted([day_walked["A"].id, day_walked["B"].id])
    finding_rows = list(wb["发现问题"].iter_rows(min_row=2, values_only=True))
    assert [r[4] for r in finding_rows] == ["路口有暴露垃圾"]

    dept = DailyReport.objects.get(day=DAY, scope="department", scope_id=world.d1.id)
    assert (dept.lanes_due, dept.lanes_covered) == (4, 2)
    assert {b["id"]: b["missed"] for b in dept.data["breakdown"]} == {world.wg1.id: 1, world.wg2.id: 1}
    office = DailyReport.objects.get(day=DAY, scope="street_office", scope_id=world.so_east.id)
    office_rows = LaneDayCoverage.objects.filter(day=DAY, street_office=world.so_east, due=True)
    assert office.lanes_due == office_rows.count()
    assert office.lanes_missed == office_rows.filter(covered=False).count() == len(office.data["lanes"])
    wb = load_workbook(io.BytesIO(report_xlsx(office)))
    assert "漏巡街巷" in wb.sheetnames
    assert wb["漏巡街巷"].max_row - 1 == office.lanes_missed
    by_dept = {r[0]: r[1:4] for r in wb["分组"].iter_rows(min_row=2, values_only=True)}
    assert by_dept["区城管局"] == (4, 2, 2)


def test_a_finding_with_a_category_becomes_a_case(world, day_walked):
    from cases.models import Case

    finding = services.finding_add(
        patrol=day_walked["A"],
        description="井盖缺失",
        category_code="LBB02",
        point=Point(*day_walked["A"].track.coords[5], srid=4326),
    )
    assert finding.case_error == ""
    case = Case.objects.get(pk=finding.case_id)
    assert case.source == "patrol" and case.description == "井盖缺失"
    bad = services.finding_add(patrol=day_walked["A"], description="不知道是什么", category_code="NOPE")
    assert bad.case_id is None and "NOPE" in bad.case_error


@override_settings(PATROL_REST_DAYS={"main": [], "secondary": [], "back": [DAY.isoweekday()]})
def test_rest_days_make_lanes_not_due_and_empty_groups_report_no_data(world, day_walked):
    services.close_day(day=DAY)
    for lane in world.lanes.values():
        assert row(lane).due is (lane.kind != LaneKind.BACK)
    assert world.lanes["G"].kind == LaneKind.BACK
    wg3 = DailyReport.objects.get(day=DAY, scope="work_group", scope_id=world.wg3.id)
    assert wg3.lanes_due == 0 and wg3.coverage_rate is None and wg3.data["coverage_rate"] is None
    summary = {r[0]: r[1] for r in load_workbook(io.BytesIO(report_xlsx(wg3)))["汇总"].iter_rows(values_only=True)}
    assert summary["覆盖率"] == "无数据"
    (g,) = selectors.coverage_summary(day=DAY, by="work_group", ids=[world.wg3.id])
    assert g["due"] == 0 and g["rate"] is None


def test_closing_again_after_a_late_upload_updates_everything(world, day_walked):
    services.close_day(day=DAY)
    assert not row(world.lanes["C"]).covered
    upload(world.p1, single_line(world.lanes["C"]), hour=15)
    services.close_day(day=DAY)
    assert row(world.lanes["C"]).covered
    report = DailyReport.objects.get(day=DAY, scope="work_group", scope_id=world.wg1.id)
    assert (report.lanes_covered, report.lanes_missed, report.patrols) == (3, 0, 3)
    assert DailyReport.objects.filter(day=DAY, scope="work_group", scope_id=world.wg1.id).count() == 1


def test_live_patrols_left_open_are_finished_at_close(world):
    line = single_line(world.lanes["C"])
    start = morning(DAY, 7)
    live = services.patrol_start(person=world.p1, now=start)
    fixes = walk(line, start=start, seed=3)
    pts = [
        {"lon": float(x), "lat": float(y), "t": t.isoformat()}
        for x, y, t in zip(fixes.lon, fixes.lat, fixes.t, strict=True)
    ]
    services.patrol_add_points(patrol=live, points=pts, now=start + timedelta(hours=1))
    empty = services.patrol_start(person=world.p2, now=start)
    result = services.close_day(day=DAY, now=morning(DAY + timedelta(days=1), 1))
    assert result.live_finished == 2
    live.refresh_from_db()
    empty.refresh_from_db()
    assert live.status == PatrolStatus.FINISHED and live.ended_at == fixes.t[-1]
    assert empty.status == PatrolStatus.FLAGGED
    assert row(world.lanes["C"]).covered


@pytest.fixture
def outbox(monkeypatch):
    sent = []

    @dataclass(frozen=True)
    class Recipient:
        kind: str
        id: int
        name: str = ""

    def notify(*, event, recipients, payload, delivery_key):
        sent.append({"event": event, "recipients": recipients, "payload": payload, "delivery_key": delivery_key})

    fake = types.ModuleType("notify.services")
    fake.Recipient, fake.notify = Recipient, notify
    monkeypatch.setitem(sys.modules, "notify.services", fake)
    return sent


def test_missed_lanes_alert_each_group_leader(world, day_walked, outbox):
    services.close_day(day=DAY)
    assert services.missed_lane_alerts(day=DAY) == 2  # 背街组 has no leader
    by_leader = {m["recipients"][0].id: m for m in outbox}
    assert set(by_leader) == {world.leader1.id, world.leader2.id}
    one = by_leader[world.leader1.id]
    assert one["event"] == "patrols.missed_lanes"
    assert [ln["id"] for ln in one["payload"]["missed_lanes"]] == [world.lanes["C"].id]
    assert one["payload"]["lanes_due"] == 3
    assert one["delivery_key"] == f"patrols.missed_lanes:{world.wg1.id}:{DAY.isoformat()}"
    assert by_leader[world.leader2.id]["payload"]["missed_lanes"][0]["name"] == "天津路"


def test_periodic_tasks_close_yesterday_then_alert(world, day_walked, outbox):
    next_morning = datetime(DAY.year, DAY.month, DAY.day, 0, 30, tzinfo=TZ) + timedelta(days=1)
    assert tasks.day_before(int(next_morning.timestamp())) == DAY
    out = tasks.close_yesterday(int(next_morning.timestamp()))
    assert out["day"] == DAY.isoformat() and out["lanes_covered"] >= 2
    assert DailyReport.objects.filter(day=DAY).count() == 3 + 2 + 2  # groups, departments, street offices
    sent = tasks.alert_missed_lanes(int((next_morning + timedelta(hours=7, minutes=30)).timestamp()))
    assert sent == 2 and len(outbox) == 2


def test_lane_calendar_and_person_streaks(world):
    a = single_line(world.lanes["A"])
    for offset, who in ((-2, world.p1), (-1, world.p1), (0, world.p1), (2, world.p2)):
        day = DAY + timedelta(days=offset)
        upload(who, a, day=day, seed=offset + 10)
        services.close_day(day=day)
    cal = selectors.lane_calendar(lane_id=world.lanes["A"].id, year=DAY.year)
    assert [(d["day"], d["covered"]) for d in cal] == [
        (DAY - timedelta(days=2), True),
        (DAY - timedelta(days=1), True),
        (DAY, True),
        (DAY + timedelta(days=2), True),
    ]
    assert [p["name"] for p in cal[-1]["patrollers"]] == ["干部乙"]
    stats = selectors.person_stats(person_id=world.p1.id, today=DAY + timedelta(days=1))
    assert (stats["patrols"], stats["days"], stats["current_streak"], stats["longest_streak"]) == (3, 3, 3, 3)
    assert stats["lanes_covered"] >= 1 and stats["distance_km"] > 3 * a.length / 1000 * 0.9
    assert selectors.person_stats(person_id=world.p1.id, today=DAY + timedelta(days=2))["current_streak"] == 0
    assert selectors.streaks(
        [DAY, DAY + timedelta(days=1), DAY + timedelta(days=3)], today=DAY + timedelta(days=3)
    ) == (1, 2)

    client = APIClient()
    client.force_login(world.leader1.user)  # leads the group: sees its lanes' calendar and its members
    r = client.get(f"/api/patrols/lanes/{world.lanes['A'].id}/calendar/", {"year": DAY.year})
    assert r.status_code == 200 and r.json()["days_covered"] == 4
    assert client.get(f"/api/patrols/people/{world.p1.id}/stats/").status_code == 200
    assert client.get(f"/api/patrols/people/{world.p3.id}/stats/").status_code == 403
    page = client.get(f"/patrols/lanes/{world.lanes['A'].id}/calendar/", {"year": DAY.year})
    assert page.status_code == 200 and "福州路" in page.content.decode()


def test_missed_lane_alerts_through_the_real_notify(world, day_walked):
    from notify.models import Notification
    from notify.services import Recipient, endpoint_upsert

    endpoint_upsert(
        recipient=Recipient(kind="person", id=world.leader1.id, name=world.leader1.name),
        channel="email",
        address="leader1@example.org",
        events=["patrols.missed_lanes"],
    )
    services.close_day(day=DAY)
    services.missed_lane_alerts(day=DAY)
    services.missed_lane_alerts(day=DAY)  # a second run (e.g. a retried task) sends nothing new
    (note,) = Notification.objects.filter(event="patrols.missed_lanes")
    assert note.payload["missed_lanes"] == [{"id": world.lanes["C"].id, "name": "广东路"}]
    assert "广东路" in note.payload["text"]


def test_a_finding_exactly_on_a_street_is_filed_under_that_street(world, day_walked):
    from patrols.tests.conftest import TO_WGS

    line = single_line(world.lanes["A"])
    on = line.interpolate(0.5, normalized=True)
    lon, lat = TO_WGS.transform(on.x, on.y)
    finding = services.finding_add(patrol=day_walked["A"], description="栏杆损坏", point=Point(lon, lat, srid=4326))
    assert finding.lane_id == world.lanes["A"].id
