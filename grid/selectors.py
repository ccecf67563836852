"""Reads and spatial queries on areas.

Point-in-area semantics: an area holds a point when its polygon *covers* it (interior or boundary), i.e.
ST_Intersects(area.geom, point) — so a point exactly on the border between two communities belongs to both, and
a point on a district's outer edge is still inside the district. shapely's `covers`/`intersects` agree with it.
"""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.db.models import QuerySet

from grid.models import Area, Level


def areas_at(point: Point) -> list[Area]:
    """Every area holding `point` (WGS-84), outermost first (district, street office, community, grid cell).
    One indexed query (Area.objects.covering)."""
    return list(Area.objects.covering(point))


def hierarchy_at(point: Point) -> dict[str, Area]:
    """The area of each level holding `point`, by level; where borders are shared, the lowest code wins."""
    out: dict[str, Area] = {}
    for area in Area.objects.covering(point).order_by("depth", "code"):
        out.setdefault(area.level, area)
    return out


def area_by_code(code: str) -> Area | None:
    code = (code or "").strip()
    if not code:
        return None
    return Area.objects.filter(code=code).first()


def under(area: Area, *, level: str | None = None, include_self: bool = False) -> QuerySet[Area]:
    """Areas below `area` in the hierarchy (by code prefix, which the database keeps consistent with parent)."""
    qs = Area.objects.filter(code__startswith=area.code)
    if not include_self:
        qs = qs.exclude(pk=area.pk)
    if level is not None:
        qs = qs.filter(level=level)
    return qs.order_by("code")


def communities_under(area: Area) -> QuerySet[Area]:
    """The communities at or under `area` (the area itself if it is a community)."""
    return under(area, level=Level.COMMUNITY, include_self=True)


def street_offices_under(area: Area) -> QuerySet[Area]:
    return under(area, level=Level.STREET_OFFICE, include_self=True)


def cells_under(area: Area) -> QuerySet[Area]:
    """The unit grid cells at or under `area`."""
    return under(area, level=Level.GRID_CELL, include_self=True)


def ancestors(area: Area) -> list[Area]:
    """The areas above `area`, outermost first (their codes are prefixes of its code). One query."""
    prefixes = [area.code[:n] for n in (6, 9, 12) if n < len(area.code)]
    return list(Area.objects.filter(code__in=prefixes).order_by("depth"))


# The hot path of GET /api/areas/at/: one raw statement, plain rows (Area.objects.covering with the ORM costs several
# times the query itself in query building). Same semantics: covers (interior or boundary), outermost first.
AREAS_AT_SQL = """
SELECT a.level, a.code, a.name, a.illustrative, p.code
FROM grid_area a LEFT JOIN grid_area p ON p.id = a.parent_id
WHERE ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))
ORDER BY a.depth, a.code
"""


def area_rows(rows) -> list[dict]:
    """Rows of AREAS_AT_SQL as the API shows them (level names in the active language)."""
    return [
        {
            "level": level,
            "level_name": str(Level(level).label),
            "code": code,
            "name": name,
            "illustrative": illustrative,
            "parent": parent,
        }
        for level, code, name, illustrative, parent in rows
    ]


def areas_at_rows(lon: float, lat: float) -> list[dict]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(AREAS_AT_SQL, [lon, lat])
        rows = cursor.fetchall()
    return area_rows(rows)
