"""A small world for the statistics tests: test areas in Huangpu (NOT real boundaries: two street offices split
at longitude 121.4770, street office W holding two communities), three squads, one lane on the real 福州路
(from the OSM extract via the cases test helpers, © OpenStreetMap contributors, ODbL), and helpers to write
cases and their events with known timestamps straight through the ORM (the workflow itself is tested in cases)."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, LineString, MultiLineString, Point

from cases.tests.conftest import box, osm_streets

TZ = ZoneInfo(settings.TIME_ZONE)
WEEK = dt.date(2026, 11, 16)  # a Monday: ISO week 2026-W47, [16 Nov, 23 Nov)
_codes = itertools.count(1)


def at(day: int, hour: int = 10, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=TZ)


@pytest.fixture
def world(db):
    from cases.models import Category
    from cases.seed import seed_categories
    from grid.models import Area
    from lanes.models import Lane
    from people.models import Department, Squad, SquadKind, WorkGroup

    seed_categories(Category)
    src = "测试用示意边界，非官方"
    w = SimpleNamespace()
    w.category = Category.objects.reportable().exclude(owner__in=["community", "street_office"]).first()
    w.district = Area.objects.create(
        level="district", code="310199", name="统计测试区", geom=box(121.455, 31.215, 121.492, 31.245), source=src
    )
    w.so_w = Area.objects.create(
        level="street_office",
        code="310199001",
        name="统计西街道",
        parent=w.district,
        geom=box(121.455, 31.215, 121.477, 31.245),
        source=src,
    )
    w.so_e = Area.objects.create(
        level="street_office",
        code="310199002",
        name="统计东街道",
        parent=w.district,
        geom=box(121.477, 31.215, 121.492, 31.245),
        source=src,
    )
    w.c_n = Area.objects.create(
        level="community",
        code="310199001001",
        name="统计北社区",
        parent=w.so_w,
        geom=box(121.455, 31.230, 121.477, 31.245),
        source=src,
    )
    w.c_s = Area.objects.create(
        level="community",
        code="310199001002",
        name="统计南社区",
        parent=w.so_w,
        geom=box(121.455, 31.215, 121.477, 31.230),
        source=src,
    )
    kind = SquadKind.objects.filter(code="sanitation").first() or SquadKind.objects.create(
        code="sanitation", name="环卫", order=20
    )
    w.sq_a = Squad.objects.create(name="统计甲中队", kind=kind, street_office=w.so_w)
    w.sq_b = Squad.objects.create(name="统计乙中队", kind=kind, street_office=w.so_e)
    w.sq_c = Squad.objects.create(name="统计丙中队", kind=kind, street_office=w.so_e)
    street = osm_streets()["福州路"]
    w.lane = Lane.objects.create(
        name="福州路",
        geom=MultiLineString(*[GEOSGeometry(g.wkt) for g in street.geoms], srid=settings.GEO_SRID),
        source_key="stats-test:福州路",
    )
    w.lane2 = Lane.objects.create(
        name="统计测试巷",  # a made-up test lane, not a real street
        geom=MultiLineString(LineString((121.480, 31.236), (121.483, 31.236)), srid=settings.GEO_SRID),
        source_key="stats-test:lane2",
    )
    # Departments answer for the lanes of their work groups: X holds 福州路, Y holds 福州路 and the test lane,
    # Z holds none.
    w.dep_x = Department.objects.create(name="统计甲部门", code="SD01", street_office=w.so_w)
    w.dep_y = Department.objects.create(name="统计乙部门", code="SD02", street_office=w.so_e)
    w.dep_z = Department.objects.create(name="统计丙部门", code="SD03")
    WorkGroup.objects.create(name="甲一组", department=w.dep_x).lanes.add(w.lane)
    WorkGroup.objects.create(name="乙一组", department=w.dep_y).lanes.add(w.lane, w.lane2)
    WorkGroup.objects.create(name="乙二组", department=w.dep_y).lanes.add(w.lane)  # two groups, one lane: once
    w.point_w = Point(121.466, 31.238, srid=settings.GEO_SRID)  # in community N of street office W
    w.point_e = Point(121.485, 31.238, srid=settings.GEO_SRID)
    return w


def make_case(
    w,
    *,
    squad,
    created,
    status="accepted",
    deadline=None,
    closed=None,
    office=None,
    community=None,
    point=None,
    lane=None,
    category=None,
    reporter=None,
):
    from cases.models import Case

    office = office or squad.street_office
    return Case.objects.create(
        tracking_code=f"ST{next(_codes):08d}",
        category=category or w.category,
        lane=lane,
        reporter=reporter,
        point=point or (w.point_w if office == w.so_w else w.point_e),
        street_office=office,
        community=community if community is not None else (w.c_n if office == w.so_w else None),
        owner_queue="squad",
        squad=squad,
        status=status,
        created_at=created,
        dispatched_at=created,
        deadline=deadline,
        closed_at=closed,
    )


def event(case, *, action, when, to_status, data=None):
    from cases.models import CaseEvent

    return CaseEvent.objects.create(case=case, at=when, action=action, to_status=to_status, data=data or {})
