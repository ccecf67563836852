"""Read a GPS track from an uploaded file: GPX 1.0/1.1 or GeoJSON. Parsing only (no database, no cleaning): the
result is the raw fixes in file order, each with its timestamp when the file has one. Every problem raises
TrackError with a message for the patroller (the API answers 400 with it).

GPX: track points (trk/trkseg/trkpt) in order, all segments joined; a file without track points falls back to
its route points (rte/rtept). Waypoints (wpt) are places, not a track, and are ignored. Times are ISO 8601; a
time without a zone is UTC, as the GPX schema says. The XML is read with expat and any DOCTYPE or entity
declaration is refused (no entity expansion of any kind).

GeoJSON (RFC 7946, WGS-84 unless the upload says coordsys=gcj02): a LineString or MultiLineString geometry,
Feature or FeatureCollection (parts joined in order), or a FeatureCollection of Point features (a phone
export). Times come from `properties.coordTimes` or `properties.times` (one per coordinate, nested per part
for a MultiLineString; the convention of togeojson and most exporters), or `properties.time` /
`properties.timestamp` on Point features (ISO 8601 or Unix seconds / milliseconds).
"""

from __future__ import annotations

import json
import math
import xml.parsers.expat
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.translation import gettext as _


class TrackError(ValueError):
    """The file cannot be used as a track; the message says why (shown to the user)."""


@dataclass(frozen=True)
class RawPoint:
    lon: float
    lat: float
    t: datetime | None = None  # aware


@dataclass
class ParsedTrack:
    format: str  # "gpx" | "geojson"
    points: list[RawPoint]


def sniff_format(data: bytes, filename: str = "") -> str:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "gpx"
    if head.startswith((b"{", b"[")):
        return "geojson"
    name = filename.lower()
    if name.endswith(".gpx"):
        return "gpx"
    if name.endswith((".geojson", ".json")):
        return "geojson"
    raise TrackError(_("无法识别的轨迹文件：请上传 GPX（.gpx）或 GeoJSON（.geojson）格式的轨迹。"))


def parse_track(data: bytes, *, filename: str = "", fmt: str | None = None) -> ParsedTrack:
    if not data or not data.strip():
        raise TrackError(_("轨迹文件是空的。"))
    fmt = (fmt or "").lower() or sniff_format(data, filename)
    if fmt == "gpx":
        return ParsedTrack("gpx", parse_gpx(data))
    if fmt in ("geojson", "json"):
        return ParsedTrack("geojson", parse_geojson(data))
    raise TrackError(_("不支持的轨迹格式 %(fmt)s：请上传 GPX 或 GeoJSON。") % {"fmt": fmt[:20]})


# ---------------------------------------------------------------------------------------------------------------
# Values


def parse_time(value) -> datetime:
    """An aware datetime from ISO 8601 text or Unix seconds / milliseconds; naive ISO times are UTC."""
    if isinstance(value, bool):
        raise TrackError(_("时间格式无效：%(v)s") % {"v": str(value)[:40]})
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise TrackError(_("时间格式无效：%(v)s") % {"v": str(value)[:40]})
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise TrackError(_("时间超出范围：%(v)s") % {"v": str(value)[:40]}) from None
    text = str(value).strip()
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise TrackError(
            _("时间格式无效（应为 ISO 8601，如 2025-03-03T08:00:00Z）：%(v)s") % {"v": text[:40]}
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def number_at(value, what: str, index: int) -> float:
    if isinstance(value, bool):
        value = None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TrackError(
            _("第 %(n)d 个点的%(what)s不是数字：%(v)s") % {"n": index + 1, "what": what, "v": str(value)[:40]}
        ) from None
    if not math.isfinite(number):
        raise TrackError(_("第 %(n)d 个点的%(what)s不是有限数值。") % {"n": index + 1, "what": what})
    return number


# ---------------------------------------------------------------------------------------------------------------
# GPX


class _GpxHandler:
    def __init__(self):
        self.trk: list[dict] = []
        self.rte: list[dict] = []
        self.current: dict | None = None
        self.text: list[str] = []
        self.in_time = False

    @staticmethod
    def local(name: str) -> str:
        return name.rsplit(" ", 1)[-1]  # namespace separator is a space

    def start(self, name, attrs):
        tag = self.local(name)
        if tag in ("trkpt", "rtept"):
            self.current = {"kind": tag, "lat": attrs.get("lat"), "lon": attrs.get("lon"), "time": None}
        elif tag == "time" and self.current is not None:
            self.in_time = True
            self.text = []

    def end(self, name):
        tag = self.local(name)
        if tag == "time" and self.in_time:
            self.current["time"] = "".join(self.text).strip()
            self.in_time = False
        elif tag in ("trkpt", "rtept") and self.current is not None:
            (self.trk if tag == "trkpt" else self.rte).append(self.current)
            self.current = None

    def chars(self, data):
        if self.in_time:
            self.text.append(data)


def _refuse_doctype(*_args):
    raise TrackError(_("GPX 文件不得包含 DOCTYPE 或实体声明。"))


def parse_gpx(data: bytes) -> list[RawPoint]:
    handler = _GpxHandler()
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.ExternalEntityRefHandler = _refuse_doctype
    try:
        parser.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        raise TrackError(
            _("GPX 文件格式错误（第 %(line)d 行）：%(error)s。请重新导出轨迹。")
            % {"line": exc.lineno or 0, "error": xml.parsers.expat.errors.messages.get(exc.code, str(exc))}
        ) from None
    rows = handler.trk or handler.rte
    if not rows:
        raise TrackError(_("GPX 文件中没有轨迹点（trkpt）或路线点（rtept）。"))
    points = []
    for i, row in enumerate(rows):
        if row["lat"] is None or row["lon"] is None:
            raise TrackError(_("第 %(n)d 个轨迹点缺少经纬度（lat/lon 属性）。") % {"n": i + 1})
        lat = number_at(row["lat"], _("纬度"), i)
        lon = number_at(row["lon"], _("经度"), i)
        t = parse_time(row["time"]) if row["time"] else None
        points.append(RawPoint(lon, lat, t))
    return points


# ---------------------------------------------------------------------------------------------------------------
# GeoJSON


def _coords_of(geometry, what: str) -> list[list]:
    """The parts (lists of positions) of a LineString / MultiLineString geometry."""
    if not isinstance(geometry, dict):
        raise TrackError(_("%(what)s 缺少几何（geometry）。") % {"what": what})
    gtype = geometry.get("type")
    coords = geometry.get("coordinates")
    if gtype == "LineString":
        parts = [coords]
    elif gtype == "MultiLineString":
        parts = coords
    else:
        raise TrackError(
            _("%(what)s 的几何类型是 %(type)s；轨迹应为 LineString 或 MultiLineString（或按时间排列的 Point 要素）。")
            % {"what": what, "type": str(gtype)[:30]}
        )
    if not isinstance(parts, list) or not all(isinstance(p, list) for p in parts):
        raise TrackError(_("%(what)s 的坐标（coordinates）格式错误。") % {"what": what})
    return parts


def _times_of(properties: dict, parts: list[list]) -> list[list] | None:
    times = properties.get("coordTimes", properties.get("times")) if isinstance(properties, dict) else None
    if times is None:
        return None
    if not isinstance(times, list):
        raise TrackError(_("coordTimes 应为时间列表。"))
    if len(parts) == 1 and times and not isinstance(times[0], list):
        times = [times]
    if len(times) != len(parts) or any(
        not isinstance(t, list) or len(t) != len(p) for t, p in zip(times, parts, strict=False)
    ):
        raise TrackError(_("coordTimes 的时间个数与坐标个数不一致。"))
    return times


def _position(pos, index: int) -> tuple[float, float]:
    if not isinstance(pos, list | tuple) or len(pos) < 2:
        raise TrackError(_("第 %(n)d 个点的坐标格式错误：应为 [经度, 纬度]。") % {"n": index + 1})
    return number_at(pos[0], _("经度"), index), number_at(pos[1], _("纬度"), index)


def parse_geojson(data: bytes) -> list[RawPoint]:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise TrackError(_("GeoJSON 文件不是 UTF-8 编码。")) from None
    except RecursionError:  # "[[[[…" nested beyond the parser's stack: no track is built that way
        raise TrackError(_("GeoJSON 文件嵌套过深，不是轨迹文件。")) from None
    except json.JSONDecodeError as exc:
        raise TrackError(
            _("GeoJSON 文件格式错误（第 %(line)d 行第 %(col)d 列）：%(msg)s。")
            % {"line": exc.lineno, "col": exc.colno, "msg": exc.msg}
        ) from None
    if not isinstance(doc, dict):
        raise TrackError(_("GeoJSON 文件应是一个对象（Feature、FeatureCollection 或几何）。"))
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list) or not features:
            raise TrackError(_("GeoJSON 要素集合中没有要素。"))
        if all(isinstance(f, dict) and (f.get("geometry") or {}).get("type") == "Point" for f in features):
            return _point_features(features)
        points: list[RawPoint] = []
        for i, feature in enumerate(features):
            if not isinstance(feature, dict):
                raise TrackError(_("第 %(n)d 个要素格式错误。") % {"n": i + 1})
            points.extend(_line_feature(feature, _("第 %(n)d 个要素") % {"n": i + 1}, len(points)))
        return points
    if kind == "Feature":
        return _line_feature(doc, _("要素"), 0)
    if kind in ("LineString", "MultiLineString"):
        return _line_feature({"geometry": doc, "properties": {}}, _("几何"), 0)
    raise TrackError(_("GeoJSON 类型 %(type)s 不是轨迹。") % {"type": str(kind)[:30]})


def _line_feature(feature: dict, what: str, offset: int) -> list[RawPoint]:
    parts = _coords_of(feature.get("geometry"), what)
    times = _times_of(feature.get("properties") or {}, parts)
    points = []
    n = offset
    for pi, part in enumerate(parts):
        for ci, pos in enumerate(part):
            lon, lat = _position(pos, n)
            t = parse_time(times[pi][ci]) if times is not None and times[pi][ci] is not None else None
            points.append(RawPoint(lon, lat, t))
            n += 1
    return points


def _point_features(features: list[dict]) -> list[RawPoint]:
    points = []
    for i, feature in enumerate(features):
        lon, lat = _position((feature.get("geometry") or {}).get("coordinates"), i)
        props = feature.get("properties") or {}
        raw_t = props.get("time", props.get("timestamp")) if isinstance(props, dict) else None
        points.append(RawPoint(lon, lat, parse_time(raw_t) if raw_t is not None else None))
    return points
