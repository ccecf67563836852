"""GeoReport v2 output in both formats. Documents are plain Python values: a list of dicts (JSON array; in XML a
root element holding one child element per dict) or one dict. Lists inside dicts become a wrapper element with
one child per item (`attributes` → <attributes><attribute>…</attribute></attributes>). UTF-8 throughout."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime

from django.http import HttpResponse
from django.utils import timezone

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"
FORMATS = ("json", "xml")
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# Child element name for the items of a list held under a key.
ITEM_NAMES = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "services": "service",
    "service_requests": "request",
    "service_request_updates": "request_update",
    "errors": "error",
}


def w3c(dt: datetime | None) -> str:
    """ISO 8601 (w3c profile) with the offset of the site's time zone; '' for no value."""
    if dt is None:
        return ""
    return timezone.localtime(dt).isoformat(timespec="seconds")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return w3c(value)
    return str(value)


def _fill(element: ET.Element, value) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, (list, tuple)):
        item = ITEM_NAMES.get(element.tag, "item")
        for child in value:
            _fill(ET.SubElement(element, item), child)
    else:
        element.text = _text(value)


def to_xml(document, root: str) -> bytes:
    element = ET.Element(root)
    _fill(element, document)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode("utf-8")


def _json_default(value):
    if isinstance(value, datetime):
        return w3c(value)
    raise TypeError(type(value))


def to_json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False, default=_json_default).encode("utf-8")


def render(document, *, fmt: str, root: str, status: int = 200) -> HttpResponse:
    """`root` names the XML root element (services, service_requests, discovery, errors …)."""
    if fmt == "xml":
        return HttpResponse(to_xml(document, root), content_type=XML_TYPE, status=status)
    return HttpResponse(to_json(document), content_type=JSON_TYPE, status=status)


def render_errors(errors: list[tuple[int, str]], *, fmt: str, status: int) -> HttpResponse:
    """The spec's error list: [{code, description}], <errors><error><code/><description/></error></errors>."""
    return render(
        [{"code": code, "description": str(text)} for code, text in errors], fmt=fmt, root="errors", status=status
    )
