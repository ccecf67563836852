"""Helpers for notify's tests: run a real worker, read the queue table."""

from __future__ import annotations

import json

from django.db import connection
from procrastinate.contrib.django import app


def run_worker(*queues: str) -> None:
    """Run a real worker (psycopg 3 connection, as `manage.py procrastinate worker` does) until the queues are empty."""
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(
            queues=list(queues or ["notifications"]),
            wait=False,
            install_signal_handlers=False,
            listen_notify=False,
        )


def jobs(**filters) -> list[dict]:
    """Rows of procrastinate_jobs for the send task (read with raw SQL, independent of the app's selectors)."""
    sql = "SELECT id, queue_name, task_name, lock, queueing_lock, args, status, attempts FROM procrastinate_jobs"
    sql += " WHERE task_name = 'notify.send_notification' ORDER BY id"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        columns = [c[0] for c in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["args"] = json.loads(row["args"])  # Django's psycopg2 connection returns jsonb as text
    return [row for row in rows if all(row[k] == v for k, v in filters.items())]
