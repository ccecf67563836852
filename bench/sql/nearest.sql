-- Raw PostGIS baseline for GET /api/lanes/nearest/?within=50 (limit 5): the very statement the API runs
-- (lanes.selectors.NEAREST_SQL, with within = 50 and limit = 5): the 5 KNN (<->) lanes give a metric radius r (capped
-- at 50 m); every lane within the degree radius that certainly holds r metres is ranked by its spheroid distance, with
-- its community. Regenerate from NEAREST_SQL if that changes (tests/test_fastlookup.py checks they agree).
\set lon :minlon + random(0, 1000000) * (:maxlon - :minlon) / 1000000.0
\set lat :minlat + random(0, 1000000) * (:maxlat - :minlat) / 1000000.0
\set abslat abs(:lat)
SELECT l.id, l.name, l.name_zh, l.kind, l.length_m, c.code, c.name,
       ST_Distance(l.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance_m
FROM lanes_lane l
LEFT JOIN grid_area c ON c.id = l.community_id
WHERE ST_DWithin(l.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), (
        SELECT CASE WHEN :abslat + s.r / 110574.0 >= 89.0 THEN 360.0
               ELSE 1.01 * s.r / (110574.0 * cos(radians(:abslat + s.r / 110574.0)))
                    + 1e-07 END
        FROM (SELECT LEAST(max(k.d), 50) AS r FROM (
                SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d
                FROM lanes_lane ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 5) k OFFSET 0) s))
  AND ST_Distance(l.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) <= 50
ORDER BY distance_m, l.id
LIMIT 5;
