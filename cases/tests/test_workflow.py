"""Every path of the case workflow through cases.services, on real streets, with the clock driven explicitly."""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import DatabaseError, transaction

from cases import selectors, services
from cases.calendar import WorkCalendar
from cases.models import Attachment, Attendance, Case, CaseEvent, OwnerQueue, Status
from cases.permissions import scope_for
from cases.tests.conftest import CELL_CENTRE, act, point_on_street, upload

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday morning
H = 3600


def report(code, point, user=None, now=NOW, **kw):
    return services.report_case(category_code=code, point=point, reporter=user, now=now, **kw).case


def actions(case):
    return list(CaseEvent.objects.filter(case=case).order_by("at", "id").values_list("action", flat=True))


def fuzhou_west():
    return point_on_street("福州路", 121.4750)  # street office W, lane 福州路 (its own sanitation squad)


def test_happy_path_report_dispatch_accept_resolve_recheck_close(world, sent):
    u = world.users
    case = report("SJ0101", fuzhou_west(), u["chief_fz"], description="路口垃圾堆放")
    assert case.status == Status.DISPATCHED and case.version == 2
    assert case.squad == world.squads["福州路环卫中队"] and case.owner_queue == OwnerQueue.SQUAD
    assert case.lane.name == "福州路" and case.street_office == world.so_w
    assert "福州路环卫中队" in case.routing_reason
    # 4 working hours from Monday 10:00: 10–12, 13:30–15:30.
    assert case.deadline == datetime(2026, 11, 23, 15, 30, tzinfo=TZ)
    assert case.limit_seconds == 4 * H
    assert [(n.event, n.recipients) for n in sent] == [("case.dispatched", [("squad", case.squad.pk)])]

    act(case, "accept", u["fz_san_member"], now=NOW + timedelta(minutes=20))
    with pytest.raises(services.CaseInputError, match="处置后照片"):
        act(case, "resolve", u["fz_san_member"], now=NOW + timedelta(hours=1), note="已清理")
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED and case.version == 3
    act(case, "resolve", u["fz_san_member"], now=NOW + timedelta(hours=1), note="已清理", photos=[upload()])
    act(case, "recheck_pass", u["chief_fz"], now=NOW + timedelta(hours=2), point=fuzhou_west())
    act(case, "close", u["staff_w"], now=NOW + timedelta(hours=3))
    case.refresh_from_db()
    assert case.status == Status.CLOSED and case.version == 6
    assert case.closed_at == NOW + timedelta(hours=3)
    assert actions(case) == ["report", "dispatch", "accept", "resolve", "recheck_pass", "close"]
    recheck = CaseEvent.objects.get(case=case, action="recheck_pass")
    assert recheck.actor == u["chief_fz"] and recheck.actor_role == "lane_chief" and recheck.point is not None
    assert list(case.attachments.values_list("kind", flat=True)) == ["after"]


def test_return_reroutes_to_the_next_candidate_then_the_street_office(world, sent):
    u = world.users
    case = report("SJ0101", Point(*CELL_CENTRE, srid=settings.GEO_SRID))
    assert case.squad == world.squads["网格环卫中队"] and case.source == "public"
    with pytest.raises(services.CaseInputError, match="理由"):
        act(case, "return", u["cell_san_member"], now=NOW)
    act(case, "return", u["cell_san_member"], now=NOW + timedelta(minutes=5), note="不属于网格保洁范围")
    case.refresh_from_db()
    assert case.squad == world.squads["西北社区环卫中队"] and case.status == Status.DISPATCHED
    assert world.c_wn.code in case.routing_reason
    # The squad that returned it no longer sees it.
    assert not selectors.visible_cases(scope_for(u["cell_san_member"])).filter(pk=case.pk).exists()
    act(case, "accept", u["cwn_san_leader"], now=NOW + timedelta(minutes=10))
    act(case, "return", u["cwn_san_leader"], now=NOW + timedelta(minutes=15), note="应由街道环卫负责")
    case.refresh_from_db()
    assert case.squad == world.squads["西街道环卫中队"] and case.status == Status.DISPATCHED
    act(case, "return", u["sw_san_member"], now=NOW + timedelta(minutes=20), note="非本队职责")
    case.refresh_from_db()
    assert case.owner_queue == OwnerQueue.STREET_OFFICE and case.squad is None
    assert "已退回" in case.routing_reason and world.so_w.code in case.routing_reason
    assert case.returned_squad_ids == [
        world.squads["网格环卫中队"].pk,
        world.squads["西北社区环卫中队"].pk,
        world.squads["西街道环卫中队"].pk,
    ]
    returns = CaseEvent.objects.filter(case=case, action="return").order_by("id")
    assert [e.data["returned_by"] for e in returns] == ["网格环卫中队", "西北社区环卫中队", "西街道环卫中队"]
    assert [n.recipients[0][0] for n in sent] == ["squad", "squad", "squad", "street_office"]
    # The street office assigns it by hand; a squad of the wrong kind is refused.
    with pytest.raises(services.CaseInputError):
        act(case, "assign", u["staff_w"], now=NOW + timedelta(minutes=30), squad=world.squads["西街道市容中队"].pk)
    act(case, "assign", u["staff_w"], now=NOW + timedelta(minutes=30), squad=world.squads["西北社区环卫中队"].pk)
    case.refresh_from_db()
    assert case.squad == world.squads["西北社区环卫中队"] and case.owner_queue == OwnerQueue.SQUAD
    assert case.deadline == WorkCalendar.load().add(NOW + timedelta(minutes=30), 4 * H)


def test_rework_after_a_failed_recheck_needs_new_work(world):
    u = world.users
    case = report("SJ0101", fuzhou_west(), u["chief_fz"])
    act(case, "accept", u["fz_san_member"], now=NOW)
    act(case, "resolve", u["fz_san_member"], now=NOW + timedelta(hours=1), note="已清理", photos=[upload()])
    with pytest.raises(services.CaseInputError):
        act(case, "recheck_fail", u["chief_fz"], now=NOW + timedelta(hours=2))  # a reason is required
    act(case, "recheck_fail", u["chief_fz"], now=NOW + timedelta(hours=2), note="仍有垃圾")
    case.refresh_from_db()
    assert case.status == Status.REWORK
    # The rework gets the full time limit again from the failed re-check.
    assert case.deadline == WorkCalendar.load().add(NOW + timedelta(hours=2), 4 * H)
    # The photo of the first round does not count for the second.
    with pytest.raises(services.CaseInputError, match="处置后照片"):
        act(case, "resolve", u["fz_san_member"], now=NOW + timedelta(hours=3), note="再次清理")
    act(case, "resolve", u["fz_san_member"], now=NOW + timedelta(hours=3), note="再次清理", photos=[upload()])
    act(case, "recheck_pass", u["chief_fz"], now=NOW + timedelta(hours=4))
    act(case, "close", u["chief_fz"], now=NOW + timedelta(hours=4))
    assert actions(case)[2:] == ["accept", "resolve", "recheck_fail", "resolve", "recheck_pass", "close"]


def test_extension_requested_approved_and_rejected(world, sent):
    u = world.users
    case = report("SJ0101", fuzhou_west(), u["chief_fz"])
    act(case, "accept", u["fz_san_member"], now=NOW)
    old_deadline = Case.objects.get(pk=case.pk).deadline
    with pytest.raises(services.CaseInputError):
        act(case, "request_extension", u["fz_san_member"], now=NOW, note="需要调车", hours=0)
    act(case, "request_extension", u["fz_san_member"], now=NOW, note="需要调车", hours=3)
    with pytest.raises(services.CaseConflict, match="待审批"):
        act(case, "request_extension", u["fz_san_leader"], now=NOW, note="再申请", hours=3)
    with pytest.raises(services.CaseForbidden):
        act(case, "approve_extension", u["fz_san_leader"], now=NOW)
    assert sent[-1].event == "case.extension_requested" and sent[-1].recipients == [("street_office", world.so_w.pk)]
    act(case, "approve_extension", u["staff_w"], now=NOW + timedelta(minutes=10))
    case.refresh_from_db()
    # Old deadline 15:30 Monday + 3 working hours = 15:30–18:00, then Tuesday 09:00–09:30.
    assert old_deadline == datetime(2026, 11, 23, 15, 30, tzinfo=TZ)
    assert case.deadline == datetime(2026, 11, 24, 9, 30, tzinfo=TZ)
    assert case.limit_seconds == 7 * H and case.extension_request is None
    with pytest.raises(services.CaseConflict, match="没有待审批"):
        act(case, "approve_extension", u["staff_w"], now=NOW + timedelta(minutes=15))
    act(case, "request_extension", u["fz_san_member"], now=NOW + timedelta(minutes=20), note="还要延", hours=5)
    act(case, "reject_extension", u["staff_w"], now=NOW + timedelta(minutes=30), note="理由不足")
    case.refresh_from_db()
    assert case.deadline == datetime(2026, 11, 24, 9, 30, tzinfo=TZ) and case.extension_request is None
    assert actions(case)[-4:] == ["request_extension", "approve_extension", "request_extension", "reject_extension"]


def test_void_is_final_and_only_for_supervisors(world):
    u = world.users
    case = report("SJ0101", fuzhou_west(), u["chief_fz"])
    with pytest.raises(services.CaseForbidden):
        act(case, "void", u["fz_san_leader"], now=NOW, note="重复")
    with pytest.raises(services.CaseInputError):
        act(case, "void", u["staff_w"], now=NOW)
    act(case, "void", u["staff_w"], now=NOW, note="误报")
    with pytest.raises(services.CaseConflict, match="已作废"):
        act(case, "accept", u["fz_san_member"], now=NOW)
    case.refresh_from_db()
    assert case.status == Status.VOID and selectors.case_clock(case).light == ""


def test_suspension_stops_the_clock_and_resume_restores_state_and_time(world):
    u = world.users
    case = report("SJ0101", fuzhou_west(), u["chief_fz"])  # deadline Monday 15:30
    act(case, "accept", u["fz_san_member"], now=NOW)
    act(case, "suspend", u["staff_w"], now=NOW + timedelta(hours=1), note="等待产权单位")  # 11:00, 3 h left
    case.refresh_from_db()
    assert case.status == Status.SUSPENDED and case.status_before_suspend == Status.ACCEPTED
    with pytest.raises(services.CaseConflict):
        act(case, "resolve", u["fz_san_member"], now=NOW + timedelta(hours=2), note="x", photos=[upload()])
    # Frozen: two days later the light is what it was at suspension (1 h of 4 used).
    clock = selectors.case_clock(case, now=NOW + timedelta(days=2))
    assert clock.light == "green" and clock.remaining_seconds == 3 * H
    act(case, "resume", u["staff_w"], now=datetime(2026, 11, 25, 9, 0, tzinfo=TZ))
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED and case.suspended_at is None
    assert case.deadline == datetime(2026, 11, 25, 12, 0, tzinfo=TZ)  # the 3 h left, from Wednesday 09:00


def test_duplicates_are_offered_and_merged(world):
    u = world.users
    p = fuzhou_west()
    first = report("SJ0101", p, u["chief_fz"])
    near = Point(p.x + 20 / 95_000, p.y, srid=4326)  # about 20 m east
    second = report("SJ0101", near, None)
    other_category = report("SJ0402", near, None)
    far = report("SJ0101", point_on_street("福州路", 121.4725), None)  # hundreds of metres away
    dupes = list(selectors.duplicates_near(category=second.category, point=second.point, exclude_id=second.pk))
    assert [d.pk for d in dupes] == [first.pk] and 10 < dupes[0].distance_m < 30
    with pytest.raises(services.CaseInputError, match="米"):
        act(far, "merge", u["staff_w"], now=NOW, into=first.pk)
    with pytest.raises(services.CaseInputError, match="同类别"):
        act(other_category, "merge", u["staff_w"], now=NOW, into=first.pk)
    with pytest.raises(services.CaseForbidden):
        act(second, "merge", u["fz_san_member"], now=NOW, into=first.pk)
    act(second, "merge", u["chief_fz"], now=NOW, into=first.pk, note="同一处垃圾")
    second.refresh_from_db()
    assert second.status == Status.MERGED and second.merged_into == first
    assert CaseEvent.objects.filter(case=first, action="merged_in", data__from=second.pk).exists()
    # A merged case is no longer offered as a duplicate.
    assert second.pk not in [c.pk for c in selectors.duplicates_near(category=first.category, point=first.point)]


def test_overdue_supervision_then_escalation_to_the_district(world, sent):
    u = world.users
    case = report("SJ0101", fuzhou_west(), u["chief_fz"])  # deadline Monday 15:30
    act(case, "accept", u["fz_san_member"], now=NOW)
    sent.clear()
    assert services.sweep_overdue(now=NOW + timedelta(hours=5)).supervised == []  # 15:00: not yet
    assert selectors.case_clock(Case.objects.get(pk=case.pk), now=NOW + timedelta(hours=5)).light == "yellow"
    result = services.sweep_overdue(now=datetime(2026, 11, 23, 16, 0, tzinfo=TZ))
    assert result.supervised == [case.pk] and result.escalated == []
    case.refresh_from_db()
    assert case.supervision_level == 1
    # The supervision notice gives the category's time limit again: 4 working hours from 16:00 → Tue 11:00.
    assert case.supervision_due == datetime(2026, 11, 24, 11, 0, tzinfo=TZ)
    assert sent[-1].event == "case.supervision"
    assert set(sent[-1].recipients) == {("squad", case.squad_id), ("street_office", world.so_w.pk)}
    assert selectors.case_clock(case, now=datetime(2026, 11, 23, 16, 0, tzinfo=TZ)).light == "red"
    # Swept again before the supervision deadline: nothing new.
    again = services.sweep_overdue(now=datetime(2026, 11, 24, 10, 0, tzinfo=TZ))
    assert again.supervised == [] and again.escalated == []
    late = services.sweep_overdue(now=datetime(2026, 11, 24, 11, 30, tzinfo=TZ))
    assert late.escalated == [case.pk]
    case.refresh_from_db()
    assert case.supervision_level == 2
    assert sent[-1].event == "case.escalation" and ("district", world.district.pk) in sent[-1].recipients
    assert services.sweep_overdue(now=datetime(2026, 11, 26, 11, 30, tzinfo=TZ)).escalated == []
    assert actions(case)[-2:] == ["supervise", "escalate"]
    # The overdue filter agrees.
    assert Case.objects.filter(selectors.overdue_q(datetime(2026, 11, 24, 12, 0, tzinfo=TZ)), pk=case.pk).exists()


def test_suspended_and_closed_cases_are_not_swept(world):
    u = world.users
    suspended = report("SJ0101", fuzhou_west(), u["chief_fz"])
    act(suspended, "suspend", u["staff_w"], now=NOW, note="挂账")
    result = services.sweep_overdue(now=NOW + timedelta(days=10))
    assert suspended.pk not in result.supervised


def _closed_case(world, point, minutes):
    u = world.users
    case = report("SJ0101", point, u["chief_fz"], now=NOW + timedelta(minutes=minutes))
    t = NOW + timedelta(minutes=minutes + 1)
    act(case, "accept", u["fz_san_member"], now=t)
    act(case, "resolve", u["fz_san_member"], now=t, note="ok", photos=[upload()])
    act(case, "recheck_pass", u["chief_fz"], now=t)
    act(case, "close", u["chief_fz"], now=t)
    return case


def test_weekly_spot_recheck_sampling_and_failed_spot_check_reopens(world, sent):
    u = world.users
    cases = [
        _closed_case(world, point_on_street("福州路", lon), i)
        for i, lon in enumerate((121.4730, 121.4740, 121.4750, 121.4760, 121.4800))
    ]
    week_later = NOW + timedelta(days=6)
    sampled = services.sample_spot_checks(now=week_later, share=0.4, rng=random.Random(7))
    assert len(sampled) == 2  # ceil(0.4 × 5)
    assert set(sampled) <= {c.pk for c in cases}
    assert [n.event for n in sent[-2:]] == ["case.spot_check", "case.spot_check"]
    # Already sampled cases are not drawn again.
    again = services.sample_spot_checks(now=week_later, share=1.0, rng=random.Random(7))
    assert set(again) == {c.pk for c in cases} - set(sampled)
    first, second = (Case.objects.get(pk=pk) for pk in sampled)
    act(first, "spot_check_pass", u["chief_fz"], now=week_later)
    act(
        second,
        "spot_check_fail",
        u["staff_w"] if second.street_office == world.so_w else u["staff_e"],
        now=week_later,
        note="又有垃圾",
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Status.CLOSED and not first.spot_check_due
    assert second.status == Status.REWORK and second.closed_at is None
    assert second.deadline > week_later
    # Not sampled any more → a spot check cannot be recorded twice.
    with pytest.raises(services.CaseConflict):
        act(first, "spot_check_pass", u["chief_fz"], now=week_later)
    # Cases closed more than a week ago are not in the pool.
    assert services.sample_spot_checks(now=NOW + timedelta(days=30), share=1.0) == []


def test_illegal_transition_and_stale_version_change_nothing(world):
    u = world.users
    case = report("SJ0101", fuzhou_west(), u["chief_fz"])
    events = CaseEvent.objects.count()
    with pytest.raises(services.CaseConflict, match="不能执行"):
        act(case, "close", u["chief_fz"], now=NOW)
    with pytest.raises(services.CaseConflict, match="版本"):
        services.transition(
            case_id=case.pk, action="accept", user=u["fz_san_member"], version=case.version - 1, now=NOW
        )
    with pytest.raises(services.CaseInputError):
        services.transition(case_id=case.pk, action="fly", user=u["fz_san_member"], version=case.version, now=NOW)
    with pytest.raises(services.CaseNotFound):
        services.transition(case_id=case.pk, action="accept", user=u["outsider"], version=case.version, now=NOW)
    with pytest.raises(services.CaseForbidden):  # the chief sees the case but may not accept for the squad
        act(case, "accept", u["chief_fz"], now=NOW)
    with pytest.raises(services.CaseNotFound):  # a former chief has no rights
        act(case, "recheck_pass", u["chief_former"], now=NOW)
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.status == Status.DISPATCHED and fresh.version == case.version
    assert CaseEvent.objects.count() == events


def test_case_events_are_append_only_in_the_database(world):
    case = report("SJ0101", fuzhou_west(), world.users["chief_fz"])
    event = CaseEvent.objects.filter(case=case).first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).update(note="改写")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CaseEvent.objects.filter(pk=event.pk).delete()
    assert CaseEvent.objects.get(pk=event.pk).note == event.note


def test_must_attend_attendance_within_radius_and_lateness(world):
    u = world.users
    p = point_on_street("汉口路", 121.4740)
    case = report("LBD02", p, u["chief_fz"])  # 街巷突发事件: must attend; street office queue
    assert case.owner_queue == OwnerQueue.STREET_OFFICE
    far = Point(p.x, p.y + 300 / 111_320, srid=4326)
    with pytest.raises(services.CaseInputError, match="米以内"):
        services.record_attendance(case_id=case.pk, user=u["chief_fz"], point=far, now=NOW)
    with pytest.raises(services.CaseNotFound):
        services.record_attendance(case_id=case.pk, user=u["fz_san_member"], point=p, now=NOW)
    near = Point(p.x, p.y + 30 / 111_320, srid=4326)
    attendance = services.record_attendance(
        case_id=case.pk, user=u["chief_fz"], point=near, note="已到场", photo=upload(), now=NOW + timedelta(hours=3)
    )
    assert 25 < attendance.distance_m < 35 and attendance.late  # more than 2 hours after the report
    assert attendance.photo.kind == "attendance"
    # A must-attend case nobody attended is "missing" once the time allowed is over; a fresh one is "pending".
    missed = report("LBD02", p, u["chief_fz"], now=NOW - timedelta(hours=5))
    fresh = report("LBD02", p, u["chief_fz"], now=NOW + timedelta(hours=3))
    states = {
        c.pk: s for c, s, _a in selectors.attendance_report(scope_for(u["staff_w"]), now=NOW + timedelta(hours=4))
    }
    assert states[case.pk] == "late" and states[missed.pk] == "missing" and states[fresh.pk] == "pending"
    ordinary = report("SJ0101", p, u["chief_fz"])
    with pytest.raises(services.CaseInputError, match="不是必到事项"):
        services.record_attendance(case_id=ordinary.pk, user=u["chief_fz"], point=p, now=NOW)
    assert Attendance.objects.filter(case=case).count() == 1
    assert Attachment.objects.filter(case=case, kind="attendance").count() == 1
