"""Reads for the street office dashboard (/dashboard/): what an area looks like today, layer by layer.

Every layer is served for one area (a district, street office or community the user works for) and one map view
(bbox), already simplified for the zoom and rounded, and capped, so no response grows with the city:
- lanes coloured by today's patrol coverage (the closed day's LaneDayCoverage when the day is closed, otherwise
  the finished patrols of today so far);
- open cases with their traffic light (maps.clock), as points, or as server-side clusters beyond CASES_POINT_LIMIT;
- grid cells with their rectification rate (整改率: cases filed in the period that are closed / cases filed,
  void and merged cases left out);
- a heatmap of the reports filed in the period, aggregated on a grid sized for the zoom;
- community and street office boundaries (illustrative ones say so).
Plus today's counts and one lane's details (chief, squads, open cases, last patrol).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import FloatField, Func, Q, Value
from django.utils import timezone

from grid.models import Area, Level
from maps.selectors import BBox, degrees_for, feature_collection, tolerance_for_zoom

LANES_LIMIT = 4000
CELLS_LIMIT = 6000
BOUNDARIES_LIMIT = 400
CASES_POINT_LIMIT = 2_000  # more open cases than this in view: clusters made by the database
CASES_CLUSTER_PX = 60
HEAT_CELL_PX = 10
HEAT_LIMIT = 20_000
LANE_DETAIL_CASES = 20
# Below this zoom the lanes and grid cells of a view are not sent (too many and too small to read); the boundaries,
# clustered cases and the heatmap still are.
DETAIL_MIN_ZOOM = 13
LIGHT_CODES = {"": 0, "green": 1, "yellow": 2, "red": 3, "suspended": 4}
LIGHTS_BY_CODE = {code: light for light, code in LIGHT_CODES.items()}


@dataclass(frozen=True)
class Filter:
    """What the dashboard shows: one area, a period (inclusive local dates), optional categories, and today."""

    area: Area
    start: date
    end: date
    category_ids: tuple[int, ...] | None  # None: every category
    today: date

    @property
    def period(self) -> tuple[datetime, datetime]:
        """[start 00:00, the day after end 00:00) in local time, as aware datetimes."""
        tz = timezone.get_current_timezone()
        return (
            datetime.combine(self.start, time.min, tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz),
        )


def dashboard_areas(scope) -> list[Area]:
    """Areas whose dashboard `scope` (cases.permissions.Scope) may open, largest first: a district admin every
    district and street office; street office staff their street offices and communities."""
    qs = Area.objects.filter(level__in=[Level.DISTRICT, Level.STREET_OFFICE, Level.COMMUNITY]).order_by("depth", "code")
    if scope.district_admin:
        return list(qs.filter(level__in=[Level.DISTRICT, Level.STREET_OFFICE]).defer("geom"))
    ids = set(scope.street_office_ids) | set(scope.community_ids)
    return list(qs.filter(pk__in=ids).defer("geom")) if ids else []


def category_choices():
    """(code, label, ids) for the category filter: each group (all its leaves), then its leaves indented."""
    from cases.models import Category

    groups = list(Category.objects.filter(is_group=True, active=True).order_by("order", "code"))
    leaves = list(Category.objects.filter(is_group=False).order_by("order", "code"))
    out = []
    for group in groups:
        children = [c for c in leaves if c.parent_id == group.pk]
        out.append((group.code, group.name, tuple(c.pk for c in children)))
        out.extend((c.code, "　" + c.name, (c.pk,)) for c in children)
    out.extend((c.code, c.name, (c.pk,)) for c in leaves if c.parent_id is None)
    return out


# --- SQL building blocks --------------------------------------------------------------------------------------
def _case_area_sql(area: Area, alias: str = "c") -> tuple[str, list]:
    """WHERE fragment: cases of `area` (by the area links routing stored on each case)."""
    if area.level == Level.COMMUNITY:
        return f"{alias}.community_id = %s", [area.pk]
    if area.level == Level.STREET_OFFICE:
        return f"{alias}.street_office_id = %s", [area.pk]
    return f"{alias}.street_office_id IN (SELECT id FROM grid_area WHERE parent_id = %s)", [area.pk]


def case_area_q(area: Area) -> Q:
    if area.level == Level.COMMUNITY:
        return Q(community_id=area.pk)
    if area.level == Level.STREET_OFFICE:
        return Q(street_office_id=area.pk)
    return Q(street_office__parent_id=area.pk)


def _category_sql(f: Filter, alias: str = "c") -> tuple[str, list]:
    if f.category_ids is None:
        return "TRUE", []
    return f"{alias}.category_id = ANY(%s)", [list(f.category_ids)]


def _envelope(bbox: BBox | None) -> tuple[str, list]:
    if bbox is None:
        return "TRUE", []
    return "ST_MakeEnvelope(%s, %s, %s, %s, 4326)", [bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat]


def _bbox_sql(column: str, bbox: BBox | None) -> tuple[str, list]:
    if bbox is None:
        return "TRUE", []
    env, params = _envelope(bbox)
    return f"{column} && {env}", params


def _geojson_sql(column: str, zoom: float | None, lat: float) -> tuple[str, list]:
    tolerance = tolerance_for_zoom(zoom, lat=lat)
    precision = 6 if tolerance < 1 else 5
    return f"ST_AsGeoJSON(ST_SimplifyPreserveTopology({column}, %s), {precision})", [degrees_for(tolerance)]


def _fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _lat(f: Filter, bbox: BBox | None) -> float:
    return bbox.centre_lat if bbox else 31.0


# --- layers ---------------------------------------------------------------------------------------------------
def lanes_layer(f: Filter, *, bbox: BBox | None, zoom: float | None, limit: int = LANES_LIMIT) -> str:
    """GeoJSON text: the area's lanes in view, property `cov` = "covered" | "missed" | "rest" for today (`closed`
    tells whether the day is closed and the colours are final)."""
    from patrols import conf as patrol_conf

    if zoom is not None and zoom < DETAIL_MIN_ZOOM:
        return feature_collection([], extra={"too_wide": True, "truncated": False})
    geo, geo_params = _geojson_sql("l.geom", zoom, _lat(f, bbox))
    box, box_params = _bbox_sql("l.geom", bbox)
    sql = f"""
SELECT l.id, {geo}, l.name,
  CASE WHEN d.id IS NOT NULL THEN (CASE WHEN NOT d.due THEN 'rest' WHEN d.covered THEN 'covered' ELSE 'missed' END)
       WHEN l.kind = ANY(%s::text[]) THEN 'rest'
       WHEN EXISTS (SELECT 1 FROM patrols_patrollane pl JOIN patrols_patrol p ON p.id = pl.patrol_id
                    WHERE pl.lane_id = l.id AND pl.covered AND p.day = %s AND p.status = 'finished') THEN 'covered'
       ELSE 'missed' END,
  d.id IS NOT NULL
FROM lanes_lane l
JOIN grid_area cm ON cm.id = l.community_id
LEFT JOIN patrols_lanedaycoverage d ON d.lane_id = l.id AND d.day = %s
WHERE cm.code LIKE %s AND {box}
ORDER BY l.length_m DESC, l.id
LIMIT %s"""
    params = [
        *geo_params,
        patrol_conf.rest_kinds(f.today),
        f.today,
        f.today,
        f.area.code + "%",
        *box_params,
        limit + 1,
    ]
    rows = _fetch(sql, params)
    closed = any(r[4] for r in rows)
    return feature_collection(
        [(pk, gj, {"name": name, "cov": cov}) for pk, gj, name, cov, _closed in rows[:limit]],
        extra={"too_wide": False, "truncated": len(rows) > limit, "closed": closed},
    )


def cells_layer(f: Filter, *, bbox: BBox | None, zoom: float | None, limit: int = CELLS_LIMIT) -> str:
    """GeoJSON text: the area's grid cells in view with `found`, `fixed` and `rate` (None without cases) over the
    period."""
    if zoom is not None and zoom < DETAIL_MIN_ZOOM:
        return feature_collection([], extra={"too_wide": True, "truncated": False})
    geo, geo_params = _geojson_sql("a.geom", zoom, _lat(f, bbox))
    box, box_params = _bbox_sql("a.geom", bbox)
    where, where_params = _case_area_sql(f.area)
    cat, cat_params = _category_sql(f)
    start, end = f.period
    sql = f"""
SELECT a.id, {geo}, a.name, count(c.id), count(c.id) FILTER (WHERE c.status = 'closed')
FROM grid_area a
LEFT JOIN cases_case c
  ON c.grid_cell_id = a.id
 AND {where} AND {cat} AND c.created_at >= %s AND c.created_at < %s AND c.status NOT IN ('void', 'merged')
WHERE a.level = 'grid_cell' AND a.code LIKE %s AND {box}
GROUP BY a.id
ORDER BY a.code
LIMIT %s"""
    # One join per cell rather than a pre-aggregated subquery: with a million cases elsewhere the planner
    # estimated the subquery at 2 rows and rescanned it for every cell (2.5 s at 2,342 cells; now ~50 ms).
    params = [*geo_params, *where_params, *cat_params, start, end, f.area.code + "%", *box_params, limit + 1]
    rows = _fetch(sql, params)
    features = [
        (
            pk,
            gj,
            {
                "name": name,
                "found": found,
                "fixed": fixed,
                "rate": round(fixed / found, 3) if found else None,
            },
        )
        for pk, gj, name, found, fixed in rows[:limit]
    ]
    return feature_collection(features, extra={"too_wide": False, "truncated": len(rows) > limit})


def boundaries_layer(f: Filter, *, bbox: BBox | None, zoom: float | None) -> str:
    """GeoJSON text: the area's own boundary and its street offices and communities in view (outlines), with
    `level`, `name` and `illustrative`."""
    geo, geo_params = _geojson_sql("a.geom", zoom, _lat(f, bbox))
    box, box_params = _bbox_sql("a.geom", bbox)
    sql = f"""
SELECT a.id, {geo}, a.level, a.name, a.code, a.illustrative
FROM grid_area a
WHERE a.level IN ('street_office', 'community') AND a.code LIKE %s AND {box}
ORDER BY a.depth, a.code
LIMIT %s"""
    rows = _fetch(sql, [*geo_params, f.area.code + "%", *box_params, BOUNDARIES_LIMIT])
    return feature_collection(
        [
            (pk, gj, {"level": level, "name": name, "code": code, "illustrative": illustrative})
            for pk, gj, level, name, code, illustrative in rows
        ],
        extra={"illustrative": any(r[5] for r in rows)},
    )


def _open_cases(f: Filter, bbox: BBox | None):
    from cases.models import OPEN_STATUSES, Case

    qs = Case.objects.filter(case_area_q(f.area), status__in=OPEN_STATUSES)
    if f.category_ids is not None:
        qs = qs.filter(category_id__in=f.category_ids)
    if bbox is not None:
        qs = qs.filter(point__bboverlaps=bbox.polygon)
    return qs


def _coord(function: str):
    """ST_X / ST_Y of the case's point, rounded to 6 decimals (about 0.1 m) in the database: no GEOS object per row."""
    return Func(
        Func(Func("point", function=function), function="numeric", template="(%(expressions)s)::numeric"),
        Value(6),
        function="round",
        output_field=FloatField(),
    )


def cases_layer(f: Filter, *, bbox: BBox | None, zoom: float | None, now, point_limit: int = CASES_POINT_LIMIT) -> dict:
    """Open cases in view with their light: {"points": [[lat, lon, light, id], …]} (light as LIGHT_CODES), or,
    beyond `point_limit`, {"clusters": [[lat, lon, count, red, yellow, green, other], …]} gridded for the zoom."""
    from cases.calendar import WorkCalendar
    from cases.selectors import case_clock
    from maps.clock import SUSPENDED, light_annotation

    calendar = WorkCalendar.load()
    qs = _open_cases(f, bbox)
    total = qs.count()
    lights = light_annotation(qs, now=now, calendar=calendar)
    if total <= point_limit:
        rows = list(
            qs.annotate(light=lights, lat=_coord("ST_Y"), lon=_coord("ST_X")).values_list("id", "lat", "lon", "light")
        )
        frozen = {pk for pk, _lat, _lon, light in rows if light == SUSPENDED}
        if frozen:  # a suspended case's clock stopped at its suspension: the one-case rule
            from cases.models import Case

            frozen_lights = {
                case.pk: case_clock(case, now=now, calendar=calendar).light or SUSPENDED
                for case in Case.objects.filter(pk__in=frozen).select_related("category")
            }
            rows = [(pk, lat, lon, frozen_lights.get(pk, light)) for pk, lat, lon, light in rows]
        points = [[lat, lon, LIGHT_CODES.get(light, 0), pk] for pk, lat, lon, light in rows]
        return {"points": points, "total": total}
    cell = degrees_for(tolerance_for_zoom(zoom, lat=_lat(f, bbox), pixels=CASES_CLUSTER_PX))
    sql, params = qs.annotate(light=lights).values_list("point", "light").query.sql_with_params()
    rows = _fetch(
        f"""SELECT ST_Y(ST_Centroid(ST_Collect(point))), ST_X(ST_Centroid(ST_Collect(point))), count(*),
                   count(*) FILTER (WHERE light = 'red'), count(*) FILTER (WHERE light = 'yellow'),
                   count(*) FILTER (WHERE light = 'green'), count(*) FILTER (WHERE light NOT IN ('red','yellow','green'))
            FROM ({sql}) s (point, light) GROUP BY ST_SnapToGrid(point, %s) ORDER BY 3 DESC""",
        [*params, cell],
    )
    return {"clusters": [[round(y, 6), round(x, 6), *counts] for y, x, *counts in rows], "total": total}


def heat_layer(f: Filter, *, bbox: BBox | None, zoom: float | None) -> dict:
    """Reports filed in the period, summed on a grid of about HEAT_CELL_PX pixels: {"points": [[lat, lon, n]],
    "max": n}."""
    where, where_params = _case_area_sql(f.area)
    cat, cat_params = _category_sql(f)
    box, box_params = _bbox_sql("c.point", bbox)
    start, end = f.period
    cell = degrees_for(tolerance_for_zoom(zoom, lat=_lat(f, bbox), pixels=HEAT_CELL_PX))
    rows = _fetch(
        f"""SELECT ST_Y(g), ST_X(g), n FROM (
              SELECT ST_SnapToGrid(c.point, %s) AS g, count(*) AS n FROM cases_case c
              WHERE {where} AND {cat} AND {box} AND c.created_at >= %s AND c.created_at < %s
                AND c.status NOT IN ('merged')
              GROUP BY 1) s ORDER BY n DESC LIMIT %s""",
        [cell, *where_params, *cat_params, *box_params, start, end, HEAT_LIMIT],
    )
    points = [[round(y, 6), round(x, 6), n] for y, x, n in rows]
    return {"points": points, "max": max((p[2] for p in points), default=0)}


# --- counts and details ---------------------------------------------------------------------------------------
def today_counts(f: Filter, *, now) -> dict:
    """Today (local) in the area: cases opened, closed, overdue now; lanes due, covered so far, coverage rate."""
    from cases.models import Case
    from cases.selectors import overdue_q
    from patrols import conf as patrol_conf

    tz = timezone.get_current_timezone()
    day_start = datetime.combine(f.today, time.min, tzinfo=tz)
    day_end = day_start + timedelta(days=1)
    cases = Case.objects.filter(case_area_q(f.area))
    if f.category_ids is not None:
        cases = cases.filter(category_id__in=f.category_ids)
    opened = cases.filter(created_at__gte=day_start, created_at__lt=day_end).exclude(status="merged").count()
    closed = cases.filter(closed_at__gte=day_start, closed_at__lt=day_end, status="closed").count()
    overdue = cases.filter(overdue_q(now)).count()
    due, covered = _fetch(
        """
SELECT count(*) FILTER (WHERE due), count(*) FILTER (WHERE due AND covered) FROM (
  SELECT CASE WHEN d.id IS NOT NULL THEN d.due ELSE NOT (l.kind = ANY(%s::text[])) END AS due,
         CASE WHEN d.id IS NOT NULL THEN d.covered ELSE EXISTS (
           SELECT 1 FROM patrols_patrollane pl JOIN patrols_patrol p ON p.id = pl.patrol_id
           WHERE pl.lane_id = l.id AND pl.covered AND p.day = %s AND p.status = 'finished') END AS covered
  FROM lanes_lane l JOIN grid_area cm ON cm.id = l.community_id
  LEFT JOIN patrols_lanedaycoverage d ON d.lane_id = l.id AND d.day = %s
  WHERE cm.code LIKE %s) s""",
        [patrol_conf.rest_kinds(f.today), f.today, f.today, f.area.code + "%"],
    )[0]
    return {
        "opened": opened,
        "closed": closed,
        "overdue": overdue,
        "lanes_due": due,
        "lanes_covered": covered,
        "coverage_rate": covered / due if due else None,
    }


def lane_in_area(lane_id: int, area: Area) -> bool:
    from lanes.models import Lane

    return Lane.objects.filter(pk=lane_id, community__code__startswith=area.code).exists()


def lane_detail(lane_id: int, f: Filter, *, now, scope) -> dict:
    """One lane for the dashboard's side panel: its placard (public fields), the open cases on it that `scope`
    (cases.permissions.Scope) may read, with their light, and the last finished patrol that covered it."""
    from cases.calendar import WorkCalendar
    from cases.models import OPEN_STATUSES
    from cases.selectors import case_clock, visible_cases
    from patrols.models import PatrolLane
    from people.selectors import placard_for_lane

    placard = placard_for_lane(lane_id, on=f.today)
    calendar = WorkCalendar.load()
    open_cases = (
        visible_cases(scope)
        .filter(lane_id=lane_id, status__in=OPEN_STATUSES)
        .select_related("category", "squad")
        .order_by("deadline", "id")
    )
    total = open_cases.count()
    cases = []
    for case in open_cases[:LANE_DETAIL_CASES]:
        cases.append(
            {
                "id": case.pk,
                "code": case.tracking_code,
                "category": case.category.name,
                "status": str(case.get_status_display()),
                "squad": case.squad.name if case.squad_id else "",
                "deadline": timezone.localtime(case.deadline).strftime("%m-%d %H:%M") if case.deadline else "",
                "light": case_clock(case, now=now, calendar=calendar).light,
            }
        )
    last = (
        PatrolLane.objects.filter(lane_id=lane_id, covered=True, patrol__status="finished")
        .select_related("patrol__person")
        .order_by("-patrol__day", "-patrol__ended_at", "-id")
        .first()
    )
    last_patrol = None
    if last is not None:
        last_patrol = {
            "day": last.patrol.day.isoformat(),
            "person": last.patrol.person.name,
            "share": round(last.share, 2),
        }
    return {
        "lane": placard["lane"],
        "community": placard["community"],
        "chiefs": [{k: c[k] for k in ("name", "title", "public_phone", "department")} for c in placard["chiefs"]],
        "squads": placard["squads"],
        "open_cases": cases,
        "open_total": total,
        "last_patrol": last_patrol,
    }


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
