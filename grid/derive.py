"""Illustrative boundaries derived from streets: the blocks a street network encloses.

Where no official boundary file is available (the demo, tests), street offices and communities can be derived
honestly from real streets: the faces of the street network inside a boundary, with slivers (the thin strip between
the two carriageways of a dual carriageway, a triangle at a slip road) merged into the neighbour they share the
longest border with. Such boundaries are *illustrative* and must be marked so (Area.illustrative).

Topology is computed in WGS-84 on a fixed precision grid (PRECISION_DEG, about 1 cm), so that the vertices of a
boundary built by this module are kept exactly when it is subdivided again and neighbouring blocks share exactly the
same edges. Every decision that needs a size (sliver area, width, border length) is measured in metres in the local
UTM zone (common.geo.utm_srid), never in degrees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon
from shapely.strtree import STRtree

from common.geo import utm_srid

WGS84 = 4326
PRECISION_DEG = 1e-7  # about 1 cm: the snap-rounding grid of every derived boundary
DEFAULT_MIN_AREA_M2 = 20_000.0
DEFAULT_MIN_WIDTH_M = 35.0


class Metric:
    """Metric measures of WGS-84 geometries in one UTM zone."""

    def __init__(self, lon: float, lat: float):
        self.srid = utm_srid(lon, lat)
        self._tr = Transformer.from_crs(WGS84, self.srid, always_xy=True)

    @classmethod
    def around(cls, geom) -> Metric:
        c = shapely.centroid(geom) if not geom.is_empty else None
        if c is None or c.is_empty:
            raise ValueError("cannot choose a UTM zone for an empty geometry")
        return cls(c.x, c.y)

    def project(self, geom):
        def fn(xy: np.ndarray) -> np.ndarray:
            x, y = self._tr.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geom, fn)

    def area(self, geom) -> float:
        return float(shapely.area(self.project(geom)))

    def length(self, geom) -> float:
        return float(shapely.length(self.project(geom)))


def _line_parts(geoms: Iterable) -> list[LineString]:
    out: list[LineString] = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        for part in shapely.get_parts(geom):
            if isinstance(part, LineString) and len(part.coords) >= 2:
                out.append(part)
            elif isinstance(part, Polygon):
                out.extend(_line_parts([part.boundary]))
            elif isinstance(part, MultiLineString):
                out.extend(_line_parts([part]))
    return out


def _polygons(geom) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]


def _mean_width_m(area_m2: float, perimeter_m: float) -> float:
    """2·area / perimeter: the width of a long strip; half the side of a square."""
    return 2.0 * area_m2 / perimeter_m if perimeter_m > 0 else 0.0


def _reading_key(poly: Polygon) -> tuple[float, float]:
    p = poly.point_on_surface()
    return (-round(p.y, 5), round(p.x, 5))


def blocks_from_streets(
    lines: Iterable[LineString],
    *,
    boundary: Polygon | MultiPolygon | None = None,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    min_width_m: float = DEFAULT_MIN_WIDTH_M,
) -> list[Polygon]:
    """The blocks that `lines` (WGS-84 street centre lines) cut `boundary` into, as WGS-84 polygons.

    `boundary` defaults to the convex hull of the lines. The lines are noded (snap-rounded to PRECISION_DEG)
    together with the boundary's rings and polygonized; faces outside the boundary are dropped. Then, smallest
    first, every face smaller than `min_area_m2` or thinner than `min_width_m` (mean width 2·area/perimeter, in
    metres) is merged into the neighbour with which it shares the longest border, until none is left (a face with
    no neighbour stays). The result tiles the boundary: valid polygons, no gaps, no overlaps, sorted north to
    south then west to east. Dangling streets (dead ends) do not cut anything.
    """
    line_parts = _line_parts(lines)
    if boundary is None:
        if not line_parts:
            raise ValueError("no street lines and no boundary: nothing to derive blocks from")
        boundary = shapely.convex_hull(MultiLineString(line_parts))
    if not isinstance(boundary, Polygon | MultiPolygon) or boundary.is_empty:
        raise ValueError("boundary must be a non-empty Polygon or MultiPolygon")
    if not boundary.is_valid:
        boundary = shapely.make_valid(boundary)
    boundary = shapely.set_precision(boundary, PRECISION_DEG)
    if not _polygons(boundary):
        raise ValueError("boundary collapses at the working precision (about 1 cm)")
    metric = Metric.around(boundary)

    # Only lines that reach the boundary matter; clipping keeps noding cheap for large inputs.
    if line_parts:
        tree = STRtree(line_parts)
        line_parts = [line_parts[i] for i in tree.query(boundary, predicate="intersects")]
    linework = shapely.union_all([*line_parts, boundary.boundary], grid_size=PRECISION_DEG)
    shapely.prepare(boundary)
    faces = [
        face
        for face in _polygons(shapely.polygonize(_line_parts([linework])))
        if boundary.contains(face.point_on_surface())
    ]
    if not faces:
        return [p for p in _polygons(boundary)]
    return _merge_small(faces, metric, min_area_m2=min_area_m2, min_width_m=min_width_m)


def _merge_small(faces: list[Polygon], metric: Metric, *, min_area_m2: float, min_width_m: float) -> list[Polygon]:
    pieces: dict[int, Polygon] = dict(enumerate(faces))
    projected = {i: metric.project(p) for i, p in pieces.items()}
    tree = STRtree(faces)
    neighbours: dict[int, set[int]] = {i: set() for i in pieces}
    for i, face in pieces.items():
        for j in tree.query(face, predicate="intersects"):
            if int(j) != i:
                neighbours[i].add(int(j))

    def too_small(i: int) -> bool:
        g = projected[i]
        return g.area < min_area_m2 or _mean_width_m(g.area, g.length) < min_width_m

    def shared_border_m(i: int, j: int) -> float:
        common = shapely.intersection(projected[i].boundary, projected[j].boundary)
        return float(shapely.length(common))

    stuck: set[int] = set()  # small faces with no neighbour to merge into
    while True:
        candidates = [i for i in pieces if i not in stuck and too_small(i)]
        if not candidates:
            break
        small = min(candidates, key=lambda i: (projected[i].area, i))
        borders = {j: shared_border_m(small, j) for j in neighbours[small]}
        borders = {j: b for j, b in borders.items() if b > 0.0}
        if not borders:
            stuck.add(small)
            continue
        target = max(borders, key=lambda j: (borders[j], -j))
        merged = _polygons(shapely.union(pieces[target], pieces[small], grid_size=PRECISION_DEG))
        if len(merged) != 1:  # cannot happen for faces sharing an edge; keep both rather than corrupt the tiling
            stuck.add(small)
            continue
        pieces[target] = merged[0]
        projected[target] = metric.project(merged[0])
        for j in neighbours.pop(small):
            neighbours[j].discard(small)
            if j != target:
                neighbours[j].add(target)
                neighbours[target].add(j)
        neighbours[target].discard(target)
        del pieces[small], projected[small]
        stuck.discard(target)
    out = []
    for poly in pieces.values():
        if not poly.is_valid:
            out.extend(_polygons(shapely.make_valid(poly)))
        else:
            out.append(poly)
    return sorted(out, key=_reading_key)


def assign_parents(children: Sequence[Polygon], parents: Sequence[Polygon]) -> list[int | None]:
    """For each child block, the index of the parent block holding it: the one covering a point inside the child
    (point_on_surface, which unlike the centroid is always inside), else the one with the largest overlap, else
    None when the child touches no parent."""
    tree = STRtree(list(parents))
    out: list[int | None] = []
    for child in children:
        p = child.point_on_surface()
        holders = [int(i) for i in tree.query(p, predicate="intersects")]
        if holders:
            out.append(min(holders))
            continue
        overlaps = {int(i): shapely.area(shapely.intersection(child, parents[int(i)])) for i in tree.query(child)}
        overlaps = {i: a for i, a in overlaps.items() if a > 0}
        out.append(max(overlaps, key=overlaps.get) if overlaps else None)
    return out


def blocks_within(
    parents: Sequence[Polygon],
    lines: Iterable[LineString],
    *,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    min_width_m: float = DEFAULT_MIN_WIDTH_M,
) -> list[list[Polygon]]:
    """Subdivide each parent block by the streets crossing it: `result[k]` tiles `parents[k]`, so the children
    nest in their parent by construction (e.g. street offices from major roads, then communities from secondary
    roads inside each street office)."""
    line_parts = _line_parts(lines)
    tree = STRtree(line_parts) if line_parts else None
    out = []
    for parent in parents:
        local = [line_parts[i] for i in tree.query(parent, predicate="intersects")] if tree is not None else []
        out.append(blocks_from_streets(local, boundary=parent, min_area_m2=min_area_m2, min_width_m=min_width_m))
    return out
