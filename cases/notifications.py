"""Every notification the cases app sends goes through `send()` here, which calls the notify app inside the
caller's transaction (notify enqueues on the procrastinate queue atomically: a rolled-back transition sends
nothing, a committed one is delivered even if the worker is down at the time).

Delivery keys make a retried or repeated call deliver once: they name the case, the event and the case state
that caused it (version, supervision level, sample time).
"""

from __future__ import annotations

from cases.models import Case, OwnerQueue, Status

# Events (notify templates / channel routing key on them).
DISPATCHED = "case.dispatched"
SUPERVISION = "case.supervision"  # 督办 to the squad and the street office
ESCALATION = "case.escalation"  # overdue again: to the district
EXTENSION_REQUESTED = "case.extension_requested"
SPOT_CHECK = "case.spot_check"  # 回头看 sampled: to the street office (inspectors)

STATUS_LABELS = dict(Status.choices)


def send(*, event: str, recipients: list, payload: dict, delivery_key: str) -> None:
    from notify import services as notify_services

    if not recipients:
        return
    notify_services.notify(event=event, recipients=recipients, payload=payload, delivery_key=delivery_key)


def _recipient(kind: str, obj):
    """Adapter to notify.Recipient: kind is "squad", "street_office" / "community" / "district" (an Area)."""
    from notify import Recipient

    if kind == "squad":
        return Recipient.for_squad(obj)
    return Recipient.for_area(obj)


def _payload(case: Case, **extra) -> dict:
    data = {
        "case_id": case.pk,
        "tracking_code": case.tracking_code,
        "category": case.category.name,
        "status": case.status,
        "status_label": str(STATUS_LABELS.get(case.status, case.status)),  # = case.get_status_display(), faster
        "lane": case.lane.name if case.lane_id else "",
        "street_office": case.street_office.name,
        "deadline": case.deadline.isoformat() if case.deadline else None,
        "lon": round(case.point.x, 6),
        "lat": round(case.point.y, 6),
        "routing_reason": case.routing_reason,
    }
    if not case.category.sensitive:
        data["description"] = case.description[:200]
    data.update(extra)
    return data


def _queue_recipients(case: Case) -> list:
    if case.owner_queue == OwnerQueue.SQUAD and case.squad_id:
        return [_recipient("squad", case.squad)]
    if case.owner_queue == OwnerQueue.COMMUNITY and case.community_id:
        return [_recipient("community", case.community)]
    return [_recipient("street_office", case.street_office)]


def case_dispatched(case: Case) -> None:
    send(
        event=DISPATCHED,
        recipients=_queue_recipients(case),
        payload=_payload(case),
        delivery_key=f"case:{case.pk}:dispatch:v{case.version}",
    )


def case_supervised(case: Case) -> None:
    recipients = _queue_recipients(case)
    if case.owner_queue == OwnerQueue.SQUAD:
        recipients.append(_recipient("street_office", case.street_office))
    send(
        event=SUPERVISION,
        recipients=recipients,
        payload=_payload(case, supervision_level=1, supervision_due=_iso(case.supervision_due)),
        delivery_key=f"case:{case.pk}:supervision:1:{_iso(case.supervised_at)}",
    )


def case_escalated(case: Case) -> None:
    district = case.street_office.parent
    recipients = [_recipient("district", district)] if district is not None else []
    recipients += _queue_recipients(case)
    if case.owner_queue == OwnerQueue.SQUAD:
        recipients.append(_recipient("street_office", case.street_office))
    send(
        event=ESCALATION,
        recipients=recipients,
        payload=_payload(case, supervision_level=2),
        delivery_key=f"case:{case.pk}:supervision:2:{_iso(case.supervised_at)}",
    )


def extension_requested(case: Case) -> None:
    send(
        event=EXTENSION_REQUESTED,
        recipients=[_recipient("street_office", case.street_office)],
        payload=_payload(case, extension=case.extension_request),
        delivery_key=f"case:{case.pk}:extension:v{case.version}",
    )


def spot_check_sampled(case: Case) -> None:
    send(
        event=SPOT_CHECK,
        recipients=[_recipient("street_office", case.street_office)],
        payload=_payload(case),
        delivery_key=f"case:{case.pk}:spot:{_iso(case.spot_sampled_at)}",
    )


def _iso(value) -> str:
    return value.isoformat() if value else ""
