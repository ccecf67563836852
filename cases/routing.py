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


def squad_candidates(kind_code: str, place: Place, *, exclude_ids=()) -> list[Candidate]:
    """Squads of `kind_code` serving `place`, most specific first, each with the rule that selects it."""
    from people.models import Squad

    base = Squad.objects.filter(kind__code=kind_code).exclude(pk__in=list(exclude_ids)).select_related("kind")
    out: list[Candidate] = []
    seen: set[int] = set()
    if place.lane is not None:
        for squad in base.filter(lanes=place.lane).order_by("name"):
            seen.add(squad.pk)
            out.append(
                Candidate(
                    squad,
                    _("规则：%(kind)s中队「%(squad)s」负责街巷「%(lane)s」（上报点距街巷 %(d).0f 米）")
                    % {
                        "kind": squad.kind.name,
                        "squad": squad.name,
                        "lane": place.lane.name,
                        "d": place.lane_distance_m,
                    },
                )
            )
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
            out.append(
                Candidate(
                    squad,
                    _("规则：%(kind)s中队「%(squad)s」服务%(area)s，为上报点所在最小服务区域")
                    % {"kind": squad.kind.name, "squad": squad.name, "area": _area_words(area)},
                )
            )
    # Last, as in people.selectors.squads_for_lane: a squad declared with only its street office (no service
    # areas, no lanes) serves that street office.
    for squad in base.filter(
        street_office=place.street_office, service_areas__isnull=True, lanes__isnull=True
    ).order_by("name", "pk"):
        if squad.pk in seen:
            continue
        seen.add(squad.pk)
        out.append(
            Candidate(
                squad,
                _("规则：%(kind)s中队「%(squad)s」隶属%(area)s且未划定服务区域，负责全街道")
                % {"kind": squad.kind.name, "squad": squad.name, "area": _area_words(place.street_office)},
            )
        )
    return out


def route(category: Category, place: Place, *, exclude_ids=()) -> Route:
    """Where a case of `category` at `place` goes, and why."""
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
    from people.models import SquadKind

    kind = SquadKind.objects.filter(code=owner).first()
    kind_name = kind.name if kind else owner
    candidates = squad_candidates(owner, place, exclude_ids=exclude_ids)
    if candidates:
        first = candidates[0]
        return Route(OwnerQueue.SQUAD, first.squad, first.reason, candidates)
    returned = _("（已退回的中队不再派遣）") if exclude_ids else ""
    return Route(
        OwnerQueue.STREET_OFFICE,
        None,
        _("没有服务该地点的%(kind)s中队%(returned)s：转入%(area)s待派队列")
        % {"kind": kind_name, "returned": returned, "area": _area_words(place.street_office)},
    )
