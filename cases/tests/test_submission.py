"""The submission hot path (POST /api/cases/): its exact number of statements, and the one-statement routing plan
(routing.plan_report) agreeing with the rules of routing.locate() + routing.route() everywhere in the test world."""

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django.models import ProcrastinateJob
from rest_framework.test import APIClient

from cases import routing
from cases.models import Case, CaseEvent, Category
from cases.tests.conftest import BBOX, CELL_CENTRE, SPLIT_LON, point_on_street

pytestmark = pytest.mark.django_db
URL = "/api/cases/"


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fz_endpoint(world):
    from notify import Recipient
    from notify.services import endpoint_upsert

    return endpoint_upsert(
        recipient=Recipient.for_squad(world.squads["福州路环卫中队"]),
        channel="webhook",
        address="https://example.org/h",
    )


def test_logged_in_submission_takes_exactly_these_statements(world, fz_endpoint):
    """A lane chief's report on 福州路, routed to the lane's sanitation squad, which has a webhook endpoint."""
    from django.contrib.auth import get_user_model

    from notify.models import Notification

    chief = APIClient()
    # As the authentication middleware gives it: read afresh (no cached person). No session here: the session and
    # user reads of a real request are not counted.
    chief.force_authenticate(get_user_model().objects.get(pk=world.users["chief_fz"].pk))
    p = point_on_street("福州路", 121.4750)
    # A first report warms the process (PostGIS' spatial_ref_sys row for the geography casts is read once).
    chief.post(URL, {"category": "SJ0101", "lon": p.x, "lat": p.y}, format="json", HTTP_IDEMPOTENCY_KEY="q-0")
    chief.force_authenticate(get_user_model().objects.get(pk=world.users["chief_fz"].pk))
    with CaptureQueriesContext(connection) as ctx:
        r = chief.post(URL, {"category": "SJ0101", "lon": p.x, "lat": p.y}, format="json", HTTP_IDEMPOTENCY_KEY="q-1")
    assert r.status_code == 201, r.content
    statements = [q["sql"].split()[0].upper() for q in ctx.captured_queries]
    # scope (with the reporter's name) and calendar, plan (key, category, areas, lane, squads); in the transaction
    # (a savepoint here, inside the test's transaction): case with both events, endpoints, notification, job, job id;
    # then the possible duplicates.
    assert statements == [
        "SELECT",  # cases.selectors.scope_and_calendar: the scope with the person's name, and the work calendar
        "WITH",  # cases.routing.plan_report
        "SAVEPOINT",
        "WITH",  # the case, already dispatched, and both timeline events
        "SELECT",  # notify: endpoints of the squad
        "INSERT",  # notify: the notification (ON CONFLICT DO NOTHING)
        "SELECT",  # procrastinate_defer_jobs_v1: the delivery job
        "UPDATE",  # the job's id on the notification
        "RELEASE",
        "SELECT",  # possible duplicates nearby that the chief may read
    ], [q["sql"][:80] for q in ctx.captured_queries]
    body = r.json()
    case = Case.objects.get(pk=body["id"])
    assert case.status == "dispatched" and case.version == 2 and body["properties"]["version"] == 2
    assert case.squad == world.squads["福州路环卫中队"] and case.source == "chief"
    assert body["properties"]["squad_name"] == "福州路环卫中队" and body["properties"]["lane_name"] == "福州路"
    assert body["properties"]["routing_reason"] == case.routing_reason and "福州路" in case.routing_reason
    events = list(CaseEvent.objects.filter(case=case).order_by("at", "id"))
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("report", "", "reported"),
        ("dispatch", "reported", "dispatched"),
    ]
    assert events[0].actor == world.users["chief_fz"] and events[0].actor_role == "reporter"
    assert events[0].actor_name == world.users["chief_fz"].person.name and events[1].actor_name == "系统"
    assert events[1].actor is None and events[1].data["squad_id"] == case.squad_id
    notification = Notification.objects.get(delivery_key__startswith=f"case:{case.pk}:dispatch:v2:")
    job = ProcrastinateJob.objects.get(pk=notification.job_id)
    assert job.status == "todo" and job.args == {"notification_id": notification.pk}
    assert job.queueing_lock == job.lock == f"notify.notification:{notification.pk}"
    # The answer equals what reading the case back gives (it is built from the objects written, not re-read).
    again = chief.get(f"{URL}{case.pk}/").json()
    for key in ("routing_reason", "deadline", "dispatched_at", "lane_distance_m", "grid_cell_code", "community_code"):
        assert body["properties"][key] == again["properties"][key], key
    assert body["geometry"] == again["geometry"]


def test_a_retried_submission_reads_and_writes_nothing_new(world, fz_endpoint):
    chief = APIClient()
    chief.force_authenticate(world.users["chief_fz"])
    p = point_on_street("福州路", 121.4750)
    data = {"category": "SJ0101", "lon": p.x, "lat": p.y}
    first = chief.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY="q-retry")
    with CaptureQueriesContext(connection) as ctx:
        again = chief.post(URL, data, format="json", HTTP_IDEMPOTENCY_KEY="q-retry")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert not [q for q in ctx.captured_queries if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]


# --- the plan agrees with locate() + route() ---------------------------------------------------------------------
CODES = ["SJ0101", "SJ0402", "SJ0501", "LBB05", "LBB03", "LBD06", "LBD02"]  # every owner, sensitive or not


def _summary(place, route):
    def pk(obj):
        return obj.pk if obj is not None else None

    return (
        pk(place.street_office),
        pk(place.community),
        pk(place.grid_cell),
        pk(place.district),
        pk(place.lane),
        None if place.lane_distance_m is None else round(place.lane_distance_m, 6),
        route.owner_queue,
        pk(route.squad),
        route.reason,
        [(c.squad.pk, c.reason) for c in route.candidates],
    )


def _expected(category, point, lane_id=None):
    try:
        place = routing.locate(point, lane_id=lane_id)
    except routing.RoutingError as exc:
        return str(exc)
    return _summary(place, routing.route(category, place))


def _planned(category, point, lane_id=None):
    plan = routing.plan_report(category_code=category.code, point=point, lane_id=lane_id)
    assert plan.category.pk == category.pk and plan.existing_case_id is None
    return plan.error or _summary(plan.place, plan.route)


def test_plan_report_routes_exactly_as_locate_and_route(world):
    from people.models import Squad, SquadKind

    # A municipal squad declared with only its street office (no areas, no lanes) serves the whole of E.
    Squad.objects.create(name="东街道市政中队", kind=SquadKind.objects.get(code="municipal"), street_office=world.so_e)
    x0, y0, x1, y1 = BBOX
    points = [
        Point(x0 + (x1 - x0) * (i + 0.5) / 5, y0 + (y1 - y0) * (j + 0.5) / 5, srid=settings.GEO_SRID)
        for i in range(5)
        for j in range(5)
    ]
    points += [
        Point(*CELL_CENTRE, srid=settings.GEO_SRID),
        point_on_street("福州路", SPLIT_LON - 0.002),
        point_on_street("福州路", SPLIT_LON + 0.002),
        point_on_street("汉口路", SPLIT_LON + 0.0007),
        Point(116.397, 39.909, srid=settings.GEO_SRID),  # outside every street office
    ]
    checked = set()
    for code in CODES:
        category = Category.objects.get(code=code)
        for point in points:
            expected = _expected(category, point)
            assert _planned(category, point) == expected, (code, point.coords)
            checked.add(expected if isinstance(expected, str) else (expected[6], expected[7] is not None))
    # The sample covers refusals, squads, the street office and community queues.
    assert "不在任何街道范围内" in checked and ("squad", True) in checked
    assert ("street_office", False) in checked and ("community", False) in checked


def test_plan_report_with_a_chosen_lane(world):
    category = Category.objects.get(code="SJ0101")
    p = point_on_street("福州路", 121.4750)
    near, far = world.lanes["福州路"], world.lanes["北京西路"]
    for lane_id in (near.pk, far.pk, 999_999_999):
        assert _planned(category, p, lane_id) == _expected(category, p, lane_id), lane_id
    assert "所选街巷不存在" in _planned(category, p, 999_999_999)


def test_plan_report_finds_the_earlier_submission_and_refuses_unknown_categories(world):
    from cases.services import idempotency_hash, report_case

    user = world.users["chief_fz"]
    p = point_on_street("福州路", 121.4750)
    first = report_case(category_code="SJ0101", point=p, reporter=user, idempotency_key="plan-1").case
    plan = routing.plan_report(category_code="SJ0101", point=p, idempotency_key=idempotency_hash("plan-1", user))
    assert plan.existing_case_id == first.pk
    for code in ("NOPE", "LBB", ""):  # unknown, a group, empty
        assert routing.plan_report(category_code=code, point=p).category is None
