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
