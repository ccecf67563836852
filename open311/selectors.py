"""Reads for Open311: the categories offered as services and the cases shown as service requests. Sensitive
matters (residents' personal data) are never offered nor shown on this anonymous channel."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from cases.models import Case, Category, Status
from open311.models import ApiKey

# GeoReport v2: "Default query limit is a span of 90 days or first 1000 requests returned, whichever is smallest."
DEFAULT_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
CLOSED_STATUSES = (Status.CLOSED, Status.VOID, Status.MERGED)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def active_key(raw: str | None) -> ApiKey | None:
    """The active key with this value, else None."""
    if not raw:
        return None
    return ApiKey.objects.filter(key_hash=hash_key(raw.strip()), active=True).first()


def offered_services() -> QuerySet[Category]:
    return Category.objects.reportable().filter(sensitive=False).select_related("parent").order_by("order", "code")


def offered_service(code: str) -> Category | None:
    return offered_services().filter(code=code).first()


def public_requests() -> QuerySet[Case]:
    return Case.objects.filter(category__sensitive=False).select_related(
        "category", "lane", "street_office", "community", "squad", "open311_request"
    )


def public_request(tracking_code: str) -> Case | None:
    return public_requests().filter(tracking_code=tracking_code.strip().upper()).first()


def search_requests(
    *,
    ids: list[str] | None = None,
    service_codes: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: str | None = None,
    now: datetime | None = None,
) -> list[Case]:
    """GET requests: by tracking codes (then no date window), else within [start, end] — by default the last
    90 days — newest first, at most 1000."""
    qs = public_requests()
    if ids:
        qs = qs.filter(tracking_code__in=[i.strip().upper() for i in ids])
    else:
        now = now or timezone.now()
        if start is None and end is None:
            start = now - DEFAULT_SPAN
        if start is not None:
            qs = qs.filter(created_at__gte=start)
        if end is not None:
            qs = qs.filter(created_at__lte=end)
    if service_codes:
        qs = qs.filter(category__code__in=service_codes)
    if status == "open":
        qs = qs.exclude(status__in=CLOSED_STATUSES)
    elif status == "closed":
        qs = qs.filter(status__in=CLOSED_STATUSES)
    return list(qs.order_by("-created_at", "-id")[:MAX_RESULTS])
