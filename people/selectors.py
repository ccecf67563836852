"""Reads on people, chiefs and squads: who served a lane on a given day, which squad serves it, and the public
contact placard (街巷长联系牌)."""

from __future__ import annotations

from datetime import date

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _

from lanes.models import Lane
from people.models import ChiefAssignment, Role, Squad, SquadKind

# 六必到: the six occasions a lane chief must attend in person (Beihai Haicheng).
MUST_ATTEND = (
    _("居民困难重重必到"),
    _("街巷突发事件必到"),
    _("居民矛盾纠纷必到"),
    _("邻里守望相助必到"),
    _("居民思想问题必到"),
    _("社区志愿服务必到"),
)
# 六必报: the six things a lane chief must report.
MUST_REPORT = (
    _("乱丢乱放垃圾必报"),
    _("公共设施损坏必报"),
    _("外来人员流入必报"),
    _("困难居民病重必报"),
    _("社区安全隐患必报"),
    _("社区不稳定因素必报"),
)

# The only person fields a public page may show. private_phone is deliberately absent: the placard reads
# people through this list (values(), not model instances), so the private number is never even loaded.
PUBLIC_PERSON_FIELDS = ("name", "title", "public_phone")


def chiefs_of_lane(lane: Lane | int, *, on: date) -> QuerySet[ChiefAssignment]:
    """Lane chiefs (街巷长) of `lane` in office on `on` (validity dates inclusive), earliest appointed first."""
    return (
        ChiefAssignment.objects.on(on)
        .filter(role=Role.LANE_CHIEF, lane=lane)
        .select_related("person", "person__department")
        .order_by("valid_from", "pk")
    )


def general_lane_chiefs_of(street_office, *, on: date) -> QuerySet[ChiefAssignment]:
    """General lane chiefs (总街巷长) of a street office (Area or id) in office on `on`."""
    return (
        ChiefAssignment.objects.on(on)
        .filter(role=Role.GENERAL_LANE_CHIEF, area=street_office)
        .select_related("person", "person__department")
        .order_by("valid_from", "pk")
    )


def lanes_of_chief(person, *, on: date) -> QuerySet[Lane]:
    """Lanes `person` (Person or id) is lane chief of on `on`."""
    ids = ChiefAssignment.objects.on(on).filter(role=Role.LANE_CHIEF, person=person).values("lane_id")
    return Lane.objects.filter(pk__in=ids)


# Candidates for each kind, most specific first: 0 the lane itself (Squad.lanes), 1 grid cells the lane runs
# through (more of its cells served ranks first), 2 its community, 3 the community's street office, 4 the
# district, 5 a squad declared with only a street office (no service areas, no lanes) serves that street
# office. Ties at the same level go to the squad whose name sorts first, then the oldest.
_SQUADS_FOR_LANE_SQL = """
WITH l AS (
  SELECT c.id AS community_id, so.id AS so_id, so.parent_id AS district_id
  FROM {lane} ln
  LEFT JOIN {area} c ON c.id = ln.community_id
  LEFT JOIN {area} so ON so.id = c.parent_id
  WHERE ln.id = %s
), cand AS (
  SELECT sl.squad_id, 0 AS rank, 1 AS hits FROM {squad_lanes} sl WHERE sl.lane_id = %s
  UNION ALL
  SELECT sa.squad_id, 1, count(*) FROM {squad_areas} sa JOIN {lanecell} lc ON lc.cell_id = sa.area_id
  WHERE lc.lane_id = %s GROUP BY sa.squad_id
  UNION ALL
  SELECT sa.squad_id, CASE sa.area_id WHEN l.community_id THEN 2 WHEN l.so_id THEN 3 ELSE 4 END, 1
  FROM {squad_areas} sa, l WHERE sa.area_id IN (l.community_id, l.so_id, l.district_id)
  UNION ALL
  SELECT s.id, 5, 1 FROM {squad} s, l
  WHERE s.street_office_id = l.so_id
    AND NOT EXISTS (SELECT 1 FROM {squad_areas} x WHERE x.squad_id = s.id)
    AND NOT EXISTS (SELECT 1 FROM {squad_lanes} y WHERE y.squad_id = s.id)
)
SELECT DISTINCT ON (s.kind_id) s.id
FROM cand JOIN {squad} s ON s.id = cand.squad_id
ORDER BY s.kind_id, cand.rank, cand.hits DESC, s.name, s.id
"""


def _squads_sql() -> str:
    from grid.models import Area
    from lanes.models import LaneCell

    return _SQUADS_FOR_LANE_SQL.format(
        lane=Lane._meta.db_table,
        area=Area._meta.db_table,
        lanecell=LaneCell._meta.db_table,
        squad=Squad._meta.db_table,
        squad_lanes=Squad.lanes.through._meta.db_table,
        squad_areas=Squad.service_areas.through._meta.db_table,
    )


def _serving(lane_id: int) -> list[tuple[str, str, Squad | None]]:
    found = {
        squad.kind_id: squad
        for squad in Squad.objects.filter(pk__in=RawSQL(_squads_sql(), (lane_id, lane_id, lane_id))).select_related(
            "kind"
        )
    }
    return [(kind.code, kind.name, found.get(kind.pk)) for kind in SquadKind.objects.order_by("order", "code")]


def squads_for_lane(lane: Lane | int) -> dict[str, Squad | None]:
    """The squad of each kind serving `lane`, keyed by SquadKind.code in the kinds' order; None where no squad
    of that kind serves it. The most specific assignment wins: the lane itself (Squad.lanes), then a service
    area covering it — one of its grid cells, its community, its community's street office, the district —
    then a squad declared with only a street office. Ties: the squad serving more of the lane's grid cells,
    then the name that sorts first, then the oldest squad. Two queries."""
    lane_id = lane.pk if isinstance(lane, Lane) else int(lane)
    return {code: squad for code, _name, squad in _serving(lane_id)}


def squad_for_lane(lane: Lane | int, kind: str) -> Squad | None:
    """The squad of kind `kind` (a SquadKind code) serving `lane`, by the rule of squads_for_lane."""
    return squads_for_lane(lane).get(kind)


def _public_person(row: dict, prefix: str = "person__") -> dict:
    return {field: row[prefix + field] or "" for field in PUBLIC_PERSON_FIELDS}


def placard_for_lane(lane: Lane | int, *, on: date) -> dict:
    """The contact placard (街巷长联系牌) of `lane` as it stood on `on`: PUBLIC fields only, as plain data
    (str, int, None, lists, dicts) ready for a template or JSON:

        {"lane": {"id", "name"}, "community": {"name", "code"} | None, "street_office": {"name", "code"} | None,
         "date": "YYYY-MM-DD",
         "chiefs": [{"name", "title", "public_phone", "department", "duties"}],   # lane chiefs in office
         "general_lane_chiefs": [{"name", "title", "public_phone"}],             # of the street office
         "squads": [{"kind", "kind_name", "name", "duty_phone"}],                # one per kind; name None if none
         "must_attend": [六必到 …], "must_report": [六必报 …]}

    People are read through PUBLIC_PERSON_FIELDS only: a private phone never enters this function's queries.
    Raises Lane.DoesNotExist for an unknown lane."""
    lane_id = lane.pk if isinstance(lane, Lane) else int(lane)
    row = (
        Lane.objects.filter(pk=lane_id)
        .values(
            "id",
            "name",
            "community__name",
            "community__code",
            "community__parent_id",
            "community__parent__name",
            "community__parent__code",
        )
        .get()
    )
    person_fields = [f"person__{field}" for field in PUBLIC_PERSON_FIELDS]
    chiefs = [
        {**_public_person(a), "department": a["person__department__name"] or "", "duties": a["duties"] or ""}
        for a in ChiefAssignment.objects.on(on)
        .filter(role=Role.LANE_CHIEF, lane_id=lane_id)
        .order_by("valid_from", "pk")
        .values(*person_fields, "person__department__name", "duties")
    ]
    so_id = row["community__parent_id"]
    general = []
    if so_id is not None:
        general = [
            _public_person(a)
            for a in ChiefAssignment.objects.on(on)
            .filter(role=Role.GENERAL_LANE_CHIEF, area_id=so_id)
            .order_by("valid_from", "pk")
            .values(*person_fields)
        ]
    squads = [
        {
            "kind": code,
            "kind_name": kind_name,
            "name": squad.name if squad else None,
            "duty_phone": squad.duty_phone if squad else "",
        }
        for code, kind_name, squad in _serving(lane_id)
    ]
    return {
        "lane": {"id": row["id"], "name": row["name"]},
        "community": {"name": row["community__name"], "code": row["community__code"]}
        if row["community__code"]
        else None,
        "street_office": {"name": row["community__parent__name"], "code": row["community__parent__code"]}
        if so_id is not None
        else None,
        "date": on.isoformat(),
        "chiefs": chiefs,
        "general_lane_chiefs": general,
        "squads": squads,
        "must_attend": [str(text) for text in MUST_ATTEND],
        "must_report": [str(text) for text in MUST_REPORT],
    }
