"""Writes for the geography: areas (district → street office → community → unit grid cell) and grid generation.

Keyword-only, typed, each public function one transaction. The database enforces the hierarchy itself (check
constraint `area_code_matches_level`, trigger `grid_area_check_parent`, `area_geom_valid`); the checks here run
first so that users get a clear message, and any IntegrityError that still happens becomes a ValidationError.
Lane ↔ cell links (LaneCell) and Lane.community are maintained by database triggers: nothing here writes them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Polygon
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, router, transaction
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.utils.translation import gettext as _

from common.geo import utm_srid
from common.progress import Progress
from common.progress import say as _say
from grid.models import CODE_LENGTH, PARENT_LEVEL, Area, Level

GRID_SIZE_MIN_M = 10.0
GRID_SIZE_MAX_M = 2000.0
GRID_MAX_CELLS_PER_COMMUNITY = 999  # 3-digit sequence
GRID_MIN_PART_M2 = 0.5  # clipped slivers smaller than this are not cells

_UNSET = object()


# ---------------------------------------------------------------------------------------------------------------
# Geometry and code checks shared with the boundary importer


def as_multipolygon(geom) -> MultiPolygon:
    """A GEOS MultiPolygon in settings.GEO_SRID from a GEOS or shapely (Multi)Polygon.

    GEOS input without an SRID, and shapely input, are taken to be WGS-84 (settings.GEO_SRID); GEOS input in
    another SRID is transformed."""
    if geom is None:
        raise ValidationError({"geom": _("缺少边界几何。")})
    if not isinstance(geom, GEOSGeometry):
        if not hasattr(geom, "wkb"):
            raise ValidationError({"geom": _("无法识别的几何对象：%(type)s") % {"type": type(geom).__name__}})
        geom = GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=settings.GEO_SRID)
    if geom.srid is None:
        geom.srid = settings.GEO_SRID
    elif geom.srid != settings.GEO_SRID:
        geom = geom.transform(settings.GEO_SRID, clone=True)
    if isinstance(geom, Polygon):
        geom = MultiPolygon(geom, srid=geom.srid)
    if not isinstance(geom, MultiPolygon):
        raise ValidationError(
            {"geom": _("边界必须是面（Polygon/MultiPolygon），而不是 %(type)s。") % {"type": geom.geom_type}}
        )
    if geom.empty:
        raise ValidationError({"geom": _("边界几何为空。")})
    if not geom.valid:
        raise ValidationError({"geom": _("边界几何无效：%(reason)s") % {"reason": geom.valid_reason}})
    return geom


def code_errors(*, level: str, code: str, parent: Area | None) -> list[str]:
    """Why `code` cannot name an area of `level` under `parent` (empty list: it can)."""
    errors: list[str] = []
    if level not in Level.values:
        return [_("未知层级 %(level)s（可选：%(choices)s）。") % {"level": level, "choices": ", ".join(Level.values)}]
    length = CODE_LENGTH[Level(level)]
    label = Level(level).label
    if not code:
        errors.append(_("缺少编码。"))
    elif not (code.isascii() and code.isdigit()) or len(code) != length:
        errors.append(
            _("%(level)s编码必须是 %(n)d 位数字，而不是 “%(code)s”。")
            % {"level": label, "n": length, "code": code[:30]}
        )
    parent_level = PARENT_LEVEL[Level(level)]
    if parent_level is None:
        if parent is not None:
            errors.append(_("区没有上级区域。"))
    elif parent is None:
        errors.append(_("%(level)s必须有上级%(parent)s。") % {"level": label, "parent": parent_level.label})
    else:
        if parent.level != parent_level:
            errors.append(
                _("%(level)s的上级必须是%(parent)s，而 %(code)s 是%(actual)s。")
                % {
                    "level": label,
                    "parent": parent_level.label,
                    "code": parent.code,
                    "actual": parent.get_level_display(),
                }
            )
        if code and not code.startswith(parent.code):
            errors.append(
                _("编码 %(code)s 必须以上级编码 %(parent)s 开头。") % {"code": code[:30], "parent": parent.code}
            )
    return errors


def _integrity_message(exc: Exception) -> str:
    text = str(getattr(exc, "__cause__", None) or exc)
    diag = getattr(getattr(exc, "__cause__", None), "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    if "area_code_matches_level" in (constraint or text):
        return _("编码与层级不符：区 6 位、街道 9 位、社区 12 位、网格 15 位数字，且只有区没有上级。")
    if "area_name_not_blank" in (constraint or text):
        return _("名称不能为空。")
    if "area_geom_valid" in (constraint or text):
        return _("边界几何无效（自相交等），请先修复。")
    if "duplicate key" in text or constraint.endswith("_code_key") or constraint.endswith("_uniq"):
        return _("编码已存在。")
    if "not the level directly above" in text:
        return _("上级区域层级不对：上级必须正好高一级。")
    if "must start with its parent" in text:
        return _("编码必须以上级编码开头。")
    return _("数据库拒绝了该区域：%(error)s") % {"error": text.strip().splitlines()[0] if text.strip() else exc}


# ---------------------------------------------------------------------------------------------------------------
# Areas


@transaction.atomic
def area_create(
    *,
    level: str,
    code: str,
    name: str,
    geom,
    parent: Area | None = None,
    illustrative: bool = False,
    source: str = "",
) -> Area:
    """Create one area. Raises ValidationError (field → messages) if the level, code, parent, name or geometry is
    not acceptable; the database enforces the same rules."""
    code = (code or "").strip()
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    code_problems = code_errors(level=level, code=code, parent=parent)
    if code_problems:
        errors["code"] = code_problems
    if not name:
        errors["name"] = [_("缺少名称。")]
    elif len(name) > Area._meta.get_field("name").max_length:
        errors["name"] = [_("名称过长（最多 100 个字符）。")]
    try:
        geom = as_multipolygon(geom)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if code and Area.objects.filter(code=code).exists():
        errors.setdefault("code", []).append(_("编码 %(code)s 已存在。") % {"code": code})
    if errors:
        raise ValidationError(errors)
    area = Area(
        level=level,
        code=code,
        name=name,
        geom=geom,
        parent=parent,
        illustrative=illustrative,
        source=(source or "")[:200],
    )
    try:
        with transaction.atomic():
            area.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationError(_integrity_message(exc)) from exc
    area.refresh_from_db(fields=["depth", "area_m2"])
    return area


@transaction.atomic
def area_update(
    *,
    area: Area,
    name: str | object = _UNSET,
    geom=_UNSET,
    parent: Area | None | object = _UNSET,
    illustrative: bool | object = _UNSET,
    source: str | object = _UNSET,
) -> Area:
    """Change an area's name, boundary, parent, illustrative flag or source (code and level are its identity and
    never change). Only the arguments given are changed."""
    changed: list[str] = []
    errors: dict[str, list[str]] = {}
    if name is not _UNSET:
        name = (name or "").strip()
        if not name:
            errors["name"] = [_("缺少名称。")]
        elif name != area.name:
            area.name = name
            changed.append("name")
    if geom is not _UNSET:
        try:
            geom = as_multipolygon(geom)
            if not (area.geom is not None and area.geom.equals_exact(geom, tolerance=0)):
                area.geom = geom
                changed.append("geom")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if parent is not _UNSET:
        problems = code_errors(level=area.level, code=area.code, parent=parent)
        if problems:
            errors["parent"] = problems
        elif parent != area.parent:
            area.parent = parent
            changed.append("parent")
    if illustrative is not _UNSET and bool(illustrative) != area.illustrative:
        area.illustrative = bool(illustrative)
        changed.append("illustrative")
    if source is not _UNSET and (source or "")[:200] != area.source:
        area.source = (source or "")[:200]
        changed.append("source")
    if errors:
        raise ValidationError(errors)
    if changed:
        try:
            with transaction.atomic():
                area.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            raise ValidationError(_integrity_message(exc)) from exc
        area.refresh_from_db(fields=["area_m2"])
    return area


# ---------------------------------------------------------------------------------------------------------------
# Unit grid cells


@dataclass
class PlannedCell:
    code: str
    name: str
    row: int  # UTM row index (y / size), north is larger
    col: int  # UTM column index (x / size)
    geom: MultiPolygon  # WGS-84
    area_m2: float


@dataclass
class CommunityGrid:
    community: Area
    srid: int
    cells: list[PlannedCell] = field(default_factory=list)
    existing: int = 0  # cells the community had before


@dataclass
class GridReport:
    area: Area
    size_m: float
    committed: bool = False
    replace: bool = False
    communities: list[CommunityGrid] = field(default_factory=list)
    created: int = 0
    deleted: int = 0
    seconds: float = 0.0

    @property
    def planned(self) -> int:
        return sum(len(c.cells) for c in self.communities)

    @property
    def existing(self) -> int:
        return sum(c.existing for c in self.communities)

    def summary(self) -> str:
        if self.committed:
            return _(
                "%(area)s：%(n)d 个社区，新建 %(created)d 个 %(size)g 米网格，删除旧网格 %(deleted)d 个，用时 %(s).1f 秒。"
            ) % {
                "area": self.area,
                "n": len(self.communities),
                "created": self.created,
                "size": self.size_m,
                "deleted": self.deleted,
                "s": self.seconds,
            }
        return _(
            "试运行 %(area)s：%(n)d 个社区，将新建 %(planned)d 个 %(size)g 米网格%(replace)s，用时 %(s).1f 秒。"
        ) % {
            "area": self.area,
            "n": len(self.communities),
            "planned": self.planned,
            "size": self.size_m,
            "replace": _("，并删除旧网格 %(n)d 个") % {"n": self.existing} if self.existing else "",
            "s": self.seconds,
        }


def _check_size(size_m) -> float:
    try:
        size = float(size_m)
    except (TypeError, ValueError):
        size = math.nan
    if not math.isfinite(size) or not GRID_SIZE_MIN_M <= size <= GRID_SIZE_MAX_M:
        raise ValidationError(
            _("网格边长必须是 %(min)g 到 %(max)g 之间的数字（米），而不是 %(size)s。")
            % {"min": GRID_SIZE_MIN_M, "max": GRID_SIZE_MAX_M, "size": str(size_m)[:20]}
        )
    return size


def _communities_at_or_under(area: Area) -> list[Area]:
    if area.level == Level.GRID_CELL:
        raise ValidationError(_("%(area)s 是网格，不能再划分网格；请指定社区、街道或区。") % {"area": area})
    if area.level == Level.COMMUNITY:
        return [area]
    communities = list(Area.objects.communities().filter(code__startswith=area.code).order_by("code"))
    if not communities:
        raise ValidationError(
            _("%(area)s 下没有社区：请先导入社区边界（manage.py import_boundaries --level community）。")
            % {"area": area}
        )
    return communities


def _suggest_size(area_m2: float) -> int:
    """A round size (multiple of 10 m) at which a community of `area_m2` fits in 999 cells with room for the partial
    cells along its border."""
    size = math.sqrt(area_m2 / (0.7 * GRID_MAX_CELLS_PER_COMMUNITY))
    return int(min(math.ceil(size / 10.0) * 10, GRID_SIZE_MAX_M))


_CELLS_SQL = """
WITH c AS (
  SELECT a.geom AS g, ST_Transform(a.geom, %(srid)s) AS u FROM grid_area a WHERE a.id = %(id)s
), sq AS (
  SELECT s.i, s.j, ST_Transform(s.geom, %(geo_srid)s) AS w
  FROM c CROSS JOIN LATERAL ST_SquareGrid(%(size)s, c.u) AS s
  WHERE ST_Intersects(s.geom, c.u)
), parts AS (
  SELECT sq.i, sq.j, d.geom AS p
  FROM sq CROSS JOIN c CROSS JOIN LATERAL ST_Dump(ST_Intersection(sq.w, c.g)) AS d
  WHERE ST_GeometryType(d.geom) = 'ST_Polygon' AND ST_Area(d.geom::geography) > %(min_part)s
)
SELECT i, j, ST_AsBinary(ST_Multi(ST_Collect(p))), SUM(ST_Area(p::geography))
FROM parts GROUP BY i, j ORDER BY j DESC, i ASC
"""


def _plan_community(community: Area, size: float) -> CommunityGrid:
    centroid = community.geom.centroid
    srid = utm_srid(centroid.x, centroid.y)
    plan = CommunityGrid(community=community, srid=srid)
    with connection.cursor() as cursor:
        cursor.execute(
            _CELLS_SQL,
            {
                "srid": srid,
                "id": community.pk,
                "geo_srid": settings.GEO_SRID,
                "size": size,
                "min_part": GRID_MIN_PART_M2,
            },
        )
        rows = cursor.fetchall()
    for seq, (col, row, wkb, area_m2) in enumerate(rows, start=1):
        plan.cells.append(
            PlannedCell(
                code=f"{community.code}{seq:03d}" if seq <= GRID_MAX_CELLS_PER_COMMUNITY else "",
                name=_("%(community)s%(seq)03d号网格") % {"community": community.name, "seq": seq},
                row=int(row),
                col=int(col),
                geom=GEOSGeometry(memoryview(bytes(wkb)), srid=settings.GEO_SRID),
                area_m2=float(area_m2),
            )
        )
    return plan


def _cells_of(community: Area):
    return Area.objects.filter(parent=community, level=Level.GRID_CELL)


def _replace_blockers(communities: list[Area]) -> list[str]:
    """What else would be deleted (or refuses deletion) with these communities' grid cells."""
    from lanes.models import LaneCell

    cells = Area.objects.filter(parent__in=communities, level=Level.GRID_CELL)
    collector = Collector(using=router.db_for_write(Area))
    try:
        collector.collect(cells)
    except (ProtectedError, RestrictedError) as exc:
        objs = list(exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects)
        kinds = sorted({obj._meta.verbose_name for obj in objs})
        return [
            _("旧网格仍被 %(n)d 条记录引用（%(kinds)s），不能替换；请先处理这些记录，或保留旧网格。")
            % {"n": len(objs), "kinds": "、".join(str(k) for k in kinds)}
        ]
    problems = []
    counts: dict = {}
    for model, instances in collector.data.items():
        counts[model] = counts.get(model, 0) + len(instances)
    for qs in collector.fast_deletes:
        counts[qs.model] = counts.get(qs.model, 0) + qs.count()
    for model, n in counts.items():
        if model in (Area, LaneCell) or n == 0:
            continue
        problems.append(
            _("替换网格会连带删除 %(n)d 条“%(kind)s”记录，已拒绝；请先把这些记录改到别的区域。")
            % {"n": n, "kind": model._meta.verbose_name}
        )
    return problems


def plan_grid_cells(
    *, area: Area, size_m: float = 100.0, replace: bool = False, progress: Progress = None
) -> GridReport:
    """What generate_grid_cells would do (read-only). Raises ValidationError for the same reasons it would."""
    started = time.monotonic()
    size = _check_size(size_m)
    communities = _communities_at_or_under(area)
    report = GridReport(area=area, size_m=size, replace=replace)
    too_many: list[str] = []
    suggest = 0  # one size that fits every community
    occupied: list[str] = []
    for k, community in enumerate(communities, start=1):
        existing = _cells_of(community).count()
        if existing and not replace:
            occupied.append(f"{community} ({existing})")
        if community.area_m2 and community.area_m2 / (size * size) > GRID_MAX_CELLS_PER_COMMUNITY:
            suggest = max(suggest, _suggest_size(community.area_m2))
            too_many.append(
                _("%(community)s：至少 %(n)d 个网格，建议 --size %(suggest)d")
                % {
                    "community": community,
                    "n": math.ceil(community.area_m2 / (size * size)),
                    "suggest": _suggest_size(community.area_m2),
                }
            )
            continue
        plan = _plan_community(community, size)
        plan.existing = existing
        if len(plan.cells) > GRID_MAX_CELLS_PER_COMMUNITY:
            suggest = max(suggest, _suggest_size(community.area_m2), int(size) + 10)
            too_many.append(
                _("%(community)s：%(n)d 个网格，建议 --size %(suggest)d")
                % {"community": community, "n": len(plan.cells), "suggest": _suggest_size(community.area_m2)}
            )
        report.communities.append(plan)
        _say(
            progress,
            _("[%(k)d/%(total)d] %(community)s：%(n)d 个网格")
            % {"k": k, "total": len(communities), "community": community, "n": len(plan.cells)},
        )
    errors: list[str] = []
    if too_many:
        errors.append(
            _("以下社区的网格超过 %(max)d 个（网格序号只有 3 位），请用更大的 --size（例如 --size %(suggest)d）：")
            % {"max": GRID_MAX_CELLS_PER_COMMUNITY, "suggest": suggest}
        )
        errors.extend(too_many)
    if occupied:
        errors.append(
            _("以下社区已有网格；加 --replace 删除旧网格并重新生成：%(list)s") % {"list": "、".join(occupied)}
        )
    elif replace:
        errors.extend(_replace_blockers(communities))
    if errors:
        raise ValidationError(errors)
    report.seconds = time.monotonic() - started
    return report


@transaction.atomic
def generate_grid_cells(
    *, area: Area, size_m: float = 100.0, replace: bool = False, progress: Progress = None
) -> GridReport:
    """Unit grid cells (about size_m × size_m) for every community at or under `area`.

    For each community: squares of `size_m` in the community's local UTM zone (aligned on the zone's origin, so
    neighbouring communities share grid lines), corners transformed to WGS-84, clipped to the community polygon;
    polygonal parts of 0.5 m² or less are dropped (a square clipped into several parts stays one cell). Cells
    are numbered north→south by row, then west→east by column: community code + 001…999. More than 999 cells in a
    community, or existing cells without `replace`, raise ValidationError and nothing is written. With `replace`,
    the old cells are deleted first (refused if anything but lane links depends on them)."""
    started = time.monotonic()
    report = plan_grid_cells(area=area, size_m=size_m, replace=replace, progress=progress)
    source = _("由社区边界按 %(size)g 米方格生成（UTM）") % {"size": report.size_m}
    try:
        with transaction.atomic():
            for plan in report.communities:
                if plan.existing:
                    _cells_of(plan.community).delete()
                    report.deleted += plan.existing
                Area.objects.bulk_create(
                    [
                        Area(
                            level=Level.GRID_CELL,
                            code=cell.code,
                            name=cell.name[:100],
                            parent=plan.community,
                            geom=cell.geom,
                            illustrative=plan.community.illustrative,
                            source=source,
                        )
                        for cell in plan.cells
                    ],
                    batch_size=1000,
                )
                report.created += len(plan.cells)
    except (IntegrityError, ProtectedError, RestrictedError) as exc:
        raise ValidationError(_integrity_message(exc) if isinstance(exc, IntegrityError) else str(exc)) from exc
    except DatabaseError as exc:
        raise ValidationError(_("生成网格失败，未写入任何数据：%(error)s") % {"error": exc}) from exc
    report.committed = True
    report.seconds = time.monotonic() - started
    _say(progress, report.summary())
    return report
