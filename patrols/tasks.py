"""Periodic patrol jobs (procrastinate; run by `manage.py procrastinate worker`):

- close_yesterday at PATROL_CLOSE_DAY_AT local time (default 00:30): finish live patrols left open, compute
  coverage, LaneDayCoverage and the daily reports of the day before (services.close_day);
- alert_missed_lanes at PATROL_ALERT_AT (default 08:00): each work group leader hears which of the group's lanes
  nobody patrolled yesterday (services.missed_lane_alerts); closes the day first if that did not happen.

Both are idempotent (a day close replaces its own results; alerts carry a delivery key per group and day), and
a queueing lock keeps a second copy from queueing while one waits.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from procrastinate.contrib.django import app

from patrols import conf
from patrols.tracks import local_day

log = logging.getLogger(__name__)


def day_before(timestamp: int) -> date:
    return local_day(datetime.fromtimestamp(timestamp, tz=UTC)) - timedelta(days=1)


def run_close(day: date) -> dict:
    from patrols.services import close_day

    result = close_day(day=day)
    log.info(
        "patrols: closed %s: %d patrols, %d/%d lanes covered, %d reports",
        day,
        result.patrols,
        result.lanes_covered,
        result.lanes_due,
        result.reports,
    )
    return result.__dict__ | {"day": day.isoformat()}


def run_alerts(day: date) -> int:
    from patrols.selectors import day_closed
    from patrols.services import close_day, missed_lane_alerts

    if not day_closed(day):
        close_day(day=day)
    sent = missed_lane_alerts(day=day)
    log.info("patrols: %d missed-lane alerts for %s", sent, day)
    return sent


@app.periodic(cron=conf.utc_cron(conf.get("PATROL_CLOSE_DAY_AT")))
@app.task(queue="patrols", queueing_lock="patrols.close_yesterday", pass_context=False)
def close_yesterday(timestamp: int) -> dict:
    return run_close(day_before(timestamp))


@app.periodic(cron=conf.utc_cron(conf.get("PATROL_ALERT_AT")))
@app.task(queue="patrols", queueing_lock="patrols.alert_missed_lanes", pass_context=False)
def alert_missed_lanes(timestamp: int) -> int:
    return run_alerts(day_before(timestamp))


@app.task(queue="patrols", queueing_lock="patrols.close_day")
def close_day_task(day: str) -> dict:
    """Close one day on demand (e.g. after late uploads): `close_day_task.defer(day="2025-03-03")`."""
    return run_close(date.fromisoformat(day))
