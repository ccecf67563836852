"""Area boundaries from GIS files: GeoJSON, Shapefile (.shp, or a .zip holding one) and GeoPackage, read through
GDAL (django.contrib.gis.gdal.DataSource).

One file holds one level (district, street office, community or grid cell). For each feature:

- code and name come from attribute fields (`code_field`, `name_field`); the code must have the level's length
  (6 / 9 / 12 / 15 digits) and start with its parent's code. The parent is `parent_code` when given, otherwise the
  area of the level above whose code is the feature code's prefix; it must already exist.
- the geometry must be a Polygon or MultiPolygon. It is transformed from the file's coordinate system (or `srid`
  when the file has none or a wrong one) to settings.GEO_SRID. Coordinates outside longitude/latitude range mean a
  projected file without a coordinate system: the feature is rejected with advice to pass --srid.
- an invalid geometry (self-intersection, bowtie, unclosed ring, …) is repaired (make_valid) when the result is
  still polygonal and keeps the area the rings enclose within REPAIR_AREA_TOLERANCE; the report says
  "repaired: <reason>". Otherwise (null, empty, lines or points, a repair that would change the area) the feature is
  rejected.

Any rejection rejects the whole file and nothing is written: ImportRejected lists every rejected feature with its
FID and reason. Otherwise areas are created, or updated when their name, boundary, parent or illustrative flag
changed, or left alone (re-importing the same file changes nothing). Dry run by default (`commit=False`).
"""

from __future__ import annotations

import codecs
import math
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from django.conf import settings
from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.geos import GEOSGeometry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import LineString, MultiPolygon, Polygon

from common.progress import Progress
from common.progress import human_size as _human_size
from common.progress import say as _say
from grid import services
from grid.derive import Metric
from grid.models import CODE_LENGTH, PARENT_LEVEL, Area, Level

SUFFIX_FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".zip": "ESRI Shapefile",
    ".gpkg": "GPKG",
}
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
REPAIR_AREA_TOLERANCE = 0.01  # a repair may change the enclosed area by at most 1 %
PARENT_OUTSIDE_WARNING = 0.01  # warn when more than 1 % of an area lies outside its parent
GEOMETRY_TOLERANCE_DEG = 1e-9  # about 0.1 mm: closer boundaries count as unchanged
PROGRESS_EVERY = 500
SOURCE_MAX = 200


class BoundaryFileError(Exception):
    """The file cannot be imported at all (missing, too large, unreadable, wrong fields …); the message says what
    to do next."""


class ImportRejected(Exception):
    """Some features are unacceptable: the whole file is rejected and nothing is written."""

    def __init__(self, report: BoundaryImportReport):
        self.report = report
        super().__init__(report.rejection_text())


@dataclass
class FeatureNote:
    fid: int | None
    code: str
    message: str

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        return _("要素 FID %(fid)s%(code)s：%(message)s") % {"fid": self.fid, "code": code, "message": self.message}


@dataclass
class BoundaryImportReport:
    path: str
    level: str
    size_bytes: int = 0
    driver: str = ""
    layer: str = ""
    crs: str = ""
    features: int = 0
    total_area_m2: float = 0.0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    repaired: list[FeatureNote] = field(default_factory=list)
    rejected: list[FeatureNote] = field(default_factory=list)
    warnings: list[FeatureNote] = field(default_factory=list)
    committed: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        verb = _("已写入") if self.committed else _("试运行（未写入）")
        return _(
            "%(verb)s %(path)s（%(size)s，%(driver)s，图层 %(layer)s，坐标系 %(crs)s）：%(n)d 个%(level)s要素，"
            "总面积 %(km2).3f 平方公里；新增 %(created)d，更新 %(updated)d，未变 %(unchanged)d，修复 %(repaired)d，"
            "警告 %(warnings)d，用时 %(s).1f 秒。"
        ) % {
            "verb": verb,
            "path": Path(self.path).name,
            "size": _human_size(self.size_bytes),
            "driver": self.driver,
            "layer": self.layer,
            "crs": self.crs or "?",
            "n": self.features,
            "level": Level(self.level).label,
            "km2": self.total_area_m2 / 1e6,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "repaired": len(self.repaired),
            "warnings": len(self.warnings),
            "s": self.seconds,
        }

    def rejection_text(self) -> str:
        lines = [
            _("文件 %(path)s 被拒绝，未写入任何数据：%(n)d 个要素有问题。请修正后重新导入。")
            % {"path": Path(self.path).name, "n": len(self.rejected)}
        ]
        lines.extend(f"  {note}" for note in self.rejected)
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Opening the file


def _file_size(path: Path) -> int:
    if path.suffix.lower() == ".shp":
        return sum(
            p.stat().st_size for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() in SHAPEFILE_SIDECARS
        )
    return path.stat().st_size


def _open(path: Path, layer_name: str | None, encoding: str) -> DataSource:
    """The data source (for a zip, the shapefile inside it: the only one, or the one named `layer_name`)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise BoundaryFileError(
            _(
                "不支持的文件类型 %(suffix)s：请提供 GeoJSON（.geojson/.json）、Shapefile（.shp 或含 .shp 的 .zip）或 GeoPackage（.gpkg）。"
            )
            % {"suffix": suffix or _("（无扩展名）")}
        )
    target = str(path)
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
        except zipfile.BadZipFile:
            raise BoundaryFileError(_("%(name)s 不是有效的 zip 文件。") % {"name": path.name}) from None
        unpacked = sum(i.file_size for i in infos)
        if unpacked > settings.IMPORT_MAX_BYTES:
            raise BoundaryFileError(
                _("zip 解压后 %(size)s，超过上限 %(max)s（IMPORT_MAX_BYTES）。")
                % {"size": _human_size(unpacked), "max": _human_size(settings.IMPORT_MAX_BYTES)}
            )
        shps = [i.filename for i in infos if i.filename.lower().endswith(".shp") and not i.is_dir()]
        if not shps:
            raise BoundaryFileError(_("zip 文件 %(name)s 中没有 .shp 文件。") % {"name": path.name})
        if len(shps) > 1:
            chosen = [s for s in shps if Path(s).stem == layer_name]
            if not chosen:
                raise BoundaryFileError(
                    _("zip 文件中有多个 Shapefile：%(list)s；请用 --layer 指定其中一个（不含 .shp）。")
                    % {"list": ", ".join(Path(s).stem for s in shps)}
                )
            shps = chosen
        target = f"/vsizip/{path}/{shps[0]}"
    try:
        ds = DataSource(target, encoding=encoding)
    except GDALException:
        raise BoundaryFileError(
            _("GDAL 无法打开 %(name)s：文件已损坏或格式与扩展名不符。") % {"name": path.name}
        ) from None
    expected = SUFFIX_FORMATS[suffix]
    if ds.driver.name != expected:
        raise BoundaryFileError(
            _("%(name)s 被识别为 %(driver)s，而扩展名表示 %(expected)s。")
            % {"name": path.name, "driver": ds.driver.name, "expected": expected}
        )
    return ds


def _layer(ds: DataSource, layer_name: str | None, zipped: bool):
    names = [layer.name for layer in ds]
    if not names:
        raise BoundaryFileError(_("文件中没有图层。"))
    if layer_name and not zipped:
        if layer_name not in names:
            raise BoundaryFileError(
                _("没有图层 %(layer)s；文件中的图层：%(list)s。") % {"layer": layer_name, "list": ", ".join(names)}
            )
        return ds[layer_name]
    if len(names) > 1:
        raise BoundaryFileError(_("文件中有多个图层：%(list)s；请用 --layer 指定一个。") % {"list": ", ".join(names)})
    return ds[0]


def _source_crs(layer, srid: int | None) -> tuple[CRS | None, str]:
    if srid is not None:
        try:
            crs = CRS.from_epsg(int(srid))
        except (CRSError, ValueError, TypeError):
            raise BoundaryFileError(_("--srid %(srid)s 不是有效的 EPSG 代码。") % {"srid": srid}) from None
        return crs, f"EPSG:{int(srid)} (--srid)"
    srs = layer.srs
    if srs is None:
        return None, _("文件未声明，按 WGS-84 处理")
    try:
        crs = CRS.from_wkt(srs.wkt)
    except CRSError:
        if srs.srid:
            crs = CRS.from_epsg(srs.srid)
        else:
            raise BoundaryFileError(
                _("无法识别文件的坐标系（%(name)s）；请用 --srid 指定 EPSG 代码。") % {"name": srs.name}
            ) from None
    epsg = crs.to_epsg()
    return crs, f"EPSG:{epsg}" if epsg else crs.name


# ---------------------------------------------------------------------------------------------------------------
# Reading features


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return str(value)
    return str(value).strip()


def _polygon_parts(geom) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]


def _enclosed(geom) -> object:
    """What the rings of a (possibly invalid) polygonal geometry enclose: per polygon, the faces its shell's
    linework encloses minus the faces its holes' linework encloses; the union over polygons. For a valid polygon
    this is the polygon itself; for a bowtie, its two triangles."""

    def faces(ring) -> object:
        noded = shapely.union_all([LineString(ring.coords)])
        return shapely.union_all(list(shapely.get_parts(shapely.polygonize(list(shapely.get_parts(noded))))))

    pieces = []
    for poly in shapely.get_parts(geom):
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        shell = faces(poly.exterior)
        holes = [faces(r) for r in poly.interiors]
        pieces.append(shapely.difference(shell, shapely.union_all(holes)) if holes else shell)
    return shapely.union_all(pieces) if pieces else Polygon()


def _base_type(ogr_geom) -> str:
    """OGR type name without its dimension suffix: "Polygon25D", "PolygonZ", "PolygonZM" → "Polygon"."""
    return re.sub(r"(25D|ZM|Z|M)$", "", ogr_geom.geom_type.name.strip())


def _unclosed_rings(ogr_geom) -> int:
    coords = ogr_geom.tuple
    if _base_type(ogr_geom) == "Polygon":
        rings = list(coords)
    else:  # MultiPolygon
        rings = [ring for poly in coords for ring in poly]
    return sum(1 for ring in rings if len(ring) >= 2 and tuple(ring[0]) != tuple(ring[-1]))


@dataclass
class _Candidate:
    fid: int | None
    code: str
    name: str
    geom: MultiPolygon  # shapely, WGS-84
    parent: Area | None = None
    area_m2: float = 0.0


def _check_geometry(feature, to_wgs84: Transformer | None, geographic_source: bool) -> tuple[object, str]:
    """(shapely WGS-84 polygonal geometry, repair note) or raises ValueError with the reason for rejection."""
    try:
        ogr_geom = feature.geom
    except GDALException:
        raise ValueError(_("没有几何（空几何）。")) from None
    type_name = _base_type(ogr_geom)
    if type_name not in ("Polygon", "MultiPolygon"):
        raise ValueError(
            _("几何类型是 %(type)s，不是面（Polygon/MultiPolygon）；街道、社区边界必须是闭合的面。")
            % {"type": type_name}
        )
    notes = []
    if ogr_geom.empty:
        raise ValueError(_("几何为空。"))
    if _unclosed_rings(ogr_geom):
        ogr_geom.close_rings()
        notes.append(_("环未闭合，已自动闭合"))
    try:
        geom = shapely.force_2d(shapely.from_wkb(bytes(ogr_geom.wkb)))
    except shapely.errors.GEOSException as exc:
        raise ValueError(_("几何无法解析：%(error)s") % {"error": exc}) from None
    if geom.is_empty:
        raise ValueError(_("几何为空。"))
    xmin, ymin, xmax, ymax = geom.bounds
    if geographic_source or to_wgs84 is None:
        if not (-180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90):
            raise ValueError(
                _(
                    "坐标 (%(x).0f, %(y).0f) 超出经纬度范围：文件很可能是投影坐标而没有声明坐标系。"
                    "请用 --srid 指定文件的 EPSG 代码（例如 4547 = CGCS2000 / 3 度带 114°E，32651 = WGS 84 / UTM 51N）。"
                )
                % {"x": xmin, "y": ymin}
            )
    if to_wgs84 is not None:

        def fn(xy: np.ndarray) -> np.ndarray:
            x, y = to_wgs84.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        geom = shapely.transform(geom, fn)
        xmin, ymin, xmax, ymax = geom.bounds
        if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))) or not (
            -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90
        ):
            raise ValueError(
                _("坐标转换到 WGS-84 后超出经纬度范围：请检查文件的坐标系，或用 --srid 指定正确的 EPSG 代码。")
            )
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        repaired = shapely.union_all(_polygon_parts(shapely.make_valid(geom)))
        parts = _polygon_parts(repaired)
        if not parts:
            raise ValueError(_("几何无效（%(reason)s），修复后不再是面，已拒绝。") % {"reason": reason})
        metric = Metric.around(repaired)
        before = metric.area(_enclosed(geom))
        after = metric.area(repaired)
        if before <= 0 or abs(after - before) > REPAIR_AREA_TOLERANCE * before:
            raise ValueError(
                _(
                    "几何无效（%(reason)s），修复会使面积从 %(before).0f 变为 %(after).0f 平方米，已拒绝；请在 GIS 软件中修正。"
                )
                % {"reason": reason, "before": before, "after": after}
            )
        geom = repaired
        notes.append(_("repaired: %(reason)s") % {"reason": reason})
    parts = _polygon_parts(geom)
    if not parts:
        raise ValueError(_("几何不是面。"))
    return MultiPolygon(parts), "；".join(notes)


def _code_problems(code: str, *, level: Level, field: str, fid, first_fid: dict[str, int | None]) -> list[str]:
    """Attribute checks of one feature's code (its parent is checked later, in one query for the file)."""
    if not code:
        return [_("缺少编码（字段 %(field)s 为空）") % {"field": field}]
    if code in first_fid:
        return [_("编码 %(code)s 与要素 FID %(fid)s 重复") % {"code": code, "fid": first_fid[code]}]
    first_fid[code] = fid
    if not (code.isascii() and code.isdigit()) or len(code) != CODE_LENGTH[level]:
        return [
            _("%(level)s编码必须是 %(n)d 位数字，而不是 “%(code)s”")
            % {"level": level.label, "n": CODE_LENGTH[level], "code": code[:30]}
        ]
    return []


def _same_geometry(a: GEOSGeometry, b: MultiPolygon) -> bool:
    old = shapely.normalize(shapely.from_wkb(bytes(a.wkb)))
    new = shapely.normalize(b)
    return shapely.equals_exact(old, new, tolerance=GEOMETRY_TOLERANCE_DEG)


def _to_geos(geom: MultiPolygon) -> GEOSGeometry:
    return GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=settings.GEO_SRID)


def import_boundaries(
    path,
    *,
    level: str,
    code_field: str = "code",
    name_field: str = "name",
    parent_code: str | None = None,
    layer: str | None = None,
    srid: int | None = None,
    commit: bool = False,
    illustrative: bool = False,
    encoding: str = "utf-8",
    progress: Progress = None,
) -> BoundaryImportReport:
    """Import (or, by default, dry-run) the areas of one level from a boundary file. See the module docstring.

    `encoding` decodes attribute text that GDAL does not recode itself: a Shapefile without a .cpg file (or a
    code-page byte), typically GBK from Chinese GIS software. Raises BoundaryFileError when the file cannot be read at all and ImportRejected (carrying the report) when
    any feature is unacceptable; in both cases nothing is written."""
    started = time.monotonic()
    path = Path(path)
    if level not in Level.values:
        raise BoundaryFileError(
            _("未知层级 %(level)s（可选：%(choices)s）。") % {"level": level, "choices": ", ".join(Level.values)}
        )
    level = Level(level)
    if not path.exists():
        raise BoundaryFileError(_("找不到文件 %(path)s。") % {"path": path})
    report = BoundaryImportReport(path=str(path), level=level, size_bytes=_file_size(path))
    if report.size_bytes > settings.IMPORT_MAX_BYTES:
        raise BoundaryFileError(
            _("文件 %(name)s 有 %(size)s，超过上限 %(max)s（IMPORT_MAX_BYTES）；请拆分文件或调整上限。")
            % {"name": path.name, "size": _human_size(report.size_bytes), "max": _human_size(settings.IMPORT_MAX_BYTES)}
        )
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise BoundaryFileError(
            _("未知的字符编码 %(encoding)s（例如 utf-8、gbk）。") % {"encoding": encoding}
        ) from None
    ds = _open(path, layer, encoding)
    lyr = _layer(ds, layer, zipped=path.suffix.lower() == ".zip")
    report.driver, report.layer = ds.driver.name, lyr.name
    for wanted, option in ((code_field, "--code-field"), (name_field, "--name-field")):
        if wanted not in lyr.fields:
            raise BoundaryFileError(
                _("图层 %(layer)s 没有字段 %(field)s；可用字段：%(fields)s。请用 %(option)s 指定。")
                % {"layer": lyr.name, "field": wanted, "fields": ", ".join(lyr.fields) or "-", "option": option}
            )
    crs, report.crs = _source_crs(lyr, srid)
    wgs84 = CRS.from_epsg(settings.GEO_SRID)
    to_wgs84 = None
    geographic_source = crs is None or crs.is_geographic
    if crs is not None and not crs.equals(wgs84, ignore_axis_order=True):
        to_wgs84 = Transformer.from_crs(crs, wgs84, always_xy=True)
    _say(
        progress,
        _("读取 %(name)s（%(size)s，%(driver)s，图层 %(layer)s，%(n)d 个要素）…")
        % {
            "name": path.name,
            "size": _human_size(report.size_bytes),
            "driver": report.driver,
            "layer": lyr.name,
            "n": len(lyr),
        },
    )

    # Parent: given explicitly, or found by code prefix.
    parent_level = PARENT_LEVEL[level]
    fixed_parent: Area | None = None
    if parent_code:
        if parent_level is None:
            raise BoundaryFileError(_("区没有上级，不能使用 --parent-code。"))
        fixed_parent = Area.objects.filter(code=parent_code.strip()).first()
        if fixed_parent is None:
            raise BoundaryFileError(_("上级区域 %(code)s 不存在：请先导入上一级边界。") % {"code": parent_code})
        if fixed_parent.level != parent_level:
            raise BoundaryFileError(
                _("--parent-code %(code)s 是%(actual)s，而%(level)s的上级必须是%(parent)s。")
                % {
                    "code": parent_code,
                    "actual": fixed_parent.get_level_display(),
                    "level": level.label,
                    "parent": parent_level.label,
                }
            )

    candidates: list[_Candidate] = []
    first_fid: dict[str, int | None] = {}
    for k, feature in enumerate(lyr, start=1):
        report.features += 1
        fid = feature.fid
        problems = []
        try:
            code = _text(feature.get(code_field))
            name = _text(feature.get(name_field))
        except UnicodeDecodeError:
            code, name = "", ""
            problems.append(
                _(
                    "属性文字不是 %(encoding)s 编码：Shapefile 没有 .cpg 编码说明时，请用 --encoding 指定编码"
                    "（例如 gbk），或在 .shp 旁放一个内容为 GBK 的 .cpg 文件"
                )
                % {"encoding": encoding}
            )
        else:
            problems.extend(_code_problems(code, level=level, field=code_field, fid=fid, first_fid=first_fid))
            if not name:
                problems.append(_("缺少名称（字段 %(field)s 为空）") % {"field": name_field})
            elif len(name) > 100:
                problems.append(_("名称超过 100 个字符"))
        try:
            geom, note = _check_geometry(feature, to_wgs84, geographic_source)
        except ValueError as exc:
            problems.append(str(exc).rstrip("。"))
            geom, note = None, ""
        if problems:
            report.rejected.append(FeatureNote(fid, code, "；".join(problems) + "。"))
        else:
            if note:
                report.repaired.append(FeatureNote(fid, code, note))
            candidates.append(_Candidate(fid, code, name, geom))
        if k % PROGRESS_EVERY == 0:
            _say(progress, _("已检查 %(k)d 个要素…") % {"k": k})

    # Parents and codes against the database (one query each).
    if parent_level is not None:
        if fixed_parent is not None:
            parents = {fixed_parent.code: fixed_parent}
        else:
            prefixes = {c.code[: CODE_LENGTH[parent_level]] for c in candidates}
            parents = {a.code: a for a in Area.objects.filter(level=parent_level, code__in=prefixes)}
        kept = []
        for c in candidates:
            parent = fixed_parent or parents.get(c.code[: CODE_LENGTH[parent_level]])
            if parent is None:
                report.rejected.append(
                    FeatureNote(
                        c.fid,
                        c.code,
                        _("找不到上级%(parent)s %(prefix)s：请先导入上一级边界，或用 --parent-code 指定。")
                        % {"parent": parent_level.label, "prefix": c.code[: CODE_LENGTH[parent_level]]},
                    )
                )
                continue
            if not c.code.startswith(parent.code):
                report.rejected.append(
                    FeatureNote(c.fid, c.code, _("编码必须以上级编码 %(parent)s 开头。") % {"parent": parent.code})
                )
                continue
            c.parent = parent
            kept.append(c)
        candidates = kept

    report.rejected.sort(key=lambda n: (n.fid is None, n.fid or 0))
    if report.rejected:
        report.seconds = time.monotonic() - started
        raise ImportRejected(report)

    # Sizes and containment warnings.
    metric = Metric.around(shapely.union_all([c.geom for c in candidates])) if candidates else None
    parent_shapes: dict[int, object] = {}
    for c in candidates:
        c.area_m2 = metric.area(c.geom)
        report.total_area_m2 += c.area_m2
        if c.parent is not None:
            shape = parent_shapes.get(c.parent.pk)
            if shape is None:
                shape = parent_shapes[c.parent.pk] = shapely.from_wkb(bytes(c.parent.geom.wkb))
            outside = metric.area(shapely.difference(c.geom, shape))
            if c.area_m2 > 0 and outside > PARENT_OUTSIDE_WARNING * c.area_m2:
                report.warnings.append(
                    FeatureNote(
                        c.fid,
                        c.code,
                        _("%(pct).1f%% 的面积在上级 %(parent)s 之外")
                        % {"pct": 100 * outside / c.area_m2, "parent": c.parent},
                    )
                )

    source = f"{path.name}#{lyr.name}"[:SOURCE_MAX]
    existing = {a.code: a for a in Area.objects.filter(code__in=[c.code for c in candidates])}
    changes: list[tuple[_Candidate, Area | None]] = []
    for c in candidates:
        area = existing.get(c.code)
        if area is None:
            report.created.append(c.code)
            changes.append((c, None))
        elif (
            area.name != c.name
            or area.parent_id != (c.parent.pk if c.parent else None)
            or area.illustrative != illustrative
            or not _same_geometry(area.geom, c.geom)
        ):
            report.updated.append(c.code)
            changes.append((c, area))
        else:
            report.unchanged.append(c.code)

    if commit and changes:
        _say(progress, _("写入 %(n)d 个区域…") % {"n": len(changes)})
        current = changes[0][0]
        try:
            with transaction.atomic():
                for c, area in changes:
                    current = c
                    if area is None:
                        services.area_create(
                            level=level,
                            code=c.code,
                            name=c.name,
                            geom=_to_geos(c.geom),
                            parent=c.parent,
                            illustrative=illustrative,
                            source=source,
                        )
                    else:
                        services.area_update(
                            area=area,
                            name=c.name,
                            geom=_to_geos(c.geom),
                            parent=c.parent,
                            illustrative=illustrative,
                            source=source,
                        )
        except ValidationError as exc:
            report.rejected.append(FeatureNote(current.fid, current.code, "；".join(exc.messages)))
            report.created, report.updated, report.unchanged = [], [], []
            report.seconds = time.monotonic() - started
            raise ImportRejected(report) from exc
    report.committed = bool(commit)
    report.seconds = time.monotonic() - started
    return report
