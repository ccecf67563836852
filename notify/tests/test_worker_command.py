"""The worker as deployed: `manage.py procrastinate worker` in its own process (Django on psycopg2, the worker's
queue connection on psycopg 3), against the test database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from notify import Recipient
from notify.models import Notification, Status
from notify.services import endpoint_upsert, notify
from notify.tests.helpers import jobs

pytestmark = [pytest.mark.usefixtures("committed"), pytest.mark.slow]

PHONE = "13987654321"


def manage(*args: str) -> subprocess.CompletedProcess:
    db = connection.settings_dict
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "TEST_DB", "DATABASE_", "PYTEST", "NOTIFY_"))
    }
    env.update(
        DATABASE_URL=f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_TESTING="1",  # a throwaway SECRET_KEY
        LOG_LEVEL="INFO",
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_py_procrastinate_worker_one_shot_delivers_queued_notifications():
    office = Recipient(kind="street_office", id=3, name="南京东路街道")
    endpoint_upsert(recipient=office, channel="sms", address=PHONE)
    [notification] = notify(
        event="case.spot_check", recipients=[office], payload={"title": "回头看抽查"}, delivery_key="case:9:spot:1"
    )
    assert [job["status"] for job in jobs()] == ["todo"]

    result = manage("procrastinate", "worker", "--one-shot", "--queues", "notifications", "--no-listen-notify")

    assert result.returncode == 0, result.stderr[-2000:]
    assert Notification.objects.get(pk=notification.pk).status == Status.SENT
    assert [job["status"] for job in jobs()] == ["succeeded"]
    output = result.stdout + result.stderr
    assert "139****4321" in output and PHONE not in output
