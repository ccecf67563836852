"""The squad map (/squad/): a squad's open dispatches, earliest deadline first, with the cases app's traffic light;
only for people who may see them."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, Status
from cases.selectors import case_clock
from maps.tests.conftest import make_user, point_on, report

pytestmark = pytest.mark.django_db

STREET_ORDER = "SJ0402"  # 占道经营: owner street_order (市容), 4 working hours
STREET_ORDER_LONG = "SJ0104"  # 私搭乱建: owner street_order, 15 working days
SANITATION = "SJ0101"  # 暴露垃圾: owner sanitation (环卫)


def rows(html: str) -> list[tuple[int, str]]:
    return [(int(i), light) for i, light in re.findall(r'data-case-id="(\d+)" data-light="(\w*)"', html)]


def map_points(html: str) -> list[dict]:
    config = re.search(r'<script id="squad-config" type="application/json">(.*?)</script>', html, re.S).group(1)
    return json.loads(config)["points"]


@pytest.fixture
def squad_cases(place):
    now = timezone.now()
    where = point_on(place.fuzhou_w, 0.3)
    old = report(STREET_ORDER, where, now=now - timedelta(days=10), contact="13999998888")
    fresh = report(STREET_ORDER_LONG, point_on(place.hubei, 0.5), now=now)
    other = report(SANITATION, where, now=now)
    closed = report(STREET_ORDER, where, now=now - timedelta(days=1))
    Case.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    street_order = place.squads["street_order"]
    assert {old.squad_id, fresh.squad_id, closed.squad_id} == {street_order.pk}
    assert other.squad_id == place.squads["sanitation"].pk
    return {"old": old, "fresh": fresh, "other": other, "closed": closed}


def test_squad_map_needs_a_login(client, place):
    response = client.get(reverse("squad-map"))
    assert response.status_code == 302 and "next=" in response["Location"]


def test_people_without_a_squad_or_area_are_refused(client, place):
    client.force_login(make_user("nobody01"))
    assert client.get(reverse("squad-map")).status_code == 403


def test_member_sees_the_squads_open_dispatches_earliest_deadline_first(client, place, squad_cases):
    client.force_login(make_user("member01", squad=place.squads["street_order"]))
    response = client.get(reverse("squad-map"))
    assert response.status_code == 200
    html = response.content.decode()
    listed = rows(html)
    open_ids = [squad_cases["old"].pk, squad_cases["fresh"].pk]
    assert [i for i, _ in listed] == open_ids  # the overdue one first; closed and other squads' cases absent
    now = timezone.now()
    for case_id, light in listed:
        case = Case.objects.select_related("category").get(pk=case_id)
        assert light == case_clock(case, now=now).light
    assert dict(listed)[squad_cases["old"].pk] == "red"  # ten days old with a 4-hour limit
    assert dict(listed)[squad_cases["fresh"].pk] == "green"  # just filed with 15 working days
    points = map_points(html)
    assert [p["id"] for p in points] == open_ids
    assert points[0]["lat"] == pytest.approx(squad_cases["old"].point.y, abs=1e-6)
    assert "13999998888" not in html  # the reporter's contact stays with the case page


def test_member_cannot_open_another_squad(client, place, squad_cases):
    client.force_login(make_user("member02", squad=place.squads["street_order"]))
    html = client.get(reverse("squad-map"), {"squad": place.squads["sanitation"].pk}).content.decode()
    assert squad_cases["other"].pk not in [i for i, _ in rows(html)]
    assert place.squads["street_order"].name in html


def test_street_office_staff_choose_among_its_squads(client, place, squad_cases):
    client.force_login(make_user("staff001", staff_area=place.so))
    html = client.get(reverse("squad-map"), {"squad": place.squads["sanitation"].pk}).content.decode()
    assert [i for i, _ in rows(html)] == [squad_cases["other"].pk]
    for squad in place.squads.values():
        assert f'<option value="{squad.pk}"' in html
