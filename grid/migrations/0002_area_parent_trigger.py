"""The hierarchy rule as a database invariant: a parent is exactly one level up and its code is the
child's code prefix (district 6 digits → street office 9 → community 12 → grid cell 15)."""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION grid_area_check_parent() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE p_level text; p_code text;
BEGIN
  IF NEW.parent_id IS NULL THEN RETURN NEW; END IF;
  SELECT level, code INTO p_level, p_code FROM grid_area WHERE id = NEW.parent_id;
  IF NOT ((NEW.level = 'street_office' AND p_level = 'district')
       OR (NEW.level = 'community' AND p_level = 'street_office')
       OR (NEW.level = 'grid_cell' AND p_level = 'community')) THEN
    RAISE EXCEPTION 'area % (%): its parent % is a %, not the level directly above', NEW.code, NEW.level, p_code, p_level
      USING ERRCODE = '23514';
  END IF;
  IF left(NEW.code, length(p_code)) <> p_code THEN
    RAISE EXCEPTION 'area %: code must start with its parent''s code %', NEW.code, p_code USING ERRCODE = '23514';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER grid_area_check_parent BEFORE INSERT OR UPDATE OF parent_id, level, code ON grid_area
  FOR EACH ROW EXECUTE FUNCTION grid_area_check_parent();
"""

REVERSE = """
DROP TRIGGER IF EXISTS grid_area_check_parent ON grid_area;
DROP FUNCTION IF EXISTS grid_area_check_parent();
"""


class Migration(migrations.Migration):
    dependencies = [("grid", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
