"""按时派遣率 and the department level against hand-computed fixtures (week 2026-W47, 16–22 Nov 2026, Asia/Shanghai;
the default work calendar: 09:00–12:00 and 13:30–18:00, Monday to Friday; dispatch limit 1 working hour)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from stats.indicators import Period, unit_figures
from stats.rankings import rank
from stats.tests.conftest import TZ, WEEK, at, event, make_case

P = Period.of("week", WEEK)


def when(day, hour, minute=0):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=TZ)


def pending(case, t):
    """Routing found no squad: the case waits in the street office's pending queue (not yet dispatched)."""
    event(
        case, action="dispatch", when=t, to_status="dispatched", data={"owner_queue": "street_office", "squad_id": None}
    )


def to_squad(case, t, squad, action="assign"):
    event(case, action=action, when=t, to_status="dispatched", data={"owner_queue": "squad", "squad_id": squad.pk})


@pytest.fixture
def dispatches(world):
    from cases.models import Category

    w = world
    a = w.sq_a
    mk = lambda t, **kw: make_case(w, squad=a, created=t, deadline=t + dt.timedelta(days=9), **kw)  # noqa: E731
    ca = mk(when(16, 10))
    to_squad(ca, when(16, 10), a, action="dispatch")  # routed to the squad at once: on time
    cb = mk(when(16, 10))
    pending(cb, when(16, 10))
    to_squad(cb, when(16, 10, 50), a)  # assigned after 50 working minutes: on time
    cc = mk(when(16, 11, 30))
    pending(cc, when(16, 11, 30))
    to_squad(cc, when(16, 14, 10), a)  # 30 min before lunch + 40 after: 70 working minutes, late
    cd = mk(when(20, 17, 30))
    pending(cd, when(20, 17, 30))
    to_squad(cd, when(23, 9, 20), a)  # Friday 17:30 → Monday 09:20: 30 + 20 = 50 working minutes, on time
    ce = mk(when(17, 10))
    pending(ce, when(17, 10))  # never dispatched, long past its limit: due, not on time
    cf = mk(when(22, 20))
    pending(cf, when(22, 20))  # Sunday evening; by Monday 09:30 only 30 working minutes have passed
    queue_cat = Category.objects.reportable().filter(owner="community").first()
    cg = mk(when(18, 15), category=queue_cat)
    event(cg, action="dispatch", when=when(18, 15), to_status="dispatched", data={"owner_queue": "community"})
    ch = mk(when(18, 15), status="void")
    pending(ch, when(18, 15))  # void: never counts
    ci = mk(when(19, 10))
    pending(ci, when(19, 10))
    event(ci, action="accept", when=when(19, 10, 30), to_status="accepted")  # taken on by street office staff
    mk(when(23, 10))  # reported the next week: not in this week's figures
    return w


def test_on_time_dispatch_rate_hand_computed(dispatches):
    w = dispatches
    f = {x.unit_id: x for x in unit_figures(period=P, level="street_office", now=when(23, 9, 30))}[w.so_w.pk]
    # due: A B C D E G I (F still within its limit, H void); on time: A B D G I
    assert (f.dispatch_due, f.dispatched_on_time) == (7, 5)
    assert f.rates["on_time_dispatch_rate"] == Decimal("71.43")
    later = {x.unit_id: x for x in unit_figures(period=P, level="street_office", now=when(23, 10, 30))}[w.so_w.pk]
    assert (later.dispatch_due, later.dispatched_on_time) == (8, 5)  # F passed its limit undispatched
    assert later.rates["on_time_dispatch_rate"] == Decimal("62.50")
    squad = {x.unit_id: x for x in unit_figures(period=P, level="squad", now=when(23, 10, 30))}[w.sq_a.pk]
    assert (squad.dispatch_due, squad.dispatched_on_time) == (8, 5)


def test_on_time_dispatch_limit_setting(dispatches):
    w = dispatches
    with override_settings(STATS_DISPATCH_LIMIT_WORKING_HOURS=2):
        f = {x.unit_id: x for x in unit_figures(period=P, level="street_office", now=when(23, 9, 30))}[w.so_w.pk]
    assert (f.dispatch_due, f.dispatched_on_time) == (7, 6)  # C (70 working minutes) is now on time


def test_on_time_dispatch_no_data_is_none(dispatches):
    empty = Period.of("week", dt.date(2026, 10, 5))
    for f in unit_figures(period=empty, level="street_office", now=timezone.now()):
        assert f.dispatch_due == 0 and f.rates["on_time_dispatch_rate"] is None


@pytest.fixture
def departments(world):
    from patrols.models import LaneDayCoverage

    w = world
    c1 = make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17), lane=w.lane)
    make_case(w, squad=w.sq_b, created=at(16), status="closed", deadline=at(17), closed=at(18), lane=w.lane2)
    make_case(w, squad=w.sq_b, created=at(16), status="accepted", deadline=at(18), lane=w.lane2)
    make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(18), closed=at(17))  # no lane
    event(c1, action="dispatch", when=at(16), to_status="dispatched", data={"owner_queue": "squad", "squad_id": 1})
    for day, deps, covered in ((16, [w.dep_x.pk, w.dep_y.pk], True), (17, [w.dep_y.pk], False)):
        LaneDayCoverage.objects.create(
            day=dt.date(2026, 11, day),
            lane=w.lane,
            community=w.c_n,
            street_office=w.so_w,
            department_ids=deps,
            due=True,
            covered=covered,
            computed_at=timezone.now(),
        )
    return w


def test_department_figures_hand_computed(departments):
    w = departments
    f = {x.unit_id: x for x in unit_figures(period=P, level="department")}
    x, y, z = f[w.dep_x.pk], f[w.dep_y.pk], f[w.dep_z.pk]
    # X holds 福州路 (case 1); Y holds 福州路 through two work groups (counted once) and the test lane (cases 2, 3)
    assert (x.due, x.closed, x.closed_on_time, x.overdue_open) == (1, 1, 1, 0)
    assert (y.due, y.closed, y.closed_on_time, y.overdue_open) == (3, 2, 1, 1)
    assert y.rates["closure_rate"] == Decimal("66.67") and y.rates["on_time_closure_rate"] == Decimal("33.33")
    assert (x.dispatched, y.dispatched) == (1, 1)
    assert (x.lanes_due, x.lanes_covered, y.lanes_due, y.lanes_covered) == (1, 1, 2, 1)
    assert y.rates["patrol_coverage_rate"] == Decimal("50.00")
    assert z.due == 0 and all(v is None for v in z.rates.values())
    assert [d.name for d in unit_figures(period=P, level="department")] == ["统计甲部门", "统计乙部门", "统计丙部门"]


def test_department_ranking_red_and_black(departments):
    figures = unit_figures(period=P, level="department")
    rk = rank(figures, level="department", period=P)
    w = departments
    assert [f.unit_id for _r, _s, f in rk.ranked] == [w.dep_x.pk, w.dep_y.pk]
    assert rk.red == [w.dep_x.pk, w.dep_y.pk] and rk.black == []  # default top 5 red; never on both lists
    assert [f.unit_id for f in rk.no_data] == [w.dep_z.pk]
    with override_settings(STATS_RED_BLACK={"department": {"red": 1, "black": 1}}):
        rk = rank(figures, level="department", period=P)
    assert (rk.red, rk.black) == ([w.dep_x.pk], [w.dep_y.pk])
