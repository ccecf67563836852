"""Writes for notify. Keyword-only, typed, each public function one transaction (a savepoint inside the caller's;
notify() alone writes straight into the caller's transaction, without a savepoint: it is on the hot path of every
case dispatch).

    notify(event=..., recipients=[Recipient(...)], payload={...}, delivery_key="case:42:dispatch:v3")

creates one Notification per (recipient, configured endpoint) and defers one delivery job each, on Django's
connection: the rows and the jobs commit or roll back with the caller's transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from notify import conf, selectors
from notify.channels import DeliveryError, enabled_channels, get_channel
from notify.models import Endpoint, Notification, Status, mask_address
from notify.queue import defer_in_transaction, defer_many_in_transaction
from notify.recipients import Recipient

__all__ = [
    "Recipient",
    "deliver_notification",
    "endpoint_upsert",
    "notification_resend",
    "notify",
    "requeue_lost",
]

logger = logging.getLogger(__name__)

DELIVERY_KEY_MAX = Notification._meta.get_field("delivery_key").max_length


def _defer_send(notification: Notification) -> int | None:
    from notify.tasks import send_notification

    lock = selectors.notification_lock(notification.pk)
    return defer_in_transaction(
        send_notification, task_kwargs={"notification_id": notification.pk}, lock=lock, queueing_lock=lock
    )


def notify(*, event: str, recipients: list[Recipient], payload: dict, delivery_key: str) -> list[Notification]:
    """Notify `recipients` of `event` on every active endpoint they have for it (and whose channel is enabled).

    Each notification's key is f"{delivery_key}:{recipient}:{channel}" and is unique: calling again with the same
    delivery key creates and sends nothing new (the existing notifications are returned). Recipients without an
    endpoint get nothing. Jobs are deferred inside the current transaction: if it rolls back, nothing is queued.
    Statements: the endpoints, then (only when some exist) the new notifications, their jobs and the jobs' ids, and
    the existing notifications of keys already used.
    """
    if not event or not delivery_key:
        raise ValueError("notify() needs an event and a delivery key")
    if not isinstance(payload, dict):
        raise TypeError("payload must be a dict")
    try:
        json.dumps(payload)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload must be JSON-serialisable (convert dates to ISO strings): {exc}") from None
    unique: dict[tuple[str, int], Recipient] = {}
    for recipient in recipients:
        if not isinstance(recipient, Recipient):
            raise TypeError(f"recipients must be notify.Recipient, not {type(recipient).__name__}")
        unique.setdefault(recipient.key, recipient)
    endpoints_by_recipient = selectors.endpoints_for(unique.values(), event=event, channels=enabled_channels())

    planned: list[Notification] = []
    for recipient in unique.values():
        for endpoint in endpoints_by_recipient.get(recipient.key, []):
            key = f"{delivery_key}:{recipient}:{endpoint.channel}"
            if len(key) > DELIVERY_KEY_MAX:
                raise ValueError(f"delivery key longer than {DELIVERY_KEY_MAX} characters: {key[:80]}…")
            planned.append(
                Notification(
                    delivery_key=key,
                    event=event,
                    recipient_kind=recipient.kind,
                    recipient_id=recipient.id,
                    recipient_name=recipient.name or endpoint.recipient_name,
                    channel=endpoint.channel,
                    address=endpoint.address,
                    endpoint=endpoint,
                    payload=payload,
                )
            )
    if not planned:
        return []
    # No savepoint: inside the caller's transaction these writes are part of it (if notify raises, the caller's
    # transaction is marked for rollback). Three statements whatever the number of recipients: the new rows
    # (existing delivery keys left as they are), their delivery jobs, the jobs' ids on the rows.
    with transaction.atomic(savepoint=False):
        created = _insert_new(planned)
        jobs = _defer_sends(list(created.values()))
        if jobs:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE notify_notification n SET job_id = x.job_id "
                    "FROM unnest(%s::bigint[], %s::bigint[]) AS x(id, job_id) WHERE n.id = x.id",
                    [list(jobs), list(jobs.values())],
                )
            for notification in created.values():
                notification.job_id = jobs[notification.pk]
        missing = [n.delivery_key for n in planned if n.delivery_key not in created]
        existing = {n.delivery_key: n for n in Notification.objects.filter(delivery_key__in=missing)} if missing else {}
    return [created.get(n.delivery_key) or existing[n.delivery_key] for n in planned]


def _insert_new(planned: list[Notification]) -> dict[str, Notification]:
    """INSERT … ON CONFLICT (delivery_key) DO NOTHING: the rows created, by delivery key (saved instances)."""
    fields = [
        Notification._meta.get_field(name)
        for name in (
            "delivery_key",
            "event",
            "recipient_kind",
            "recipient_id",
            "recipient_name",
            "channel",
            "address",
            "endpoint",
            "payload",
            "status",
            "attempts",
            "last_error",
            "created_at",
        )
    ]
    now = timezone.now()
    values, params = [], []
    for n in planned:
        n.status, n.attempts, n.last_error, n.created_at = Status.QUEUED, 0, "", now
        values.append("(" + ", ".join(["%s"] * len(fields)) + ")")
        params += [f.get_db_prep_save(getattr(n, f.attname), connection) for f in fields]
    sql = (
        f"INSERT INTO notify_notification ({', '.join(f.column for f in fields)}) VALUES {', '.join(values)} "
        "ON CONFLICT (delivery_key) DO NOTHING RETURNING id, delivery_key"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = dict((key, pk) for pk, key in cursor.fetchall())
    created = {}
    for n in planned:
        if n.delivery_key in ids:
            n.pk = ids[n.delivery_key]
            n._state.adding, n._state.db = False, connection.alias
            created[n.delivery_key] = n
    return created


def _defer_sends(notifications: list[Notification]) -> dict[int, int]:
    """One delivery job per new notification, in one statement: {notification id: job id}."""
    from notify.tasks import send_notification

    specs = []
    for n in notifications:
        lock = selectors.notification_lock(n.pk)
        specs.append({"task_kwargs": {"notification_id": n.pk}, "lock": lock, "queueing_lock": lock})
    job_ids = defer_many_in_transaction(send_notification, jobs=specs)
    return {n.pk: job_id for n, job_id in zip(notifications, job_ids, strict=True)}


def endpoint_upsert(
    *,
    recipient: Recipient,
    channel: str,
    address: str,
    events: Sequence[str] = (),
    is_active: bool = True,
) -> Endpoint:
    """Create or change the recipient's endpoint on `channel` (one per recipient and channel). Raises
    ValidationError when the address does not fit the channel."""
    with transaction.atomic():
        endpoint = (
            Endpoint.objects.select_for_update()
            .filter(recipient_kind=recipient.kind, recipient_id=recipient.id, channel=channel)
            .first()
        ) or Endpoint(recipient_kind=recipient.kind, recipient_id=recipient.id, channel=channel)
        endpoint.recipient_name = recipient.name or endpoint.recipient_name
        endpoint.address = address.strip()
        endpoint.events = sorted(set(events))
        endpoint.is_active = is_active
        endpoint.full_clean()
        endpoint.save()
    return endpoint


def notification_resend(*, notification: Notification) -> Notification:
    """Queue a failed notification again (attempt count kept, error cleared). A sent notification is never
    sent again; a queued one keeps its waiting job (none is added)."""
    with transaction.atomic():
        locked = Notification.objects.select_for_update().get(pk=notification.pk)
        if locked.status == Status.SENT:
            raise ValueError(_("已发送的通知不会重发。"))
        locked.status = Status.QUEUED
        locked.last_error = ""
        job_id = _defer_send(locked)
        if job_id is not None:
            locked.job_id = job_id
        locked.save(update_fields=["status", "last_error", "job_id"])
    return locked


def _lock_for_delivery(notification_id: int) -> tuple[Notification | None, str]:
    """Lock the row, skipping it when another delivery holds it (that delivery finishes, records, or is retried)."""
    row = Notification.objects.select_for_update(skip_locked=True).filter(pk=notification_id).first()
    if row is not None:
        return row, ""
    return None, "busy" if Notification.objects.filter(pk=notification_id).exists() else "missing"


def _describe(exc: Exception, notification: Notification) -> str:
    if isinstance(exc, DeliveryError):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    if notification.address:
        text = text.replace(notification.address, mask_address(notification.channel, notification.address))
    return text[:1000]


def deliver_notification(*, notification_id: int, will_retry: Callable[[Exception], bool]) -> str:
    """Deliver one notification (the delivery job's body). Returns "sent", or why nothing was sent: "already_sent",
    "already_failed", "busy" (another delivery of it is running), "missing". On failure it records the error,
    marks the notification failed when `will_retry(exc)` is false or the attempts are used up, and re-raises.

    The attempt is committed before sending, so a worker killed mid-send leaves it counted. The send runs while
    the row is locked, and the row is marked sent only while it is still queued: two deliveries of the same
    notification (a job processed twice, a re-deferred job) never both send, and it is never marked sent twice.
    """
    with transaction.atomic():
        notification, reason = _lock_for_delivery(notification_id)
        if notification is None:
            return reason
        if notification.status != Status.QUEUED:
            return f"already_{notification.status}"
        notification.attempts += 1
        notification.last_attempt_at = timezone.now()
        notification.save(update_fields=["attempts", "last_attempt_at"])

    error: Exception | None = None
    with transaction.atomic():
        notification, reason = _lock_for_delivery(notification_id)
        if notification is None:
            return reason
        if notification.status != Status.QUEUED:
            return f"already_{notification.status}"
        try:
            get_channel(notification.channel).send(notification)
        except Exception as exc:
            error = exc
            notification.last_error = _describe(exc, notification)
            if not will_retry(exc) or notification.attempts >= conf.get("NOTIFY_MAX_ATTEMPTS"):
                notification.status = Status.FAILED
            notification.save(update_fields=["last_error", "status"])
        else:
            notification.status = Status.SENT
            notification.sent_at = timezone.now()
            notification.last_error = ""
            notification.save(update_fields=["status", "sent_at", "last_error"])
    logger.info(
        "notification %s (%s, %s to %s): %s after %d attempt(s)",
        notification.pk,
        notification.event,
        notification.channel,
        mask_address(notification.channel, notification.address),
        notification.status,
        notification.attempts,
    )
    if error is not None:
        raise error
    return "sent"


def requeue_lost(*, older_than: timedelta | None = None, limit: int = 500) -> dict[str, int]:
    """Give a new delivery job to queued notifications that have none waiting or running (the job was lost);
    those that used up NOTIFY_MAX_ATTEMPTS are marked failed instead. Returns {"requeued": n, "failed": m}."""
    if older_than is None:
        older_than = timedelta(seconds=conf.get("NOTIFY_RECONCILE_AFTER_S"))
    max_attempts = conf.get("NOTIFY_MAX_ATTEMPTS")
    counts = {"requeued": 0, "failed": 0}
    with transaction.atomic():
        lost = selectors.queued_without_job(older_than=older_than).select_for_update(skip_locked=True)[:limit]
        for notification in lost:
            if notification.attempts >= max_attempts:
                notification.status = Status.FAILED
                notification.last_error = notification.last_error or _("多次尝试后仍未送达。")
                notification.save(update_fields=["status", "last_error"])
                counts["failed"] += 1
                continue
            job_id = _defer_send(notification)
            if job_id is not None:
                notification.job_id = job_id
                notification.save(update_fields=["job_id"])
                counts["requeued"] += 1
    if counts["requeued"] or counts["failed"]:
        logger.warning("notify reconciliation: %(requeued)d requeued, %(failed)d failed", counts)
    return counts
