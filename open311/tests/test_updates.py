"""servicerequestupdates (extension): a back office pushes progress that lands as a recorded transition."""

import json

import pytest

from cases.models import Case, Status
from cases.services import report_case
from cases.tests.conftest import SPLIT_LON, point_on_street

pytestmark = pytest.mark.django_db
URL = "/open311/v2/servicerequestupdates"


@pytest.fixture
def case(world):
    return report_case(
        category_code="SJ0101", point=point_on_street("福州路", SPLIT_LON + 0.002), description="垃圾"
    ).case


def key_for(user, name="区12345后台"):
    from open311.services import issue_api_key

    return issue_api_key(name=name, acts_as=user)[1]


def test_squad_progress_lands_on_the_timeline(client, world, case):
    assert case.squad == world.squads["福州路环卫中队"]
    raw = key_for(world.users["fz_san_leader"])
    response = client.post(
        f"{URL}.json", {"api_key": raw, "service_request_id": case.tracking_code, "action": "accept"}
    )
    assert response.status_code == 200, response.content.decode()
    (update,) = json.loads(response.content)
    case.refresh_from_db()
    assert case.status == Status.ACCEPTED
    event = case.events.get(pk=update["update_id"])
    assert event.action == "accept" and event.actor == world.users["fz_san_leader"]
    assert update["status"] == "open" and update["service_request_id"] == case.tracking_code

    response = client.post(
        f"{URL}.xml",
        {"api_key": raw, "service_request_id": case.tracking_code, "action": "return", "description": "不归我们管"},
    )
    assert response.status_code == 200, response.content.decode()
    case.refresh_from_db()
    assert case.status == Status.DISPATCHED and case.squad != world.squads["福州路环卫中队"]
    last = case.events.order_by("-id").first()
    assert (last.action, last.note) == ("return", "不归我们管")


def test_updates_refused_as_the_spec_says(client, world, case):
    other_squad = key_for(world.users["se_order_leader"], "东街道")  # not this case's squad
    no_user = key_for(None, "只读")
    fz = key_for(world.users["fz_san_leader"], "福州路")
    cases = [
        ({"api_key": "wrong", "action": "accept"}, 403),
        ({"api_key": no_user, "action": "accept"}, 403),
        ({"api_key": fz, "action": "accept", "service_request_id": "NOPE"}, 404),
        ({"api_key": fz, "action": "close"}, 403),  # a squad may not close: the inspectors' action
        ({"api_key": fz, "action": "resolve", "description": "x"}, 400),  # not accepted yet
        ({"api_key": fz, "action": "dance"}, 400),
    ]
    for fields, code in cases:
        data = {"service_request_id": case.tracking_code, **fields}
        response = client.post(f"{URL}.json", data)
        assert response.status_code == code, (data, response.content.decode())
        assert json.loads(response.content)[0]["code"] == code
    # Another street office's squad cannot even read the case: 404, as for a case that does not exist.
    response = client.post(
        f"{URL}.json", {"api_key": other_squad, "service_request_id": case.tracking_code, "action": "accept"}
    )
    assert response.status_code == 404
    assert Case.objects.get(pk=case.pk).status == Status.DISPATCHED
