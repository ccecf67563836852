-- Raw PostGIS baseline for GET /api/lanes/nearest/: KNN shortlist, metric re-rank, within 50 m, 5 results.
\set lon :minlon + random(0, 1000000) * (:maxlon - :minlon) / 1000000.0
\set lat :minlat + random(0, 1000000) * (:maxlat - :minlat) / 1000000.0
SELECT l.id, l.name, l.kind, ST_Distance(l.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS d
FROM lanes_lane l
WHERE l.id IN (SELECT id FROM lanes_lane ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 56)
  AND ST_Distance(l.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) <= 50
ORDER BY d, l.id
LIMIT 5;
