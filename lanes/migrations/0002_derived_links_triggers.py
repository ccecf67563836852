"""Keep a lane's derived links correct whoever changes a geometry (importer, admin, API, raw SQL):

- lanes_lanecell: every grid cell (grid_area.level = 'grid_cell') whose polygon intersects the lane;
- lanes_lane.community_id: the community holding the longest stretch of the lane.

Statement-level triggers with transition tables, so a bulk insert of 100,000 lanes or 50,000 cells is
one set-based join, not a round trip per row.
"""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION lanes_best_community(g geometry) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT a.id FROM grid_area a
  WHERE a.level = 'community' AND ST_Intersects(a.geom, g)
  ORDER BY ST_Length(ST_Intersection(a.geom, g)::geography) DESC, a.code
  LIMIT 1
$$;

-- Lane community: row-level BEFORE trigger, only when the geometry is written.
CREATE OR REPLACE FUNCTION lanes_lane_set_community() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.community_id := lanes_best_community(NEW.geom);
  RETURN NEW;
END $$;
CREATE TRIGGER lanes_lane_set_community BEFORE INSERT OR UPDATE OF geom ON lanes_lane
  FOR EACH ROW EXECUTE FUNCTION lanes_lane_set_community();

-- Lane → cells after insert.
CREATE OR REPLACE FUNCTION lanes_lane_cells_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lanes_lanecell (lane_id, cell_id)
  SELECT n.id, a.id FROM new_rows n
  JOIN grid_area a ON a.level = 'grid_cell' AND ST_Intersects(a.geom, n.geom)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER lanes_lane_cells_ins AFTER INSERT ON lanes_lane
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lanes_lane_cells_ins();

-- Lane → cells after update, for lanes whose geometry changed.
CREATE OR REPLACE FUNCTION lanes_lane_cells_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM lanes_lanecell lc USING new_rows n JOIN old_rows o ON o.id = n.id
  WHERE lc.lane_id = n.id AND NOT ST_OrderingEquals(o.geom, n.geom);
  INSERT INTO lanes_lanecell (lane_id, cell_id)
  SELECT n.id, a.id FROM new_rows n JOIN old_rows o ON o.id = n.id
  JOIN grid_area a ON a.level = 'grid_cell' AND ST_Intersects(a.geom, n.geom)
  WHERE NOT ST_OrderingEquals(o.geom, n.geom)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER lanes_lane_cells_upd AFTER UPDATE ON lanes_lane
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lanes_lane_cells_upd();

-- Areas inserted: new grid cells get their lanes, new communities claim their lanes.
CREATE OR REPLACE FUNCTION lanes_area_ins() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lanes_lanecell (lane_id, cell_id)
  SELECT l.id, n.id FROM new_rows n
  JOIN lanes_lane l ON ST_Intersects(l.geom, n.geom)
  WHERE n.level = 'grid_cell'
  ON CONFLICT DO NOTHING;
  UPDATE lanes_lane l SET community_id = lanes_best_community(l.geom)
  WHERE EXISTS (SELECT 1 FROM new_rows n WHERE n.level = 'community' AND ST_Intersects(l.geom, n.geom));
  RETURN NULL;
END $$;
CREATE TRIGGER lanes_area_ins AFTER INSERT ON grid_area
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lanes_area_ins();

-- Areas updated: recompute links of cells / communities whose geometry or level changed.
CREATE OR REPLACE FUNCTION lanes_area_upd() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM lanes_lanecell lc USING new_rows n JOIN old_rows o ON o.id = n.id
  WHERE lc.cell_id = n.id AND (NOT ST_OrderingEquals(o.geom, n.geom) OR o.level <> n.level);
  INSERT INTO lanes_lanecell (lane_id, cell_id)
  SELECT l.id, n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
  JOIN lanes_lane l ON ST_Intersects(l.geom, n.geom)
  WHERE n.level = 'grid_cell' AND (NOT ST_OrderingEquals(o.geom, n.geom) OR o.level <> n.level)
  ON CONFLICT DO NOTHING;
  UPDATE lanes_lane l SET community_id = lanes_best_community(l.geom)
  WHERE EXISTS (
    SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (o.level = 'community' OR n.level = 'community')
      AND (NOT ST_OrderingEquals(o.geom, n.geom) OR o.level <> n.level)
      AND (ST_Intersects(l.geom, n.geom) OR ST_Intersects(l.geom, o.geom))
  );
  RETURN NULL;
END $$;
CREATE TRIGGER lanes_area_upd AFTER UPDATE ON grid_area
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lanes_area_upd();

-- A community deleted: its lanes move to whichever community now holds them (or none).
CREATE OR REPLACE FUNCTION lanes_area_del() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE lanes_lane l SET community_id = lanes_best_community(l.geom)
  WHERE EXISTS (SELECT 1 FROM old_rows o WHERE o.level = 'community' AND ST_Intersects(l.geom, o.geom));
  RETURN NULL;
END $$;
CREATE TRIGGER lanes_area_del AFTER DELETE ON grid_area
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lanes_area_del();
"""

REVERSE = """
DROP TRIGGER IF EXISTS lanes_area_del ON grid_area;
DROP TRIGGER IF EXISTS lanes_area_upd ON grid_area;
DROP TRIGGER IF EXISTS lanes_area_ins ON grid_area;
DROP TRIGGER IF EXISTS lanes_lane_cells_upd ON lanes_lane;
DROP TRIGGER IF EXISTS lanes_lane_cells_ins ON lanes_lane;
DROP TRIGGER IF EXISTS lanes_lane_set_community ON lanes_lane;
DROP FUNCTION IF EXISTS lanes_area_del(), lanes_area_upd(), lanes_area_ins(), lanes_lane_cells_upd(),
  lanes_lane_cells_ins(), lanes_lane_set_community(), lanes_best_community(geometry);
"""


class Migration(migrations.Migration):
    dependencies = [("lanes", "0001_initial"), ("grid", "0002_area_parent_trigger")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
