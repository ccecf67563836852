"""The day's coverage as one parallel query, and buffers cut into pieces, give the same shares as the plain serial
computation (the rule does not depend on how the work is split)."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection, transaction

from patrols import coverage, services
from patrols.models import PatrolLane
from patrols.services import patrol_coverage_compute, patrol_upload
from patrols.tests.conftest import gpx, lane_named, morning, part, single_line, walk
from people.models import Person

DAY = date(2025, 3, 4)


@pytest.fixture
def patrols(city, db):
    """Six walks on one day: whole streets, part of a street, a walk beside one, two streets in a row."""
    walks = [
        ("福州路", 0.0, 1.0, 0.0),
        ("汉口路", 0.0, 0.55, 0.0),
        ("汉口路", 0.3, 1.0, 0.0),
        ("广东路", 0.0, 1.0, 25.0),
        ("天津路", 0.1, 0.9, 0.0),
        ("南昌路", 0.0, 1.0, 0.0),
    ]
    out = []
    for i, (name, a, b, offset) in enumerate(walks):
        line = part(single_line(lane_named(name)), a, b)
        if offset:
            line = line.offset_curve(offset)
        person = Person.objects.create(name=f"巡查员{i}")
        fixes = walk(line, start=morning(DAY, 8 + i), sigma_m=6.0, seed=20 + i)
        out += patrol_upload(person=person, data=gpx(fixes), filename=f"w{i}.gpx").patrols
    return [p.id for p in out]


def rows(ids) -> dict:
    return {
        (r.patrol_id, r.lane_id): (r.share, r.covered_m, r.covered)
        for r in PatrolLane.objects.filter(patrol_id__in=ids)
    }


def settings_now(names) -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))
        return list(cur.fetchone())


def test_the_parallel_day_query_equals_the_serial_one(patrols, monkeypatch):
    with transaction.atomic(), connection.cursor() as cur:
        coverage.store_patrol_lanes(cur, patrol_ids=patrols, parallel=False)
    serial = rows(patrols)
    assert any(covered for _, _, covered in serial.values())
    assert any(not covered for _, _, covered in serial.values())  # near misses are kept too

    names = list(coverage.PARALLEL_SETTINGS)
    monkeypatch.setattr(services, "PARALLEL_MIN_PATROLS", 2)
    with transaction.atomic():
        before = settings_now(names)
        assert patrol_coverage_compute(day=DAY) == len(patrols)
        # the planner settings of the parallel statement do not leak into the rest of the transaction
        assert settings_now(names) == before
    parallel = rows(patrols)
    assert parallel.keys() == serial.keys()
    for key, (share, covered_m, covered) in serial.items():
        assert parallel[key][0] == pytest.approx(share, abs=1e-9)
        assert parallel[key][1] == pytest.approx(covered_m, abs=1e-6)
        assert parallel[key][2] is covered


def test_the_day_query_is_planned_in_parallel(patrols):
    """What makes the day fast on several cores: workers each take whole tracks (checked on the plan, since
    whether workers are free at run time depends on the server)."""
    sql = coverage.patrol_lane_shares_sql(where="p.id = ANY(%(ids)s)", buffer_m=20.0)
    with transaction.atomic(), connection.cursor() as cur:
        for name, value in coverage.PARALLEL_SETTINGS.items():
            cur.execute("SELECT set_config(%s, %s, true)", [name, value])
        cur.execute("EXPLAIN CREATE TEMPORARY TABLE t_plan AS " + sql, {"ids": patrols})
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "Workers Planned" in plan
    assert "Partial HashAggregate" in plan  # the sums are made in the workers: only numbers leave them
    assert "Sort" not in plan


def test_a_buffer_cut_into_pieces_measures_what_the_whole_buffer_does(patrols, monkeypatch):
    with transaction.atomic(), connection.cursor() as cur:
        coverage.store_patrol_lanes(cur, patrol_ids=patrols)
    whole = rows(patrols)
    monkeypatch.setattr(coverage, "SUBDIVIDE_VERTICES", 16)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM patrols_patrol p, ST_Subdivide(ST_Buffer(ST_Transform(p.track, 32651), 20), 16)"
            " WHERE p.id = ANY(%s)",
            [patrols],
        )
        assert cur.fetchone()[0] > 4 * len(patrols)
    with transaction.atomic(), connection.cursor() as cur:
        coverage.store_patrol_lanes(cur, patrol_ids=patrols)
    pieces = rows(patrols)
    assert pieces.keys() == whole.keys()
    for key, (share, _, covered) in whole.items():
        assert pieces[key][0] == pytest.approx(share, abs=1e-6)
        assert pieces[key][2] is covered
