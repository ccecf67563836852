"""Cases on the demo data set (manage.py load_demo: illustrative 芝罘区 hierarchy derived from the real Shanghai
streets, lanes split at community borders, three squads per street office and two community squads that take over
inside their community, demo logins). Loaded for this module and removed after it."""

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command
from pyproj import Transformer
from shapely import wkt as shapely_wkt
from shapely.ops import transform

from cases import routing, services
from cases.models import Category, OwnerQueue, StaffScope, Status
from common.geo import utm_srid

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def demo_data(django_db_setup, django_db_blocker):
    from cases.models import Category as Cat
    from cases.seed import seed_categories
    from cases.tests.conftest import wipe_world
    from common.demo import unload_demo
    from grid.models import Area

    wipe_cases = services.purge_all_cases

    with django_db_blocker.unblock():
        if Area.objects.filter(code="310101").exists():
            wipe_world()
        wipe_cases()
        seed_categories(Cat)
        call_command("load_demo", "--reset", stdout=io.StringIO(), stderr=io.StringIO())
    yield
    with django_db_blocker.unblock():
        wipe_cases()
        StaffScope.objects.all().delete()
        unload_demo()


def _metric(lane_geom):
    """Shapely line in metres (local UTM) and the transformer back to WGS-84."""
    srid = utm_srid(lane_geom.centroid.x, lane_geom.centroid.y)
    fwd = Transformer.from_crs(4326, srid, always_xy=True).transform
    back = Transformer.from_crs(srid, 4326, always_xy=True).transform
    return transform(fwd, shapely_wkt.loads(lane_geom.wkt)), back


def _point_inside(lane, junction, metres):
    """A point `metres` along `lane` from its end at `junction`, going into the lane."""
    line, back = _metric(lane.geom)
    fwd = Transformer.from_crs(4326, utm_srid(junction.x, junction.y), always_xy=True).transform
    d = line.project(transform(fwd, shapely_wkt.loads(junction.wkt)))
    at = d + metres if d < line.length / 2 else d - metres
    p = transform(back, line.interpolate(at))
    return Point(p.x, p.y, srid=4326)


def _community_squad_and_boundary_pair():
    """The demo's community sanitation squad, its community C and street office O, the street office's own
    sanitation squad, and a named street crossing C's border: its lane piece in C and the touching piece outside."""
    from lanes.models import Lane
    from people.models import Squad

    squad = Squad.objects.get(kind__code="sanitation", service_areas__level="community")
    community = squad.service_areas.get()
    office = community.parent
    office_squad = Squad.objects.get(kind__code="sanitation", service_areas=office)
    for inside in Lane.objects.filter(community=community).order_by("name", "pk"):
        outside = (
            Lane.objects.filter(name=inside.name, community__parent=office)
            .exclude(community=community)
            .filter(geom__dwithin=(inside.geom, 0.00002))
            .first()
        )
        if outside is not None and inside.length_m > 60 and outside.length_m > 60:
            return squad, community, office, office_squad, inside, outside
    raise AssertionError("no street crosses the community border inside its street office")


def test_routing_on_both_sides_of_a_community_squads_border(demo_data):
    squad, community, office, office_squad, inside, outside = _community_squad_and_boundary_pair()
    junction_sh = shapely_wkt.loads(inside.geom.intersection(outside.geom.buffer(0.00002)).centroid.wkt)
    junction = Point(junction_sh.x, junction_sh.y, srid=4326)
    p_in = _point_inside(inside, junction, 20)
    p_out = _point_inside(outside, junction, 20)
    community_shape = shapely_wkt.loads(community.geom.wkt)
    assert community_shape.contains(shapely_wkt.loads(p_in.wkt))
    assert not community_shape.contains(shapely_wkt.loads(p_out.wkt))

    category = Category.objects.get(code="SJ0101")  # 暴露垃圾: sanitation
    place_in = routing.locate(p_in)
    place_out = routing.locate(p_out)
    route_in, route_out = routing.route(category, place_in), routing.route(category, place_out)
    assert place_in.community == community and place_out.community != community
    assert route_in.squad == squad and route_out.squad == office_squad
    assert community.code in route_in.reason and squad.name in route_in.reason
    assert office.code in route_out.reason and office_squad.name in route_out.reason


def test_a_case_through_the_demo_organisation(demo_data, sent):
    """Public report on a demo lane → the street office's 市容 squad (demo logins squad_member / squad_leader) →
    return to the street office queue → assigned back → accepted, overdue, supervised, escalated → resolved →
    re-checked by the demo's street office staff → closed."""
    from django.contrib.auth import get_user_model

    from lanes.models import Lane
    from people.models import Squad

    User = get_user_model()
    member, leader = User.objects.get(username="squad_member"), User.objects.get(username="squad_leader")
    squad = Squad.objects.get(memberships__person__user=member)
    office = squad.street_office
    staff = User.objects.get(username="street_staff")
    StaffScope.objects.get_or_create(user=staff, area=office)  # how the demo's street staff login is tied to its office
    assert squad.kind.code == "street_order"
    lane = Lane.objects.filter(community__parent=office).order_by("-length_m").first()
    line, back = _metric(lane.geom)
    longest = max(getattr(line, "geoms", [line]), key=lambda g: g.length)
    mid = transform(back, longest.interpolate(longest.length / 2))
    t0 = datetime(2026, 11, 23, 9, 30, tzinfo=TZ)
    case = services.report_case(category_code="SJ0402", point=Point(mid.x, mid.y, srid=4326), now=t0).case
    assert case.squad == squad and case.lane == lane and case.street_office == office

    def act(action, user, t, **kw):
        case.refresh_from_db()
        return services.transition(case_id=case.pk, action=action, user=user, version=case.version, now=t, **kw)

    act("return", leader, t0 + timedelta(minutes=5), note="不是本队辖区")
    case.refresh_from_db()
    assert case.owner_queue == OwnerQueue.STREET_OFFICE and office.code in case.routing_reason
    act("assign", staff, t0 + timedelta(minutes=10), params={"squad": squad.pk}, note="仍由本队办理")
    act("accept", member, t0 + timedelta(minutes=15))
    supervised = services.sweep_overdue(now=t0 + timedelta(days=1))
    assert supervised.supervised == [case.pk]
    escalated = services.sweep_overdue(now=t0 + timedelta(days=3))
    assert escalated.escalated == [case.pk]
    assert [n.event for n in sent][-2:] == ["case.supervision", "case.escalation"]
    from cases.tests.conftest import upload

    act("resolve", member, t0 + timedelta(days=3, hours=1), note="已劝离", photos=[upload()])
    act("recheck_pass", staff, t0 + timedelta(days=3, hours=2))
    act("close", staff, t0 + timedelta(days=3, hours=2))
    case.refresh_from_db()
    assert case.status == Status.CLOSED and case.supervision_level == 2
