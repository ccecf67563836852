"""The demo data set (manage.py load_demo) on the real OSM extract and the real 芝罘区 names and codes."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from grid.models import Area
from lanes.models import Lane
from people.models import ChiefAssignment, Department, Person, Role, Squad, SquadMembership, WorkGroup

pytestmark = pytest.mark.django_db

DATA = settings.BASE_DIR / "data"
STREET_HIGHWAYS = {
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential", "living_street",
    "service", "pedestrian", "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
}  # fmt: skip


def osm_street_names() -> set[str]:
    """Distinct names of the extract's street ways, read with the standard library (not the importer)."""
    names = set()
    for way in ET.parse(DATA / "osm" / "shanghai_huangpu.osm").getroot().iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        name = tags.get("name") or tags.get("name:zh")
        if tags.get("highway") in STREET_HIGHWAYS and name:
            names.add(name)
    return names


def zhifu_rows(filename: str) -> dict[str, dict]:
    with (DATA / "zhifu" / filename).open(encoding="utf-8") as fh:
        return {row["code"]: row for row in csv.DictReader(fh)}


def sql_one(query: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def table_counts() -> dict[str, int]:
    from django.apps import apps

    return {
        model._meta.label: model.objects.count()
        for model in apps.get_models()
        if model._meta.app_label in ("grid", "lanes", "people", "auth")
    }


def test_hierarchy_uses_real_codes_and_names(demo):
    offices = list(Area.objects.street_offices().filter(code__startswith="370602"))
    communities = list(Area.objects.communities().filter(code__startswith="370602"))
    district = Area.objects.get(code="370602")
    assert (district.level, district.name, district.parent_id) == ("district", "芝罘区", None)
    assert 2 <= len(offices) <= 4  # about four street offices
    assert len(communities) >= 2 * len(offices)

    real_offices = zhifu_rows("zhifu_street_offices.csv")
    real_communities = zhifu_rows("zhifu_communities.csv")
    for office in offices:
        assert office.parent_id == district.pk
        assert re.fullmatch(r"370602\d{3}", office.code)
        assert real_offices[office.code]["name"] == office.name
    for community in communities:
        assert re.fullmatch(r"\d{12}", community.code)
        assert community.code.startswith(community.parent.code)
        row = real_communities[community.code]
        assert row["streetCode"] == community.parent.code
        assert row["name"].startswith(community.name.removesuffix("社区"))


def test_areas_nest_and_tile_their_parent(demo):
    # Every child lies inside its parent (up to 1 m² of numerical noise) ...
    outside = sql_one(
        """SELECT count(*) FROM grid_area c JOIN grid_area p ON p.id = c.parent_id
           WHERE c.code LIKE '370602%%' AND ST_Area(ST_Difference(c.geom, p.geom)::geography) > 1"""
    )[0]
    assert outside == 0
    # ... street offices and communities cover their parent without overlapping each other.
    for level in ("street_office", "community"):
        rows = sql_one(
            """SELECT min(p.area_m2 / s.total), max(p.area_m2 / s.total) FROM grid_area p JOIN (
                 SELECT parent_id, sum(area_m2) AS total FROM grid_area WHERE level = %s GROUP BY parent_id
               ) s ON s.parent_id = p.id WHERE p.code LIKE '370602%%'""",
            [level],
        )
        assert rows[0] == pytest.approx(1.0, abs=1e-4) and rows[1] == pytest.approx(1.0, abs=1e-4)
        overlap = sql_one(
            """SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0) FROM grid_area a
               JOIN grid_area b ON a.parent_id = b.parent_id AND a.id < b.id AND ST_Intersects(a.geom, b.geom)
               WHERE a.level = %s AND a.code LIKE '370602%%'""",
            [level],
        )[0]
        assert overlap < 1.0


def test_every_community_has_100m_grid_cells(demo):
    for community in Area.objects.communities().filter(code__startswith="370602"):
        cells = Area.objects.grid_cells().filter(parent=community)
        assert cells.exists(), community
        assert all(re.fullmatch(re.escape(community.code) + r"\d{3}", c.code) for c in cells)
        # No cell is bigger than a 100 m × 100 m square (1 % slack for the projection).
        assert max(c.area_m2 for c in cells) <= 10_100


def test_boundaries_are_marked_illustrative(demo):
    areas = Area.objects.filter(code__startswith="370602")
    assert areas.count() == demo.counts["grid_cells"] + demo.counts["communities"] + demo.counts["street_offices"] + 1
    assert not areas.filter(illustrative=False).exists()
    for source in areas.values_list("source", flat=True).distinct():
        assert "OpenStreetMap" in source and "非官方" in source


def test_all_street_names_are_lanes_in_a_community(demo):
    names = osm_street_names()
    assert len(names) == 147
    assert set(Lane.objects.values_list("name", flat=True)) == names
    assert not Lane.objects.filter(community__isnull=True).exists()


def test_every_lane_has_a_current_chief(demo):
    today = timezone.localdate()
    current = ChiefAssignment.objects.on(today).filter(role=Role.LANE_CHIEF)
    assert Lane.objects.exists()
    assert not Lane.objects.exclude(pk__in=current.values("lane")).exists()
    # History: some lanes had another chief in 2023, so "who was the chief on 3 March 2023" has an answer.
    before = ChiefAssignment.objects.on(date(2023, 3, 3)).filter(role=Role.LANE_CHIEF)
    assert before.exists()
    for old in before:
        assert not current.filter(lane=old.lane, person=old.person).exists()


def test_people_are_fictitious_and_volunteers_keep_their_mobiles_private(demo):
    people = Person.objects.all()
    assert people.count() == demo.counts["people"]
    for person in people:
        assert person.private_phone == "" or re.fullmatch(r"1380000\d{4}", person.private_phone), person
        assert person.public_phone == "" or re.fullmatch(r"0535-6\d{6}|1380000\d{4}", person.public_phone)
    volunteers = ChiefAssignment.objects.filter(role=Role.LANE_CHIEF, person__is_volunteer=True)
    assert volunteers.filter(person__public_phone="").exists()
    cadres = ChiefAssignment.objects.filter(role=Role.LANE_CHIEF, person__is_volunteer=False)
    assert cadres.exists() and not cadres.filter(person__department__isnull=True).exists()


def test_departments_area_leaders_and_general_chiefs(demo):
    today = timezone.localdate()
    offices = Area.objects.street_offices().filter(code__startswith="370602")
    for office in offices:
        generals = ChiefAssignment.objects.on(today).filter(role=Role.GENERAL_LANE_CHIEF, area=office)
        assert generals.count() == 1
    for community in Area.objects.communities().filter(code__startswith="370602"):
        leaders = ChiefAssignment.objects.on(today).filter(role=Role.AREA_LEADER, area=community)
        assert leaders.count() == 1
        department = leaders.get().person.department
        assert department is not None and department.street_office_id == community.parent_id


def test_work_groups_cover_every_lane_once(demo):
    lane_groups = WorkGroup.lanes.through.objects.values_list("lane_id", flat=True)
    assert sorted(lane_groups) == sorted(Lane.objects.values_list("pk", flat=True))
    sizes = [group.lanes.count() for group in WorkGroup.objects.all()]
    assert max(sizes) <= 6
    assert sum(4 <= s <= 6 for s in sizes) >= 0.8 * len(sizes)
    for group in WorkGroup.objects.select_related("leader"):
        assert group.leader is not None and group.members.filter(pk=group.leader.pk).exists()
        # The group patrols lanes of its department's street office.
        assert not group.lanes.exclude(community__parent=group.department.street_office).exists()


def test_three_squads_per_street_office_and_a_community_override(demo):
    kinds = {"street_order", "sanitation", "municipal"}
    offices = Area.objects.street_offices().filter(code__startswith="370602")
    for office in offices:
        serving = Squad.objects.filter(service_areas=office)
        assert serving.count() == 3
        assert set(serving.values_list("kind__code", flat=True)) == kinds
        assert all(re.fullmatch(r"0535-6\d{6}", s.duty_phone) for s in serving)
        for squad in serving:
            assert squad.memberships.filter(is_leader=True).count() == 1
    overrides = Squad.objects.filter(service_areas__level="community")
    assert overrides.exists()
    for squad in overrides:
        community = squad.service_areas.get()
        assert Squad.objects.filter(service_areas=community.parent, kind=squad.kind).exists()
        assert Lane.objects.filter(community=community).exists()  # a routing test has lanes on both sides


def test_demo_accounts(demo):
    User = get_user_model()
    for username in ("admin", "district_admin", "street_staff", "lane_chief", "squad_leader", "squad_member"):
        user = User.objects.get(username=username)
        assert user.check_password("demo12345")
        assert f"{username}" in demo.output
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="district_admin").is_staff
    assert User.objects.get(username="district_admin").has_perm("lanes.change_lane")
    assert not User.objects.get(username="street_staff").has_perm("lanes.change_lane")
    assert User.objects.get(username="street_staff").has_perm("lanes.view_lane")
    chief = Person.objects.get(user__username="lane_chief")
    assert ChiefAssignment.objects.on(timezone.localdate()).filter(person=chief, role=Role.LANE_CHIEF).count() >= 2
    leader = SquadMembership.objects.get(person__user__username="squad_leader")
    member = SquadMembership.objects.get(person__user__username="squad_member")
    assert leader.is_leader and not member.is_leader and leader.squad_id == member.squad_id
    assert "demo12345" in demo.output


def test_second_load_creates_nothing(demo):
    before = table_counts()
    out = io.StringIO()
    call_command("load_demo", stdout=out, stderr=io.StringIO())
    assert "demo already loaded — reusing it" in out.getvalue()
    assert table_counts() == before


def test_unload_removes_everything_it_created(demo):
    from common.demo import demo_counts, unload_demo

    people_before = Person.objects.count()
    # An account the demo did not create keeps its place even if it has a demo name (e.g. createsuperuser admin).
    get_user_model().objects.filter(username="admin").update(email="ops@example.org")
    unload_demo()  # inside this test's transaction: rolled back afterwards
    assert not Area.objects.filter(code__startswith="370602").exists()
    assert not Lane.objects.exists()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["admin"]
    assert Person.objects.count() == 0 < people_before
    assert not Squad.objects.exists() and not Department.objects.exists()
    assert all(v == 0 for k, v in demo_counts().items())
