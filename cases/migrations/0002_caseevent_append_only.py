"""The case timeline is a record nobody can quietly change: UPDATE and DELETE on cases_caseevent are refused by
the database itself, whoever asks (application, admin, raw SQL). TRUNCATE (test teardown, a deliberate
wipe by the database owner) is a separate privilege and not affected."""

from django.db import migrations

SQL = r"""
CREATE OR REPLACE FUNCTION cases_caseevent_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'case events are append-only: % of event % refused', TG_OP, OLD.id
    USING ERRCODE = '42501', HINT = 'record a new event instead';
END $$;
CREATE TRIGGER cases_caseevent_append_only BEFORE UPDATE OR DELETE ON cases_caseevent
  FOR EACH ROW EXECUTE FUNCTION cases_caseevent_refuse_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS cases_caseevent_append_only ON cases_caseevent;
DROP FUNCTION IF EXISTS cases_caseevent_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
