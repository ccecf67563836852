"""Test places for the map pages: the people app's test place (real OSM streets 福州路 and 湖北路 in illustrative
areas; see people/tests/conftest.py) with a lane chief who publishes an office phone, a volunteer chief who publishes
nothing, and the three squads of the street office."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

PRIVATE_PHONES = ("13800001111", "13800002222")


@pytest.fixture
def place(db):
    from people import services
    from people.tests.conftest import make_place

    p = make_place()
    cadre = services.person_create(
        name="王建国", title="科长", private_phone=PRIVATE_PHONES[0], public_phone="0535-6001234"
    )
    volunteer = services.person_create(name="李秀英", private_phone=PRIVATE_PHONES[1], is_volunteer=True)
    services.assign_lane_chief(person=cadre, lane=p.fuzhou_w, valid_from=date(2024, 1, 1), duties="包秩序、包环境")
    services.assign_lane_chief(person=volunteer, lane=p.hubei, valid_from=date(2024, 1, 1))
    squads = {
        kind: services.squad_create(name=f"南京东路街道{label}中队", kind=kind, duty_phone=phone, street_office=p.so)
        for kind, label, phone in (
            ("street_order", "市容", "021-63210001"),
            ("sanitation", "环卫", "021-63210002"),
            ("municipal", "市政", "021-63210003"),
        )
    }
    return SimpleNamespace(**vars(p), cadre=cadre, volunteer=volunteer, squads=squads)


def make_user(username: str, *, person=None, squad=None, leader: bool = False, staff_area=None, superuser=False):
    """A login for the map pages: optionally tied to a Person, a member of `squad`, or street office staff."""
    from django.contrib.auth import get_user_model

    from people import services

    user = get_user_model().objects.create_user(username=username, password="pw-maps-123", is_superuser=superuser)
    if person is None and squad is not None:
        person = services.person_create(name=f"队员{username[-2:]}")
    if person is not None:
        person.user = user
        person.save(update_fields=["user"])
    if squad is not None:
        services.squad_add_member(squad=squad, person=person, is_leader=leader)
    if staff_area is not None:
        from cases.models import StaffScope

        StaffScope.objects.create(user=user, area=staff_area)
    return user


def report(category_code: str, point, *, now=None, description: str = "测试问题", contact: str = "", lane=None):
    """File a case through the cases app's own service (routing and clock included), optionally naming the lane."""
    from cases.services import report_case

    return report_case(
        category_code=category_code,
        point=point,
        description=description,
        contact=contact,
        now=now,
        lane_id=lane.pk if lane is not None else None,
    ).case


def point_on(lane, fraction: float = 0.5):
    """A point on `lane` (its first part), `fraction` of the way along."""
    from django.contrib.gis.geos import Point
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_GeometryN(geom, 1), %s) AS p "
            "FROM lanes_lane WHERE id = %s) s",
            [fraction, lane.pk],
        )
        x, y = cur.fetchone()
    return Point(x, y, srid=4326)
