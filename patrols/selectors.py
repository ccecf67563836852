"""Reads for patrols: who may see what, coverage figures, a lane's calendar, a person's totals and streaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.gis.geos import LineString
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from patrols import conf
from patrols.models import DailyReport, LaneDayCoverage, Patrol, PatrolStatus, ReportScope

# ---------------------------------------------------------------------------------------------------------------
# Who sees what


@dataclass
class Viewer:
    """What a user may see. `everything`: superusers, holders of patrols.view_all_patrols, district admins
    (Django group "district_admin" or a district-level staff scope). Street office staff (a staff scope on a
    street office, cases.StaffScope) and general lane chiefs (总街巷长) of a street office see that office's
    patrols, reports and lanes. Work group leaders see their groups; everyone sees their own patrols."""

    everything: bool = False
    person_id: int | None = None
    led_group_ids: set[int] = field(default_factory=set)
    street_office_ids: set[int] = field(default_factory=set)
    community_ids: set[int] = field(default_factory=set)


def viewer(user) -> Viewer:
    if user is None or not user.is_authenticated:
        return Viewer()
    if (
        user.is_superuser
        or user.has_perm("patrols.view_all_patrols")
        or user.groups.filter(name="district_admin").exists()
    ):
        return Viewer(everything=True, person_id=_person_id(user))
    from grid.models import Level
    from people.models import ChiefAssignment, Role, WorkGroup

    v = Viewer(person_id=_person_id(user))
    for level, area_id in _staff_scopes(user):
        if level == Level.DISTRICT:
            v.everything = True
        elif level == Level.STREET_OFFICE:
            v.street_office_ids.add(area_id)
        elif level == Level.COMMUNITY:
            v.community_ids.add(area_id)
    if v.person_id is not None:
        v.led_group_ids = set(WorkGroup.objects.filter(leader_id=v.person_id).values_list("id", flat=True))
        v.street_office_ids |= set(
            ChiefAssignment.objects.on(timezone.localdate())
            .filter(person_id=v.person_id, role=Role.GENERAL_LANE_CHIEF, area__level=Level.STREET_OFFICE)
            .values_list("area_id", flat=True)
        )
    return v


def _person_id(user) -> int | None:
    from people.models import Person

    return Person.objects.filter(user=user).values_list("id", flat=True).first()


def _staff_scopes(user) -> list[tuple[str, int]]:
    try:
        from cases.models import StaffScope
    except ImportError:  # the cases app defines street office staff; without it nobody is staff
        return []
    return list(StaffScope.objects.filter(user=user).values_list("area__level", "area_id"))


def visible_patrols(user) -> QuerySet[Patrol]:
    v = viewer(user)
    qs = Patrol.objects.select_related("person", "department", "work_group")
    if v.everything:
        return qs
    if v.person_id is None and not v.street_office_ids:
        return qs.none()
    from people.models import WorkGroup

    cond = Q(person_id=v.person_id) if v.person_id else Q(pk__in=[])
    if v.led_group_ids:
        members = WorkGroup.members.through.objects.filter(workgroup_id__in=v.led_group_ids).values("person_id")
        cond |= Q(work_group_id__in=v.led_group_ids) | Q(person_id__in=members)
    if v.street_office_ids:
        cond |= Q(department__street_office_id__in=v.street_office_ids)
    return qs.filter(cond)


def visible_reports(user) -> QuerySet[DailyReport]:
    v = viewer(user)
    qs = DailyReport.objects.all()
    if v.everything:
        return qs
    cond = Q(pk__in=[])
    if v.led_group_ids:
        from people.models import WorkGroup

        depts = WorkGroup.objects.filter(id__in=v.led_group_ids).values("department_id")
        cond |= Q(scope=ReportScope.WORK_GROUP, scope_id__in=v.led_group_ids)
        cond |= Q(scope=ReportScope.DEPARTMENT, scope_id__in=depts)
    if v.street_office_ids:
        cond |= Q(street_office_id__in=v.street_office_ids)
    return qs.filter(cond)


def visible_lane_coverage(user) -> QuerySet[LaneDayCoverage]:
    v = viewer(user)
    qs = LaneDayCoverage.objects.select_related("lane", "community")
    if v.everything:
        return qs
    cond = Q(pk__in=[])
    if v.led_group_ids:
        cond |= Q(work_group_ids__overlap=list(v.led_group_ids))
    if v.street_office_ids:
        cond |= Q(street_office_id__in=v.street_office_ids)
    if v.community_ids:
        cond |= Q(community_id__in=v.community_ids)
    if v.person_id:
        cond |= Q(chief_ids__contains=[v.person_id]) | Q(patroller_ids__contains=[v.person_id])
    return qs.filter(cond)


def can_manage_patrol(user, patrol: Patrol) -> bool:
    """Only the patroller writes to a patrol (points, findings, photos, notes)."""
    return user.is_authenticated and patrol.person.user_id == user.id


# ---------------------------------------------------------------------------------------------------------------
# Spatial reads


def track_near_lanes(track: LineString, *, within_m: float | None = None) -> bool:
    """Is any lane within `within_m` metres (default PATROL_MAX_LANE_DISTANCE_M) of the track? Index shortlist
    by bounding box, exact test on the spheroid."""
    within_m = conf.get("PATROL_MAX_LANE_DISTANCE_M") if within_m is None else within_m
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH t AS (SELECT ST_GeomFromEWKB(%(track)s) AS g)
            SELECT EXISTS (
              SELECT 1 FROM lanes_lane l, t
              WHERE l.geom && ST_Expand(t.g, %(m)s / (111320.0 * cos(radians(LEAST(89.0, GREATEST(abs(ST_YMin(t.g)), abs(ST_YMax(t.g))))))))
                AND ST_DWithin(l.geom::geography, t.g::geography, %(m)s)
            )
            """,
            {"track": bytes(track.ewkb), "m": float(within_m)},
        )
        return cur.fetchone()[0]


# ---------------------------------------------------------------------------------------------------------------
# Coverage figures


def coverage_rate(due: int, covered: int) -> float | None:
    """covered / due; None means "no data" (nothing was due), never 0 %."""
    return covered / due if due else None


def day_closed(day: date) -> bool:
    return LaneDayCoverage.objects.filter(day=day).exists()


BY_COLUMNS = {
    # by: (key SQL over alias c / lateral k, table holding the names)
    "department": ("department_ids", "people_department"),
    "work_group": ("work_group_ids", "people_workgroup"),
    "community": ("community_id", "grid_area"),
    "street_office": ("street_office_id", "grid_area"),
}


def coverage_summary(*, day: date, by: str, ids: list[int] | None = None) -> list[dict]:
    """Lanes due / covered / missed and the coverage rate on a closed day, per department, work group, community
    or street office (`by`). Lanes nobody answers for (or outside every community) are summed under id None.
    A lane held by two work groups counts once for each."""
    if by not in BY_COLUMNS:
        raise ValueError(f"by must be one of {', '.join(BY_COLUMNS)}")
    column, table = BY_COLUMNS[by]
    if column.endswith("_ids"):
        source = (
            "patrols_lanedaycoverage c CROSS JOIN LATERAL unnest("
            f"CASE WHEN cardinality(c.{column}) = 0 THEN ARRAY[NULL]::bigint[] ELSE c.{column} END) AS u(key)"
        )
        key = "u.key"
    else:
        source, key = "patrols_lanedaycoverage c", f"c.{column}"
    params: dict = {"day": day}
    filter_sql = pre_filter = ""
    if ids is not None:
        filter_sql = "WHERE k.key = ANY(%(ids)s)"
        # narrow the rows before grouping (GIN index on the arrays)
        pre_filter = (
            f"AND c.{column} && %(ids)s::bigint[]" if column.endswith("_ids") else f"AND c.{column} = ANY(%(ids)s)"
        )
        params["ids"] = list(ids)
    sql = f"""
        SELECT k.key, x.name, k.due, k.covered
        FROM (
          SELECT {key} AS key, count(*) FILTER (WHERE c.due) AS due,
                 count(*) FILTER (WHERE c.due AND c.covered) AS covered
          FROM {source} WHERE c.day = %(day)s {pre_filter} GROUP BY 1
        ) k LEFT JOIN {table} x ON x.id = k.key
        {filter_sql}
        ORDER BY x.name NULLS LAST, k.key
    """
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    return [
        {
            "id": key,
            "name": name,
            "due": due,
            "covered": covered,
            "missed": due - covered,
            "rate": coverage_rate(due, covered),
        }
        for key, name, due, covered in rows
    ]


def lanes_answered_for(*, person_id: int, day: date) -> set[int]:
    """Lanes a person answers for on `day`: lanes of the work groups they lead or belong to, and lanes they are
    lane chief of that day."""
    from people.models import ChiefAssignment, Role, WorkGroup

    groups = WorkGroup.objects.filter(Q(leader_id=person_id) | Q(members__id=person_id)).values("id")
    lanes = set(WorkGroup.lanes.through.objects.filter(workgroup_id__in=groups).values_list("lane_id", flat=True))
    lanes |= set(
        ChiefAssignment.objects.on(day)
        .filter(person_id=person_id, role=Role.LANE_CHIEF)
        .values_list("lane_id", flat=True)
    )
    return lanes


def person_day(*, person_id: int, day: date) -> dict:
    """A person's day: lanes answered for, which of them they covered themselves, which others covered, missed."""
    mine = lanes_answered_for(person_id=person_id, day=day)
    rows = LaneDayCoverage.objects.filter(day=day, lane_id__in=mine).values(
        "lane_id", "due", "covered", "patroller_ids"
    )
    due = [r for r in rows if r["due"]]
    by_self = sorted(r["lane_id"] for r in due if person_id in r["patroller_ids"])
    by_others = sorted(r["lane_id"] for r in due if r["covered"] and person_id not in r["patroller_ids"])
    missed = sorted(r["lane_id"] for r in due if not r["covered"])
    return {
        "day": day,
        "answered_for": sorted(mine),
        "due": len(due),
        "covered_by_self": by_self,
        "covered_by_others": by_others,
        "missed": missed,
        "rate": coverage_rate(len(due), len(due) - len(missed)),
    }


# ---------------------------------------------------------------------------------------------------------------
# History


def lane_calendar(*, lane_id: int, year: int) -> list[dict]:
    """Every closed day of `year` for one lane: due, covered, best share, and who covered it (patrol ids, names)."""
    from people.models import Person

    rows = list(
        LaneDayCoverage.objects.filter(lane_id=lane_id, day__year=year)
        .order_by("day")
        .values("day", "due", "covered", "best_share", "patrol_ids", "patroller_ids")
    )
    people = dict(Person.objects.filter(id__in={p for r in rows for p in r["patroller_ids"]}).values_list("id", "name"))
    for r in rows:
        r["patrollers"] = [{"id": pid, "name": people.get(pid, "")} for pid in r.pop("patroller_ids")]
    return rows


def patrol_days(person_id: int, *, until: date | None = None) -> list[date]:
    qs = Patrol.objects.filter(person_id=person_id, status=PatrolStatus.FINISHED)
    if until:
        qs = qs.filter(day__lte=until)
    return sorted(set(qs.values_list("day", flat=True)))


def streaks(days: list[date], *, today: date) -> tuple[int, int]:
    """(current, longest) runs of consecutive days. The current run ends today, or yesterday when today has no
    patrol yet (the day is not over)."""
    longest = run = 0
    prev = None
    for d in days:
        run = run + 1 if prev is not None and d - prev == timedelta(days=1) else 1
        longest = max(longest, run)
        prev = d
    current = 0
    dayset = set(days)
    cursor = today if today in dayset else today - timedelta(days=1)
    while cursor in dayset:
        current += 1
        cursor -= timedelta(days=1)
    return current, longest


def person_stats(*, person_id: int, today: date | None = None) -> dict:
    """A person's totals (finished patrols, days, kilometres, distinct lanes covered, findings) and streaks."""
    from django.db.models import Count, Sum

    from patrols.models import Finding, PatrolLane

    today = today or timezone.localdate()
    qs = Patrol.objects.filter(person_id=person_id, status=PatrolStatus.FINISHED, day__lte=today)
    agg = qs.aggregate(n=Count("id"), m=Sum("length_m"))
    days = patrol_days(person_id, until=today)
    current, longest = streaks(days, today=today)
    return {
        "person_id": person_id,
        "patrols": agg["n"] or 0,
        "days": len(days),
        "distance_km": round((agg["m"] or 0.0) / 1000.0, 3),
        "lanes_covered": PatrolLane.objects.filter(patrol__in=qs, covered=True).values("lane_id").distinct().count(),
        "findings": Finding.objects.filter(patrol__in=qs).count(),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "current_streak": current,
        "longest_streak": longest,
    }
