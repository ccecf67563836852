"""GeoReport v2 input parsing (form / query parameters → typed values, Open311Error 400 on bad input) and
output documents (category → service, case → service request). Reporter identity and contact never leave."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from cases.models import Case, Category, OwnerQueue, Status
from open311.selectors import CLOSED_STATUSES
from open311.services import Open311Error

ATTRIBUTE_RE = re.compile(r"^attribute\[(?P<name>[^\]]{1,100})\]$")
CONTACT_FIELDS = ("email", "device_id", "account_id", "first_name", "last_name", "phone")


# --- input ----------------------------------------------------------------------------------------------------
def _float(params, name: str, low: float, high: float) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, _("%(name)s 不是数字") % {"name": name}) from None
    if not (low <= value <= high):
        raise Open311Error(400, _("%(name)s 超出范围") % {"name": name})
    return value


def parse_submission(params) -> dict:
    """The fields of POST requests (form-encoded) as keyword arguments of services.submit_request (minus key)."""
    lat = _float(params, "lat", -90, 90)
    lon = _float(params, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, _("lat 与 long 须同时提供"))
    point = Point(lon, lat, srid=settings.GEO_SRID) if lat is not None else None
    media_url = (params.get("media_url") or "").strip()
    if media_url:
        try:
            URLValidator(schemes=["http", "https"])(media_url)
        except ValidationError:
            raise Open311Error(400, _("media_url 不是有效的 http(s) 链接")) from None
        if len(media_url) > 1000:
            raise Open311Error(400, _("media_url 过长"))
    attributes = {}
    for name in params:
        match = ATTRIBUTE_RE.match(name)
        if match:
            values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
            attributes[match["name"]] = values if len(values) > 1 else values[0]
    contact = {f: (params.get(f) or "").strip()[:100] for f in CONTACT_FIELDS if (params.get(f) or "").strip()}
    return {
        "service_code": params.get("service_code") or "",
        "point": point,
        "address_string": (params.get("address_string") or params.get("address_id") or "").strip(),
        "description": params.get("description") or "",
        "media_url": media_url,
        "attributes": attributes,
        "contact_fields": contact,
    }


def _moment(raw: str, name: str, *, end: bool = False) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    message = _("%(name)s 须为 ISO 8601 日期时间，如 2026-11-01T00:00:00+08:00") % {"name": name}
    try:
        value = parse_datetime(raw.replace(" ", "+"))  # an unescaped "+" in a query string arrives as a space
        if value is None:
            day = parse_date(raw)
            if day is None:
                raise Open311Error(400, message)
            value = datetime.combine(day, datetime.max.time() if end else datetime.min.time())
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (e.g. +18:04, found by fuzzing).
        value = value.astimezone(UTC)
    except (ValueError, OverflowError):  # a well-formed but impossible date, or out of range once in UTC
        raise Open311Error(400, message) from None
    return value


def parse_query(params) -> dict:
    """The filters of GET requests, as keyword arguments of selectors.search_requests."""
    status = (params.get("status") or "").strip().lower() or None
    if status not in (None, "open", "closed"):
        raise Open311Error(400, _("status 只能是 open 或 closed"))
    ids = [i for i in (params.get("service_request_id") or "").split(",") if i.strip()]
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    start = _moment(params.get("start_date"), "start_date")
    end = _moment(params.get("end_date"), "end_date", end=True)
    if start and end and start > end:
        raise Open311Error(400, _("start_date 晚于 end_date"))
    return {"ids": ids, "service_codes": codes, "start": start, "end": end, "status": status}


# --- output ---------------------------------------------------------------------------------------------------
def service(category: Category) -> dict:
    group = category.parent.name if category.parent_id else ""
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": _("%(kind)s，处置时限 %(amount)d %(unit)s")
        % {
            "kind": category.get_kind_display(),
            "amount": category.deadline_amount,
            "unit": category.get_deadline_unit_display(),
        },
        "metadata": False,  # no category asks for extra fields yet
        "type": "realtime",
        "keywords": ",".join(dict.fromkeys(k for k in (str(category.get_kind_display()), group, category.name) if k)),
        "group": group,
    }


def service_definition(category: Category) -> dict:
    return {"service_code": category.code, "attributes": []}


def _agency(case: Case) -> str:
    if case.owner_queue == OwnerQueue.SQUAD and case.squad_id:
        return case.squad.name
    if case.owner_queue == OwnerQueue.COMMUNITY and case.community_id:
        return case.community.name
    return case.street_office.name


def _status_notes(case: Case) -> str:
    note = str(case.get_status_display())
    if case.status == Status.MERGED and case.merged_into_id:
        note += _("：已合并到 %(code)s") % {"code": case.merged_into.tracking_code}
    return note


def service_request(case: Case) -> dict:
    link = getattr(case, "open311_request", None)
    address = " ".join(p for p in (case.street_office.name, case.lane.name if case.lane_id else "") if p)
    return {
        "service_request_id": case.tracking_code,
        "status": "closed" if case.status in CLOSED_STATUSES else "open",
        "status_notes": _status_notes(case),
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": case.description,
        "agency_responsible": _agency(case),
        "service_notice": service_notice(case),
        "requested_datetime": case.created_at,
        "updated_datetime": case.updated_at,
        "expected_datetime": case.deadline,
        "address": address,
        "address_id": "",
        "zipcode": "",
        "lat": round(case.point.y, 6),
        "long": round(case.point.x, 6),
        "media_url": link.media_url if link is not None else "",
    }


def service_notice(case: Case) -> str:
    if case.deadline is None:
        return ""
    return _("已派往%(agency)s，处置期限 %(deadline)s") % {
        "agency": _agency(case),
        "deadline": timezone.localtime(case.deadline).strftime("%Y-%m-%d %H:%M"),
    }


def created_request(case: Case) -> dict:
    return {"service_request_id": case.tracking_code, "service_notice": service_notice(case), "account_id": ""}


def update(case: Case, event) -> dict:
    return {
        "update_id": event.pk,
        "service_request_id": case.tracking_code,
        "status": "closed" if case.status in CLOSED_STATUSES else "open",
        "status_notes": _status_notes(case),
        "updated_datetime": event.at,
    }
