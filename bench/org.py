"""The organisation of the synthetic bench city (bench/city.py), shared by every scenario that needs one: per street
office four departments and three squads (市容, 环卫, 市政) serving it; per community one work group of its street
office's departments, holding the community's lanes, with a leader and `PATROLLERS_PER_GROUP` members; the case
categories. Built set-based in SQL, once (marked by department codes `bench-…`); `ensure()` returns the ids.
"""

from __future__ import annotations

import time

from django.db import connection, transaction

from bench import city

DEPARTMENTS_PER_OFFICE = 4
PATROLLERS_PER_GROUP = 12  # 256 communities × 12 ≈ 3,000 patrollers for the day's 3,000 tracks
SQUAD_KINDS = [("street_order", "市容", 1), ("sanitation", "环卫", 2), ("municipal", "市政", 3)]


def exists() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT EXISTS (SELECT 1 FROM people_department WHERE code LIKE 'bench-%%')")
        return cur.fetchone()[0]


def ensure(log=print) -> dict:
    """Build the organisation if it is not there; return counts and the ids scenarios need."""
    if not exists():
        build(log=log)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM people_department WHERE code LIKE 'bench-%%'),"
            " (SELECT count(*) FROM people_squad WHERE name LIKE 'bench %%'),"
            " (SELECT count(*) FROM people_workgroup w JOIN people_department d ON d.id = w.department_id"
            "   WHERE d.code LIKE 'bench-%%'),"
            " (SELECT count(*) FROM people_person WHERE title LIKE 'bench %%')"
        )
        departments, squads, groups, people = cur.fetchone()
    return {"departments": departments, "squads": squads, "work_groups": groups, "people": people}


def build(*, log=print) -> None:
    from cases.models import Category
    from cases.seed import seed_categories

    t0 = time.perf_counter()
    seed_categories(Category)
    district = city.DISTRICT_CODE
    with transaction.atomic(), connection.cursor() as cur:
        for code, name, order in SQUAD_KINDS:
            cur.execute(
                'INSERT INTO people_squadkind (code, name, "order") VALUES (%s, %s, %s) ON CONFLICT DO NOTHING',
                [code, name, order],
            )
        # departments: 4 per street office
        cur.execute(
            """
            INSERT INTO people_department (name, code, street_office_id)
            SELECT so.name || '第' || k || '部门', 'bench-' || so.code || '-' || k, so.id
            FROM grid_area so CROSS JOIN generate_series(1, %(k)s) k
            WHERE so.level = 'street_office' AND so.code LIKE %(d)s
            """,
            {"k": DEPARTMENTS_PER_OFFICE, "d": district + "%"},
        )
        # squads: one of each kind per street office, serving the whole street office
        cur.execute(
            """
            INSERT INTO people_squad (name, kind_id, duty_phone, street_office_id)
            SELECT 'bench ' || so.name || k.name || '中队', k.id, '0535-' || (6000000 + so.id * 10 + k."order"), so.id
            FROM grid_area so CROSS JOIN people_squadkind k
            WHERE so.level = 'street_office' AND so.code LIKE %(d)s AND k.code IN ('street_order', 'sanitation', 'municipal')
            """,
            {"d": district + "%"},
        )
        cur.execute(
            """
            INSERT INTO people_squad_service_areas (squad_id, area_id)
            SELECT s.id, s.street_office_id FROM people_squad s WHERE s.name LIKE 'bench %%'
            """
        )
        # one work group per community, of one of its street office's departments (round robin)
        cur.execute(
            """
            INSERT INTO people_workgroup (name, department_id)
            SELECT c.name || '工作组', d.id
            FROM grid_area c
            JOIN grid_area so ON so.id = c.parent_id
            JOIN people_department d ON d.street_office_id = so.id
             AND d.code = 'bench-' || so.code || '-' || (1 + (right(c.code, 3)::int %% %(k)s))
            WHERE c.level = 'community' AND c.code LIKE %(d)s
            """,
            {"k": DEPARTMENTS_PER_OFFICE, "d": district + "%"},
        )
        cur.execute(
            """
            INSERT INTO people_workgroup_lanes (workgroup_id, lane_id)
            SELECT w.id, l.id
            FROM people_workgroup w
            JOIN people_department d ON d.id = w.department_id AND d.code LIKE 'bench-%%'
            JOIN grid_area c ON c.level = 'community' AND c.name || '工作组' = w.name
            JOIN lanes_lane l ON l.community_id = c.id
            """
        )
        # people: a leader and the patrollers of each group (fictitious; phones from a reserved-looking range)
        cur.execute(
            """
            WITH g AS (
              SELECT w.id AS wg, w.department_id AS dept, n
              FROM people_workgroup w JOIN people_department d ON d.id = w.department_id AND d.code LIKE 'bench-%%'
              CROSS JOIN generate_series(0, %(m)s) n
            ), p AS (
              INSERT INTO people_person (name, title, department_id, private_phone, public_phone, is_volunteer,
                                         is_party_member)
              SELECT '巡查员' || g.wg || '-' || g.n, 'bench ' || CASE WHEN g.n = 0 THEN 'leader' ELSE 'patroller' END
                     || ' ' || g.wg, g.dept, '', '', false, false
              FROM g
              RETURNING id, title
            )
            SELECT count(*) FROM p
            """,
            {"m": PATROLLERS_PER_GROUP},
        )
        cur.execute(
            """
            UPDATE people_workgroup w SET leader_id = p.id
            FROM people_person p WHERE p.title = 'bench leader ' || w.id
            """
        )
        cur.execute(
            """
            INSERT INTO people_workgroup_members (workgroup_id, person_id)
            SELECT split_part(p.title, ' ', 3)::int, p.id FROM people_person p WHERE p.title LIKE 'bench %%'
            """
        )
        cur.execute("ANALYZE people_workgroup_lanes; ANALYZE people_person")
    log(f"  organisation: built in {time.perf_counter() - t0:.1f} s")
