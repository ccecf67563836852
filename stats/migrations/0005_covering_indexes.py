"""Covering indexes for the period figures, so that a week's cases and their first dispatch are read from indexes
alone (index-only scans) instead of one random heap page per case: the closed-in-period and the overdue-range
indexes of 0003 now carry the columns the figures need, cases by report time likewise, and two partial indexes on
the timeline hold the events that count as "reached its handler" (stats.indicators._reported_figures)."""

from django.db import migrations

CASE_COLS = "id, status, squad_id, community_id, street_office_id, lane_id, created_at, closed_at, deadline"

FORWARD = f"""
DROP INDEX IF EXISTS stats_case_closed_at;
CREATE INDEX IF NOT EXISTS stats_case_closed_cover ON cases_case (closed_at) INCLUDE ({CASE_COLS})
  WHERE closed_at IS NOT NULL;
DROP INDEX IF EXISTS stats_case_overdue_range;
CREATE INDEX IF NOT EXISTS stats_case_overdue_cover ON cases_case USING gist (
  (tstzrange(deadline, CASE WHEN closed_at IS NULL THEN NULL ELSE greatest(deadline, closed_at) END, '(]')))
  INCLUDE ({CASE_COLS}) WHERE deadline IS NOT NULL;
CREATE INDEX IF NOT EXISTS stats_case_created_cover ON cases_case (created_at) INCLUDE ({CASE_COLS}, category_id);
CREATE INDEX IF NOT EXISTS stats_caseevent_to_squad ON cases_caseevent (case_id, at)
  WHERE action = 'accept' OR (action IN ('dispatch', 'assign', 'return') AND (data ->> 'owner_queue') = 'squad');
CREATE INDEX IF NOT EXISTS stats_caseevent_sent ON cases_caseevent (case_id, at)
  WHERE action IN ('dispatch', 'assign', 'return', 'accept');
"""

REVERSE = """
DROP INDEX IF EXISTS stats_case_closed_cover;
DROP INDEX IF EXISTS stats_case_overdue_cover;
DROP INDEX IF EXISTS stats_case_created_cover;
DROP INDEX IF EXISTS stats_caseevent_to_squad;
DROP INDEX IF EXISTS stats_caseevent_sent;
CREATE INDEX IF NOT EXISTS stats_case_closed_at ON cases_case (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS stats_case_overdue_range ON cases_case USING gist (
  (tstzrange(deadline, CASE WHEN closed_at IS NULL THEN NULL ELSE greatest(deadline, closed_at) END, '(]')))
  WHERE deadline IS NOT NULL;
"""


class Migration(migrations.Migration):
    dependencies = [("stats", "0004_survey_unique")]
    operations = [migrations.RunSQL(FORWARD, REVERSE)]
