"""Import lanes (街巷) from OpenStreetMap data: OSM XML (.osm, .osm.gz, .osm.bz2) or PBF, read with pyosmium.

How ways become lanes:

1. Street ways only: `highway` in STREET_HIGHWAYS (roads people drive or walk along as streets, with their
   `*_link` variants). Footways, cycleways, paths, steps, construction, proposed … and ways without `highway`
   are skipped and counted, as are street ways without any name (`name`, falling back to `name:zh`).
2. Ways of one name are merged into connected components: two ways connect when they share a node or come
   within `merge_distance_m` metres of each other (measured in the local UTM zone), so the two one-way
   carriageways of a dual carriageway make one lane while two far-apart streets sharing a name stay two.
3. Where communities exist (grid Area, level "community"), each component is cut at community boundaries
   (planar in WGS-84, exactly as PostGIS compares the stored geometries): each piece inside a community is
   its own lane; what lies outside every community stays one lane. A line on a border shared by two
   communities goes to the community with the smaller code. Pieces shorter than 1 m are dropped, unless that
   would drop the whole component (then its longest piece stays, so no street name is lost).
4. Kind: motorway/trunk/primary (+links) → main, secondary/tertiary (+links) → secondary, everything else →
   back. A lane made of ways of several classes takes the class with the greatest total length in it
   (geodesic metres); on a tie the more important class wins.
5. Identity: source_key = "osm:{name}:{smallest way id of the component}:{community code or '-'}", so
   re-importing the same file changes nothing, and a changed file updates the lanes it changed. Lanes whose
   key the file no longer produces are removed only with `prune=True`.

Lane.community and the lane's grid cells are derived by database triggers from the geometry written here.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import osmium
import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.db import DatabaseError
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _
from pyproj import Geod, Transformer
from shapely.geometry import LineString, MultiLineString
from shapely.strtree import STRtree

from common.geo import utm_srid
from grid.models import Area
from lanes.models import LaneKind
from lanes.services import LaneSpec, lane_upsert_many

SOURCE_PREFIX = "osm:"

_MAIN = {"motorway", "trunk", "primary"}
_SECONDARY = {"secondary", "tertiary"}
_BACK = {"unclassified", "residential", "living_street", "service", "pedestrian"}
STREET_HIGHWAYS = frozenset(
    _MAIN | _SECONDARY | _BACK | {f"{h}_link" for h in _MAIN | _SECONDARY | {"unclassified", "residential"}}
)
# Most important first: the order breaks ties in the length rule.
KIND_ORDER = (LaneKind.MAIN, LaneKind.SECONDARY, LaneKind.BACK)

MIN_PIECE_M = 1.0  # community pieces shorter than this are dropped
MIN_PART_M = 0.01  # clipping noise: line fragments shorter than this are dropped
PROGRESS_EVERY = 50_000  # ways
NAME_MAX = 200  # Lane.name max_length

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_GEOD = Geod(ellps="WGS84")


class ImportRejected(Exception):
    """The file cannot be imported; the message says why and what to do. Nothing was written."""


def highway_kind(highway: str) -> str:
    base = highway.removesuffix("_link")
    if base in _MAIN:
        return LaneKind.MAIN
    if base in _SECONDARY:
        return LaneKind.SECONDARY
    return LaneKind.BACK


@dataclass
class OsmImportReport:
    path: str = ""
    committed: bool = False
    ways_read: int = 0
    ways_skipped_not_street: int = 0
    ways_skipped_unnamed: int = 0
    ways_skipped_no_geometry: int = 0  # street ways with fewer than two known node locations
    names: int = 0  # distinct street names kept
    components: int = 0  # connected same-name groups before community split
    lanes: int = 0  # lanes the file describes
    lanes_created: int = 0
    lanes_updated: int = 0
    lanes_unchanged: int = 0
    lanes_removed: int = 0
    seconds: float = 0.0
    created_keys: list[str] = field(default_factory=list)
    updated_keys: list[str] = field(default_factory=list)
    removed_keys: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = _("OSM 导入已写入") if self.committed else _("OSM 导入试运行（未写入）")
        return _(
            "%(head)s：读取路段 %(ways)d 条；跳过非街巷 %(not_street)d 条、无名称 %(unnamed)d 条、无坐标 %(nogeom)d 条；"
            "街巷名称 %(names)d 个，连通路段组 %(components)d 个，街巷 %(lanes)d 条："
            "新增 %(created)d，更新 %(updated)d，未变 %(unchanged)d，删除 %(removed)d；用时 %(seconds).1f 秒。"
        ) % {
            "head": head,
            "ways": self.ways_read,
            "not_street": self.ways_skipped_not_street,
            "unnamed": self.ways_skipped_unnamed,
            "nogeom": self.ways_skipped_no_geometry,
            "names": self.names,
            "components": self.components,
            "lanes": self.lanes,
            "created": self.lanes_created,
            "updated": self.lanes_updated,
            "unchanged": self.lanes_unchanged,
            "removed": self.lanes_removed,
            "seconds": self.seconds,
        }


@dataclass
class _Way:
    id: int
    name: str
    name_zh: str
    highway: str
    node_ids: tuple[int, ...]
    line: LineString  # WGS-84


# ---------------------------------------------------------------------------------------------------------------
# Reading


def _sniff_format(path: Path) -> str:
    """osmium format string from the file's first bytes (not its name, which may lie or be missing)."""
    with path.open("rb") as fh:
        head = fh.read(64)
    if not head:
        raise ImportRejected(
            _("文件 %(path)s 是空的。请重新导出 OSM 数据（.osm 或 .osm.pbf）后再导入。") % {"path": path}
        )
    if head.startswith(b"\x1f\x8b"):
        return "osm.gz"
    if head.startswith(b"BZh"):
        return "osm.bz2"
    if b"OSMHeader" in head[:32]:
        return "pbf"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "osm"
    raise ImportRejected(
        _("文件 %(path)s 不是 OSM 数据（应为 OSM XML 或 PBF）。请从 OpenStreetMap 导出 .osm 或 .osm.pbf 文件后再导入。")
        % {"path": path}
    )


def _way_name(tags) -> tuple[str, str]:
    name = (tags.get("name") or "").strip() or (tags.get("name:zh") or "").strip()
    if not name:
        return "", ""
    zh = (tags.get("name:zh") or "").strip()
    if not zh and _CJK.search(name):
        zh = name
    return name[:NAME_MAX], zh[:NAME_MAX]


def read_street_ways(path: Path, report: OsmImportReport, progress: Callable[[str], None] | None = None) -> list[_Way]:
    """Named street ways with their WGS-84 lines; counts what it skips in `report`."""
    fmt = _sniff_format(path)
    ways: list[_Way] = []
    processor = (
        osmium.FileProcessor(osmium.io.File(str(path), fmt), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    )
    try:
        for way in processor:
            report.ways_read += 1
            if progress and report.ways_read % PROGRESS_EVERY == 0:
                progress(_("已读取 %(n)d 条路段…") % {"n": report.ways_read})
            tags = way.tags
            if tags.get("highway") not in STREET_HIGHWAYS:
                report.ways_skipped_not_street += 1
                continue
            name, name_zh = _way_name(tags)
            if not name:
                report.ways_skipped_unnamed += 1
                continue
            coords: list[tuple[float, float]] = []
            node_ids: list[int] = []
            for node in way.nodes:
                node_ids.append(node.ref)
                loc = node.location
                if loc.valid():
                    xy = (loc.lon, loc.lat)
                    if not coords or coords[-1] != xy:
                        coords.append(xy)
            if len(coords) < 2:
                report.ways_skipped_no_geometry += 1
                continue
            ways.append(_Way(way.id, name, name_zh, tags.get("highway"), tuple(node_ids), LineString(coords)))
    except RuntimeError as exc:  # osmium reports parse and I/O errors as RuntimeError
        raise ImportRejected(
            _("无法读取 OSM 文件 %(path)s：%(error)s。文件可能不完整或已损坏，请重新下载或导出后再导入。")
            % {"path": path, "error": str(exc)[:300]}
        ) from None
    if report.ways_read == 0:
        raise ImportRejected(
            _("文件 %(path)s 中没有任何 OSM 路段（way）。请确认导出的是包含道路的 OSM 数据。") % {"path": path}
        )
    if progress:
        progress(
            _("读取完成：%(n)d 条路段，其中有名称的街巷路段 %(kept)d 条。") % {"n": report.ways_read, "kept": len(ways)}
        )
    return ways


# ---------------------------------------------------------------------------------------------------------------
# Merging


@lru_cache(maxsize=16)
def _to_utm(srid: int) -> Transformer:
    return Transformer.from_crs(settings.GEO_SRID, srid, always_xy=True)


def _project(lines: list[LineString], srid: int) -> np.ndarray:
    tr = _to_utm(srid)

    def fn(xy: np.ndarray) -> np.ndarray:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(lines, dtype=object), fn)


def _components(ways: list[_Way], merge_distance_m: float) -> list[list[_Way]]:
    """Connected groups of same-named ways (shared node, or within merge_distance_m metres)."""
    parent = list(range(len(ways)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    first_with_node: dict[int, int] = {}
    for i, way in enumerate(ways):
        for ref in way.node_ids:
            j = first_with_node.setdefault(ref, i)
            if j != i:
                union(i, j)
    if len(ways) > 1 and merge_distance_m > 0:
        minx, miny, maxx, maxy = shapely.total_bounds([w.line for w in ways])
        projected = _project([w.line for w in ways], utm_srid((minx + maxx) / 2, (miny + maxy) / 2))
        tree = STRtree(projected)
        left, right = tree.query(projected, predicate="dwithin", distance=merge_distance_m)
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i < j:
                union(i, j)
    groups: dict[int, list[_Way]] = defaultdict(list)
    for i, way in enumerate(ways):
        groups[find(i)].append(way)
    return [sorted(g, key=lambda w: w.id) for g in groups.values()]


# ---------------------------------------------------------------------------------------------------------------
# Community split


@dataclass
class _Communities:
    codes: list[str]
    polygons: list
    tree: STRtree | None

    @classmethod
    def load(cls) -> _Communities:
        rows = list(Area.objects.communities().order_by("code").values_list("code", "geom"))
        codes = [code for code, _geom in rows]
        polygons = [shapely.from_wkb(bytes(geom.wkb)) for _code, geom in rows]
        for poly in polygons:
            shapely.prepare(poly)
        return cls(codes, polygons, STRtree(polygons) if polygons else None)

    def split(self, line: LineString) -> list[tuple[str, list[LineString]]]:
        """(community code or "", line parts) for the pieces of `line`; communities in code order, so a stretch on
        a shared border goes to the smaller code; "" is what lies outside every community."""
        if self.tree is None:
            return [("", [line])]
        hits = sorted(self.tree.query(line, predicate="intersects").tolist())
        if not hits:
            return [("", [line])]
        out = []
        remainder = line
        for idx in hits:
            if remainder.is_empty:
                break
            poly = self.polygons[idx]
            out.append((self.codes[idx], _lines(shapely.intersection(remainder, poly))))
            remainder = shapely.difference(remainder, poly)
        out.append(("", _lines(remainder)))
        return [(code, parts) for code, parts in out if parts]


def _lines(geom) -> list[LineString]:
    """The linear parts of a clipping result, without fragments of clipping noise."""
    if geom is None or geom.is_empty:
        return []
    parts = shapely.get_parts(geom).tolist()
    out = []
    for part in parts:
        if isinstance(part, LineString) and not part.is_empty and _GEOD.geometry_length(part) >= MIN_PART_M:
            out.append(part)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Lanes


def _multilinestring(parts: list[LineString]) -> MultiLineString:
    merged = shapely.line_merge(shapely.union_all(parts))
    lines = [p for p in shapely.get_parts(merged).tolist() if isinstance(p, LineString) and p.length > 0]
    return shapely.normalize(MultiLineString(lines))


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(v for v in values if v)
    if not counts:
        return ""
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]


def _lane_specs(component: list[_Way], communities: _Communities) -> list[LaneSpec]:
    name = component[0].name
    component_key = component[0].id  # ways are sorted by id
    name_zh = _most_common(w.name_zh for w in component)
    pieces: dict[str, list[tuple[_Way, LineString]]] = defaultdict(list)
    for way in component:
        for code, parts in communities.split(way.line):
            pieces[code].extend((way, part) for part in parts)

    measured = []
    for code, items in pieces.items():
        lengths = [_GEOD.geometry_length(part) for _way, part in items]
        measured.append((code, items, lengths, sum(lengths)))
    kept = [m for m in measured if m[3] >= MIN_PIECE_M]
    if not kept and measured:
        kept = [max(measured, key=lambda m: (m[3], m[0]))]

    specs = []
    for code, items, lengths, _total in sorted(kept, key=lambda m: m[0]):
        by_kind: Counter[str] = Counter()
        for (way, _part), length in zip(items, lengths, strict=True):
            by_kind[highway_kind(way.highway)] += length
        kind = max(KIND_ORDER, key=lambda k: (by_kind[k], -KIND_ORDER.index(k)))
        geom = _multilinestring([part for _way, part in items])
        specs.append(
            LaneSpec(
                source_key=f"{SOURCE_PREFIX}{name}:{component_key}:{code or '-'}",
                name=name,
                name_zh=name_zh,
                kind=kind,
                geom=GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=settings.GEO_SRID),
                osm_way_ids=tuple(sorted({way.id for way, _part in items})),
                tags={"source": "osm", "highway": sorted({way.highway for way, _part in items})},
            )
        )
    return specs


def build_lane_specs(
    ways: list[_Way], *, merge_distance_m: float, report: OsmImportReport, progress: Callable[[str], None] | None
) -> list[LaneSpec]:
    by_name: dict[str, list[_Way]] = defaultdict(list)
    for way in ways:
        by_name[way.name].append(way)
    communities = _Communities.load()
    specs: list[LaneSpec] = []
    for n, name in enumerate(sorted(by_name), start=1):
        for component in _components(by_name[name], merge_distance_m):
            report.components += 1
            specs.extend(_lane_specs(component, communities))
        if progress and n % 1000 == 0:
            progress(_("已合并 %(n)d / %(total)d 个街巷名称…") % {"n": n, "total": len(by_name)})
    report.names = len({s.name for s in specs})
    report.lanes = len(specs)
    if progress:
        progress(
            _("合并完成：%(names)d 个名称，%(components)d 个连通路段组，%(lanes)d 条街巷（社区 %(communities)d 个）。")
            % {
                "names": report.names,
                "components": report.components,
                "lanes": report.lanes,
                "communities": len(communities.codes),
            }
        )
    return specs


def import_osm(
    path: str | Path,
    *,
    commit: bool = False,
    prune: bool = False,
    progress: Callable[[str], None] | None = None,
    merge_distance_m: float = 60.0,
) -> OsmImportReport:
    """Import the lanes of an OSM file (see the module docstring for the rules). Dry run unless `commit`;
    with `prune`, every lane from an earlier OSM import (source_key "osm:…") that this file does not produce is
    removed, including lanes imported from other extracts: prune only with a file covering all of them.
    Raises ImportRejected (nothing written) when the file cannot be read, holds no named street, or the database
    refuses the lanes."""
    started = time.monotonic()
    path = Path(path)
    report = OsmImportReport(path=str(path), committed=commit)
    if merge_distance_m < 0:
        raise ImportRejected(_("合并距离不能为负数（单位：米），例如 60。"))
    if not path.is_file():
        raise ImportRejected(
            _("找不到文件 %(path)s。请检查路径，或先导出 OSM 数据（.osm 或 .osm.pbf）。") % {"path": path}
        )

    ways = read_street_ways(path, report, progress)
    specs = build_lane_specs(ways, merge_distance_m=merge_distance_m, report=report, progress=progress)
    if not specs:
        # A file without a single named street is not a street network (and with prune it would empty the table).
        raise ImportRejected(
            _(
                "文件 %(path)s 中没有可导入的街巷：%(ways)d 条路段中没有带名称的道路（highway=primary、residential 等）。"
                "请确认导出的是道路数据。"
            )
            % {"path": path, "ways": report.ways_read}
        )
    if progress:
        progress(_("正在写入街巷…") if commit else _("正在比对数据库中的街巷（试运行）…"))
    try:
        result = lane_upsert_many(lanes=specs, source_prefix=SOURCE_PREFIX, prune=prune, commit=commit)
    except (ProtectedError, RestrictedError) as exc:
        raise ImportRejected(
            _(
                "有 %(n)d 条要删除的街巷仍被其他记录引用（如街巷长、巡查），未做任何修改。请先解除引用，或不加 --prune 导入。"
            )
            % {"n": len(getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or [])}
        ) from None
    except DatabaseError as exc:
        raise ImportRejected(
            _("数据库拒绝写入街巷（%(error)s），未做任何修改。请检查文件数据，或将此信息报告给维护人员。")
            % {"error": str(exc).strip()[:300]}
        ) from None
    report.lanes_created = len(result.created)
    report.lanes_updated = len(result.updated)
    report.lanes_unchanged = result.unchanged
    report.lanes_removed = len(result.removed)
    report.created_keys, report.updated_keys, report.removed_keys = result.created, result.updated, result.removed
    report.seconds = time.monotonic() - started
    return report
