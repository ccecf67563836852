from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from people import services
from people.models import ChiefAssignment, Role, SquadKind, SquadMembership

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("13800138000", "13800138000"),
        (13800138000, "13800138000"),  # an Excel number cell
        (13800138000.0, "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),  # full-width digits typed with a Chinese IME
        ("021-63211234", "021-63211234"),
        ("021—63211234", "021-63211234"),
        ("(0535) 6601234", "05356601234"),
        ("0535-6601234-8012", "0535-6601234-8012"),
        ("12345", "12345"),
        ("110", "110"),
        ("95598", "95598"),
        ("63211234", "63211234"),
        ("400-820-8820", "400-820-8820"),
        ("+86 138 0013 8000", "+8613800138000"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalize_phone_accepts(raw, stored):
    assert services.normalize_phone(raw) == stored


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("1380013800", "11 位"),  # a digit missing
        ("138001380001", "11 位"),
        ("1.38001E+10", "科学计数法"),  # what Excel does to a long number in a CSV
        ("138-0013-800x", "格式不对"),
        ("电话", "格式不对"),
        ("021--63211234", "格式不对"),
        ("12", "位数"),
        ("021-1234", "位数"),
        ("123456", "11 位"),
    ],
)
def test_normalize_phone_refuses(raw, says):
    with pytest.raises(ValidationError) as exc:
        services.normalize_phone(raw)
    assert says in " ".join(exc.value.messages)


def test_person_create_cleans_and_validates():
    person = services.person_create(name=" 张　三 ", private_phone="138 0013 8000", public_phone="021-63211234")
    assert person.name == "张三"  # padding to align two-character names is not part of the name
    assert person.private_phone == "13800138000"
    with pytest.raises(ValidationError) as exc:
        services.person_create(name="李四", private_phone="1380013")
    assert "private_phone" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.person_create(name="   ")
    latin = services.person_create(name="  Anna   Li ")
    assert latin.name == "Anna Li"


def test_person_update_changes_only_given_fields():
    person = services.person_create(name="张三", title="科员", private_phone="13800138000")
    services.person_update(person=person, title="科长", public_phone="12345")
    person.refresh_from_db()
    assert (person.title, person.public_phone, person.private_phone) == ("科长", "12345", "13800138000")
    with pytest.raises(TypeError):
        services.person_update(person=person, salary=1)


def test_assign_lane_chief_refuses_overlaps_with_a_clear_message(place):
    wang = services.person_create(name="王芳")
    services.assign_lane_chief(person=wang, lane=place.hubei, valid_from=date(2024, 1, 1), valid_to=date(2024, 6, 30))
    with pytest.raises(ValidationError) as exc:
        services.assign_lane_chief(person=wang, lane=place.hubei, valid_from=date(2024, 6, 30))
    message = " ".join(exc.value.messages)
    assert "王芳" in message and "湖北路" in message and "2024-01-01" in message and "2024-06-30" in message
    assert "重叠" in message
    with pytest.raises(ValidationError):  # a closed period inside the old one
        services.assign_lane_chief(
            person=wang, lane=place.hubei, valid_from=date(2023, 1, 1), valid_to=date(2024, 1, 1)
        )
    # adjacent periods, other lanes and other people are fine
    services.assign_lane_chief(person=wang, lane=place.hubei, valid_from=date(2024, 7, 1))
    services.assign_lane_chief(person=wang, lane=place.fuzhou_w, valid_from=date(2024, 1, 1))
    services.assign_lane_chief(
        person=services.person_create(name="李强"), lane=place.hubei, valid_from=date(2024, 1, 1)
    )
    assert ChiefAssignment.objects.filter(lane=place.hubei).count() == 3


def test_the_database_refuses_overlaps_the_service_would_refuse(place):
    wang = services.person_create(name="王芳")
    services.assign_lane_chief(person=wang, lane=place.hubei, valid_from=date(2024, 1, 1))
    with pytest.raises(IntegrityError, match="assignment_no_overlap"), transaction.atomic():
        ChiefAssignment.objects.create(person=wang, role=Role.LANE_CHIEF, lane=place.hubei, valid_from=date(2025, 1, 1))


def test_assignment_dates_must_be_ordered(place):
    wang = services.person_create(name="王芳")
    with pytest.raises(ValidationError) as exc:
        services.assign_lane_chief(
            person=wang, lane=place.hubei, valid_from=date(2024, 5, 1), valid_to=date(2024, 4, 1)
        )
    assert "valid_to" in exc.value.message_dict


def test_end_assignment(place):
    wang = services.person_create(name="王芳")
    post = services.assign_lane_chief(person=wang, lane=place.hubei, valid_from=date(2024, 1, 1))
    services.end_assignment(assignment=post, on=date(2024, 3, 2))
    post.refresh_from_db()
    assert post.valid_to == date(2024, 3, 2)
    assert services.end_assignment(assignment=post, on=date(2024, 3, 2)).valid_to == date(2024, 3, 2)
    services.end_assignment(assignment=post, on=date(2024, 2, 1))  # shortening is allowed
    post.refresh_from_db()
    assert post.valid_to == date(2024, 2, 1)
    with pytest.raises(ValidationError, match="结束"):
        services.end_assignment(assignment=post, on=date(2024, 5, 1))  # not a way to extend
    with pytest.raises(ValidationError, match="早于"):
        services.end_assignment(assignment=post, on=date(2023, 12, 31))
    post.refresh_from_db()
    assert post.valid_to == date(2024, 2, 1)


def test_general_lane_chief_and_area_leader_targets(place):
    zhou = services.person_create(name="周全")
    post = services.assign_general_lane_chief(person=zhou, street_office=place.so, valid_from=date(2024, 1, 1))
    assert (post.role, post.area, post.lane) == (Role.GENERAL_LANE_CHIEF, place.so, None)
    with pytest.raises(ValidationError):
        services.assign_general_lane_chief(person=zhou, street_office=place.west, valid_from=date(2024, 1, 1))
    leader = services.assign_area_leader(person=zhou, area=place.west, valid_from=date(2024, 1, 1))
    assert leader.role == Role.AREA_LEADER
    with pytest.raises(ValidationError):
        services.assign_area_leader(person=zhou, area=place.cell, valid_from=date(2024, 1, 1))


def test_squad_create(place, kinds):
    squad = services.squad_create(
        name="南京东路市容中队",
        kind="street_order",
        duty_phone="021 6300 1000",
        street_office=place.so,
        service_areas=[place.west],
        lanes=[place.fuzhou_e],
    )
    assert squad.kind == kinds["street_order"] and squad.duty_phone == "02163001000"
    assert set(squad.service_areas.all()) == {place.west} and set(squad.lanes.all()) == {place.fuzhou_e}
    with pytest.raises(ValidationError, match="已存在"):
        services.squad_create(name="南京东路市容中队", kind="street_order", duty_phone="")
    with pytest.raises(ValidationError, match="未知的中队类型"):
        services.squad_create(name="园林中队", kind="landscaping", duty_phone="")
    with pytest.raises(ValidationError):
        services.squad_create(name="市政中队", kind="municipal", duty_phone="abc")
    with pytest.raises(ValidationError):
        services.squad_create(name="市政中队", kind="municipal", duty_phone="", street_office=place.west)
    # a city's own kind is data
    SquadKind.objects.create(code="landscaping", name="园林", order=40)
    assert services.squad_create(name="园林中队", kind="landscaping", duty_phone="12319").kind.name == "园林"


def test_squad_members(place):
    squad = services.squad_create(name="环卫一队", kind="sanitation", duty_phone="")
    person = services.person_create(name="冯七")
    services.squad_add_member(squad=squad, person=person)
    services.squad_add_member(squad=squad, person=person, is_leader=True)
    assert list(SquadMembership.objects.filter(squad=squad).values_list("person__name", "is_leader")) == [
        ("冯七", True)
    ]
    services.squad_remove_member(squad=squad, person=person)
    assert not squad.members.exists()


def test_work_groups(place):
    dept = services.department_create(name="区城管局", street_office=place.so)
    leader = services.person_create(name="陈组长", department=dept)
    member = services.person_create(name="林组员", department=dept)
    group = services.work_group_create(
        department=dept, name="第一组", leader=leader, members=[member], lanes=[place.hubei, place.fuzhou_w]
    )
    assert set(group.members.all()) == {leader, member}  # the leader is a member
    assert set(group.lanes.all()) == {place.hubei, place.fuzhou_w}
    with pytest.raises(ValidationError, match="第一组"):
        services.work_group_create(department=dept, name="第一组")
    with pytest.raises(ValidationError, match="组长"):
        services.work_group_remove_member(work_group=group, person=leader)
    services.work_group_set_leader(work_group=group, leader=member)
    services.work_group_remove_member(work_group=group, person=leader)
    services.work_group_set_lanes(work_group=group, lanes=[place.fuzhou_e])
    assert set(group.members.all()) == {member} and set(group.lanes.all()) == {place.fuzhou_e}
    with pytest.raises(ValidationError):
        services.department_create(name="区城管局")
    with pytest.raises(ValidationError):
        services.department_create(name="别的局", street_office=place.west)
