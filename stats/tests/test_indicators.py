"""Each formula against a hand-computed fixture (week 2026-W47, 16–22 Nov 2026, Asia/Shanghai)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from stats.indicators import Period, pct, totals, unit_figures
from stats.tests.conftest import WEEK, at, event, make_case

WEEK_P = Period.of("week", WEEK)


@pytest.fixture
def filled(world):
    w = world
    a, b = w.sq_a, w.sq_b
    c1 = make_case(w, squad=a, created=at(16), status="closed", deadline=at(18), closed=at(17))  # on time, 24 h
    c2 = make_case(w, squad=a, created=at(16), status="closed", deadline=at(17), closed=at(18))  # late, 48 h
    c3 = make_case(w, squad=a, created=at(16), status="accepted", deadline=at(19))  # overdue, open
    make_case(w, squad=a, created=at(16), status="accepted", deadline=at(25))  # deadline after the week: not due
    make_case(w, squad=a, created=at(3), status="closed", deadline=at(10), closed=at(10))  # closed last week
    make_case(w, squad=a, created=at(16), status="void", deadline=at(17))  # void: never counts
    c7 = make_case(w, squad=a, created=at(17), status="closed", deadline=at(21), closed=at(20), community=w.c_s)
    event(c7, action="recheck_fail", when=at(19), to_status="rework")  # went to rework, then closed on time: 72 h
    make_case(w, squad=a, created=at(16), status="closed", deadline=at(20), closed=at(24))  # closed after the week
    make_case(w, squad=b, created=at(18), status="closed", deadline=at(20), closed=at(19))  # squad B, office E
    for c in (c1, c2, c3, c7):
        event(c, action="dispatch", when=at(16, 9), to_status="dispatched", data={"squad_id": a.pk})
    # Squad A returns c3; it is re-dispatched to squad B (the return event names the new squad).
    event(
        c3,
        action="return",
        when=at(16, 11),
        to_status="dispatched",
        data={"squad_id": b.pk, "returned_by_squad_id": a.pk},
    )
    # Last week's dispatch does not count this week.
    event(c1, action="dispatch", when=at(9), to_status="dispatched", data={"squad_id": a.pk})
    return w


def by_id(figures):
    return {f.unit_id: f for f in figures}


def test_pct_rounds_half_up_and_no_data_is_none():
    assert pct(911, 972) == Decimal("93.72")
    assert pct(737, 972) == Decimal("75.82")
    assert pct(1, 8) == Decimal("12.50")
    assert pct(1, 200) == Decimal("0.50")
    assert pct(1, 400) == Decimal("0.25")
    assert pct(0, 5) == Decimal("0.00")
    assert pct(0, 0) is None


@pytest.mark.parametrize(
    ("kind", "day", "start", "end", "label"),
    [
        ("day", dt.date(2026, 11, 18), dt.date(2026, 11, 18), dt.date(2026, 11, 19), "2026-11-18"),
        ("week", dt.date(2026, 11, 22), dt.date(2026, 11, 16), dt.date(2026, 11, 23), "2026-W47"),
        ("week", dt.date(2027, 1, 1), dt.date(2026, 12, 28), dt.date(2027, 1, 4), "2026-W53"),
        ("month", dt.date(2026, 12, 31), dt.date(2026, 12, 1), dt.date(2027, 1, 1), "2026-12"),
        ("quarter", dt.date(2026, 11, 18), dt.date(2026, 10, 1), dt.date(2027, 1, 1), "2026-Q4"),
        ("half_year", dt.date(2026, 6, 30), dt.date(2026, 1, 1), dt.date(2026, 7, 1), "2026-H1"),
        ("half_year", dt.date(2026, 7, 1), dt.date(2026, 7, 1), dt.date(2027, 1, 1), "2026-H2"),
    ],
)
def test_periods(kind, day, start, end, label):
    p = Period.of(kind, day)
    assert (p.start, p.end, p.label) == (start, end, label)


def test_squad_figures_hand_computed(filled):
    f = by_id(unit_figures(period=WEEK_P, level="squad"))
    a = f[filled.sq_a.pk]
    # closed in week: c1, c2, c7; overdue and unclosed at the end of the week: c3 and the case closed on 24 Nov
    assert (a.closed, a.closed_on_time, a.overdue_open, a.due, a.rework) == (3, 2, 2, 5, 1)
    assert a.rates["closure_rate"] == Decimal("60.00")
    assert a.rates["on_time_closure_rate"] == Decimal("40.00")
    assert a.rates["rework_rate"] == Decimal("20.00")
    assert a.avg_close_hours == Decimal("48.00")  # (24 + 48 + 72) / 3
    assert (a.dispatched, a.returned) == (4, 1)
    assert a.rates["accurate_dispatch_rate"] == Decimal("75.00")
    assert a.rates["patrol_coverage_rate"] is None  # squads hold no lanes-by-day figures
    b = f[filled.sq_b.pk]
    assert (b.due, b.closed, b.closed_on_time, b.dispatched, b.returned) == (1, 1, 1, 1, 0)
    assert b.rates["accurate_dispatch_rate"] == Decimal("100.00")


def test_unit_without_cases_has_no_data_not_zero(filled):
    c = by_id(unit_figures(period=WEEK_P, level="squad"))[filled.sq_c.pk]
    assert c.due == 0 and not c.has_data
    assert all(v is None for v in c.rates.values())
    assert c.avg_close_hours is None


def test_empty_period_gives_none(filled):
    empty = Period.of("month", dt.date(2025, 1, 15))
    for level in ("squad", "community", "street_office", "district"):
        for f in unit_figures(period=empty, level=level):
            assert f.due == 0
            assert all(v is None for v in f.rates.values()), (level, f.name)
    t = totals(unit_figures(period=empty, level="street_office"))
    assert t.rates["closure_rate"] is None


def test_area_levels_and_district(filled):
    w = filled
    so = by_id(unit_figures(period=WEEK_P, level="street_office"))
    assert (so[w.so_w.pk].due, so[w.so_w.pk].closed, so[w.so_w.pk].closed_on_time) == (5, 3, 2)
    # street office W: 4 dispatches + 1 re-dispatch after the return, of which 1 returned
    assert (so[w.so_w.pk].dispatched, so[w.so_w.pk].returned) == (5, 1)
    assert so[w.so_w.pk].rates["accurate_dispatch_rate"] == Decimal("80.00")
    assert so[w.so_e.pk].rates["closure_rate"] == Decimal("100.00")
    assert so[w.so_e.pk].rates["accurate_dispatch_rate"] is None  # no dispatch events: no data
    com = by_id(unit_figures(period=WEEK_P, level="community"))
    assert (com[w.c_n.pk].due, com[w.c_s.pk].due, com[w.c_s.pk].rework) == (4, 1, 1)
    d = by_id(unit_figures(period=WEEK_P, level="district"))[w.district.pk]
    assert (d.due, d.closed, d.closed_on_time) == (6, 4, 3)
    assert d.rates["closure_rate"] == Decimal("66.67")
    assert d.rates["on_time_closure_rate"] == Decimal("50.00")
    t = totals(list(so.values()))
    assert (t.due, t.closed) == (6, 4)


def test_later_weeks_carry_overdue_open_cases(filled):
    prev = by_id(unit_figures(period=WEEK_P.previous(), level="squad"))[filled.sq_a.pk]
    # week 46: the case closed on 10 Nov at its deadline (on time); nothing was overdue yet
    assert (prev.closed, prev.closed_on_time, prev.overdue_open) == (1, 1, 0)
    later = Period.of("week", dt.date(2026, 11, 23))
    a = by_id(unit_figures(period=later, level="squad"))[filled.sq_a.pk]
    # week 48: the case closed on 24 Nov (late), c3 still open and overdue; the case due 25 Nov is now overdue
    assert (a.closed, a.closed_on_time, a.overdue_open) == (1, 0, 2)


def test_patrol_coverage_rate(world):
    from django.utils import timezone

    from patrols.models import LaneDayCoverage

    w = world
    rows = [(16, True, True), (17, True, False), (18, True, True), (19, False, False)]
    for day, due, covered in rows:
        LaneDayCoverage.objects.create(
            day=dt.date(2026, 11, day),
            lane=w.lane,
            community=w.c_n,
            street_office=w.so_w,
            due=due,
            covered=covered,
            computed_at=timezone.now(),
        )
    so = by_id(unit_figures(period=WEEK_P, level="street_office"))
    assert (so[w.so_w.pk].lanes_due, so[w.so_w.pk].lanes_covered) == (3, 2)
    assert so[w.so_w.pk].rates["patrol_coverage_rate"] == Decimal("66.67")
    assert so[w.so_e.pk].rates["patrol_coverage_rate"] is None
    day = by_id(unit_figures(period=Period.of("day", dt.date(2026, 11, 17)), level="community"))
    assert day[w.c_n.pk].rates["patrol_coverage_rate"] == Decimal("0.00")


def test_domain_example_972_911_737(world):
    """DOMAIN.md: 结案率 911/972 = 93.72 %, 按期结案率 737/972 = 75.82 % — from 972 real rows."""
    from cases.models import Case

    w = world
    rows = []
    for i in range(972):
        closed = at(18) if i < 911 else None
        deadline = at(19) if i < 737 or i >= 911 else at(17)  # 737 closed on time, 174 late, 61 overdue open
        rows.append(
            Case(
                tracking_code=f"DX{i:08d}",
                category=w.category,
                point=w.point_w,
                street_office=w.so_w,
                community=w.c_n,
                owner_queue="squad",
                squad=w.sq_a,
                status="closed" if closed else "accepted",
                created_at=at(16),
                deadline=deadline,
                closed_at=closed,
            )
        )
    Case.objects.bulk_create(rows)
    a = by_id(unit_figures(period=WEEK_P, level="squad"))[w.sq_a.pk]
    assert (a.due, a.closed, a.closed_on_time) == (972, 911, 737)
    assert a.rates["closure_rate"] == Decimal("93.72")
    assert a.rates["on_time_closure_rate"] == Decimal("75.82")


def test_must_attend_attendance_rate(world, django_user_model):
    from cases.models import Attendance, Category

    w = world
    chief = django_user_model.objects.create_user(username="stats-chief", password="pw-stats-123")
    must = Category.objects.reportable().filter(must_attend=True).first()
    assert must is not None, "the seeded categories hold must-attend occasions (六必到)"
    cases = []
    for _i in range(4):
        c = make_case(w, squad=w.sq_a, created=at(17), deadline=at(18))
        c.category = must
        c.save(update_fields=["category"])
        cases.append(c)
    make_case(w, squad=w.sq_a, created=at(17), deadline=at(18))  # not a must-attend matter
    for c, late in ((cases[0], False), (cases[1], True)):
        Attendance.objects.create(case=c, user=chief, point=w.point_w, distance_m=12.0, at=at(17, 11), late=late)
    Attendance.objects.create(case=cases[0], user=chief, point=w.point_w, distance_m=3.0, at=at(17, 12))  # twice
    a = by_id(unit_figures(period=WEEK_P, level="squad"))[w.sq_a.pk]
    assert (a.must_attend, a.attended, a.attended_on_time) == (4, 2, 1)
    assert a.rates["attendance_rate"] == Decimal("50.00")
    assert a.rates["attendance_on_time_rate"] == Decimal("25.00")
    assert by_id(unit_figures(period=WEEK_P, level="squad"))[w.sq_b.pk].rates["attendance_rate"] is None


@pytest.mark.django_db
def test_figures_run_without_jit_and_leave_the_setting_as_it_was():
    from django.db import connection, transaction

    from stats.indicators import without_jit

    def jit():
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('jit', true)")
            return cur.fetchone()[0]

    seen = []

    def spy(execute, sql, params, many, context):
        if sql.lstrip().startswith("WITH"):
            seen.append(jit())
        return execute(sql, params, many, context)

    with transaction.atomic():
        before = jit()
        with connection.execute_wrapper(spy):
            unit_figures(period=Period.of("week", WEEK), level="community")
        assert seen and set(seen) == ({"off"} if before is not None else {None})
        assert jit() == before
        with without_jit():
            assert jit() in ("off", None)
        assert jit() == before


def test_statements_in_parallel_on_one_snapshot_give_the_figures_of_one_after_the_other(
    transactional_db, filled, settings
):
    """Outside a transaction the statements run on several connections sharing one exported snapshot."""
    from django.db import connection

    from stats import indicators

    snapshots = []
    original = indicators._in_snapshot

    def spy(job, snapshot):
        snapshots.append(snapshot)
        return original(job, snapshot)

    indicators._in_snapshot = spy
    try:
        assert not connection.in_atomic_block
        settings.STATS_PARALLEL_STATEMENTS = 4
        parallel = indicators.all_unit_figures(period=WEEK_P, now=at(30))
        assert len(snapshots) == 5 and len(set(snapshots)) == 1  # five jobs on the other connections, one snapshot
        settings.STATS_PARALLEL_STATEMENTS = 1
        snapshots.clear()
        sequential = indicators.all_unit_figures(period=WEEK_P, now=at(30))
        assert snapshots == []
    finally:
        indicators._in_snapshot = original
    assert {lv: [f.as_dict() for f in fs] for lv, fs in parallel.items()} == {
        lv: [f.as_dict() for f in fs] for lv, fs in sequential.items()
    }
    squad_a = by_id(parallel["squad"])[filled.sq_a.pk]
    assert (squad_a.closed, squad_a.due, squad_a.rework, squad_a.dispatched, squad_a.returned) == (3, 5, 1, 4, 1)
