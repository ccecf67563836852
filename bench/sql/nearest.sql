-- Raw PostGIS baseline for GET /api/lanes/nearest/?within=50 (limit 5), the algorithm of lanes/selectors.py written
-- by hand: the 5 KNN (<->) lanes give a metric radius r (capped at 50 m); every lane within the degree radius that
-- certainly holds r metres is ranked by its spheroid distance.
\set lon :minlon + random(0, 1000000) * (:maxlon - :minlon) / 1000000.0
\set lat :minlat + random(0, 1000000) * (:maxlat - :minlat) / 1000000.0
SELECT l.id, l.name, l.kind, ST_Distance(l.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d
FROM lanes_lane l
WHERE ST_DWithin(l.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), (
        SELECT 1.01 * s.r / (110574.0 * cos(radians(:lat + s.r / 110574.0))) + 1e-7
        FROM (SELECT LEAST(max(k.d), 50) AS r FROM (
            SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d
            FROM lanes_lane ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 5) k OFFSET 0) s))
  AND ST_Distance(l.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) <= 50
ORDER BY d, l.id
LIMIT 5;
