"""Writes for Open311: issuing API keys and filing a service request as a case through
cases.services.report_case (routing, deadline, timeline and idempotency are the cases app's own)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case, CaseEvent, Source
from cases.services import CaseError, CaseInputError, report_case, transition
from open311.models import ApiKey, Open311Request
from open311.selectors import hash_key

MAX_DESCRIPTION = 2000  # cases.Case.description; GeoReport allows 4000, longer texts are refused (400)
MAX_CONTACT = 64


class Open311Error(Exception):
    """A refused request: `status_code` 400 / 403 / 404 / 429, `message` in Chinese for the client."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass
class SubmitResult:
    case: Case
    created: bool


@transaction.atomic
def issue_api_key(*, name: str, contact: str = "", rate_per_hour: int = 600, can_post: bool = True, acts_as=None):
    """A new key for a client system. Returns (ApiKey, raw key); the raw key is never stored and shown once."""
    raw = secrets.token_urlsafe(24)
    key = ApiKey.objects.create(
        name=name,
        contact=contact,
        prefix=raw[:6],
        key_hash=hash_key(raw),
        rate_per_hour=rate_per_hour,
        can_post=can_post,
        acts_as=acts_as,
    )
    return key, raw


def check_rate(key: ApiKey, *, now=None) -> None:
    """At most `rate_per_hour` submissions per key per clock hour (Django's cache: use a shared one in production)."""
    now = now or timezone.now()
    bucket = f"open311:rate:{key.pk}:{now:%Y%m%d%H}"
    cache.add(bucket, 0, timeout=3700)
    try:
        count = cache.incr(bucket)
    except ValueError:  # evicted between add and incr
        cache.set(bucket, 1, timeout=3700)
        count = 1
    if count > key.rate_per_hour:
        raise Open311Error(429, _("提交过于频繁：每个密钥每小时最多 %(n)d 条") % {"n": key.rate_per_hour})


def _contact(fields: dict) -> str:
    """The private contact of the reporter (never returned by the API)."""
    name = " ".join(p for p in (fields.get("last_name", ""), fields.get("first_name", "")) if p)
    parts = [p for p in (name, fields.get("phone", ""), fields.get("email", "")) if p]
    return " ".join(parts)[:MAX_CONTACT]


def _idempotency_key(key: ApiKey, fields: dict, attributes: dict) -> str:
    """The same key sending the same fields again (a retry) files nothing new."""
    body = json.dumps({"fields": fields, "attributes": attributes}, sort_keys=True, ensure_ascii=False)
    return "open311:" + hashlib.sha256(f"{key.pk}\n{body}".encode()).hexdigest()


def submit_request(
    *,
    key: ApiKey,
    service_code: str,
    point: Point | None,
    address_string: str = "",
    description: str = "",
    media_url: str = "",
    attributes: dict | None = None,
    contact_fields: dict | None = None,
    now=None,
) -> SubmitResult:
    """File a GeoReport request as a public case. Refuses (Open311Error 400) what the spec allows but we cannot
    take: an address without coordinates (we have no geocoder), descriptions over 2000 characters, sensitive
    categories; everything cases.services.report_case refuses (unknown category, outside every street office …)
    comes back as 400 with its message."""
    from open311.selectors import offered_service

    if not key.can_post:
        raise Open311Error(403, _("该密钥无权提交诉求"))
    attributes = attributes or {}
    contact_fields = contact_fields or {}
    service_code = (service_code or "").strip()
    if not service_code:
        raise Open311Error(400, _("缺少 service_code"))
    if offered_service(service_code) is None:
        raise Open311Error(400, _("未知或不开放的服务类别：%(code)s") % {"code": service_code[:40]})
    if point is None:
        if address_string:
            raise Open311Error(400, _("暂不支持按地址定位（无地理编码服务），请提供 lat 和 long"))
        raise Open311Error(400, _("缺少位置：请提供 lat 和 long"))
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(
            400,
            _("描述不能超过 %(n)d 字（本系统上限），当前 %(len)d 字") % {"n": MAX_DESCRIPTION, "len": len(description)},
        )
    fields = {
        "service_code": service_code,
        "lat": round(point.y, 7),
        "long": round(point.x, 7),
        "description": description,
        "media_url": media_url,
        **contact_fields,
    }
    check_rate(key, now=now)
    try:
        with transaction.atomic():
            result = report_case(
                category_code=service_code,
                point=point,
                description=description,
                contact=_contact(contact_fields),
                idempotency_key=_idempotency_key(key, fields, attributes),
                source=Source.PUBLIC,
                now=now,
            )
            if result.created:
                Open311Request.objects.create(
                    case=result.case,
                    api_key=key,
                    media_url=media_url,
                    attributes=attributes,
                    created_at=result.case.created_at,
                )
    except CaseInputError as exc:
        raise Open311Error(400, exc.message) from None
    return SubmitResult(result.case, result.created)


def post_update(
    *, key: ApiKey, service_request_id: str, action: str, description: str = "", now=None
) -> tuple[Case, CaseEvent]:
    """The servicerequestupdates extension: a back office pushes progress on a case as one of our workflow actions
    (accept, resolve, return, request_extension …), taken as the key's `acts_as` user — with that user's roles,
    recorded on the timeline like any other transition. 403 without an `acts_as` user or when its roles do not
    allow the action, 404 for an unknown (or sensitive) case, 400 for anything else refused by the workflow."""
    if key.acts_as_id is None or not key.acts_as.is_active:
        raise Open311Error(403, _("该密钥未绑定办理账号，不能回传办理进度"))
    action = (action or "").strip()
    if not action:
        raise Open311Error(400, _("缺少 action（本系统的办理操作，如 accept、resolve）"))
    case = Case.objects.filter(
        tracking_code=(service_request_id or "").strip().upper(), category__sensitive=False
    ).first()
    if case is None:
        raise Open311Error(404, _("没有这个诉求：%(id)s") % {"id": (service_request_id or "")[:40]})
    check_rate(key, now=now)
    try:
        case = transition(
            case_id=case.pk, action=action, user=key.acts_as, version=case.version, note=description, now=now
        )
    except CaseError as exc:
        raise Open311Error(exc.status_code if exc.status_code in (403, 404) else 400, exc.message) from None
    return case, case.events.order_by("-at", "-id").first()
