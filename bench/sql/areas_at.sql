-- Raw PostGIS baseline for GET /api/areas/at/: the very statement the API runs (grid.selectors.AREAS_AT_SQL), every
-- area containing the point, outermost first. Regenerate from AREAS_AT_SQL if that changes
-- (tests/test_fastlookup.py checks they agree).
\set lon :minlon + random(0, 1000000) * (:maxlon - :minlon) / 1000000.0
\set lat :minlat + random(0, 1000000) * (:maxlat - :minlat) / 1000000.0
SELECT a.level, a.code, a.name, a.illustrative, p.code
FROM grid_area a LEFT JOIN grid_area p ON p.id = a.parent_id
WHERE ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
ORDER BY a.depth, a.code;
