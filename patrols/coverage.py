"""Which lanes a GPS track really covered, and every lane's coverage on a day: set-based SQL in PostGIS.

Rule: a lane is covered by a track when the part of the lane lying within `buffer_m` metres of the track is at
least `min_share` of the lane's length (settings PATROL_BUFFER_M, default 20 m, and PATROL_MIN_SHARE, default
0.6). Measured in metres in the local UTM zone of each track (zone of the track's centroid, like
common.geo.utm_srid): the track is simplified (1 m tolerance), buffered in UTM, and the buffer cut into small
pieces (ST_Subdivide, at most 256 vertices each). Each piece goes back to WGS-84 only to find its candidate lanes
through the GiST index on lanes_lane.geom (bounding-box `&&`); the exact measure is
ST_Length(ST_Intersection(lane_in_utm, piece)) summed over the pieces, whose interiors do not overlap. The share
is that length over the lane's own length in the same projection.

One statement computes a whole day (every finished patrol of the day) or any list of patrols; the planner drives
an index probe per buffer piece, so the cost grows with (tracks × pieces) + (pieces × nearby lanes), not with
tracks × all lanes.

A lane is covered on a day when at least one finished patrol of that day covered it (see LaneDayCoverage): the
rule is per patrol, so two patrols each walking 40 % of a lane do not make it covered.
"""

from __future__ import annotations

from datetime import date

from patrols import conf

SIMPLIFY_M = 1.0
SUBDIVIDE_VERTICES = 256  # measured: 64 costs twice as much (ST_Subdivide dominates), 256–512 is the sweet spot
QUAD_SEGS = 4


def utm_srid_sql(geom: str) -> str:
    """SQL for the EPSG code of the UTM zone holding the centroid of `geom` (mirrors common.geo.utm_srid)."""
    c = f"ST_Centroid({geom})"
    return (
        f"((CASE WHEN ST_Y({c}) >= 0 THEN 32600 ELSE 32700 END)"
        f" + LEAST(60, GREATEST(1, floor((ST_X({c}) + 180) / 6)::int + 1)))"
    )


def patrol_lane_shares_sql(*, where: str, buffer_m: float) -> str:
    """SELECT patrol_id, lane_id, covered_m, share for the patrols matched by `where` (SQL on alias p, may use
    %(...)s parameters). Lanes touched by the buffer at all are returned (share > 0)."""
    return f"""
WITH t AS MATERIALIZED (
  SELECT p.id AS patrol_id, {utm_srid_sql("p.track")} AS srid, p.track
  FROM patrols_patrol p
  WHERE p.track IS NOT NULL AND ({where})
),
pieces AS MATERIALIZED (
  SELECT t.patrol_id, t.srid, g.geom AS piece_utm,
         ST_Expand(ST_Envelope(ST_Transform(g.geom, 4326)), 1e-6) AS piece_box
  FROM t
  CROSS JOIN LATERAL ST_Subdivide(
    ST_Buffer(ST_Simplify(ST_Transform(t.track, t.srid), {SIMPLIFY_M}), {float(buffer_m)}, 'quad_segs={QUAD_SEGS}'),
    {SUBDIVIDE_VERTICES}
  ) AS g(geom)
),
hits AS (
  SELECT pc.patrol_id, pc.srid, l.id AS lane_id,
         SUM(ST_Length(ST_Intersection(ST_Transform(l.geom, pc.srid), pc.piece_utm))) AS inside_utm
  FROM pieces pc
  JOIN lanes_lane l ON l.geom && pc.piece_box
  GROUP BY pc.patrol_id, pc.srid, l.id
)
SELECT h.patrol_id, h.lane_id,
       LEAST(1.0, h.inside_utm / NULLIF(ST_Length(ST_Transform(l.geom, h.srid)), 0)) * l.length_m AS covered_m,
       LEAST(1.0, h.inside_utm / NULLIF(ST_Length(ST_Transform(l.geom, h.srid)), 0)) AS share
FROM hits h JOIN lanes_lane l ON l.id = h.lane_id
WHERE h.inside_utm > 0
"""


def store_patrol_lanes_sql(*, where: str, buffer_m: float | None = None, min_share: float | None = None):
    """(sql, params) replacing PatrolLane rows of the matched patrols; params are merged with the caller's."""
    buffer_m = conf.get("PATROL_BUFFER_M") if buffer_m is None else buffer_m
    min_share = conf.get("PATROL_MIN_SHARE") if min_share is None else min_share
    sql = f"""
INSERT INTO patrols_patrollane (patrol_id, lane_id, covered_m, share, covered)
SELECT s.patrol_id, s.lane_id, s.covered_m, s.share, s.share >= %(min_share)s
FROM ({patrol_lane_shares_sql(where=where, buffer_m=buffer_m)}) s
WHERE s.share >= %(keep_share)s
"""
    return sql, {"min_share": float(min_share), "keep_share": float(min_share) / 2.0}


def lane_day_rows_sql() -> str:
    """INSERT of one LaneDayCoverage row per lane for %(day)s. Parameters: day, rest_kinds (text[]), now."""
    from people.models import ChiefAssignment, Person, WorkGroup

    wg_lanes = WorkGroup.lanes.through._meta.db_table
    wg = WorkGroup._meta.db_table
    ca = ChiefAssignment._meta.db_table
    person = Person._meta.db_table
    return f"""
INSERT INTO patrols_lanedaycoverage
  (day, lane_id, community_id, street_office_id, work_group_ids, department_ids, chief_ids,
   due, covered, best_share, patrol_ids, patroller_ids, computed_at)
SELECT %(day)s, l.id, l.community_id, c.parent_id,
       COALESCE(g.work_group_ids, '{{}}'),
       COALESCE(ARRAY(SELECT DISTINCT d FROM unnest(COALESCE(g.department_ids, '{{}}') || COALESCE(ch.department_ids, '{{}}')) d
                      ORDER BY d), '{{}}'),
       COALESCE(ch.chief_ids, '{{}}'),
       NOT (l.kind = ANY(%(rest_kinds)s::text[])),
       COALESCE(cv.covered, false),
       COALESCE(cv.best_share, 0),
       COALESCE(cv.patrol_ids, '{{}}'),
       COALESCE(cv.patroller_ids, '{{}}'),
       %(now)s
FROM lanes_lane l
LEFT JOIN grid_area c ON c.id = l.community_id
LEFT JOIN (
  SELECT wl.lane_id, array_agg(DISTINCT w.id ORDER BY w.id) AS work_group_ids,
         array_agg(DISTINCT w.department_id ORDER BY w.department_id) AS department_ids
  FROM {wg_lanes} wl JOIN {wg} w ON w.id = wl.workgroup_id
  GROUP BY wl.lane_id
) g ON g.lane_id = l.id
LEFT JOIN (
  SELECT a.lane_id, array_agg(DISTINCT a.person_id ORDER BY a.person_id) AS chief_ids,
         array_remove(array_agg(DISTINCT pp.department_id), NULL) AS department_ids
  FROM {ca} a JOIN {person} pp ON pp.id = a.person_id
  WHERE a.role = 'lane_chief' AND a.lane_id IS NOT NULL
    AND a.valid_from <= %(day)s AND (a.valid_to IS NULL OR a.valid_to >= %(day)s)
  GROUP BY a.lane_id
) ch ON ch.lane_id = l.id
LEFT JOIN (
  SELECT pl.lane_id, bool_or(pl.covered) AS covered, max(pl.share) AS best_share,
         array_agg(p.id ORDER BY p.id) FILTER (WHERE pl.covered) AS patrol_ids,
         array_agg(DISTINCT p.person_id) FILTER (WHERE pl.covered) AS patroller_ids
  FROM patrols_patrollane pl JOIN patrols_patrol p ON p.id = pl.patrol_id
  WHERE p.day = %(day)s AND p.status = 'finished'
  GROUP BY pl.lane_id
) cv ON cv.lane_id = l.id
"""


def day_params(day: date) -> dict:
    return {"day": day, "rest_kinds": conf.rest_kinds(day)}
