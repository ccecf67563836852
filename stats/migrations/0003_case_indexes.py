"""Indexes on the cases tables for the period figures (stats.indicators): cases closed in a period, cases overdue and
unclosed at a period's end (a range containment on [deadline, closed_at]), and the rework events. Created here, in
the stats app, because only stats needs them; RunSQL on the cases tables' db_table names."""

from django.db import migrations

# The same expression as stats.indicators.OVERDUE_RANGE (the planner matches it literally).
FORWARD = """
CREATE INDEX IF NOT EXISTS stats_case_closed_at ON cases_case (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS stats_case_overdue_range ON cases_case USING gist (
  (tstzrange(deadline, CASE WHEN closed_at IS NULL THEN NULL ELSE greatest(deadline, closed_at) END, '(]')))
  WHERE deadline IS NOT NULL;
CREATE INDEX IF NOT EXISTS stats_caseevent_rework ON cases_caseevent (case_id, at) WHERE to_status = 'rework';
"""

REVERSE = """
DROP INDEX IF EXISTS stats_case_closed_at;
DROP INDEX IF EXISTS stats_case_overdue_range;
DROP INDEX IF EXISTS stats_caseevent_rework;
"""


class Migration(migrations.Migration):
    dependencies = [("stats", "0002_satisfaction"), ("cases", "0003_seed_categories")]
    operations = [migrations.RunSQL(FORWARD, REVERSE)]
