"""Real lanes and synthetic GPS walks for the patrol tests.

Lanes: the real OSM extract (data/osm/shanghai_huangpu.osm, © OpenStreetMap contributors, ODbL) imported with the
project's importer (lanes.importers.osm) into an illustrative hierarchy: one district split into two street
offices (west / east of 121.4735 E), each split into two communities (north / south of 31.2305 N). The boundaries
are made up for the tests; lanes are cut at them by the importer, and Lane.community is set by the triggers.

Walks: a path along real lane geometry (projected to UTM 51N, EPSG:32651, where 1 unit = 1 m), sampled every
few metres at a walking/cycling pace, with gaussian noise (fixed seed) on every fix, as a phone records it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely
from django.conf import settings
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString
from shapely.ops import linemerge, substring

if TYPE_CHECKING:
    from people.models import Department, Person, WorkGroup

OSM_PATH = Path(settings.BASE_DIR) / "data" / "osm" / "shanghai_huangpu.osm"
TZ = ZoneInfo("Asia/Shanghai")
TO_UTM = Transformer.from_crs(4326, 32651, always_xy=True)
TO_WGS = Transformer.from_crs(32651, 4326, always_xy=True)
SPLIT_LON, SPLIT_LAT = 121.4735, 31.2305
BBOX = (121.455, 31.214, 121.492, 31.247)


def utm(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(TO_UTM.transform(xy[:, 0], xy[:, 1])))


def wgs(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(TO_WGS.transform(xy[:, 0], xy[:, 1])))


def lane_shape(lane):
    """The lane as a shapely geometry in UTM metres."""
    return utm(shapely.from_wkb(bytes(lane.geom.wkb)))


def single_line(lane) -> LineString | None:
    """The lane as one LineString (UTM) when its parts merge into one, else None."""
    shape = lane_shape(lane)
    merged = linemerge(shape) if isinstance(shape, MultiLineString) else shape
    return merged if isinstance(merged, LineString) else None


def _rect(x0, y0, x1, y1):
    from django.contrib.gis.geos import MultiPolygon, Polygon

    return MultiPolygon(Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))), srid=4326)


def build_hierarchy():
    from grid.models import Area, Level

    x0, y0, x1, y1 = BBOX
    district = Area.objects.create(
        level=Level.DISTRICT, code="310101", name="测试区", geom=_rect(*BBOX), illustrative=True, source="tests"
    )
    offices = []
    for i, (ax0, ax1) in enumerate(((x0, SPLIT_LON), (SPLIT_LON, x1)), start=1):
        so = Area.objects.create(
            level=Level.STREET_OFFICE,
            code=f"310101{i:03d}",
            name=f"测试街道{i}",
            parent=district,
            geom=_rect(ax0, y0, ax1, y1),
            illustrative=True,
            source="tests",
        )
        offices.append(so)
        for j, (ay0, ay1) in enumerate(((SPLIT_LAT, y1), (y0, SPLIT_LAT)), start=1):
            Area.objects.create(
                level=Level.COMMUNITY,
                code=f"{so.code}{j:03d}",
                name=f"测试社区{i}-{j}",
                parent=so,
                geom=_rect(ax0, ay0, ax1, ay1),
                illustrative=True,
                source="tests",
            )
    return offices


def wipe():
    from grid.models import Area
    from lanes.models import Lane
    from patrols.models import DailyReport, LaneDayCoverage, Patrol
    from people.models import ChiefAssignment, Department, Person, WorkGroup

    DailyReport.objects.all().delete()
    LaneDayCoverage.objects.all().delete()
    Patrol.objects.all().delete()
    ChiefAssignment.objects.all().delete()
    WorkGroup.objects.all().delete()
    Person.objects.all().delete()
    Department.objects.all().delete()
    Lane.objects.all().delete()
    for depth in (3, 2, 1, 0):
        Area.objects.filter(depth=depth).delete()


@pytest.fixture(scope="module")
def city(django_db_setup, django_db_blocker):
    """The real lanes in an illustrative district; kept for the test module, removed at its end."""
    from django.db import connection

    from lanes.importers.osm import import_osm

    with django_db_blocker.unblock():
        # pytest-django sets up the test database only when a collected test is marked for database use; without
        # one, the connection still points at the real database. Never wipe that.
        name = connection.settings_dict["NAME"]
        if not str(name).startswith("test"):
            pytest.fail(f"refusing to write test data to database {name!r}: mark the tests with django_db")
        from grid.models import Area

        foreign = Area.objects.exclude(source="tests").count()
        if foreign:
            pytest.fail(
                f"the test database holds {foreign} areas these tests did not make (the demo?): the patrol tests "
                "build their own district; run them when no other fixture data is loaded"
            )
        wipe()
        offices = build_hierarchy()
        report = import_osm(OSM_PATH, commit=True)
        yield {"offices": offices, "report": report}
        wipe()


# ---------------------------------------------------------------------------------------------------------------
# Walks


@dataclass
class Fixes:
    lon: np.ndarray
    lat: np.ndarray
    t: list[datetime]
    true_path: LineString  # UTM, noise-free

    def __len__(self):
        return len(self.t)


def walk(
    path_utm: LineString,
    *,
    start: datetime,
    step_m: float = 5.0,
    speed_mps: float = 1.4,
    sigma_m: float = 6.0,
    corr: float = 0.8,
    seed: int = 7,
) -> Fixes:
    """Fixes every `step_m` metres along `path_utm` at `speed_mps`, each displaced by gaussian noise (σ metres)."""
    rng = np.random.default_rng(seed)
    n = max(2, int(path_utm.length // step_m) + 1)
    dist = np.linspace(0.0, path_utm.length, n)
    pts = np.array([path_utm.interpolate(d).coords[0] for d in dist])
    # GPS error drifts rather than jumping independently from fix to fix: an AR(1) process whose every fix is
    # gaussian with standard deviation sigma_m, correlated `corr` with the previous one.
    noise = np.empty_like(pts)
    noise[0] = rng.normal(0.0, sigma_m, size=2)
    for i in range(1, n):
        noise[i] = corr * noise[i - 1] + rng.normal(0.0, sigma_m * np.sqrt(1 - corr**2), size=2)
    pts = pts + noise
    lon, lat = TO_WGS.transform(pts[:, 0], pts[:, 1])
    times = [start + timedelta(seconds=float(d / speed_mps)) for d in dist]
    return Fixes(np.asarray(lon), np.asarray(lat), times, path_utm)


def with_jumps(fixes: Fixes, *, at: list[int], offset_m: float = 600.0) -> Fixes:
    """Copies of `fixes` where the fixes at indexes `at` jump `offset_m` metres north-east (one-fix GPS jumps)."""
    lon, lat = fixes.lon.copy(), fixes.lat.copy()
    for i in at:
        x, y = TO_UTM.transform(lon[i], lat[i])
        lon[i], lat[i] = TO_WGS.transform(x + offset_m * 0.7071, y + offset_m * 0.7071)
    return Fixes(lon, lat, list(fixes.t), fixes.true_path)


def part(line: LineString, start_share: float, end_share: float) -> LineString:
    return substring(line, start_share * line.length, end_share * line.length)


def gpx(fixes: Fixes, *, times: bool = True) -> bytes:
    rows = []
    for lon, lat, t in zip(fixes.lon, fixes.lat, fixes.t, strict=True):
        when = f"<time>{t.astimezone(ZoneInfo('UTC')).strftime('%Y-%m-%dT%H:%M:%SZ')}</time>" if times else ""
        rows.append(f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>5</ele>{when}</trkpt>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="tests" xmlns="http://www.topografix.com/GPX/1/1">'
        "<trk><name>巡查</name><trkseg>" + "".join(rows) + "</trkseg></trk></gpx>"
    ).encode()


def geojson(fixes: Fixes, *, times: bool = True, coords=None) -> bytes:
    coords = coords if coords is not None else [[float(x), float(y)] for x, y in zip(fixes.lon, fixes.lat, strict=True)]
    props = {"coordTimes": [t.isoformat() for t in fixes.t]} if times else {}
    return json.dumps(
        {"type": "Feature", "properties": props, "geometry": {"type": "LineString", "coordinates": coords}}
    ).encode()


# ---------------------------------------------------------------------------------------------------------------
# People: two departments, three work groups, a lane chief (see `world`)

WORLD_DAY = date(2025, 3, 5)


def lane_named(name: str):
    """The longest single-line lane of that name (a street may be cut into lanes at community borders)."""
    from lanes.models import Lane

    lanes = [(single_line(lane), lane) for lane in Lane.objects.filter(name=name)]
    return max(((line.length, lane) for line, lane in lanes if line is not None), key=lambda x: x[0])[1]


@dataclass
class World:
    so_west: object
    so_east: object
    d1: Department
    d2: Department
    wg1: WorkGroup
    wg2: WorkGroup
    wg3: WorkGroup
    p1: Person
    p2: Person
    p3: Person
    leader1: Person
    leader2: Person
    lanes: dict


@pytest.fixture
def world(city, db) -> World:
    """Department 区城管局 (east street office): 第一组 holds A 福州路, B 汉口路, C 广东路 (leader 组长一, member
    干部甲); 第二组 holds E 天津路 (组长二, 干部乙). Department 区住建局 (west): 背街组 holds G 南昌路 (no leader);
    街巷长丙 of 区住建局 is lane chief of F 凤阳路."""
    from django.contrib.auth import get_user_model

    from people.models import ChiefAssignment, Department, Person, WorkGroup

    so_west, so_east = city["offices"]
    lanes = {
        k: lane_named(n)
        for k, n in dict(A="福州路", B="汉口路", C="广东路", E="天津路", F="凤阳路", G="南昌路").items()
    }
    d1 = Department.objects.create(name="区城管局", street_office=so_east)
    d2 = Department.objects.create(name="区住建局", street_office=so_west)
    users = get_user_model().objects
    leader1 = Person.objects.create(
        name="组长一", department=d1, user=users.create_user("leader1", password="x-Secret-1")
    )
    leader2 = Person.objects.create(
        name="组长二", department=d1, user=users.create_user("leader2", password="x-Secret-1")
    )
    p1 = Person.objects.create(name="干部甲", department=d1, user=users.create_user("p1", password="x-Secret-1"))
    p2 = Person.objects.create(name="干部乙", department=d1, user=users.create_user("p2", password="x-Secret-1"))
    p3 = Person.objects.create(name="街巷长丙", department=d2, user=users.create_user("p3", password="x-Secret-1"))
    wg1 = WorkGroup.objects.create(name="第一组", department=d1, leader=leader1)
    wg1.members.set([p1])
    wg1.lanes.set([lanes["A"], lanes["B"], lanes["C"]])
    wg2 = WorkGroup.objects.create(name="第二组", department=d1, leader=leader2)
    wg2.members.set([p2])
    wg2.lanes.set([lanes["E"]])
    wg3 = WorkGroup.objects.create(name="背街组", department=d2)
    wg3.lanes.set([lanes["G"]])
    ChiefAssignment.objects.create(person=p3, lane=lanes["F"], valid_from=WORLD_DAY - timedelta(days=10))
    return World(so_west, so_east, d1, d2, wg1, wg2, wg3, p1, p2, p3, leader1, leader2, lanes)


def morning(day, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=TZ)
