"""Deferring procrastinate jobs inside the caller's database transaction.

`task.defer()` goes through the app's connector. In the web process that is procrastinate's DjangoConnector (Django's
own connection, so the job is part of the open transaction), but inside `manage.py procrastinate worker` the app's
connector is replaced by a separate psycopg 3 pool: a task that defers from within `transaction.atomic()` would
enqueue even if that transaction rolls back. `defer_in_transaction` always uses Django's connection, wherever it
runs, so the job row commits or rolls back with the caller's writes.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from procrastinate import exceptions as procrastinate_exceptions
from procrastinate import jobs, manager
from procrastinate.contrib.django import django_connector
from procrastinate.contrib.django.settings import settings as procrastinate_settings


def _django_job_manager() -> manager.JobManager:
    return manager.JobManager(connector=django_connector.DjangoConnector(alias=procrastinate_settings.DATABASE_ALIAS))


def defer_in_transaction(
    task: Any,
    *,
    task_kwargs: dict[str, Any],
    lock: str | None = None,
    queueing_lock: str | None = None,
    schedule_in: dict[str, float] | None = None,
) -> int | None:
    """Defer `task` with `task_kwargs` on Django's connection, in the current transaction. Returns the job id, or
    None when a job with the same `queueing_lock` is already waiting (that job will do the work; the caller's
    transaction is unaffected: the conflict is confined to a savepoint)."""
    configured = task.configure(lock=lock, queueing_lock=queueing_lock, schedule_in=schedule_in)
    deferrer = jobs.JobDeferrer(job_manager=_django_job_manager(), job=configured.job)
    try:
        with transaction.atomic(using=procrastinate_settings.DATABASE_ALIAS):
            return deferrer.defer(**task_kwargs)
    except procrastinate_exceptions.AlreadyEnqueued:
        return None


def defer_many_in_transaction(task: Any, *, jobs: list[dict[str, Any]]) -> list[int]:
    """Defer several jobs of `task` in one statement on Django's connection, in the current transaction. Each item
    of `jobs` is {"task_kwargs": {...}, "lock": ..., "queueing_lock": ...}. Returns the job ids in order. For jobs
    whose queueing lock cannot already be taken (a lock naming a row created in this transaction): there is no
    savepoint, unlike defer_in_transaction, so a conflict fails the caller's transaction."""
    if not jobs:
        return []
    from procrastinate import sql, types

    rows = []
    for spec in jobs:
        job = task.configure(lock=spec.get("lock"), queueing_lock=spec.get("queueing_lock")).job
        rows.append(
            types.JobToDefer(
                queue_name=job.queue,
                task_name=job.task_name,
                priority=job.priority,
                lock=job.lock,
                queueing_lock=job.queueing_lock,
                args=spec["task_kwargs"],
                scheduled_at=job.scheduled_at,
            )
        )
    connector = django_connector.DjangoConnector(alias=procrastinate_settings.DATABASE_ALIAS)
    result = connector.execute_query_all(sql.queries["defer_jobs"], jobs=rows)
    return [row["id"] for row in result]
