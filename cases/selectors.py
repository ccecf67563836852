"""Reads on cases: what a user may see (permissions in the queryset), inboxes, duplicates, clocks, the public view."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.db.models import F, Q, QuerySet, Value
from django.utils import timezone

from cases import conf
from cases.calendar import Clock, WorkCalendar, traffic_light
from cases.models import CLOCK_STATUSES, OPEN_STATUSES, Case, CaseEvent, Category, OwnerQueue, Status
from cases.permissions import Scope, can_read, scope_for, visible_q, visible_sql
from common.geo import GeogDistance


def geom_value(point):
    """A geometry parameter psycopg2 can adapt inside plain Funcs such as GeogDistance (a bare GEOS Point cannot)."""
    return Value(point, output_field=GeometryField(srid=point.srid or settings.GEO_SRID))


def distance_from(field: str, point) -> GeogDistance:
    """Metres on the spheroid from `field` to `point`."""
    return GeogDistance(field, geom_value(point))


def base_queryset() -> QuerySet[Case]:
    return Case.objects.select_related("category", "lane", "squad", "squad__kind", "street_office", "community")


def visible_cases(scope: Scope) -> QuerySet[Case]:
    """Cases `scope` may read (the role rules of cases.permissions, as one filter)."""
    q = visible_q(scope)
    qs = base_queryset()
    return qs if q is None else qs.filter(q)


def scope_and_calendar(user) -> tuple[Scope, WorkCalendar]:
    """scope_for(user) and WorkCalendar.load(), read in one statement (every request of the cases API needs both;
    the calendar's holidays and make-up days are the statement's last column)."""
    from datetime import date

    from cases.models import CalendarDay
    from cases.permissions import SCOPE_SQL, scope_from_row, scope_params

    if user is None or not user.is_authenticated or not user.is_active:
        return scope_for(user), WorkCalendar.load()
    from django.db import connection

    sql = (
        SCOPE_SQL.rstrip()
        + f",\n       (SELECT json_agg(json_build_array(d.date, d.is_workday)) FROM {CalendarDay._meta.db_table} d)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, scope_params(user))
        row = cursor.fetchone()
    days = {date.fromisoformat(day): is_workday for day, is_workday in row[-1] or []}
    return scope_from_row(user, row[:-1]), WorkCalendar(exceptions=days)


def visible_cases_for(user) -> QuerySet[Case]:
    return visible_cases(scope_for(user))


def get_visible(scope: Scope, case_id) -> Case | None:
    return visible_cases(scope).filter(pk=case_id).first()


def overdue_q(now=None) -> Q:
    return Q(status__in=CLOCK_STATUSES, deadline__lt=now or timezone.now())


def inbox(scope: Scope) -> QuerySet[Case]:
    """Dispatches waiting on `scope`: their squads' open cases, and for staff the community / street office
    queue of their areas; earliest deadline first."""
    q = Q(owner_queue=OwnerQueue.SQUAD, squad_id__in=scope.squad_ids)
    if scope.district_admin:
        q |= ~Q(owner_queue=OwnerQueue.SQUAD)
    else:
        q |= ~Q(owner_queue=OwnerQueue.SQUAD) & (
            Q(street_office_id__in=scope.street_office_ids) | Q(community_id__in=scope.community_ids)
        )
    return (
        base_queryset()
        .filter(q, status__in=[*CLOCK_STATUSES, Status.SUSPENDED])
        .order_by(F("deadline").asc(nulls_last=True), "id")
    )


def case_clock(case: Case, *, now=None, calendar: WorkCalendar | None = None) -> Clock:
    """Traffic light of a case: running clock for working states, frozen while suspended, none otherwise."""
    if case.deadline is None or not case.limit_seconds:
        return Clock("", 0.0, 0)
    if case.status == Status.SUSPENDED and case.suspended_at:
        at = case.suspended_at
    elif case.status in CLOCK_STATUSES:
        at = now or timezone.now()
    else:
        return Clock("", 0.0, 0)
    calendar = calendar or WorkCalendar.load()
    remaining = calendar.elapsed(at, case.deadline, case.clock_unit)
    return traffic_light(limit_seconds=case.limit_seconds, remaining_seconds=remaining)


def duplicates_near(*, category: Category, point, exclude_id: int | None = None, radius_m: float | None = None):
    """Open cases of the same category within CASE_DUPLICATE_RADIUS_M (default 50 m) of `point`, nearest first,
    with `distance_m` (metres on the spheroid)."""
    radius = radius_m if radius_m is not None else conf.get("CASE_DUPLICATE_RADIUS_M")
    qs = (
        Case.objects.filter(
            category=category, status__in=OPEN_STATUSES, point__dwithin=(point, degrees_for(point, radius))
        )
        .annotate(distance_m=distance_from("point", point))
        .filter(distance_m__lte=radius)
        .order_by("distance_m", "id")
    )
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return qs


class DuplicateRow(NamedTuple):
    id: int
    tracking_code: str
    status: str
    distance_m: float
    created_at: datetime
    version: int


DUPLICATES_SQL = """
SELECT c.id, c.tracking_code, c.status, d.distance_m, c.created_at, c.version
FROM cases_case c
CROSS JOIN LATERAL (
  SELECT ST_Distance(c.point::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(srid)s)::geography) AS distance_m
) d
WHERE c.category_id = %(category)s AND c.status = ANY(%(statuses)s::text[])
  AND ST_DWithin(c.point, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(srid)s), %(degrees)s)
  AND d.distance_m <= %(radius)s AND (%(exclude)s::bigint IS NULL OR c.id <> %(exclude)s) AND {visible}
ORDER BY d.distance_m, c.id
LIMIT %(limit)s
"""


def possible_duplicates(
    *, scope: Scope, category_id: int, point, exclude_id: int | None = None, limit: int = 20
) -> list[DuplicateRow]:
    """The first `limit` of duplicates_near(...) that `scope` may read (visible_cases), by one plain SQL statement:
    the answer to every submission lists them, and the ORM's query compiler cost more than the query itself. The
    same rows in the same order as duplicates_near(...).filter(pk__in=visible_cases(scope).values("pk"))[:limit]
    (cases/tests/test_submission.py compares them)."""
    from django.db import connection

    radius = float(conf.get("CASE_DUPLICATE_RADIUS_M"))
    visible = visible_sql(scope, "c")
    condition, params = visible if visible is not None else ("TRUE", {})
    params.update(
        lon=point.x,
        lat=point.y,
        srid=point.srid or settings.GEO_SRID,
        category=category_id,
        statuses=[str(s) for s in OPEN_STATUSES],
        degrees=degrees_for(point, radius),
        radius=radius,
        exclude=exclude_id,
        limit=limit,
    )
    with connection.cursor() as cursor:
        cursor.execute(DUPLICATES_SQL.format(visible=condition), params)
        return [DuplicateRow(*row) for row in cursor.fetchall()]


def degrees_for(point, metres: float) -> float:
    """A radius in degrees that surely holds `metres` around `point`: only an index pre-filter, the exact test is
    metric (a degree of longitude shrinks with the cosine of the latitude; 1.1 is headroom)."""
    return 1.1 * metres / (111_320.0 * max(math.cos(math.radians(point.y)), 0.01))


def nearest_lane(point, *, within_m: float):
    """The lane nearest to `point` within `within_m` metres (spheroid), with `distance_m`, or None.

    Not Lane.objects.nearest: its degree radius is derived from the KNN candidates' spheroid distances, and for a
    point lying on a lane (distance ~1e-6 m on the spheroid, ~1e-9 degrees planar) that radius is smaller than the
    planar distance, so the lane under the point is dropped (reported to the lanes owner). Here the index
    pre-filter radius comes from `within_m` itself, with headroom."""
    from lanes.models import Lane

    return (
        Lane.objects.filter(geom__dwithin=(point, degrees_for(point, within_m) + 1e-6))
        .annotate(distance_m=distance_from("geom", point))
        .filter(distance_m__lte=within_m)
        .order_by("distance_m", "pk")
        .first()
    )


def timeline(case: Case) -> QuerySet[CaseEvent]:
    return CaseEvent.objects.filter(case=case).order_by("at", "id")


def by_tracking_code(code: str) -> Case | None:
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        return None
    return base_queryset().filter(tracking_code=code).first()


PUBLIC_ACTIONS = {
    "report",
    "dispatch",
    "accept",
    "resolve",
    "recheck_pass",
    "close",
    "void",
    "merge",
    "suspend",
    "resume",
}


def public_view(case: Case) -> dict:
    """What anyone holding the tracking code may see: the state of the report, never who handles it, their
    notes or the reporter's contact. Sensitive matters (residents' personal data) show only code, status and
    dates — not the category, description or place."""
    events = [
        {"action": e.action, "status": e.to_status, "at": e.at}
        for e in timeline(case).filter(action__in=PUBLIC_ACTIONS)
    ]
    data = {
        "tracking_code": case.tracking_code,
        "status": case.status,
        "status_label": str(case.get_status_display()),
        "created_at": case.created_at,
        "closed_at": case.closed_at,
        "sensitive": case.category.sensitive,
        "timeline": events,
    }
    if case.merged_into_id:
        data["merged_into"] = case.merged_into.tracking_code
    if not case.category.sensitive:
        data.update(
            category=case.category.name,
            description=case.description,
            lane=case.lane.name if case.lane_id else "",
            street_office=case.street_office.name,
            lon=round(case.point.x, 6),
            lat=round(case.point.y, 6),
        )
    return data


def attendance_report(scope: Scope, *, now=None):
    """Must-attend cases in `scope` with their attendance state: "on_time", "late", "missing" (none recorded
    and the time allowed has passed) or "pending"."""
    now = now or timezone.now()
    due = timedelta(hours=conf.get("CASE_ATTEND_DUE_HOURS"))
    rows = []
    qs = visible_cases(scope).filter(category__must_attend=True).exclude(status__in=[Status.VOID, Status.MERGED])
    for case in qs.prefetch_related("attendances").order_by("-created_at")[:500]:
        attendances = list(case.attendances.all())
        if attendances:
            first = attendances[0]
            state = "late" if first.late else "on_time"
        else:
            state = "missing" if now > case.created_at + due else "pending"
        rows.append((case, state, attendances))
    return rows


__all__ = [
    "attendance_report",
    "by_tracking_code",
    "can_read",
    "case_clock",
    "duplicates_near",
    "get_visible",
    "inbox",
    "overdue_q",
    "possible_duplicates",
    "public_view",
    "scope_and_calendar",
    "scope_for",
    "timeline",
    "visible_cases",
    "visible_cases_for",
]
