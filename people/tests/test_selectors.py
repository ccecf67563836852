import json
from datetime import date
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grid.models import Area, Level
from people import services
from people.models import Squad
from people.selectors import (
    MUST_ATTEND,
    MUST_REPORT,
    chiefs_of_lane,
    general_lane_chiefs_of,
    lanes_of_chief,
    placard_for_lane,
    squad_for_lane,
    squads_for_lane,
)
from people.tests.conftest import box

pytestmark = pytest.mark.django_db


def test_fixture_lanes_are_linked_by_the_database(place):
    assert place.fuzhou_w.community == place.west
    assert place.fuzhou_e.community == place.east
    assert place.hubei.community == place.west
    assert set(place.hubei.grid_cells.all()) == {place.cell}
    assert set(place.fuzhou_w.grid_cells.all()) == {place.cell}
    assert not place.fuzhou_e.grid_cells.exists()


def test_chiefs_of_lane_answers_history(place):
    wang = services.person_create(name="王芳", title="科员")
    li = services.person_create(name="李强", title="副科长")
    first = services.assign_lane_chief(person=wang, lane=place.hubei, valid_from=date(2024, 1, 1))
    services.end_assignment(assignment=first, on=date(2024, 3, 2))
    services.assign_lane_chief(person=li, lane=place.hubei, valid_from=date(2024, 3, 3))
    # someone else's lane and another role on the same street office must not show up
    services.assign_lane_chief(person=wang, lane=place.fuzhou_w, valid_from=date(2024, 1, 1))
    services.assign_general_lane_chief(person=wang, street_office=place.so, valid_from=date(2024, 1, 1))

    def names(day):
        return [a.person.name for a in chiefs_of_lane(place.hubei, on=day)]

    assert names(date(2023, 12, 31)) == []
    assert names(date(2024, 1, 1)) == ["王芳"]
    assert names(date(2024, 3, 2)) == ["王芳"]
    assert names(date(2024, 3, 3)) == ["李强"]
    assert names(date(2030, 1, 1)) == ["李强"]
    assert set(lanes_of_chief(wang, on=date(2024, 3, 1))) == {place.hubei, place.fuzhou_w}
    assert set(lanes_of_chief(wang, on=date(2024, 3, 3))) == {place.fuzhou_w}
    assert [a.person for a in general_lane_chiefs_of(place.so, on=date(2024, 3, 3))] == [wang]


def test_a_lane_may_have_several_chiefs_at_once(place):
    a = services.person_create(name="甲")
    b = services.person_create(name="乙")
    services.assign_lane_chief(person=b, lane=place.hubei, valid_from=date(2024, 2, 1))
    services.assign_lane_chief(person=a, lane=place.hubei, valid_from=date(2024, 1, 1))
    assert [x.person.name for x in chiefs_of_lane(place.hubei, on=date(2024, 2, 1))] == ["甲", "乙"]


def test_squads_for_lane_most_specific_wins(place, kinds):
    lanes = (place.fuzhou_w, place.fuzhou_e, place.hubei)

    def serving(kind="sanitation"):
        return [getattr(squads_for_lane(lane)[kind], "name", None) for lane in lanes]

    assert serving() == [None, None, None]
    assert list(squads_for_lane(place.hubei)) == ["street_order", "sanitation", "municipal"]

    services.squad_create(name="区环卫所", kind="sanitation", duty_phone="021-63000000", service_areas=[place.district])
    assert serving() == ["区环卫所"] * 3

    services.squad_create(name="街道环卫中队", kind="sanitation", duty_phone="021-63000001", street_office=place.so)
    assert serving() == ["区环卫所"] * 3, "a squad with only a street office ranks below explicit service areas"

    services.squad_create(
        name="南京东路环卫中队", kind="sanitation", duty_phone="021-63000002", service_areas=[place.so]
    )
    assert serving() == ["南京东路环卫中队"] * 3

    services.squad_create(name="西片环卫班", kind="sanitation", duty_phone="021-63000003", service_areas=[place.west])
    assert serving() == ["西片环卫班", "南京东路环卫中队", "西片环卫班"]

    services.squad_create(name="网格保洁组", kind="sanitation", duty_phone="021-63000004", service_areas=[place.cell])
    assert serving() == ["网格保洁组", "南京东路环卫中队", "网格保洁组"]

    services.squad_create(name="湖北路保洁", kind="sanitation", duty_phone="021-63000005", lanes=[place.hubei])
    assert serving() == ["网格保洁组", "南京东路环卫中队", "湖北路保洁"]

    # other kinds are independent
    assert squads_for_lane(place.hubei)["street_order"] is None
    services.squad_create(
        name="市容一中队", kind=kinds["street_order"], duty_phone="021-63000006", street_office=place.so
    )
    assert [squad_for_lane(lane, "street_order").name for lane in lanes] == ["市容一中队"] * 3
    assert squad_for_lane(place.hubei, "sanitation").name == "湖北路保洁"


def test_squads_for_lane_fallback_street_office_only_squad(place):
    services.squad_create(name="街道环卫中队", kind="sanitation", duty_phone="021-63000001", street_office=place.so)
    services.squad_create(
        name="别处环卫中队", kind="sanitation", duty_phone="021-63000009", street_office=place.other_so
    )
    assert squads_for_lane(place.fuzhou_e)["sanitation"].name == "街道环卫中队"


@pytest.mark.parametrize("order", [("A队", "B队"), ("B队", "A队")])
def test_squads_for_lane_tie_break_is_deterministic(place, order):
    for name in order:
        services.squad_create(name=name, kind="municipal", duty_phone="021-63000001", service_areas=[place.west])
    assert squads_for_lane(place.hubei)["municipal"].name == "A队"


def test_squads_for_lane_prefers_the_squad_serving_more_of_the_lanes_cells(place):
    # A second grid cell on 湖北路 only (around its OSM node at 121.4750563, 31.2367491).
    x, y = 121.4750563, 31.2367491
    cell2 = Area.objects.create(
        level=Level.GRID_CELL,
        code="310101002001002",
        name="西片社区第2网格",
        parent=place.west,
        geom=box(x - 0.0004, y - 0.0003, x + 0.0004, y + 0.0003),
        illustrative=True,
    )
    assert set(place.hubei.grid_cells.all()) == {place.cell, cell2}
    services.squad_create(name="A组", kind="municipal", duty_phone="021-63000001", service_areas=[place.cell])
    services.squad_create(name="B组", kind="municipal", duty_phone="021-63000002", service_areas=[place.cell, cell2])
    assert squads_for_lane(place.hubei)["municipal"].name == "B组"  # 2 of its cells against 1
    assert squads_for_lane(place.fuzhou_w)["municipal"].name == "A组"  # 1 cell each: the name decides


PRIVATE = "13912345678"


def _values(obj):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield from _values(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _values(value)
    else:
        yield obj


@pytest.fixture
def staffed(place, kinds):
    dept = services.department_create(name="区市容绿化局")
    chief = services.person_create(
        name="赵敏", title="科长", department=dept, private_phone=PRIVATE, public_phone="021-63211234"
    )
    silent = services.person_create(name="钱进", title="志愿者", private_phone="13800001111", is_volunteer=True)
    old = services.person_create(name="孙离", private_phone="13700002222", public_phone="021-63219999")
    general = services.person_create(name="周全", title="副区长", private_phone="13600003333", public_phone="12345")
    other_general = services.person_create(name="吴越", public_phone="021-60000000")
    services.assign_lane_chief(person=chief, lane=place.hubei, valid_from=date(2024, 1, 1), duties="每日巡查一次")
    services.assign_lane_chief(person=silent, lane=place.hubei, valid_from=date(2024, 2, 1))
    services.assign_lane_chief(person=old, lane=place.hubei, valid_from=date(2023, 1, 1), valid_to=date(2023, 12, 31))
    services.assign_general_lane_chief(person=general, street_office=place.so, valid_from=date(2024, 1, 1))
    services.assign_general_lane_chief(person=other_general, street_office=place.other_so, valid_from=date(2024, 1, 1))
    services.squad_create(
        name="南京东路市容中队", kind="street_order", duty_phone="021-63001000", service_areas=[place.so]
    )
    services.squad_create(name="湖北路保洁", kind="sanitation", duty_phone="021-63002000", lanes=[place.hubei])
    return SimpleNamespace(chief=chief, silent=silent, old=old, general=general)


def test_placard_shows_the_public_contact_card(place, staffed):
    card = placard_for_lane(place.hubei, on=date(2024, 3, 3))
    assert card["lane"] == {"id": place.hubei.pk, "name": "湖北路"}
    assert card["community"] == {"name": "西片社区", "code": "310101002001"}
    assert card["street_office"] == {"name": "南京东路街道", "code": "310101002"}
    assert card["date"] == "2024-03-03"
    assert card["chiefs"] == [
        {
            "name": "赵敏",
            "title": "科长",
            "public_phone": "021-63211234",
            "department": "区市容绿化局",
            "duties": "每日巡查一次",
        },
        {"name": "钱进", "title": "志愿者", "public_phone": "", "department": "", "duties": ""},
    ]
    assert card["general_lane_chiefs"] == [{"name": "周全", "title": "副区长", "public_phone": "12345"}]
    assert card["squads"] == [
        {"kind": "street_order", "kind_name": "市容", "name": "南京东路市容中队", "duty_phone": "021-63001000"},
        {"kind": "sanitation", "kind_name": "环卫", "name": "湖北路保洁", "duty_phone": "021-63002000"},
        {"kind": "municipal", "kind_name": "市政", "name": None, "duty_phone": ""},
    ]
    assert len(card["must_attend"]) == 6 and "街巷突发事件必到" in card["must_attend"]
    assert len(card["must_report"]) == 6 and "公共设施损坏必报" in card["must_report"]
    assert card["must_attend"] == [str(t) for t in MUST_ATTEND] and card["must_report"] == [str(t) for t in MUST_REPORT]
    json.dumps(card)  # plain data


def test_placard_on_an_earlier_day_shows_who_served_then(place, staffed):
    card = placard_for_lane(place.hubei.pk, on=date(2023, 6, 1))
    assert [c["name"] for c in card["chiefs"]] == ["孙离"]
    assert card["general_lane_chiefs"] == []


def test_placard_never_contains_a_private_phone(place, staffed):
    private = {"13912345678", "13800001111", "13700002222", "13600003333"}
    for day in (date(2023, 6, 1), date(2024, 3, 3)):
        with CaptureQueriesContext(connection) as queries:
            card = placard_for_lane(place.hubei, on=day)
        values = [str(v) for v in _values(card)]
        assert not any(p in v for p in private for v in values), values
        assert not any(p in json.dumps(card, ensure_ascii=False) for p in private)
        assert "private_phone" not in values
        # the private number is not even read from the database
        assert not any("private_phone" in q["sql"] for q in queries.captured_queries)
        assert len(queries.captured_queries) <= 5


def test_placard_of_a_lane_without_community_or_people(db):
    from lanes.models import Lane
    from people.tests.conftest import street

    lane = Lane.objects.create(name="湖北路", geom=street("湖北路"))
    card = placard_for_lane(lane, on=date(2024, 1, 1))
    assert card["community"] is None and card["street_office"] is None
    assert card["chiefs"] == [] and card["general_lane_chiefs"] == []
    assert {s["kind"] for s in card["squads"]} == {"street_order", "sanitation", "municipal"}
    assert all(s["name"] is None for s in card["squads"])


def test_placard_unknown_lane(db):
    from lanes.models import Lane

    with pytest.raises(Lane.DoesNotExist):
        placard_for_lane(987654321, on=date(2024, 1, 1))


def test_squads_for_lane_ignores_other_street_offices(place):
    s = Squad.objects.create(name="别处", kind_id=squads_kind_id("sanitation"), street_office=place.other_so)
    assert squads_for_lane(place.hubei)["sanitation"] is None
    s.service_areas.add(place.west)
    assert squads_for_lane(place.hubei)["sanitation"] == s


def squads_kind_id(code):
    from people.models import SquadKind

    return SquadKind.objects.get(code=code).pk
