"""Fixtures for notify: committed data, a real worker on the procrastinate queue, a local webhook receiver.

`committed`: the test writes in autocommit mode (no wrapping transaction), as the web process does, so a separate
worker connection (procrastinate's psycopg 3 pool) sees the rows and jobs. Unlike pytest-django's transactional_db,
it does not flush every table afterwards: it deletes only the notify rows and queue rows created by the test.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.db import connection

from notify.tasks import DeliveryRetryStrategy, send_notification

WEBHOOK_SECRET = "test-webhook-secret"

_QUEUE_TABLES = ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs", "procrastinate_workers")


def _max_ids() -> dict[str, int]:
    ids = {}
    with connection.cursor() as cursor:
        for table in ("notify_notification", "notify_endpoint", *_QUEUE_TABLES):
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            ids[table] = cursor.fetchone()[0]
    return ids


@pytest.fixture
def committed(django_db_setup, django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        # Send jobs committed by other test modules (e.g. the cases queue tests) would be counted here as ours.
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM procrastinate_events WHERE job_id IN "
                "(SELECT id FROM procrastinate_jobs WHERE task_name = 'notify.send_notification')"
            )
            cursor.execute("DELETE FROM procrastinate_jobs WHERE task_name = 'notify.send_notification'")
        before = _max_ids()
        try:
            yield
        finally:
            connection.rollback() if connection.in_atomic_block else None
            with connection.cursor() as cursor:
                for table in ("notify_notification", "notify_endpoint", *_QUEUE_TABLES):
                    cursor.execute(f"DELETE FROM {table} WHERE id > %s", [before[table]])


@pytest.fixture
def fast_retries(monkeypatch) -> DeliveryRetryStrategy:
    """Two retries, no waiting, so a worker with wait=False runs them all."""
    strategy = DeliveryRetryStrategy(max_attempts=2)
    monkeypatch.setattr(send_notification, "retry_strategy", strategy)
    return strategy


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookServer:
    url: str
    statuses: list[int] = field(default_factory=list)  # replies, in order; 200 once they run out
    received: list[Received] = field(default_factory=list)


@pytest.fixture
def webhook_server(settings) -> Iterator[WebhookServer]:
    settings.NOTIFY_WEBHOOK_SECRET = WEBHOOK_SECRET
    state = WebhookServer(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(Received(path=self.path, headers=dict(self.headers.items()), body=body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/lanechief?token=s3cret-token"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
