"""A small real world for the case tests: every named street of the OSM extract (data/osm/shanghai_huangpu.osm,
© OpenStreetMap contributors, ODbL; read here with xml.etree, independently of the importer) as lanes, hand-made
test areas around them (NOT real boundaries: two street offices split at longitude 121.4770, each cut into a
north and a south community at latitude 31.2300, one 100 m grid cell), squads with known service areas, and the
people of every role. Built once per test module (committed, then removed), so each test's own changes roll back.

Squads:
    市容 (street_order): 西街道市容中队 serves street office W; 东街道市容中队 serves street office E
    环卫 (sanitation): 福州路环卫中队 is named for the lane 福州路; 网格环卫中队 serves the grid cell; 西北社区环卫中队
                       serves community W-N; 西街道环卫中队 serves street office W; nobody serves E
    市政 (municipal): none (cases go to the street office queue)
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point, Polygon
from shapely.geometry import LineString as ShapelyLine
from shapely.geometry import MultiLineString as ShapelyMulti
from shapely.geometry import Point as ShapelyPoint

OSM_CANDIDATES = [
    Path(settings.BASE_DIR) / "data" / "osm" / "shanghai_huangpu.osm",
    Path("/work/shared/data/shanghai_huangpu.osm"),
]
STREET_HIGHWAYS = {
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "primary_link",
    "secondary_link",
    "tertiary_link",
}
SPLIT_LON = 121.4770  # between street offices W and E
SPLIT_LAT = 31.2300  # between the north and south communities
BBOX = (121.455, 31.215, 121.492, 31.245)
CELL_CENTRE = (121.4660, 31.2380)  # grid cell 310101901001001, about 100 m square, in community W-N
PASSWORD = "pw-cases-123"


@lru_cache(maxsize=1)
def osm_streets() -> dict[str, ShapelyMulti]:
    path = next(p for p in OSM_CANDIDATES if p.exists())
    root = ET.parse(path).getroot()
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    by_name: dict[str, list] = defaultdict(list)
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if tags.get("highway") in STREET_HIGHWAYS and tags.get("name"):
            coords = [nodes[nd.get("ref")] for nd in way.iter("nd")]
            if len(coords) >= 2:
                by_name[tags["name"]].append(ShapelyLine(coords))
    return {name: ShapelyMulti(lines) for name, lines in by_name.items()}


def point_on_street(name: str, lon: float) -> Point:
    """A point on the real street `name` at longitude `lon` (where a north-south line crosses it)."""
    street = osm_streets()[name]
    cut = ShapelyLine([(lon, 31.0), (lon, 31.5)]).intersection(street)
    pts = [g for g in getattr(cut, "geoms", [cut]) if not g.is_empty]
    if not pts:
        raise AssertionError(f"{name} does not cross longitude {lon}")
    p = pts[0] if isinstance(pts[0], ShapelyPoint) else pts[0].representative_point()
    return Point(p.x, p.y, srid=settings.GEO_SRID)


def box(x0, y0, x1, y1) -> MultiPolygon:
    return MultiPolygon(Polygon.from_bbox((x0, y0, x1, y1)), srid=settings.GEO_SRID)


@dataclass
class World:
    district: object = None
    so_w: object = None
    so_e: object = None
    c_wn: object = None
    c_ws: object = None
    c_en: object = None
    c_es: object = None
    cell: object = None
    lanes: dict = field(default_factory=dict)
    squads: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)


def _user(username, **extra):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)
    return user


def _person(user, name):
    from people.models import Person

    return Person.objects.create(name=name, user=user)


def build_world() -> World:
    from django.contrib.auth.models import Group

    from cases.models import Category, StaffScope
    from cases.seed import seed_categories
    from grid.models import Area
    from lanes.models import Lane
    from people.models import ChiefAssignment, Role, Squad, SquadKind, SquadMembership

    seed_categories(Category)  # a flush by a transactional test elsewhere may have removed the seeded rows
    kinds = {}
    for code, name, order in (("street_order", "市容", 10), ("sanitation", "环卫", 20), ("municipal", "市政", 30)):
        kinds[code] = SquadKind.objects.filter(code=code).first() or SquadKind.objects.create(
            code=code, name=name, order=order
        )
    w = World()
    x0, y0, x1, y1 = BBOX
    src = "测试用示意边界，非官方"
    w.district = Area.objects.create(level="district", code="310101", name="测试区", geom=box(*BBOX), source=src)
    w.so_w = Area.objects.create(
        level="street_office",
        code="310101901",
        name="测试西街道",
        parent=w.district,
        geom=box(x0, y0, SPLIT_LON, y1),
        source=src,
    )
    w.so_e = Area.objects.create(
        level="street_office",
        code="310101902",
        name="测试东街道",
        parent=w.district,
        geom=box(SPLIT_LON, y0, x1, y1),
        source=src,
    )
    w.c_wn = Area.objects.create(
        level="community",
        code="310101901001",
        name="西北社区",
        parent=w.so_w,
        geom=box(x0, SPLIT_LAT, SPLIT_LON, y1),
        source=src,
    )
    w.c_ws = Area.objects.create(
        level="community",
        code="310101901002",
        name="西南社区",
        parent=w.so_w,
        geom=box(x0, y0, SPLIT_LON, SPLIT_LAT),
        source=src,
    )
    w.c_en = Area.objects.create(
        level="community",
        code="310101902001",
        name="东北社区",
        parent=w.so_e,
        geom=box(SPLIT_LON, SPLIT_LAT, x1, y1),
        source=src,
    )
    w.c_es = Area.objects.create(
        level="community",
        code="310101902002",
        name="东南社区",
        parent=w.so_e,
        geom=box(SPLIT_LON, y0, x1, SPLIT_LAT),
        source=src,
    )
    cx, cy = CELL_CENTRE
    w.cell = Area.objects.create(
        level="grid_cell",
        code="310101901001001",
        name="网格001",
        parent=w.c_wn,
        geom=box(cx - 0.00053, cy - 0.00045, cx + 0.00053, cy + 0.00045),
        source=src,
    )
    for name, geom in osm_streets().items():
        w.lanes[name] = Lane.objects.create(
            name=name, geom=GEOSGeometry(geom.wkt, srid=settings.GEO_SRID), source_key=f"test:{name}"
        )

    def squad(name, kind, *, areas=(), lanes=(), office=None):
        s = Squad.objects.create(name=name, kind=kinds[kind], street_office=office, duty_phone="0535-6000000")
        s.service_areas.set(areas)
        s.lanes.set(lanes)
        w.squads[name] = s
        return s

    squad("西街道市容中队", "street_order", areas=[w.so_w], office=w.so_w)
    squad("东街道市容中队", "street_order", areas=[w.so_e], office=w.so_e)
    squad("福州路环卫中队", "sanitation", lanes=[w.lanes["福州路"]], office=w.so_e)
    squad("网格环卫中队", "sanitation", areas=[w.cell], office=w.so_w)
    squad("西北社区环卫中队", "sanitation", areas=[w.c_wn], office=w.so_w)
    squad("西街道环卫中队", "sanitation", areas=[w.so_w], office=w.so_w)

    def member(username, squad_name, leader=False):
        user = _user(username)
        person = _person(user, username)
        SquadMembership.objects.create(squad=w.squads[squad_name], person=person, is_leader=leader)
        w.users[username] = user
        return user

    for short, squad_name in (
        ("sw_order", "西街道市容中队"),
        ("se_order", "东街道市容中队"),
        ("fz_san", "福州路环卫中队"),
        ("cell_san", "网格环卫中队"),
        ("cwn_san", "西北社区环卫中队"),
        ("sw_san", "西街道环卫中队"),
    ):
        member(f"{short}_leader", squad_name, leader=True)
        member(f"{short}_member", squad_name)

    def chief(username, lane_names):
        user = _user(username)
        person = _person(user, username)
        for lane_name in lane_names:
            ChiefAssignment.objects.create(
                person=person, role=Role.LANE_CHIEF, lane=w.lanes[lane_name], valid_from=date(2024, 1, 1)
            )
        w.users[username] = user
        return user

    chief("chief_fz", ["福州路", "汉口路"])
    chief("chief_jj", ["九江路"])
    chief("chief_bj", ["北京西路"])
    # A former chief of 福州路: appointment ended, so no rights any more.
    former = _user("chief_former")
    ChiefAssignment.objects.create(
        person=_person(former, "former"),
        role=Role.LANE_CHIEF,
        lane=w.lanes["福州路"],
        valid_from=date(2020, 1, 1),
        valid_to=date(2021, 12, 31),
    )
    w.users["chief_former"] = former

    for username, area in (("staff_w", w.so_w), ("staff_e", w.so_e), ("staff_cwn", w.c_wn)):
        user = _user(username)
        StaffScope.objects.create(user=user, area=area)
        w.users[username] = user
    admin = _user("district")
    admin.groups.add(Group.objects.get_or_create(name="district_admin")[0])
    w.users["district"] = admin
    w.users["outsider"] = _user("outsider")
    return w


def wipe_world() -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from grid.models import Area
    from lanes.models import Lane
    from people.models import ChiefAssignment, Person, Squad

    with connection.cursor() as cursor:
        # Case events refuse DELETE (append-only trigger); TRUNCATE is the deliberate wipe.
        cursor.execute(
            "TRUNCATE cases_attendance, cases_attachment, cases_caseevent, cases_case, cases_staffscope, "
            "cases_calendarday RESTART IDENTITY CASCADE"
        )
    Squad.objects.all().delete()
    ChiefAssignment.objects.all().delete()
    Person.objects.all().delete()
    get_user_model().objects.all().delete()
    Lane.objects.all().delete()
    for depth in (3, 2, 1, 0):
        Area.objects.filter(depth=depth).delete()


def clear_other_worlds() -> None:
    """Areas overlapping the test world would make routing ambiguous: remove a world left behind by an interrupted
    run (--reuse-db) and the demo data set if another test module left it loaded."""
    from cases.services import purge_all_cases
    from common.demo import demo_district, unload_demo
    from grid.models import Area

    if Area.objects.filter(code="310101").exists():
        wipe_world()
    district = demo_district()
    if district is not None and district.illustrative:
        purge_all_cases()
        unload_demo()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):

    with django_db_blocker.unblock():
        clear_other_worlds()
        w = build_world()
    yield w
    with django_db_blocker.unblock():
        wipe_world()


@pytest.fixture
def live_world(transactional_db):
    """The world committed for one transactional test (its teardown flushes every table, so it is rebuilt)."""
    clear_other_worlds()
    return build_world()


@pytest.fixture
def sent(monkeypatch):
    """Every notification the cases app sends, as (event, [recipient keys], payload, delivery_key). Calls go
    through to the notify app when it is installed (the real queue); the list lets tests check who was told."""
    from cases import notifications

    calls = []
    original = notifications.send

    def capture(*, event, recipients, payload, delivery_key):
        calls.append(
            SimpleNamespace(
                event=event, recipients=[(r.kind, r.id) for r in recipients], payload=payload, key=delivery_key
            )
        )
        try:
            from notify import services as notify_services  # noqa: F401
        except ImportError:
            return None
        if not hasattr(notify_services, "notify"):
            return None
        return original(event=event, recipients=recipients, payload=payload, delivery_key=delivery_key)

    monkeypatch.setattr(notifications, "send", capture)
    return calls


@pytest.fixture(autouse=True)
def media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return settings.MEDIA_ROOT


def jpeg_bytes(size=(64, 48), *, gps: tuple[float, float] | None = None, colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    img = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    if gps is not None:
        lon, lat = gps

        def dms(value):
            d = int(value)
            m = int((value - d) * 60)
            s = round((value - d - m / 60) * 3600, 4)
            return (float(d), float(m), s)

        exif.get_ifd(0x8825).update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def upload(name="photo.jpg", content: bytes | None = None, content_type="image/jpeg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content if content is not None else jpeg_bytes(), content_type)


def act(case, action, user, *, now, note="", photos=(), point=None, **params):
    """One workflow action on `case` at its current version (cases.services.transition)."""
    from cases import services

    case.refresh_from_db()
    return services.transition(
        case_id=case.pk,
        action=action,
        user=user,
        version=case.version,
        note=note,
        params=params,
        photos=photos,
        point=point,
        now=now,
    )
