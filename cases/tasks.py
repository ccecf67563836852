"""Periodic tasks of the cases app, on the same procrastinate queue as notifications (queue "periodic"; crons are
evaluated in UTC — Asia/Shanghai is UTC+8). The work itself is in cases.services; these are thin wrappers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from procrastinate.contrib.django import app

from cases import services

logger = logging.getLogger(__name__)
PERIODIC_QUEUE = "periodic"


@app.periodic(cron="*/10 * * * *")
@app.task(name="cases.sweep_overdue", queue=PERIODIC_QUEUE, queueing_lock="cases.sweep_overdue")
def sweep_overdue(timestamp: int) -> dict:
    """Every 10 minutes: supervision notices (督办) for overdue cases, escalation when overdue again."""
    result = services.sweep_overdue(now=datetime.fromtimestamp(timestamp, tz=UTC))
    if result.supervised or result.escalated:
        logger.info("overdue sweep: %d supervised, %d escalated", len(result.supervised), len(result.escalated))
    return {"supervised": result.supervised, "escalated": result.escalated}


@app.periodic(cron="0 0 * * 1")
@app.task(name="cases.sample_spot_checks", queue=PERIODIC_QUEUE, queueing_lock="cases.sample_spot_checks")
def sample_spot_checks(timestamp: int) -> dict:
    """Mondays 08:00 Beijing time: sample settings CASE_SPOT_CHECK_SHARE of last week's closed cases (回头看)."""
    sampled = services.sample_spot_checks(now=datetime.fromtimestamp(timestamp, tz=UTC))
    logger.info("spot re-check: %d cases sampled", len(sampled))
    return {"sampled": sampled}
