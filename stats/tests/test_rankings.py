"""Composite scores, deterministic tie-breaking, red/black lists, units without data kept apart."""

from __future__ import annotations

from decimal import Decimal

from django.test import override_settings

from stats.indicators import Period, UnitFigures, unit_figures
from stats.rankings import composite_score, rank
from stats.tests.conftest import WEEK, at, make_case

P = Period.of("week", WEEK)
W = {"closure_rate": Decimal("0.5"), "on_time_closure_rate": Decimal("0.5")}


def unit(uid, code, *, due, closed, on_time, level="street_office", name=None):
    f = UnitFigures(
        level=level, unit_id=uid, code=code, name=name or f"单位{code}", due=due, closed=closed, closed_on_time=on_time
    )
    f.compute_rates()
    return f


def test_composite_score_hand_computed():
    f = unit(1, "a", due=4, closed=3, on_time=2)  # 75 % and 50 %
    assert composite_score(f, W) == Decimal("62.50")
    f.rework = 1  # rework 25 % enters as 100 − 25
    f.compute_rates()
    w = {**W, "rework_rate": Decimal("1")}
    assert composite_score(f, w) == Decimal("68.75")  # (0.5·75 + 0.5·50 + 1·75) / 2
    # an indicator without data drops out with its weight instead of counting as 0 %
    assert composite_score(f, {**W, "accurate_dispatch_rate": Decimal("3")}) == Decimal("62.50")
    assert composite_score(unit(2, "b", due=0, closed=0, on_time=0), W) is None


def test_ties_break_by_due_then_code_and_share_rank():
    figures = [
        unit(1, "310199003", due=2, closed=2, on_time=2),  # 100, due 2
        unit(2, "310199002", due=4, closed=4, on_time=4),  # 100, due 4 → first
        unit(3, "310199001", due=2, closed=2, on_time=2),  # 100, due 2, lower code → before unit 1
        unit(4, "310199004", due=4, closed=2, on_time=2),  # 50
        unit(5, "310199000", due=0, closed=0, on_time=0),  # no data
    ]
    rk = rank(figures, level="street_office", period=P, w=W)
    assert [(r, f.unit_id) for r, _s, f in rk.ranked] == [(1, 2), (2, 3), (2, 1), (4, 4)]
    assert [f.unit_id for f in rk.no_data] == [5]
    assert rk.red == [2] and rk.black == [4]  # default: first and last street office
    # input order does not matter
    again = rank(list(reversed(figures)), level="street_office", period=P, w=W)
    assert [f.unit_id for _r, _s, f in again.ranked] == [2, 3, 1, 4]


def test_red_black_sizes_from_settings_never_overlap():
    figures = [unit(i, f"{i:03d}", due=10, closed=10 - i, on_time=10 - i, level="squad") for i in range(1, 8)]
    rk = rank(figures, level="squad", period=P, w=W)
    assert rk.red == [1, 2, 3, 4, 5] and rk.black == [6, 7]  # default 5 red / 3 black: 5 is red, not black
    with override_settings(STATS_RED_BLACK={"squad": {"red": 2, "black": 3}}):
        rk = rank(figures, level="squad", period=P, w=W)
    assert rk.red == [1, 2] and rk.black == [5, 6, 7]


def test_weights_from_settings(world):
    w = world
    make_case(w, squad=w.sq_a, created=at(16), status="closed", deadline=at(17), closed=at(18))  # closed late
    make_case(w, squad=w.sq_b, created=at(16), status="closed", deadline=at(17), closed=at(17, 9))
    make_case(w, squad=w.sq_b, created=at(16), status="accepted", deadline=at(17))  # B: 50 % / 50 %
    figures = unit_figures(period=P, level="squad")
    with override_settings(STATS_WEIGHTS={"closure_rate": 1}):
        rk = rank(figures, level="squad", period=P)
    assert [(f.name, s) for _r, s, f in rk.ranked] == [
        ("统计甲中队", Decimal("100.00")),
        ("统计乙中队", Decimal("50.00")),
    ]
    with override_settings(STATS_WEIGHTS={"on_time_closure_rate": 1}):
        rk = rank(figures, level="squad", period=P)
    assert [(f.name, s) for _r, s, f in rk.ranked] == [
        ("统计乙中队", Decimal("50.00")),
        ("统计甲中队", Decimal("0.00")),
    ]
    assert [f.name for f in rk.no_data] == ["统计丙中队"]
