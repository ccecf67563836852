"""Role × endpoint × own / someone else's case. The expected tables are written out by hand from the rules:
lane chiefs see their lanes' cases, squads their dispatches, street office staff their street office (or
community), the district everything, the public only tracking codes."""

import pytest
from rest_framework.test import APIClient

from cases import services
from cases.tests.conftest import SPLIT_LON, point_on_street

pytestmark = pytest.mark.django_db
URL = "/api/cases/"


@pytest.fixture
def cases(world):
    u = world.users
    fz = services.report_case(  # 福州路, west: 福州路环卫中队; community W-N; chief_fz
        category_code="SJ0101", point=point_on_street("福州路", 121.4750), reporter=u["chief_fz"]
    ).case
    east = (
        services.report_case(  # 汉口路, east of the boundary: 东街道市容中队; chief_fz's lane, reported by the public
            category_code="SJ0402", point=point_on_street("汉口路", SPLIT_LON + 0.0010), reporter=None
        ).case
    )
    sensitive = services.report_case(  # 北京西路: community W-N queue; chief_bj reports it
        category_code="LBB04", point=point_on_street("北京西路", 121.4640), reporter=u["chief_bj"]
    ).case
    return {"fz": fz, "east": east, "sensitive": sensitive}


VISIBLE = {
    "chief_fz": {"fz", "east"},  # both on his lanes (福州路, 汉口路)
    "chief_jj": set(),
    "chief_bj": {"sensitive"},
    "chief_former": set(),  # appointment over
    "fz_san_member": {"fz"},
    "fz_san_leader": {"fz"},
    "se_order_member": {"east"},
    "sw_order_member": set(),
    "cwn_san_member": set(),  # a squad never sees the community's sensitive queue
    "staff_w": {"fz", "sensitive"},
    "staff_e": {"east"},
    "staff_cwn": {"fz", "sensitive"},  # community W-N holds both
    "district": {"fz", "east", "sensitive"},
    "outsider": set(),
}


def client(user):
    c = APIClient()
    c.force_authenticate(user)
    return c


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_list_and_read_endpoints_follow_the_role_rules(world, cases, username):
    c = client(world.users[username])
    listed = {f["id"] for f in c.get(URL, {"page_size": 500}).json()["features"]}
    ids = {name: case.pk for name, case in cases.items()}
    assert listed & set(ids.values()) == {ids[n] for n in VISIBLE[username]}
    for name, case_id in ids.items():
        expected = 200 if name in VISIBLE[username] else 404
        for suffix in ("", "timeline/", "attachments/", "duplicates/"):
            assert c.get(f"{URL}{case_id}/{suffix}").status_code == expected, (username, name, suffix)


# accept: the handler only (squad members for a squad's case; the staff of the queue for a community case).
ACCEPT = {
    ("fz_san_member", "fz"): 200,
    ("fz_san_leader", "fz"): 200,
    ("chief_fz", "fz"): 403,
    ("staff_w", "fz"): 403,  # sees it, but the squad works it
    ("district", "fz"): 403,
    ("se_order_member", "fz"): 404,
    ("outsider", "fz"): 404,
    ("se_order_member", "east"): 200,
    ("fz_san_member", "east"): 404,
    ("staff_cwn", "sensitive"): 200,
    ("staff_w", "sensitive"): 200,
    ("district", "sensitive"): 200,
    ("chief_bj", "sensitive"): 403,
    ("staff_e", "sensitive"): 404,
    ("cwn_san_member", "sensitive"): 404,
}


@pytest.mark.parametrize(("username", "name"), sorted(ACCEPT))
def test_accept_matrix(world, cases, username, name):
    case = cases[name]
    r = client(world.users[username]).post(f"{URL}{case.pk}/accept/", {"version": case.version}, format="json")
    assert r.status_code == ACCEPT[(username, name)], r.content


# Supervisory actions (suspend needs a reason): the street office staff of the case and the district only.
SUSPEND = {
    ("staff_w", "fz"): 200,
    ("staff_cwn", "fz"): 200,
    ("district", "east"): 200,
    ("staff_e", "east"): 200,
    ("staff_e", "fz"): 404,
    ("chief_fz", "fz"): 403,
    ("fz_san_leader", "fz"): 403,
}


@pytest.mark.parametrize(("username", "name"), sorted(SUSPEND))
def test_suspend_matrix(world, cases, username, name):
    case = cases[name]
    r = client(world.users[username]).post(
        f"{URL}{case.pk}/suspend/", {"version": case.version, "note": "挂账"}, format="json"
    )
    assert r.status_code == SUSPEND[(username, name)], r.content


def test_anonymous_users_get_nothing_but_tracking(world, cases):
    anon = APIClient()
    assert anon.get(URL).status_code in (401, 403)
    assert anon.get(f"{URL}{cases['fz'].pk}/").status_code in (401, 403)
    assert anon.get(f"{URL}inbox/").status_code in (401, 403)
    tracked = anon.get(f"{URL}track/{cases['fz'].tracking_code}/").json()
    assert tracked["tracking_code"] == cases["fz"].tracking_code
    assert "squad" not in tracked and "routing_reason" not in tracked and "id" not in tracked


def test_inbox_holds_only_own_dispatches(world, cases):
    def inbox(username):
        return {i["id"] for i in client(world.users[username]).get(f"{URL}inbox/").json()}

    assert inbox("fz_san_member") == {cases["fz"].pk}
    assert inbox("se_order_member") == {cases["east"].pk}
    assert inbox("staff_cwn") == {cases["sensitive"].pk}  # the community queue; squads' cases are not staff work
    assert inbox("chief_fz") == set()
    assert inbox("outsider") == set()
