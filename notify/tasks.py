"""Queue tasks of notify, and the queue's own housekeeping.

Queues: "notifications" (one job per notification) and "periodic" (every periodic task, here and in other apps).
Periodic crons are evaluated in UTC (Asia/Shanghai is UTC+8). See docs/queue.md.
"""

from __future__ import annotations

import logging

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from notify import conf, services
from notify.channels import PermanentDeliveryError

logger = logging.getLogger(__name__)

NOTIFICATIONS_QUEUE = "notifications"
PERIODIC_QUEUE = "periodic"


class DeliveryRetryStrategy(RetryStrategy):
    """Exponential back-off, except for failures that retrying cannot fix."""

    def get_retry_decision(self, *, exception, job):
        if isinstance(exception, PermanentDeliveryError):
            return None
        return super().get_retry_decision(exception=exception, job=job)


@app.task(
    name="notify.send_notification",
    queue=NOTIFICATIONS_QUEUE,
    pass_context=True,
    retry=DeliveryRetryStrategy(
        max_attempts=conf.get("NOTIFY_MAX_RETRIES"), exponential_wait=conf.get("NOTIFY_RETRY_EXPONENTIAL_WAIT")
    ),
)
def send_notification(context, notification_id: int) -> str:
    """Deliver one notification; a failure raises, and procrastinate retries the job per the retry strategy."""

    def will_retry(exc: Exception) -> bool:
        return context.task.get_retry_exception(exc, context.job) is not None

    return services.deliver_notification(notification_id=notification_id, will_retry=will_retry)


@app.periodic(cron="*/5 * * * *")
@app.task(name="notify.reconcile", queue=PERIODIC_QUEUE, queueing_lock="notify.reconcile")
def reconcile(timestamp: int) -> dict:
    """Every 5 minutes: queued notifications whose delivery job was lost get a new one."""
    return services.requeue_lost()


@app.periodic(cron="* * * * *")
@app.task(
    name="queue.retry_stalled_jobs", queue=PERIODIC_QUEUE, queueing_lock="queue.retry_stalled_jobs", pass_context=True
)
async def retry_stalled_jobs(context, timestamp: int) -> int:
    """Every minute: jobs left "doing" by a worker that died (no heartbeat for 30 s) are queued again, in every
    queue. A delivery retried this way does not send twice: the notification's status is checked under a row lock."""
    job_manager = context.app.job_manager
    stalled = list(await job_manager.get_stalled_jobs())
    for job in stalled:
        await job_manager.retry_job(job)
    if stalled:
        logger.warning("retried %d stalled job(s): %s", len(stalled), ", ".join(job.call_string for job in stalled))
    return len(stalled)


@app.periodic(cron="30 19 * * *")  # 03:30 Asia/Shanghai
@app.task(name="queue.remove_old_jobs", queue=PERIODIC_QUEUE, queueing_lock="queue.remove_old_jobs", pass_context=True)
async def remove_old_jobs(context, timestamp: int) -> None:
    """Every night: delete succeeded/cancelled jobs finished NOTIFY_KEEP_FINISHED_JOBS_DAYS ago, failed ones after
    twice that (notifications keep their own status and error)."""
    days = conf.get("NOTIFY_KEEP_FINISHED_JOBS_DAYS")
    job_manager = context.app.job_manager
    await job_manager.delete_old_jobs(nb_hours=days * 24, include_cancelled=True, include_aborted=True)
    await job_manager.delete_old_jobs(nb_hours=days * 48, include_failed=True)
