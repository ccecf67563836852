"""Reads for notify."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from django.db.models import CharField, Count, Exists, OuterRef, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from notify.models import Endpoint, Notification, Status
from notify.recipients import Recipient

SEND_TASK_NAME = "notify.send_notification"


def notification_lock(notification_id: int) -> str:
    """The procrastinate lock (and queueing lock) of a notification's delivery jobs: one runs at a time, one waits."""
    return f"notify.notification:{notification_id}"


def endpoints_for(
    recipients: Iterable[Recipient], *, event: str, channels: Iterable[str]
) -> dict[tuple[str, int], list[Endpoint]]:
    """Active endpoints of these recipients that take `event` on one of `channels`, by recipient (kind, id)."""
    recipients = list(recipients)
    channels = list(channels)
    found: dict[tuple[str, int], list[Endpoint]] = defaultdict(list)
    if not recipients or not channels:
        return found
    # Plain SQL (every dispatch asks): the same filter as Endpoint.objects.filter((kind, id) in recipients,
    # is_active, channel in channels, events empty or containing event).
    endpoints = Endpoint.objects.raw(
        f"SELECT * FROM {Endpoint._meta.db_table} e "
        "WHERE (e.recipient_kind, e.recipient_id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[])) "
        "AND e.is_active AND e.channel = ANY(%s::text[]) AND (e.events = '{}' OR %s = ANY(e.events)) "
        "ORDER BY e.recipient_kind, e.recipient_id, e.channel",
        [[r.kind for r in recipients], [r.id for r in recipients], sorted(channels), event],
    )
    for endpoint in endpoints:
        found[(endpoint.recipient_kind, endpoint.recipient_id)].append(endpoint)
    return found


def pending_jobs() -> QuerySet[ProcrastinateJob]:
    """Delivery jobs that are waiting or running."""
    return ProcrastinateJob.objects.filter(task_name=SEND_TASK_NAME, status__in=("todo", "doing"))


def queued_without_job(*, older_than: timedelta) -> QuerySet[Notification]:
    """Notifications still queued, created more than `older_than` ago, with no waiting or running delivery job:
    their job was lost (deleted, cancelled, or it failed outside the retry strategy)."""
    lock = Concat(Value("notify.notification:"), Cast(OuterRef("pk"), CharField()))
    return (
        Notification.objects.filter(status=Status.QUEUED, created_at__lt=timezone.now() - older_than)
        .exclude(Exists(pending_jobs().filter(lock=lock)))
        .order_by("created_at", "id")
    )


def notifications_for(recipient: Recipient) -> QuerySet[Notification]:
    """A recipient's notifications, newest first."""
    return Notification.objects.filter(recipient_kind=recipient.kind, recipient_id=recipient.id).order_by(
        "-created_at", "-id"
    )


def status_counts(*, since=None) -> dict[str, int]:
    """Number of notifications per status (created since `since`, when given); every status is present."""
    qs = Notification.objects.all()
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    counts = {status: 0 for status in Status.values}
    for row in qs.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts
