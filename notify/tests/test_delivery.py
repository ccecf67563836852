"""Delivery through the real queue: committed rows, procrastinate_jobs, and a real worker on its own psycopg 3
connection (the way `manage.py procrastinate worker` runs), sending to a webhook receiver on 127.0.0.1, Django's
locmem e-mail backend and the logging SMS gateway."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

import psycopg
import pytest
from django.core import mail
from django.db import connection, transaction
from procrastinate.contrib.django import app
from procrastinate.contrib.django.utils import connector_params

from notify import Recipient, conf
from notify.models import Notification, Status
from notify.queue import defer_in_transaction
from notify.services import endpoint_upsert, notify, requeue_lost
from notify.tasks import send_notification
from notify.tests.conftest import WEBHOOK_SECRET
from notify.tests.helpers import jobs, run_worker

pytestmark = pytest.mark.usefixtures("committed")

SQUAD = Recipient(kind="squad", id=7, name="南京东路市容中队")
OFFICE = Recipient(kind="street_office", id=3, name="南京东路街道")
PHONE = "13812345678"


class Boom(Exception):
    pass


def notify_squad(key: str = "case:42:dispatch:v1", **payload) -> list[Notification]:
    return notify(
        event="case.dispatched",
        recipients=[SQUAD],
        payload={"case_id": 42, "title": "新案件派遣", **payload},
        delivery_key=key,
    )


def fresh(notification: Notification) -> Notification:
    return Notification.objects.get(pk=notification.pk)


def jobs_seen_by_worker_connection() -> int:
    """Count send jobs over a separate psycopg 3 connection: what a worker can see."""
    with psycopg.connect(**connector_params()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'notify.send_notification'"
        ).fetchone()
    return row[0]


def test_rolled_back_transaction_enqueues_nothing(webhook_server):
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    with pytest.raises(Boom), transaction.atomic():
        notify_squad()
        raise Boom

    assert jobs_seen_by_worker_connection() == 0
    run_worker()
    assert webhook_server.received == []
    assert Notification.objects.count() == 0

    # The same call committed is seen by the worker connection and delivered.
    with transaction.atomic():
        notify_squad()
    assert jobs_seen_by_worker_connection() == 1


def test_notify_inside_a_worker_task_stays_in_the_task_transaction(webhook_server):
    """Inside `manage.py procrastinate worker` the app's connector is the worker's psycopg 3 pool: a plain
    task.defer() there escapes the caller's transaction. notify() defers on Django's connection instead."""
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    with app.replace_connector(app.connector.get_worker_connector()), app.open():
        with pytest.raises(Boom), transaction.atomic():
            notify_squad()
            raise Boom
        assert jobs_seen_by_worker_connection() == 0

        # What notify() avoids: the app's own defer commits on its own connection, rollback or not.
        with pytest.raises(Boom), transaction.atomic():
            send_notification.defer(notification_id=10**9)
            raise Boom
        assert jobs_seen_by_worker_connection() == 1


def test_webhook_is_posted_signed_and_recorded_once(webhook_server):
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [notification] = notify_squad()
    # Same key again before the worker runs: still one notification, one job.
    assert [n.pk for n in notify_squad()] == [notification.pk]
    assert len(jobs()) == 1

    run_worker()

    [request] = webhook_server.received
    assert request.path == "/hooks/lanechief?token=s3cret-token"
    body = request.json
    assert body["event"] == "case.dispatched"
    assert body["delivery_key"] == "case:42:dispatch:v1:squad:7:webhook"
    assert body["recipient"] == {"kind": "squad", "id": 7, "name": "南京东路市容中队"}
    assert body["payload"] == {"case_id": 42, "title": "新案件派遣"}
    assert request.headers["Idempotency-Key"] == body["delivery_key"]
    expected = hmac.new(
        WEBHOOK_SECRET.encode(),
        request.headers["X-Lanechief-Timestamp"].encode() + b"." + request.body,
        hashlib.sha256,
    ).hexdigest()
    assert request.headers["X-Lanechief-Signature"] == f"sha256={expected}"

    notification = fresh(notification)
    assert (notification.status, notification.attempts, notification.last_error) == (Status.SENT, 1, "")
    assert notification.sent_at is not None
    assert [job["status"] for job in jobs()] == ["succeeded"]


def test_email_goes_through_the_django_backend():
    endpoint_upsert(recipient=SQUAD, channel="email", address="shirong7@example.org")
    [notification] = notify_squad(text="黄浦区南京东路 100 号暴露垃圾,请于 4 个工作小时内处理。")
    mail.outbox.clear()

    run_worker()

    [message] = mail.outbox
    assert message.to == ["shirong7@example.org"]
    assert message.subject == "[街巷长制] 新案件派遣"
    assert message.body == "黄浦区南京东路 100 号暴露垃圾,请于 4 个工作小时内处理。"
    digest = hashlib.sha256(b"case:42:dispatch:v1:squad:7:email").hexdigest()[:32]
    assert message.extra_headers["Message-ID"] == f"<{digest}@notify.example.org>"
    assert fresh(notification).status == Status.SENT


def test_failing_webhook_is_retried_then_marked_failed(webhook_server, fast_retries):
    webhook_server.statuses = [500, 503, 502, 200]  # the 4th reply would succeed: never reached
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [notification] = notify_squad()

    run_worker()

    assert len(webhook_server.received) == 1 + fast_retries.max_attempts
    notification = fresh(notification)
    assert notification.status == Status.FAILED
    assert notification.attempts == 1 + fast_retries.max_attempts
    assert notification.last_error == "Webhook 返回 HTTP 502"
    assert [(job["status"], job["attempts"]) for job in jobs()] == [("failed", 1 + fast_retries.max_attempts)]


def test_transient_failure_then_success(webhook_server, fast_retries):
    webhook_server.statuses = [503]
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [notification] = notify_squad()

    run_worker()

    assert len(webhook_server.received) == 2
    notification = fresh(notification)
    assert (notification.status, notification.attempts, notification.last_error) == (Status.SENT, 2, "")


def test_refused_webhook_is_not_retried_and_errors_hide_the_url(webhook_server, fast_retries):
    webhook_server.statuses = [404]
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [refused] = notify_squad()
    endpoint_upsert(recipient=OFFICE, channel="webhook", address="http://127.0.0.1:9/hook?token=s3cret-token")
    [unreachable] = notify(event="e", recipients=[OFFICE], payload={}, delivery_key="k")

    run_worker()

    assert len(webhook_server.received) == 1
    refused = fresh(refused)
    assert (refused.status, refused.attempts, refused.last_error) == (Status.FAILED, 1, "Webhook 返回 HTTP 404")
    unreachable = fresh(unreachable)
    assert (unreachable.status, unreachable.attempts) == (Status.FAILED, 1 + fast_retries.max_attempts)
    assert unreachable.last_error.startswith("Webhook 连接失败")
    assert "s3cret" not in unreachable.last_error and "127.0.0.1" not in unreachable.last_error


def test_jobs_wait_while_no_worker_runs_and_are_sent_later(webhook_server):
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    endpoint_upsert(recipient=SQUAD, channel="email", address="shirong7@example.org")
    notifications = notify_squad()
    notify(event="case.supervision", recipients=[SQUAD], payload={"case_id": 43}, delivery_key="case:43:sup:1")
    mail.outbox.clear()

    # No worker: everything stays queued.
    assert {job["status"] for job in jobs()} == {"todo"}
    assert len(jobs()) == 4
    assert {fresh(n).status for n in notifications} == {Status.QUEUED}

    run_worker()

    assert len(webhook_server.received) == 2 and len(mail.outbox) == 2
    assert set(Notification.objects.values_list("status", flat=True)) == {Status.SENT}


def test_a_notification_whose_job_runs_twice_is_sent_once(webhook_server):
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [notification] = notify_squad()
    # A second job for the same notification (e.g. a job retried after it had in fact delivered): it has no
    # queueing lock, so the queue accepts it.
    with transaction.atomic():
        defer_in_transaction(send_notification, task_kwargs={"notification_id": notification.pk})
    assert len(jobs()) == 2

    run_worker()

    assert len(webhook_server.received) == 1
    assert [job["status"] for job in jobs()] == ["succeeded", "succeeded"]
    notification = fresh(notification)
    assert (notification.status, notification.attempts) == (Status.SENT, 1)


def test_a_delivery_in_progress_elsewhere_is_not_duplicated(webhook_server):
    """While another sender holds the row lock, a job for the same notification sends nothing; if that sender
    then dies without recording the send, reconciliation queues the notification again."""
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [notification] = notify_squad()

    with psycopg.connect(**connector_params()) as other:
        other.execute("SELECT id FROM notify_notification WHERE id = %s FOR UPDATE", [notification.pk])
        run_worker()
        assert webhook_server.received == []
        other.rollback()  # the other sender dies

    assert fresh(notification).status == Status.QUEUED
    assert [job["status"] for job in jobs()] == ["succeeded"]
    assert requeue_lost(older_than=timedelta(0)) == {"requeued": 1, "failed": 0}
    assert requeue_lost(older_than=timedelta(0)) == {"requeued": 0, "failed": 0}  # its new job is waiting

    run_worker()

    assert len(webhook_server.received) == 1
    assert fresh(notification).status == Status.SENT


def test_lost_jobs_are_requeued_and_hopeless_ones_failed(webhook_server):
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [lost] = notify_squad()
    [worn_out] = notify_squad(key="case:43:dispatch:v1")
    Notification.objects.filter(pk=worn_out.pk).update(attempts=conf.get("NOTIFY_MAX_ATTEMPTS"))
    with connection.cursor() as cursor:  # the queue loses both jobs
        cursor.execute("DELETE FROM procrastinate_jobs WHERE task_name = 'notify.send_notification'")

    # Too recent: left alone (NOTIFY_RECONCILE_AFTER_S).
    assert requeue_lost() == {"requeued": 0, "failed": 0}
    Notification.objects.update(created_at=lost.created_at - timedelta(hours=1))
    assert requeue_lost() == {"requeued": 1, "failed": 1}

    run_worker()

    assert len(webhook_server.received) == 1
    assert fresh(lost).status == Status.SENT
    worn_out = fresh(worn_out)
    assert worn_out.status == Status.FAILED and worn_out.last_error


def test_job_of_a_killed_worker_is_retried_by_the_stalled_jobs_task(webhook_server):
    endpoint_upsert(recipient=SQUAD, channel="webhook", address=webhook_server.url)
    [notification] = notify_squad()
    [job] = jobs()
    # A worker takes the job, counts the attempt, and is killed before sending: the job stays "doing" under a
    # worker whose heartbeat stops.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id"
        )
        [worker_id] = cursor.fetchone()
        cursor.execute(
            "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s", [worker_id, job["id"]]
        )
    Notification.objects.filter(pk=notification.pk).update(attempts=1)

    run_worker()  # a plain worker does not touch a job another worker holds
    assert webhook_server.received == [] and jobs()[0]["status"] == "doing"

    from notify.tasks import retry_stalled_jobs

    with transaction.atomic():
        defer_in_transaction(retry_stalled_jobs, task_kwargs={"timestamp": 0})
    run_worker("periodic", "notifications")

    assert len(webhook_server.received) == 1
    notification = fresh(notification)
    assert (notification.status, notification.attempts) == (Status.SENT, 2)


def test_sms_logs_never_show_the_phone_number(caplog):
    endpoint_upsert(recipient=OFFICE, channel="sms", address=PHONE)
    [notification] = notify(
        event="case.spot_check",
        recipients=[OFFICE],
        payload={"title": "回头看抽查", "text": f"请复查,联系人 {PHONE}"},
        delivery_key="case:9:spot:1",
    )
    caplog.set_level(logging.DEBUG)

    run_worker()

    assert fresh(notification).status == Status.SENT
    sms_lines = [r.getMessage() for r in caplog.records if r.name == "notify.channels"]
    assert len(sms_lines) == 1 and "138****5678" in sms_lines[0] and "回头看抽查" in sms_lines[0]
    assert PHONE not in caplog.text
    assert all(PHONE not in r.getMessage() for r in caplog.records)
