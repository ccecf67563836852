"""Which lanes a GPS track really covered, and every lane's coverage on a day: set-based SQL in PostGIS.

Rule: a lane is covered by a track when the part of the lane lying within `buffer_m` metres of the track is at
least `min_share` of the lane's length (settings PATROL_BUFFER_M, default 20 m, and PATROL_MIN_SHARE, default
0.6). Measured in metres in the local UTM zone of each track (zone of the track's centroid, like
common.geo.utm_srid): the track is simplified (1 m tolerance), buffered in UTM, and the buffer cut into small
pieces (ST_Subdivide, at most 256 vertices each). Each piece's bounding box goes back to WGS-84 only to find its
candidate lanes through the GiST index on lanes_lane.geom (`&&`); the exact measure is the length of
lane_in_utm ∩ piece, summed over the pieces, whose interiors do not overlap. The share is that length over the
lane's own length in the same projection.

Per (piece, lane) pair, cheapest test first: a lane the piece does not touch adds nothing, a lane the piece covers
adds its whole length, and only a lane crossing the piece's edge needs ST_Intersection. Both tests use GEOS
prepared geometry, because the piece is the same argument for all its candidate lanes (the join runs piece by
piece). Intersections stay in UTM: a buffer piece transformed to WGS-84 is occasionally invalid (measured: 1 piece
in ~1,300), which makes GEOS fail.

Cost (profile in patrols/README.md): buffering the noisy track dominates (the offset curve of a zigzag with fixes
~10 m apart and a 20 m radius intersects itself thousands of times); then the pairs. A whole day runs as one
parallel query (`parallel=True`): every worker takes whole tracks from a parallel scan of patrols_patrol and
aggregates its own (patrol, lane) sums, so only numbers leave the workers.

A lane is covered on a day when at least one finished patrol of that day covered it (see LaneDayCoverage): the
rule is per patrol, so two patrols each walking 40 % of a lane do not make it covered.
"""

from __future__ import annotations

from datetime import date

from patrols import conf

SIMPLIFY_M = 1.0
# Buffers of up to this many vertices stay whole (a 1–2 km walk gives ~350); longer ones are cut (ST_Subdivide)
# so that each piece finds few candidate lanes. Measured on 3,000 walks: cutting at 256 vertices cost 1.2 s more
# CPU in ST_Subdivide (which clips with full overlays) than it saved in pairs; at 64, 4.7 s more.
SUBDIVIDE_VERTICES = 1024
QUAD_SEGS = 4
# Planner settings for the day's statement (SET LOCAL, restored afterwards). The tables are small (a few hundred
# pages of patrols) but every row costs milliseconds of GEOS work, which the planner's row-count-based costs do
# not see; and with sorting allowed it sorts the pairs together with their buffer pieces (MBs each) before
# aggregating, instead of hashing the sums.
PARALLEL_SETTINGS = {
    "parallel_setup_cost": "10",
    "parallel_tuple_cost": "0.001",
    "min_parallel_table_scan_size": "0",
    "min_parallel_index_scan_size": "0",
    "enable_sort": "off",
    "enable_incremental_sort": "off",
}


def utm_srid_sql(geom: str) -> str:
    """SQL for the EPSG code of the UTM zone holding the centroid of `geom` (mirrors common.geo.utm_srid)."""
    return utm_srid_of_point_sql(f"ST_Centroid({geom})")


def utm_srid_of_point_sql(point: str) -> str:
    return (
        f"((CASE WHEN ST_Y({point}) >= 0 THEN 32600 ELSE 32700 END)"
        f" + LEAST(60, GREATEST(1, floor((ST_X({point}) + 180) / 6)::int + 1)))"
    )


def patrol_lane_shares_sql(*, where: str, buffer_m: float) -> str:
    """SELECT patrol_id, lane_id, covered_m, share for the patrols matched by `where` (SQL on alias p, may use
    %(...)s parameters). Lanes touched by the buffer at all are returned (share > 0). No CTE: the statement can run
    as a parallel query (CTE scans are parallel-restricted)."""
    srid = utm_srid_of_point_sql("c.pt")
    return f"""
SELECT h.patrol_id, h.lane_id,
       LEAST(1.0, h.inside_utm / NULLIF(h.lane_utm, 0)) * h.length_m AS covered_m,
       LEAST(1.0, h.inside_utm / NULLIF(h.lane_utm, 0)) AS share
FROM (
  SELECT pc.patrol_id, l.id AS lane_id, min(l.length_m) AS length_m, min(ST_Length(lu.g)) AS lane_utm,
         sum(CASE WHEN NOT ST_Intersects(pc.piece, lu.g) THEN 0.0
                  WHEN ST_Covers(pc.piece, lu.g) THEN ST_Length(lu.g)
                  ELSE ST_Length(ST_Intersection(lu.g, pc.piece)) END) AS inside_utm
  FROM (
    SELECT p.id AS patrol_id, {srid} AS srid, g.piece,
           ST_Expand(ST_Transform(ST_Envelope(g.piece), 4326), 1e-6) AS box
    FROM patrols_patrol p
    CROSS JOIN LATERAL ST_Centroid(p.track) AS c(pt)
    CROSS JOIN LATERAL ST_Subdivide(
      ST_Buffer(ST_Simplify(ST_Transform(p.track, {srid}), {SIMPLIFY_M}), {float(buffer_m)}, 'quad_segs={QUAD_SEGS}'),
      {SUBDIVIDE_VERTICES}
    ) AS g(piece)
    WHERE p.track IS NOT NULL AND ({where})
  ) pc
  JOIN lanes_lane l ON l.geom && pc.box
  CROSS JOIN LATERAL ST_Transform(l.geom, pc.srid) AS lu(g)
  GROUP BY pc.patrol_id, l.id
) h
WHERE h.inside_utm > 0
"""


def _thresholds(buffer_m: float | None, min_share: float | None) -> tuple[float, float]:
    buffer_m = conf.get("PATROL_BUFFER_M") if buffer_m is None else buffer_m
    min_share = conf.get("PATROL_MIN_SHARE") if min_share is None else min_share
    return float(buffer_m), float(min_share)


def store_patrol_lanes_sql(*, where: str, buffer_m: float | None = None, min_share: float | None = None):
    """(sql, params) inserting the PatrolLane rows of the matched patrols (serial: INSERT … SELECT never runs in
    parallel); params are merged with the caller's."""
    buffer_m, min_share = _thresholds(buffer_m, min_share)
    sql = f"""
INSERT INTO patrols_patrollane (patrol_id, lane_id, covered_m, share, covered)
SELECT s.patrol_id, s.lane_id, s.covered_m, s.share, s.share >= %(min_share)s
FROM ({patrol_lane_shares_sql(where=where, buffer_m=buffer_m)}) s
WHERE s.share >= %(keep_share)s
"""
    return sql, {"min_share": min_share, "keep_share": min_share / 2.0}


def store_patrol_lanes(
    cur,
    *,
    patrol_ids: list[int],
    parallel: bool = False,
    buffer_m: float | None = None,
    min_share: float | None = None,
) -> int:
    """Replace the PatrolLane rows of `patrol_ids` (call inside a transaction). `parallel`: compute the shares as
    a parallel query into a temporary table first (PostgreSQL runs CREATE TABLE … AS in parallel, never
    INSERT … SELECT), then insert; worth it from a few dozen tracks on. Returns the number of rows written."""
    buffer_m, min_share = _thresholds(buffer_m, min_share)
    params = {"ids": list(patrol_ids), "min_share": min_share, "keep_share": min_share / 2.0}
    # PostGIS functions gain nothing from JIT; compiling the plan costs ~0.8 s per statement.
    cur.execute("SET LOCAL jit = off")
    cur.execute("DELETE FROM patrols_patrollane WHERE patrol_id = ANY(%(ids)s)", params)
    if not parallel:
        sql, _ = store_patrol_lanes_sql(where="p.id = ANY(%(ids)s)", buffer_m=buffer_m, min_share=min_share)
        cur.execute(sql, params)
        return cur.rowcount
    names = list(PARALLEL_SETTINGS)
    cur.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))
    before = dict(zip(names, cur.fetchone(), strict=True))
    for name, value in PARALLEL_SETTINGS.items():
        cur.execute("SELECT set_config(%s, %s, true)", [name, value])
    cur.execute(
        "CREATE TEMPORARY TABLE patrols_coverage_shares ON COMMIT DROP AS "
        + patrol_lane_shares_sql(where="p.id = ANY(%(ids)s)", buffer_m=buffer_m),
        params,
    )
    # restored only on success: after an error the transaction (or savepoint) rolls the settings back itself
    for name, value in before.items():
        cur.execute("SELECT set_config(%s, %s, true)", [name, value])
    cur.execute(
        """
        INSERT INTO patrols_patrollane (patrol_id, lane_id, covered_m, share, covered)
        SELECT s.patrol_id, s.lane_id, s.covered_m, s.share, s.share >= %(min_share)s
        FROM patrols_coverage_shares s WHERE s.share >= %(keep_share)s
        """,
        params,
    )
    n = cur.rowcount
    cur.execute("DROP TABLE patrols_coverage_shares")
    return n


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
