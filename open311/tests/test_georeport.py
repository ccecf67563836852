"""GeoReport v2 over the cases app, on the real PostGIS with the OSM streets of the cases test world."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from cases.models import Case, Category, Source
from cases.services import report_case
from cases.tests.conftest import SPLIT_LON, point_on_street

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"


def as_json(response):
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(response.content.decode("utf-8"))


def as_xml(response):
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def post(client, fmt="json", **fields):
    return client.post(f"{BASE}/requests.{fmt}", fields)


def fuzhou_point():
    return point_on_street("福州路", SPLIT_LON + 0.002)


def test_discovery_in_both_formats(client):
    doc = as_json(client.get(f"{BASE}/discovery.json"))
    endpoint = doc["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = as_xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    assert root.findtext("contact")


def test_services_list_offers_leaf_categories_but_not_sensitive_ones(client):
    services = as_json(client.get(f"{BASE}/services.json"))
    codes = {s["service_code"] for s in services}
    assert codes == set(Category.objects.reportable().filter(sensitive=False).values_list("code", flat=True))
    assert Category.objects.filter(sensitive=True).exists()
    assert not codes & set(Category.objects.filter(sensitive=True).values_list("code", flat=True))
    assert not codes & set(Category.objects.filter(is_group=True).values_list("code", flat=True))
    garbage = next(s for s in services if s["service_code"] == "SJ0101")
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境"
    assert garbage["type"] == "realtime" and garbage["metadata"] is False
    assert garbage["keywords"].split(",") == ["事件", "市容环境", "暴露垃圾"]

    root = as_xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    names = {s.findtext("service_code"): s.findtext("service_name") for s in root.findall("service")}
    assert names["SJ0101"] == "暴露垃圾"  # Chinese survives the XML round trip
    assert root.find("service").findtext("metadata") == "false"


def test_service_definition_and_unknown_or_sensitive_service_404(client):
    doc = as_json(client.get(f"{BASE}/services/SJ0101.json"))
    assert doc == {"service_code": "SJ0101", "attributes": []}
    root = as_xml(client.get(f"{BASE}/services/SJ0101.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "SJ0101"
    for code in ("NOPE", "LBB03"):  # LBB03 外来人员流入 is sensitive
        response = client.get(f"{BASE}/services/{code}.json")
        assert response.status_code == 404
        assert as_json(response)[0]["code"] == 404
    response = client.get(f"{BASE}/services/NOPE.xml")
    assert response.status_code == 404
    assert as_xml(response).find("error").findtext("code") == "404"


def test_post_creates_a_case_routed_like_our_own_api(client, world, api_key):
    point = fuzhou_point()
    response = post(
        client,
        api_key=api_key.raw,
        service_code="SJ0101",
        lat=str(point.y),
        long=str(point.x),
        description="福州路口有一堆暴露垃圾",
        email="zhang@example.com",
        phone="13800000000",
        first_name="三",
        last_name="张",
        media_url="https://example.com/p/1.jpg",
        **{"attribute[size]": "large"},
    )
    assert response.status_code == 201, response.content
    (created,) = as_json(response)
    case = Case.objects.get(tracking_code=created["service_request_id"])
    assert case.squad == world.squads["福州路环卫中队"]
    assert case.source == Source.PUBLIC and case.status == "dispatched" and case.deadline is not None
    assert case.description == "福州路口有一堆暴露垃圾"
    assert "13800000000" in case.reporter_contact and "zhang@example.com" in case.reporter_contact
    assert case.open311_request.api_key == api_key
    assert case.open311_request.attributes == {"size": "large"}
    assert "福州路环卫中队" in created["service_notice"]

    # The same report through the cases service: the same routing, deadline and timeline actions.
    own = report_case(category_code="SJ0101", point=point, description="x", now=case.created_at).case
    assert (own.squad, own.owner_queue, own.routing_reason, own.deadline) == (
        case.squad,
        case.owner_queue,
        case.routing_reason,
        case.deadline,
    )
    assert list(own.events.values_list("action", "to_status")) == list(case.events.values_list("action", "to_status"))


def test_exact_retry_returns_the_first_case(client, world, api_key):
    point = fuzhou_point()
    fields = dict(api_key=api_key.raw, service_code="SJ0102", lat=str(point.y), long=str(point.x), description="渣土")
    first = as_json(post(client, **fields))[0]["service_request_id"]
    again = post(client, **fields)
    assert again.status_code == 200
    assert as_json(again)[0]["service_request_id"] == first
    assert Case.objects.filter(tracking_code=first).count() == 1
    assert Case.objects.filter(category__code="SJ0102").count() == 1
    different = as_json(post(client, **{**fields, "description": "又一堆渣土"}))[0]["service_request_id"]
    assert different != first


def test_api_key_missing_bad_or_revoked_is_403(client, world, api_key):
    point = fuzhou_point()
    fields = dict(service_code="SJ0101", lat=str(point.y), long=str(point.x))
    for extra in ({}, {"api_key": "wrong"}):
        response = post(client, **fields, **extra)
        assert response.status_code == 403
        assert as_json(response)[0]["code"] == 403
    api_key.active = False
    api_key.save()
    response = post(client, "xml", api_key=api_key.raw, **fields)
    assert response.status_code == 403
    assert as_xml(response).find("error").findtext("code") == "403"
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    "fields, words",
    [
        ({"service_code": "NOPE"}, "NOPE"),
        ({"service_code": "LBB03"}, "LBB03"),  # sensitive: not on this anonymous channel
        ({"service_code": ""}, "service_code"),
        ({"lat": None, "long": None, "address_string": "福州路 100 号"}, "地址"),
        ({"lat": "abc"}, "lat"),
        ({"description": "长" * 2001}, "2000"),
        ({"media_url": "not a url"}, "media_url"),
    ],
)
def test_bad_requests_are_400_with_a_description(client, world, api_key, fields, words):
    point = fuzhou_point()
    data = {"api_key": api_key.raw, "service_code": "SJ0101", "lat": str(point.y), "long": str(point.x)}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    response = post(client, **data)
    assert response.status_code == 400
    (error,) = as_json(response)
    assert error["code"] == 400 and words in error["description"]
    assert not Case.objects.exists()


def test_outside_every_street_office_is_400(client, world, api_key):
    response = post(client, "xml", api_key=api_key.raw, service_code="SJ0101", lat="39.9", long="116.4")
    assert response.status_code == 400
    error = as_xml(response).find("error")
    assert error.findtext("code") == "400" and error.findtext("description")
    assert not Case.objects.exists()


def test_chinese_round_trips_in_xml_and_json_and_private_data_never_shows(client, world, api_key):
    point = point_on_street("北京西路", 121.4640)
    text = "北京西路人行道上有积存渣土，影响通行《请尽快处理》&<测试>"
    response = post(
        client,
        "xml",
        api_key=api_key.raw,
        service_code="SJ0102",
        lat=str(point.y),
        long=str(point.x),
        description=text,
        phone="13911112222",
        email="li@example.com",
        first_name="Xiaoming",
    )
    assert response.status_code == 201
    root = as_xml(response)
    assert root.tag == "service_requests"
    code = root.find("request").findtext("service_request_id")

    detail = as_xml(client.get(f"{BASE}/requests/{code}.xml")).find("request")
    assert detail.findtext("description") == text
    assert detail.findtext("status") == "open"
    assert detail.findtext("agency_responsible") == "西北社区环卫中队"
    assert "北京西路" in detail.findtext("address")
    assert abs(float(detail.findtext("lat")) - point.y) < 1e-5 and abs(float(detail.findtext("long")) - point.x) < 1e-5
    expected = datetime.fromisoformat(detail.findtext("expected_datetime"))
    assert expected.utcoffset() is not None
    # Open311 gives whole seconds; a deadline counted from a report inside working hours has microseconds
    assert expected == Case.objects.get(tracking_code=code).deadline.replace(microsecond=0)
    assert datetime.fromisoformat(detail.findtext("requested_datetime")).utcoffset() is not None

    (as_dict,) = as_json(client.get(f"{BASE}/requests/{code}.json"))
    assert as_dict["description"] == text
    for raw in (client.get(f"{BASE}/requests/{code}.json").content, client.get(f"{BASE}/requests.xml").content):
        body = raw.decode("utf-8")
        assert text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in body or text in body
        for private in ("13911112222", "li@example.com", "Xiaoming"):
            assert private not in body


def test_get_request_unknown_or_sensitive_is_404(client, world):
    sensitive = report_case(category_code="LBB03", point=fuzhou_point(), description="敏感").case
    for code in ("ZZZZZZZZZZ", sensitive.tracking_code):
        response = client.get(f"{BASE}/requests/{code}.json")
        assert response.status_code == 404
        assert as_json(response)[0]["code"] == 404
    listed = as_json(client.get(f"{BASE}/requests.json"))
    assert sensitive.tracking_code not in {r["service_request_id"] for r in listed}


def test_list_filters(client, world, api_key):
    now = timezone.now()
    west = point_on_street("北京西路", 121.4640)
    old = report_case(category_code="SJ0101", point=west, description="旧", now=now - timedelta(days=120)).case
    recent = report_case(category_code="SJ0101", point=west, description="新", now=now - timedelta(days=2)).case
    other = report_case(category_code="SJ0201", point=west, description="小广告", now=now - timedelta(days=1)).case

    def ids(**params):
        response = client.get(f"{BASE}/requests.json", params)
        assert response.status_code == 200, response.content
        return {r["service_request_id"] for r in as_json(response)}

    assert ids() == {recent.tracking_code, other.tracking_code}  # default: the last 90 days
    assert ids(service_code="SJ0201") == {other.tracking_code}
    assert ids(service_request_id=f"{old.tracking_code},{other.tracking_code}") == {
        old.tracking_code,
        other.tracking_code,
    }
    start = timezone.localtime(now - timedelta(days=200)).isoformat()
    end = timezone.localtime(now - timedelta(days=100)).isoformat()
    assert ids(start_date=start, end_date=end) == {old.tracking_code}
    assert ids(status="closed") == set()
    assert ids(status="open") == {recent.tracking_code, other.tracking_code}
    # an offset PostgreSQL would refuse (found by fuzzing: a 500 before), an impossible date, a year 1 that
    # leaves the calendar once in UTC
    assert ids(start_date="0182-05-31T18:13:59.9+18:04") == {
        old.tracking_code,
        recent.tracking_code,
        other.tracking_code,
    }
    for bad in (
        {"status": "pending"},
        {"start_date": "yesterday"},
        {"start_date": "2026-02-30T00:00:00"},
        {"start_date": "0001-01-01T00:00:00+08:00"},
    ):
        response = client.get(f"{BASE}/requests.xml", bad)
        assert response.status_code == 400
        assert as_xml(response).find("error").findtext("code") == "400"


def test_rate_limit_per_key(client, world, api_key):
    from django.core.cache import cache

    cache.clear()
    api_key.rate_per_hour = 1
    api_key.save()
    point = fuzhou_point()
    fields = dict(api_key=api_key.raw, service_code="SJ0101", lat=str(point.y), long=str(point.x))
    assert post(client, **fields, description="一").status_code == 201
    response = post(client, **fields, description="二")
    assert response.status_code == 429
    assert as_json(response)[0]["code"] == 429
    cache.clear()
