"""Import lanes (街巷) from GIS line files: GeoJSON, GeoPackage, Shapefile (.shp, or a .zip holding one) read through
GDAL (django.contrib.gis.gdal), and GeoParquet read with pyarrow (WKB geometry column, CRS from the 'geo' metadata).

One feature (row) is one lane:

- the geometry must be a LineString or MultiLineString (Z and M are dropped). It is transformed from the file's
  coordinate system (or `srid` when the file declares none or a wrong one) to settings.GEO_SRID. A file without a
  coordinate system is read as longitude/latitude; coordinates outside that range mean a projected file without a
  coordinate system, and the feature is rejected with advice to pass --srid. Null or empty geometries, points,
  polygons, collections, non-finite coordinates and parts with fewer than two distinct points are rejected.
- the name comes from `name_field` (a lane must have one; `skip_unnamed` counts and skips unnamed features instead),
  the kind from `kind_field` when given: a lane kind (main / secondary / back), its Chinese label (主干道 / 次干道 /
  背街小巷) or an OSM highway value (primary → main, tertiary → secondary, residential → back …); empty → back.
- identity: source_key = "lines:{source}:{key}", where `source` defaults to the file name without its extension
  and `key` is the value of `key_field` (unique in the file) or else the feature's FID (GeoParquet: its row number).
  Re-importing the same file (or another export of the same data: lines within GEOMETRY_TOLERANCE_DEG count as
  unchanged) changes nothing; a changed file updates the lanes it changed; lanes of the same source
  that the file no longer holds are removed only with `prune=True`.

Any rejected feature rejects the whole file and nothing is written: ImportRejected lists the features (FID or row),
the reason and what to do. Dry run by default (`commit=False`). Lane.community and the lane's grid cells are derived by
database triggers from the geometry written here.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from django.conf import settings
from django.contrib.gis.gdal import DataSource, GDALException
from django.contrib.gis.geos import GEOSGeometry
from django.db import DatabaseError
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import LineString

from common.progress import Progress
from common.progress import human_size as _human_size
from common.progress import say as _say
from lanes.importers.osm import NAME_MAX, highway_kind
from lanes.models import Lane, LaneKind
from lanes.services import LaneSpec, lane_upsert_many

SOURCE_PREFIX = "lines:"
GDAL_SUFFIXES = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".zip": "ESRI Shapefile",
}
PARQUET_SUFFIXES = (".parquet", ".geoparquet")
OSM_SUFFIXES = (".osm", ".pbf", ".osm.gz", ".osm.bz2")
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
SOURCE_MAX = 80  # the source part of source_key (Lane.source_key is 300 characters)
KEY_MAX = 200
LIST_LIMIT = 50  # rejected features listed in the message (all of them are in the report)
PROGRESS_EVERY = 20_000
GEOMETRY_TOLERANCE_DEG = 1e-9  # about 0.1 mm: closer lines count as unchanged

_GEOD = Geod(ellps="WGS84")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_KIND_WORDS = {
    **{k.value: k.value for k in LaneKind},
    **{str(k.label): k.value for k in LaneKind},
    "主干路": LaneKind.MAIN,
    "次干路": LaneKind.SECONDARY,
    "支路": LaneKind.BACK,
    "背街": LaneKind.BACK,
    "小巷": LaneKind.BACK,
}
_HIGHWAYS = {
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
}


class LineFileError(Exception):
    """The file cannot be imported at all (missing, too large, unreadable, wrong fields …); the message says what
    to do next. Nothing was written."""


class ImportRejected(Exception):
    """Some features are unacceptable: the whole file is rejected and nothing is written."""

    def __init__(self, report: LineImportReport):
        self.report = report
        super().__init__(report.rejection_text())


@dataclass
class FeatureNote:
    fid: int | None
    key: str
    message: str

    def __str__(self) -> str:
        key = f" ({self.key})" if self.key and self.key != str(self.fid) else ""
        return _("要素 FID %(fid)s%(key)s：%(message)s") % {"fid": self.fid, "key": key, "message": self.message}


@dataclass
class LineImportReport:
    path: str
    source: str = ""
    size_bytes: int = 0
    driver: str = ""
    layer: str = ""
    crs: str = ""
    features: int = 0
    skipped_unnamed: int = 0
    lanes: int = 0
    total_length_m: float = 0.0
    created: list[str] = field(default_factory=list)  # source keys
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    rejected: list[FeatureNote] = field(default_factory=list)
    committed: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        verb = _("已写入") if self.committed else _("试运行（未写入）")
        return _(
            "%(verb)s %(path)s（%(size)s，%(driver)s，图层 %(layer)s，坐标系 %(crs)s，来源 %(source)s）："
            "%(n)d 个要素，跳过无名称 %(unnamed)d 个，街巷 %(lanes)d 条（总长 %(km).1f 公里）："
            "新增 %(created)d，更新 %(updated)d，未变 %(unchanged)d，删除 %(removed)d；用时 %(s).1f 秒。"
        ) % {
            "verb": verb,
            "path": Path(self.path).name,
            "size": _human_size(self.size_bytes),
            "driver": self.driver,
            "layer": self.layer or "-",
            "crs": self.crs or "?",
            "source": self.source,
            "n": self.features,
            "unnamed": self.skipped_unnamed,
            "lanes": self.lanes,
            "km": self.total_length_m / 1000,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": self.unchanged,
            "removed": len(self.removed),
            "s": self.seconds,
        }

    def rejection_text(self) -> str:
        lines = [
            _("文件 %(path)s 被拒绝，未写入任何数据：%(n)d 个要素有问题。请修正后重新导入。")
            % {"path": Path(self.path).name, "n": len(self.rejected)}
        ]
        lines.extend(f"  {note}" for note in self.rejected[:LIST_LIMIT])
        if len(self.rejected) > LIST_LIMIT:
            lines.append("  " + _("……另有 %(n)d 个要素有问题。") % {"n": len(self.rejected) - LIST_LIMIT})
        return "\n".join(lines)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).strip()


def default_source(path: Path) -> str:
    """The file name without its extension(s): "streets.gpkg" → "streets", "city.osm.pbf" → "city"."""
    name = path.name
    for suffix in (".zip", *GDAL_SUFFIXES, *PARQUET_SUFFIXES):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name or path.name


def is_line_file(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(tuple(GDAL_SUFFIXES)) or name.endswith(PARQUET_SUFFIXES)


# ---------------------------------------------------------------------------------------------------------------
# Reading: every format yields (fid, attributes, shapely geometry or None, reason) in file order.


@dataclass
class _Source:
    driver: str
    layer: str
    crs: CRS | None
    crs_text: str
    count: int
    rows: Iterator[tuple[int, dict, object, str]]  # fid, {field: value}, shapely geometry | None, reason if None


def _file_size(path: Path) -> int:
    if path.suffix.lower() == ".shp":
        return sum(
            p.stat().st_size for p in path.parent.glob(path.stem + ".*") if p.suffix.lower() in SHAPEFILE_SIDECARS
        )
    return path.stat().st_size


def _crs_from_srid(srid) -> tuple[CRS, str]:
    try:
        return CRS.from_epsg(int(srid)), f"EPSG:{int(srid)} (--srid)"
    except (CRSError, ValueError, TypeError):
        raise LineFileError(
            _("--srid %(srid)s 不是有效的 EPSG 代码（例如 4326、3857、32651、4547）。") % {"srid": srid}
        ) from None


def _crs_text(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _gdal_source(path: Path, fields: list[str], layer_name: str | None, encoding: str) -> _Source:
    suffix = path.suffix.lower()
    target = str(path)
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
        except zipfile.BadZipFile:
            raise LineFileError(_("%(name)s 不是有效的 zip 文件。") % {"name": path.name}) from None
        if sum(i.file_size for i in infos) > settings.IMPORT_MAX_BYTES:
            raise LineFileError(_("zip 解压后超过上限 IMPORT_MAX_BYTES；请拆分文件或调整上限。"))
        shps = [i.filename for i in infos if i.filename.lower().endswith(".shp") and not i.is_dir()]
        if not shps:
            raise LineFileError(_("zip 文件 %(name)s 中没有 .shp 文件。") % {"name": path.name})
        if len(shps) > 1:
            shps = [s for s in shps if Path(s).stem == layer_name]
            if not shps:
                raise LineFileError(_("zip 文件中有多个 Shapefile；请用 --layer 指定其中一个（不含 .shp）。"))
        target = f"/vsizip/{path}/{shps[0]}"
    try:
        ds = DataSource(target, encoding=encoding)
    except GDALException:
        raise LineFileError(_("GDAL 无法打开 %(name)s：文件已损坏或格式与扩展名不符。") % {"name": path.name}) from None
    if ds.driver.name != GDAL_SUFFIXES[suffix]:
        raise LineFileError(
            _("%(name)s 被识别为 %(driver)s，而扩展名表示 %(expected)s。")
            % {"name": path.name, "driver": ds.driver.name, "expected": GDAL_SUFFIXES[suffix]}
        )
    names = [lyr.name for lyr in ds]
    if not names:
        raise LineFileError(_("文件中没有图层。"))
    if layer_name and suffix != ".zip":
        if layer_name not in names:
            raise LineFileError(
                _("没有图层 %(layer)s；文件中的图层：%(list)s。") % {"layer": layer_name, "list": ", ".join(names)}
            )
        lyr = ds[layer_name]
    elif len(names) > 1:
        raise LineFileError(_("文件中有多个图层：%(list)s；请用 --layer 指定一个。") % {"list": ", ".join(names)})
    else:
        lyr = ds[0]
    _check_fields(lyr.name, list(lyr.fields), fields)
    crs, crs_text = None, _("文件未声明，按经纬度 (WGS-84) 处理")
    srs = lyr.srs
    if srs is not None:
        try:
            crs = CRS.from_wkt(srs.wkt)
        except CRSError:
            if not srs.srid:
                raise LineFileError(
                    _("无法识别文件的坐标系（%(name)s）；请用 --srid 指定 EPSG 代码。") % {"name": srs.name}
                ) from None
            crs = CRS.from_epsg(srs.srid)
        crs_text = _crs_text(crs)

    def rows():
        for feature in lyr:
            attrs = {}
            try:
                for name in fields:
                    attrs[name] = feature.get(name)
            except UnicodeDecodeError:
                attrs = None
            try:
                ogr_geom = feature.geom
            except GDALException:
                yield feature.fid, attrs, None, _("没有几何（空几何）")
                continue
            try:
                geom = shapely.from_wkb(bytes(ogr_geom.wkb))
            except shapely.errors.GEOSException as exc:
                yield feature.fid, attrs, None, _("几何无法解析：%(error)s") % {"error": exc}
                continue
            yield feature.fid, attrs, geom, ""

    return _Source(ds.driver.name, lyr.name, crs, crs_text, len(lyr), rows())


def _parquet_source(path: Path, fields: list[str]) -> _Source:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise LineFileError(
            _("无法读取 Parquet 文件 %(name)s：%(error)s。文件可能不完整或已损坏。")
            % {"name": path.name, "error": str(exc)[:200]}
        ) from None
    meta = pf.schema_arrow.metadata or {}
    if b"geo" not in meta:
        raise LineFileError(
            _(
                "%(name)s 是 Parquet 文件，但不是 GeoParquet（没有 'geo' 元数据，无法确定几何列和坐标系）。"
                "请用 GeoPandas（GeoDataFrame.to_parquet）或 GDAL ≥ 3.8（ogr2ogr -f Parquet）导出 GeoParquet，"
                "或导出为 GeoPackage。"
            )
            % {"name": path.name}
        )
    try:
        geo = json.loads(meta[b"geo"])
        column = geo["primary_column"]
        column_meta = geo["columns"][column]
    except (ValueError, KeyError, TypeError):
        raise LineFileError(
            _("%(name)s 的 'geo' 元数据不符合 GeoParquet 规范（缺少 primary_column 或 columns）。")
            % {"name": path.name}
        ) from None
    encoding = str(column_meta.get("encoding", "")).upper()
    if encoding != "WKB":
        raise LineFileError(
            _("几何列 %(col)s 的编码是 %(enc)s；目前只支持 WKB 编码的 GeoParquet。请以 WKB 编码重新导出。")
            % {"col": column, "enc": encoding or "?"}
        )
    names = [n for n in pf.schema_arrow.names if n != column]
    _check_fields(path.stem, names, fields)
    # GeoParquet: "crs" absent means OGC:CRS84 (longitude/latitude); null means unknown.
    crs, crs_text = None, _("文件声明坐标系未知，按经纬度 (WGS-84) 处理")
    if "crs" not in column_meta:
        crs, crs_text = CRS.from_user_input("OGC:CRS84"), "OGC:CRS84"
    elif column_meta["crs"] is not None:
        value = column_meta["crs"]
        try:
            crs = CRS.from_json_dict(value) if isinstance(value, dict) else CRS.from_user_input(value)
        except CRSError:
            raise LineFileError(
                _("无法识别 %(name)s 的坐标系（'geo' 元数据中的 crs）；请用 --srid 指定 EPSG 代码。")
                % {"name": path.name}
            ) from None
        crs_text = _crs_text(crs)
    table = pf.read(columns=[column, *fields])

    def rows():
        wkb = table.column(column).to_pylist()
        values = {name: table.column(name).to_pylist() for name in fields}
        for i, blob in enumerate(wkb):
            attrs = {name: values[name][i] for name in fields}
            if blob is None:
                yield i, attrs, None, _("没有几何（空几何）")
                continue
            try:
                geom = shapely.from_wkb(blob)
            except shapely.errors.GEOSException as exc:
                yield i, attrs, None, _("几何无法解析（不是有效的 WKB）：%(error)s") % {"error": exc}
                continue
            yield i, attrs, geom, ""

    return _Source("GeoParquet", column, crs, crs_text, table.num_rows, rows())


def _check_fields(layer: str, available: list[str], wanted: list[str]) -> None:
    for name in wanted:
        if name not in available:
            raise LineFileError(
                _(
                    "图层 %(layer)s 没有字段 %(field)s；可用字段：%(fields)s。请用 --name-field / --kind-field / --key-field 指定。"
                )
                % {"layer": layer, "field": name, "fields": ", ".join(available) or "-"}
            )


# ---------------------------------------------------------------------------------------------------------------
# Checking


def _kind(value: str) -> str | None:
    """Lane kind of a kind-field value, or None when it is not understood."""
    text = value.strip()
    if not text:
        return LaneKind.BACK
    lowered = text.lower()
    if text in _KIND_WORDS or lowered in _KIND_WORDS:
        return _KIND_WORDS.get(text) or _KIND_WORDS[lowered]
    if lowered.removesuffix("_link") in _HIGHWAYS:
        return highway_kind(lowered)
    return None


def _in_lonlat(bounds) -> bool:
    xmin, ymin, xmax, ymax = bounds
    return -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90


def _type_problem(geom) -> str:
    """Why a geometry is not a line at all ("" when it is a LineString or MultiLineString)."""
    if geom is None:
        return _("没有几何（空几何）")
    if geom.geom_type not in ("LineString", "MultiLineString"):
        return _(
            "几何类型是 %(type)s，不是线（LineString/MultiLineString）；街巷必须是线，请删除该要素或只导出道路中心线"
        ) % {"type": geom.geom_type}
    return ""


def _check_lines(lanes: list[_Lane], lonlat_required: bool) -> None:
    """Split every lane's geometry (lane.geom) into 2D LineStrings (lane.lines), or give the reason it is not usable
    (lane.problem): empty, NaN/infinite coordinates, a part with fewer than two distinct points (zero length), or,
    when the coordinates must be longitude/latitude, coordinates outside that range. Vectorised over the file."""
    if not lanes:
        return
    arr = shapely.force_2d(np.asarray([lane.geom for lane in lanes], dtype=object))
    empty = shapely.is_empty(arr)
    parts, owner = shapely.get_parts(arr, return_index=True)
    coords, cowner = shapely.get_coordinates(parts, return_index=True)
    bad_coords = np.zeros(len(parts), dtype=bool)
    bad_coords[cowner[~np.isfinite(coords).all(axis=1)]] = True
    zero = ~(shapely.length(parts) > 0) & ~bad_coords  # a part of one distinct point has length 0
    n = np.arange(len(lanes))
    starts, ends = np.searchsorted(owner, n), np.searchsorted(owner, n, side="right")
    bounds = shapely.bounds(arr)
    for i, lane in enumerate(lanes):
        a, b = starts[i], ends[i]
        if empty[i] or a == b:
            lane.problem = _("几何为空")
        elif bad_coords[a:b].any():
            lane.problem = _("坐标中有 NaN 或无穷大")
        elif zero[a:b].any():
            lane.problem = _("第 %(n)d 段线少于两个不同的点（长度为零），请删除该段或修正坐标") % {
                "n": int(np.flatnonzero(zero[a:b])[0]) + 1
            }
        elif lonlat_required and not _in_lonlat(bounds[i]):
            x, y = shapely.get_coordinates(parts[a])[0]
            lane.problem = _(
                "坐标 (%(x).0f, %(y).0f) 超出经纬度范围：文件很可能是投影坐标而没有声明坐标系。"
                "请用 --srid 指定文件的 EPSG 代码（例如 3857 = Web 墨卡托，32651 = WGS 84 / UTM 51N，"
                "4547 = CGCS2000 / 3 度带 114°E）"
            ) % {"x": x, "y": y}
        else:
            lane.lines = list(parts[a:b])


@dataclass
class _Lane:
    fid: int
    key: str
    name: str
    kind: str
    geom: object  # shapely, as read (None when unreadable)
    problems: list[str]
    lines: list[LineString] = field(default_factory=list)  # 2D, WGS-84 once transformed
    problem: str = ""  # why the geometry is not usable


def import_lines(
    path,
    *,
    name_field: str = "name",
    kind_field: str | None = None,
    key_field: str | None = None,
    source: str | None = None,
    layer: str | None = None,
    srid: int | None = None,
    encoding: str = "utf-8",
    skip_unnamed: bool = False,
    prune: bool = False,
    commit: bool = False,
    progress: Progress = None,
) -> LineImportReport:
    """Import (or, by default, dry-run) the lanes of a line file. See the module docstring for the rules.

    Raises LineFileError when the file cannot be read at all and ImportRejected (carrying the report) when any
    feature is unacceptable; in both cases nothing is written."""
    started = time.monotonic()
    path = Path(path)
    if path.name.lower().endswith(OSM_SUFFIXES):
        raise LineFileError(_("%(name)s 是 OpenStreetMap 文件：请用 manage.py import_osm 导入。") % {"name": path.name})
    if not is_line_file(path):
        raise LineFileError(
            _(
                "不支持的文件类型 %(name)s：请提供 GeoJSON（.geojson/.json）、GeoPackage（.gpkg）、"
                "Shapefile（.shp 或含 .shp 的 .zip）或 GeoParquet（.parquet）。"
            )
            % {"name": path.name}
        )
    if not path.is_file():
        raise LineFileError(_("找不到文件 %(path)s。") % {"path": path})
    source = (source or default_source(path)).strip()
    if not source or len(source) > SOURCE_MAX or ":" in source:
        raise LineFileError(
            _("来源名 %(source)s 无效：不能为空、不能含冒号、最多 %(n)d 个字符；请用 --source 指定。")
            % {"source": source, "n": SOURCE_MAX}
        )
    report = LineImportReport(path=str(path), source=source, size_bytes=_file_size(path))
    if report.size_bytes > settings.IMPORT_MAX_BYTES:
        raise LineFileError(
            _("文件 %(name)s 有 %(size)s，超过上限 %(max)s（IMPORT_MAX_BYTES）；请拆分文件或调整上限。")
            % {"name": path.name, "size": _human_size(report.size_bytes), "max": _human_size(settings.IMPORT_MAX_BYTES)}
        )
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise LineFileError(_("未知的字符编码 %(encoding)s（例如 utf-8、gbk）。") % {"encoding": encoding}) from None
    fields = list(dict.fromkeys(f for f in (name_field, kind_field, key_field) if f))
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        src = _parquet_source(path, fields)
    else:
        src = _gdal_source(path, fields, layer, encoding)
    crs, report.crs = src.crs, src.crs_text
    if srid is not None:
        crs, report.crs = _crs_from_srid(srid)
    report.driver, report.layer = src.driver, src.layer
    wgs84 = CRS.from_epsg(settings.GEO_SRID)
    to_wgs84 = None
    if crs is not None and not crs.equals(wgs84, ignore_axis_order=True):
        to_wgs84 = Transformer.from_crs(crs, wgs84, always_xy=True)
    lonlat_source = crs is None or crs.is_geographic
    _say(
        progress,
        _("读取 %(name)s（%(size)s，%(driver)s，图层 %(layer)s，坐标系 %(crs)s，%(n)d 个要素）…")
        % {
            "name": path.name,
            "size": _human_size(report.size_bytes),
            "driver": report.driver,
            "layer": report.layer,
            "crs": report.crs,
            "n": src.count,
        },
    )

    records: list[_Lane] = []
    first_fid: dict[str, int] = {}
    for fid, attrs, geom, reason in src.rows:
        report.features += 1
        problems = [reason] if reason else []
        name = kind = key = ""
        if attrs is None:
            problems.append(
                _(
                    "属性文字不是 %(encoding)s 编码：Shapefile 没有 .cpg 编码说明时，请用 --encoding 指定编码（例如 gbk）"
                )
                % {"encoding": encoding}
            )
        else:
            name = _text(attrs.get(name_field))
            if not name and skip_unnamed:
                report.skipped_unnamed += 1
                continue
            if not name:
                problems.append(
                    _("缺少名称（字段 %(field)s 为空）：请补上街巷名称，或删除该要素，或加 --skip-unnamed 跳过无名要素")
                    % {"field": name_field}
                )
            elif len(name) > NAME_MAX:
                problems.append(_("名称超过 %(n)d 个字符") % {"n": NAME_MAX})
            if kind_field:
                raw = _text(attrs.get(kind_field))
                kind = _kind(raw)
                if kind is None:
                    problems.append(
                        _(
                            "类型 “%(value)s”（字段 %(field)s）无法识别：应为 main/secondary/back、主干道/次干道/背街小巷"
                            "或 OSM highway 值（primary、residential 等）"
                        )
                        % {"value": raw[:40], "field": kind_field}
                    )
            else:
                kind = LaneKind.BACK
            key = _text(attrs.get(key_field)) if key_field else str(fid)
            if not key:
                problems.append(_("缺少标识（字段 %(field)s 为空）：每个要素需要唯一的标识") % {"field": key_field})
            elif len(key) > KEY_MAX:
                problems.append(_("标识超过 %(n)d 个字符") % {"n": KEY_MAX})
            elif key in first_fid:
                problems.append(
                    _("标识 %(key)s 与要素 FID %(fid)s 重复：字段 %(field)s 的值必须唯一")
                    % {"key": key, "fid": first_fid[key], "field": key_field}
                )
            else:
                first_fid[key] = fid
        geom_problem = reason or _type_problem(geom)
        if geom_problem:
            problems.append(geom_problem)
        records.append(_Lane(fid, key, name, kind, None if geom_problem else geom, problems))
        if report.features % PROGRESS_EVERY == 0:
            _say(progress, _("已读取 %(k)d 个要素…") % {"k": report.features})

    _check_lines([r for r in records if r.geom is not None], lonlat_source or to_wgs84 is None)
    lanes: list[_Lane] = []
    for r in records:
        if r.problem:
            r.problems.append(r.problem)
        if r.problems:
            report.rejected.append(FeatureNote(r.fid, r.key, "；".join(p.rstrip("。") for p in r.problems) + "。"))
        else:
            lanes.append(r)
    if to_wgs84 is not None and lanes:
        _transform(lanes, to_wgs84, report)
    if report.rejected:
        report.seconds = time.monotonic() - started
        raise ImportRejected(report)
    if not lanes:
        raise LineFileError(
            _("文件 %(name)s 中没有可导入的街巷（%(n)d 个要素，跳过无名称 %(unnamed)d 个）。")
            % {"name": path.name, "n": report.features, "unnamed": report.skipped_unnamed}
        )

    prefix = f"{SOURCE_PREFIX}{source}:"
    stored = dict(Lane.objects.filter(source_key__startswith=prefix).values_list("source_key", "geom"))
    all_parts = np.asarray([line for lane in lanes for line in lane.lines], dtype=object)
    owner = np.repeat(np.arange(len(lanes)), [len(lane.lines) for lane in lanes])
    geoms = shapely.multilinestrings(all_parts, indices=owner)
    report.total_length_m = _geod_length(all_parts)
    specs = []
    for lane, geom, wkb in zip(lanes, geoms.tolist(), shapely.to_wkb(geoms).tolist(), strict=True):
        key = f"{prefix}{lane.key}"
        old = stored.get(key)
        if old is not None and shapely.equals_exact(shapely.from_wkb(bytes(old.wkb)), geom, GEOMETRY_TOLERANCE_DEG):
            new_geom = old  # the same line within 0.1 mm (another export of the same data): unchanged
        else:
            new_geom = GEOSGeometry(memoryview(wkb), srid=settings.GEO_SRID)
        specs.append(
            LaneSpec(
                source_key=key,
                name=lane.name,
                name_zh=lane.name if _CJK.search(lane.name) else "",
                kind=lane.kind,
                geom=new_geom,
                tags={"source": "lines"},
            )
        )
    report.lanes = len(specs)
    _say(progress, _("正在写入街巷…") if commit else _("正在比对数据库中的街巷（试运行）…"))
    try:
        result = lane_upsert_many(lanes=specs, source_prefix=prefix, prune=prune, commit=commit, batch_size=1000)
    except (ProtectedError, RestrictedError) as exc:
        refs = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or []
        raise LineFileError(
            _(
                "有 %(n)d 条要删除的街巷仍被其他记录引用（如街巷长、巡查），未做任何修改。请先解除引用，或不加 --prune 导入。"
            )
            % {"n": len(refs)}
        ) from None
    except DatabaseError as exc:
        raise LineFileError(
            _("数据库拒绝写入街巷（%(error)s），未做任何修改。请检查文件数据，或将此信息报告给维护人员。")
            % {"error": str(exc).strip()[:300]}
        ) from None
    report.created, report.updated, report.unchanged, report.removed = (
        result.created,
        result.updated,
        result.unchanged,
        result.removed,
    )
    report.committed = bool(commit)
    report.seconds = time.monotonic() - started
    return report


def _transform(lanes: list[_Lane], to_wgs84: Transformer, report: LineImportReport) -> None:
    """Transform every lane's lines to WGS-84 in one call; lanes whose result is not usable are rejected."""

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = to_wgs84.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    flat = np.asarray([line for lane in lanes for line in lane.lines], dtype=object)
    owner = np.repeat(np.arange(len(lanes)), [len(lane.lines) for lane in lanes])
    out = shapely.transform(flat, fn)
    b = shapely.bounds(out)
    ok = np.isfinite(b).all(axis=1) & (b[:, 0] >= -180) & (b[:, 2] <= 180) & (b[:, 1] >= -90) & (b[:, 3] <= 90)
    bad_lane = np.zeros(len(lanes), dtype=bool)
    bad_lane[owner[~ok]] = True
    out = out.tolist()
    i = 0
    kept = []
    for k, lane in enumerate(lanes):
        lane.lines, i = out[i : i + len(lane.lines)], i + len(lane.lines)
        if bad_lane[k]:
            report.rejected.append(
                FeatureNote(
                    lane.fid,
                    lane.key,
                    _("坐标转换到 WGS-84 后超出经纬度范围：请检查文件的坐标系，或用 --srid 指定正确的 EPSG 代码。"),
                )
            )
        else:
            kept.append(lane)
    lanes[:] = kept
    report.rejected.sort(key=lambda n: n.fid)


def _geod_length(lines: np.ndarray) -> float:
    """Total geodesic length (metres) of WGS-84 LineStrings, in one call."""
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    same = idx[1:] == idx[:-1]
    if not same.any():
        return 0.0
    _az1, _az2, dist = _GEOD.inv(coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same])
    return float(np.sum(dist))
