"""Open311 on the demo data set (manage.py load_demo): a client files, lists and reads a request in both formats,
with Chinese text, and it lands in the demo organisation exactly as a report through the cases API would."""

import json
import xml.etree.ElementTree as ET

import pytest
from django.contrib.gis.geos import Point
from shapely import wkt as shapely_wkt

from cases.models import Case

pytestmark = pytest.mark.django_db
BASE = "/open311/v2"


@pytest.fixture
def raw_key(db):
    from open311.services import issue_api_key

    return issue_api_key(name="演示客户端")[1]


def _on_demo_lane():
    from lanes.models import Lane

    lane = Lane.objects.filter(name="福州路", community__isnull=False).order_by("pk").first()
    assert lane is not None, "the demo has 福州路"
    line = shapely_wkt.loads(lane.geom.wkt)
    parts = getattr(line, "geoms", [line])
    longest = max(parts, key=lambda g: g.length)
    p = longest.interpolate(0.5, normalized=True)  # halfway along the lane, away from junctions
    return lane, Point(p.x, p.y, srid=4326)


def test_a_client_session_on_the_demo(client, demo, raw_key):  # noqa: F811
    lane, point = _on_demo_lane()
    text = "福州路人行道上堆放装修垃圾，请清运"
    response = client.post(
        f"{BASE}/requests.xml",
        {
            "api_key": raw_key,
            "service_code": "SJ0102",
            "lat": f"{point.y:.7f}",
            "long": f"{point.x:.7f}",
            "description": text,
            "phone": "13700000000",
        },
    )
    assert response.status_code == 201, response.content.decode()
    code = ET.fromstring(response.content).findtext("request/service_request_id")
    case = Case.objects.get(tracking_code=code)
    assert case.lane.name == "福州路" and case.squad is not None

    # The same report through our own API: identical routing and deadline.
    own = client.post(
        "/api/cases/",
        {"category": "SJ0102", "lon": point.x, "lat": point.y, "description": "对照"},
        content_type="application/json",
    )
    assert own.status_code == 201, own.content.decode()
    twin = Case.objects.exclude(pk=case.pk).get(description="对照")
    assert (twin.squad, twin.owner_queue, twin.lane, twin.routing_reason) == (
        case.squad,
        case.owner_queue,
        case.lane,
        case.routing_reason,
    )
    assert list(twin.events.values_list("action", "to_status")) == list(case.events.values_list("action", "to_status"))

    (listed,) = [r for r in json.loads(client.get(f"{BASE}/requests.json").content) if r["service_request_id"] == code]
    assert listed["description"] == text and listed["agency_responsible"] == case.squad.name
    detail = ET.fromstring(client.get(f"{BASE}/requests/{code}.xml").content).find("request")
    assert detail.findtext("description") == text and detail.findtext("status") == "open"
    assert "13700000000" not in client.get(f"{BASE}/requests/{code}.json").content.decode()
