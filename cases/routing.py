"""Routing: from a point to the squad (or community / street office queue) that owns a case there.

1. The place: nearest lane within settings CASE_LANE_SNAP_M (default 50 m, metric distance), and every area
   covering the point (grid cell, community, street office, district). No street office → RoutingError.
2. The owner: the category's owner is a squad kind (e.g. 环卫 sanitation) or the community / street office.
   Sensitive categories (residents' personal matters) go to the community or street office only.
3. The squad: squads of that kind serving the place, most specific first — the squads named for the lane,
   then those serving the grid cell, the community, the street office, the district. Squads that already
   returned the case are skipped. None left → the street office's queue.
The reason is written in words on the case (which rule, which area, which code).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases import conf
from cases.models import OWNER_COMMUNITY, OWNER_STREET_OFFICE, Category, OwnerQueue

# How far a lane chosen by the reporter may be from the point (metres).
CHOSEN_LANE_MAX_M = 500.0


class RoutingError(ValueError):
    """The case cannot be placed; the message is shown to the user."""


@dataclass
class Place:
    point: Point
    street_office: object  # grid.Area
    community: object | None = None
    grid_cell: object | None = None
    district: object | None = None
    lane: object | None = None  # lanes.Lane
    lane_distance_m: float | None = None

    def areas_most_specific_first(self):
        return [a for a in (self.grid_cell, self.community, self.street_office, self.district) if a is not None]


@dataclass
class Candidate:
    squad: object  # people.Squad
    reason: str


@dataclass
class Route:
    owner_queue: str
    squad: object | None
    reason: str
    candidates: list[Candidate] = field(default_factory=list)


LEVEL_LABELS = {
    "grid_cell": gettext_lazy("网格"),
    "community": gettext_lazy("社区"),
    "street_office": gettext_lazy("街道"),
    "district": gettext_lazy("区"),
}


def _area_words(area) -> str:
    return _("%(level)s「%(name)s」（%(code)s）") % {
        "level": LEVEL_LABELS.get(area.level, area.level),
        "name": area.name,
        "code": area.code,
    }


def locate(point: Point, *, lane_id: int | None = None) -> Place:
    """Areas covering `point` and its lane (the chosen one, else the nearest within CASE_LANE_SNAP_M)."""
    from cases.selectors import distance_from, nearest_lane
    from grid.models import Area
    from lanes.models import Lane

    by_level = {}
    for area in Area.objects.covering(point):
        by_level.setdefault(area.level, area)  # one per level; ties broken by code order of the query
    street_office = by_level.get("street_office")
    if street_office is None:
        raise RoutingError(_("不在任何街道范围内"))
    place = Place(
        point=point,
        street_office=street_office,
        community=by_level.get("community"),
        grid_cell=by_level.get("grid_cell"),
        district=by_level.get("district"),
    )
    if lane_id is not None:
        lane = Lane.objects.annotate(distance_m=distance_from("geom", point)).filter(pk=lane_id).first()
        if lane is None:
            raise RoutingError(_("所选街巷不存在"))
        if lane.distance_m > CHOSEN_LANE_MAX_M:
            raise RoutingError(
                _("所选街巷「%(lane)s」距上报位置 %(d).0f 米，超过 %(max).0f 米，请确认位置或街巷")
                % {"lane": lane.name, "d": lane.distance_m, "max": CHOSEN_LANE_MAX_M}
            )
    else:
        lane = nearest_lane(point, within_m=conf.get("CASE_LANE_SNAP_M"))
    if lane is not None:
        place.lane, place.lane_distance_m = lane, lane.distance_m
    return place


def _lane_reason(kind_name: str, squad_name: str, place: Place) -> str:
    return _("规则：%(kind)s中队「%(squad)s」负责街巷「%(lane)s」（上报点距街巷 %(d).0f 米）") % {
        "kind": kind_name,
        "squad": squad_name,
        "lane": place.lane.name,
        "d": place.lane_distance_m,
    }


def _area_reason(kind_name: str, squad_name: str, area) -> str:
    return _("规则：%(kind)s中队「%(squad)s」服务%(area)s，为上报点所在最小服务区域") % {
        "kind": kind_name,
        "squad": squad_name,
        "area": _area_words(area),
    }


def _office_reason(kind_name: str, squad_name: str, place: Place) -> str:
    return _("规则：%(kind)s中队「%(squad)s」隶属%(area)s且未划定服务区域，负责全街道") % {
        "kind": kind_name,
        "squad": squad_name,
        "area": _area_words(place.street_office),
    }


def squad_candidates(kind_code: str, place: Place, *, exclude_ids=()) -> list[Candidate]:
    """Squads of `kind_code` serving `place`, most specific first, each with the rule that selects it."""
    from people.models import Squad

    base = Squad.objects.filter(kind__code=kind_code).exclude(pk__in=list(exclude_ids)).select_related("kind")
    out: list[Candidate] = []
    seen: set[int] = set()
    if place.lane is not None:
        for squad in base.filter(lanes=place.lane).order_by("name"):
            seen.add(squad.pk)
            out.append(Candidate(squad, _lane_reason(squad.kind.name, squad.name, place)))
    areas = place.areas_most_specific_first()
    links = Squad.service_areas.through.objects.filter(area_id__in=[a.pk for a in areas], squad__in=base).values_list(
        "squad_id", "area_id"
    )
    squads_by_area: dict[int, list[int]] = {}
    for squad_id, area_id in links:
        squads_by_area.setdefault(area_id, []).append(squad_id)
    squads = {s.pk: s for s in base.filter(pk__in=[sid for sid, _ in links])}
    for area in areas:
        for squad in sorted((squads[i] for i in squads_by_area.get(area.pk, [])), key=lambda s: (s.name, s.pk)):
            if squad.pk in seen:
                continue
            seen.add(squad.pk)
            out.append(Candidate(squad, _area_reason(squad.kind.name, squad.name, area)))
    # Last, as in people.selectors.squads_for_lane: a squad declared with only its street office (no service
    # areas, no lanes) serves that street office.
    for squad in base.filter(
        street_office=place.street_office, service_areas__isnull=True, lanes__isnull=True
    ).order_by("name", "pk"):
        if squad.pk in seen:
            continue
        seen.add(squad.pk)
        out.append(Candidate(squad, _office_reason(squad.kind.name, squad.name, place)))
    return out


def _area_route(category: Category, place: Place) -> Route | None:
    """The community / street office queue for sensitive categories and those they own; None: a squad kind."""
    owner = category.owner
    if category.sensitive or owner in (OWNER_COMMUNITY, OWNER_STREET_OFFICE):
        why = (
            _("敏感事项（涉及居民个人信息）只派往社区或街道")
            if category.sensitive
            else _("类别「%(cat)s」由社区或街道负责") % {"cat": category.name}
        )
        if owner != OWNER_STREET_OFFICE and place.community is not None:
            return Route(
                OwnerQueue.COMMUNITY,
                None,
                _("%(why)s：转入%(area)s") % {"why": why, "area": _area_words(place.community)},
            )
        return Route(
            OwnerQueue.STREET_OFFICE,
            None,
            _("%(why)s：转入%(area)s") % {"why": why, "area": _area_words(place.street_office)},
        )
    return None


def _squad_route(candidates: list[Candidate], place: Place, *, kind_name: str, excluded: bool) -> Route:
    if candidates:
        first = candidates[0]
        return Route(OwnerQueue.SQUAD, first.squad, first.reason, candidates)
    returned = _("（已退回的中队不再派遣）") if excluded else ""
    return Route(
        OwnerQueue.STREET_OFFICE,
        None,
        _("没有服务该地点的%(kind)s中队%(returned)s：转入%(area)s待派队列")
        % {"kind": kind_name, "returned": returned, "area": _area_words(place.street_office)},
    )


def route(category: Category, place: Place, *, exclude_ids=()) -> Route:
    """Where a case of `category` at `place` goes, and why."""
    area_route = _area_route(category, place)
    if area_route is not None:
        return area_route
    from people.models import SquadKind

    owner = category.owner
    kind = SquadKind.objects.filter(code=owner).first()
    candidates = squad_candidates(owner, place, exclude_ids=exclude_ids)
    return _squad_route(candidates, place, kind_name=kind.name if kind else owner, excluded=bool(exclude_ids))


# --- one statement for a new report -----------------------------------------------------------------------------
@dataclass
class ReportPlan:
    """What a new report needs from the database, read in one statement (plan_report): the case an earlier
    submission with the same idempotency key created, the category, and — when the category exists — the place and
    the route, exactly as locate() + route() would find them."""

    existing_case_id: int | None
    category: Category | None
    place: Place | None = None
    route: Route | None = None
    error: str = ""  # why the case cannot be placed (what locate() raises as RoutingError)


PLAN_SQL = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), %(srid)s) AS g),
cat AS (
  SELECT c.* FROM cases_category c WHERE c.code = %(code)s AND c.active AND NOT c.is_group
),
areas AS (
  SELECT a.id, a.level, a.depth, a.code, a.name, a.parent_id FROM grid_area a, p WHERE ST_Intersects(a.geom, p.g)
),
lane AS (
  SELECT l.id, l.name, ST_Distance(l.geom::geography, p.g::geography) AS d
  FROM lanes_lane l, p WHERE %(lane_id)s::bigint IS NOT NULL AND l.id = %(lane_id)s::bigint
  UNION ALL
  (SELECT n.id, n.name, n.d FROM (
     SELECT l.id, l.name, ST_Distance(l.geom::geography, p.g::geography) AS d
     FROM lanes_lane l, p WHERE %(lane_id)s::bigint IS NULL AND ST_DWithin(l.geom, p.g, %(radius_deg)s)
   ) n WHERE n.d <= %(snap_m)s ORDER BY n.d, n.id LIMIT 1)
),
kind AS (SELECT k.id, k.name FROM people_squadkind k JOIN cat ON k.code = cat.owner),
squads AS (
  SELECT 'lane' AS via, NULL::bigint AS area_id, s.id, s.name, s.kind_id, s.street_office_id
  FROM people_squad s JOIN kind ON s.kind_id = kind.id JOIN people_squad_lanes sl ON sl.squad_id = s.id
  JOIN lane ON sl.lane_id = lane.id
  UNION ALL
  SELECT 'area', sa.area_id, s.id, s.name, s.kind_id, s.street_office_id
  FROM people_squad s JOIN kind ON s.kind_id = kind.id JOIN people_squad_service_areas sa ON sa.squad_id = s.id
  JOIN areas ON areas.id = sa.area_id
  UNION ALL
  SELECT 'office', s.street_office_id, s.id, s.name, s.kind_id, s.street_office_id
  FROM people_squad s JOIN kind ON s.kind_id = kind.id JOIN areas ON areas.id = s.street_office_id
  WHERE NOT EXISTS (SELECT 1 FROM people_squad_service_areas x WHERE x.squad_id = s.id)
    AND NOT EXISTS (SELECT 1 FROM people_squad_lanes x WHERE x.squad_id = s.id)
)
SELECT (SELECT c.id FROM cases_case c WHERE %(key)s::text IS NOT NULL AND c.idempotency_key = %(key)s::text),
       (SELECT row_to_json(cat) FROM cat),
       (SELECT json_agg(areas ORDER BY areas.depth, areas.code) FROM areas),
       (SELECT row_to_json(lane) FROM lane LIMIT 1),
       (SELECT name FROM kind),
       (SELECT json_agg(squads) FROM squads)
"""


def _instance(model, row: dict, fields: list[str]):
    """A model instance of the columns read (the others are deferred and load on access, like .only())."""
    return model.from_db("default", fields, [row[f] for f in fields])


def plan_report(
    *, category_code: str, point: Point, lane_id: int | None = None, idempotency_key: str | None = None
) -> ReportPlan:
    """Everything report_case reads, in one statement: the case of an earlier submission with the same (hashed)
    idempotency key, the reportable category, the covering areas, the lane (chosen, else the nearest within
    CASE_LANE_SNAP_M) and the squads of the category's kind serving the lane, the areas or the street office. The
    rules are those of locate(), route() and squad_candidates() (tests/test_routing.py checks they agree). What
    locate() would raise as RoutingError is returned in `error` (the caller checks its other inputs first);
    category None when it is not reportable (the place is then not computed)."""
    from django.db import connection

    from cases.selectors import degrees_for
    from grid.models import Area
    from lanes.models import Lane
    from people.models import Squad

    snap = float(conf.get("CASE_LANE_SNAP_M"))
    params = {
        "lon": point.x,
        "lat": point.y,
        "srid": point.srid or 4326,
        "code": str(category_code or "").strip(),
        "lane_id": lane_id,
        "radius_deg": degrees_for(point, snap) + 1e-6,
        "snap_m": snap,
        "key": idempotency_key,
    }
    with connection.cursor() as cursor:
        cursor.execute(PLAN_SQL, params)
        existing_id, cat_row, area_rows, lane_row, kind_name, squad_rows = cursor.fetchone()
    if existing_id is not None:
        return ReportPlan(existing_id, None)
    if cat_row is None:
        return ReportPlan(None, None)
    cat_fields = [f.attname for f in Category._meta.concrete_fields]
    category = _instance(Category, cat_row, cat_fields)

    by_level: dict[str, Area] = {}
    for row in area_rows or []:
        if row["level"] not in by_level:  # one per level, as locate(): outermost first, ties by code
            by_level[row["level"]] = _instance(Area, row, ["id", "level", "depth", "code", "name", "parent_id"])
    street_office = by_level.get("street_office")
    if street_office is None:
        return ReportPlan(None, category, error=_("不在任何街道范围内"))
    place = Place(
        point=point,
        street_office=street_office,
        community=by_level.get("community"),
        grid_cell=by_level.get("grid_cell"),
        district=by_level.get("district"),
    )
    if lane_id is not None:
        if lane_row is None:
            return ReportPlan(None, category, error=_("所选街巷不存在"))
        if lane_row["d"] > CHOSEN_LANE_MAX_M:
            return ReportPlan(
                None,
                category,
                error=_("所选街巷「%(lane)s」距上报位置 %(d).0f 米，超过 %(max).0f 米，请确认位置或街巷")
                % {"lane": lane_row["name"], "d": lane_row["d"], "max": CHOSEN_LANE_MAX_M},
            )
    if lane_row is not None:
        place.lane = _instance(Lane, lane_row, ["id", "name"])
        place.lane_distance_m = lane_row["d"]

    area_route = _area_route(category, place)
    if area_route is not None:
        return ReportPlan(None, category, place, area_route)
    kind_name = kind_name or category.owner
    squad_fields = ["id", "name", "kind_id", "street_office_id"]
    rows = squad_rows or []
    out: list[Candidate] = []
    seen: set[int] = set()

    def add(row, reason):
        seen.add(row["id"])
        out.append(Candidate(_instance(Squad, row, squad_fields), reason))

    for row in sorted((r for r in rows if r["via"] == "lane"), key=lambda r: (r["name"], r["id"])):
        if row["id"] not in seen:
            add(row, _lane_reason(kind_name, row["name"], place))
    for area in place.areas_most_specific_first():
        for row in sorted(
            (r for r in rows if r["via"] == "area" and r["area_id"] == area.pk), key=lambda r: (r["name"], r["id"])
        ):
            if row["id"] not in seen:
                add(row, _area_reason(kind_name, row["name"], area))
    office = [r for r in rows if r["via"] == "office" and r["area_id"] == street_office.pk]
    for row in sorted(office, key=lambda r: (r["name"], r["id"])):
        if row["id"] not in seen:
            add(row, _office_reason(kind_name, row["name"], place))
    return ReportPlan(None, category, place, _squad_route(out, place, kind_name=kind_name, excluded=False))
