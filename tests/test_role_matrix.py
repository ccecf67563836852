"""Role × endpoint × own/other's object: who gets what, for every endpoint of the URL configuration.

MATRIX has one row per (URL name, method). Each row gives the expected status for the seven callers (anonymous and
the six demo logins) on an object of the caller's own scope ("own") and, for endpoints about one object, on one
outside it ("other"). A row's statuses are written as seven codes in ROLES order. Every request runs in a savepoint
that is rolled back; a refused write (any status >= 300) must leave the database exactly as it was (a hash of the
rows of every table a write could touch).

test_every_endpoint_has_a_row makes a new endpoint without a row fail. The admin site is covered by its own rule
(anonymous and non-staff users are sent to the admin login; staff see a model's list if they hold its view
permission), checked on every admin URL without object ids.

Own and other's objects (built once for the module on the demo, removed afterwards):
- cases: `own` lies on the lane chief's lane, dispatched to the demo squad (squad_leader, squad_member), in the
  street office of street_staff; `other` lies in another street office, with another squad, on another lane;
- patrols and their reports: `own` is the lane chief's patrol; `other` is a patrol of a chief of another street
  office; lanes/people for calendars and stats: the lane chief's own lane and person vs those of that other chief.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.test_access_rules import ENDPOINTS

ROLES = (None, "admin", "district_admin", "street_staff", "lane_chief", "squad_leader", "squad_member")


@dataclass
class World:
    case_own: object
    case_other: object
    patrol_own: object
    patrol_other: object
    lane_own: object
    lane_other: object
    person_own: object
    person_other: object
    report_own: object = None
    report_other: object = None
    bulletin: object = None
    extra: dict = field(default_factory=dict)


def _point_on(lane):
    from django.contrib.gis.geos import Point

    p = lane.geom.interpolate_normalized(0.5) if hasattr(lane.geom, "interpolate_normalized") else None
    if p is None or p.geom_type != "Point":
        coords = lane.geom.coords[0][len(lane.geom.coords[0]) // 2]
        p = Point(coords[0], coords[1], srid=4326)
    return p


def _report_on(lane, kind: str):
    from cases import services
    from cases.models import Category

    category = Category.objects.filter(is_group=False, active=True, sensitive=False, owner=kind).order_by("code")[0]
    return services.report_case(category_code=category.code, point=_point_on(lane), lane_id=lane.pk).case


def _assign(case, squad, admin):
    from cases import services

    if case.squad_id != squad.pk:
        case = services.transition(
            case_id=case.pk, action="assign", user=admin, version=case.version, params={"squad": squad.pk}
        )
    return case


@pytest.fixture(scope="module")
def world(demo, django_db_blocker):
    from django.contrib.auth import get_user_model

    from cases import services as case_services
    from cases.models import Case, StaffScope
    from lanes.models import Lane
    from patrols import services as patrol_services
    from patrols.models import Patrol
    from people.models import ChiefAssignment, Person, Role, SquadMembership

    with django_db_blocker.unblock():
        users = {u.username: u for u in get_user_model().objects.all()}
        today = timezone.localdate()
        chief = Person.objects.get(user=users["lane_chief"])
        squad = SquadMembership.objects.get(person__user=users["squad_leader"]).squad
        office = StaffScope.objects.get(user=users["street_staff"]).area
        own_lanes = Lane.objects.filter(
            pk__in=ChiefAssignment.objects.on(today).filter(person=chief, role=Role.LANE_CHIEF).values("lane_id")
        )
        lane_own = own_lanes.filter(community__parent=office).order_by("pk").first() or own_lanes.order_by("pk")[0]
        # The other chief: someone with a lane in another street office.
        other_assignment = (
            ChiefAssignment.objects.on(today)
            .filter(role=Role.LANE_CHIEF, person__user__isnull=True)
            .exclude(lane__community__parent=lane_own.community.parent)
            .exclude(lane__community__parent=office)
            .exclude(person=chief)
            .select_related("lane", "person")
            .order_by("pk")[0]
        )
        lane_other, person_other = other_assignment.lane, other_assignment.person
        case_own = _assign(_report_on(lane_own, squad.kind.code), squad, users["admin"])
        other_squad = (
            type(squad)
            .objects.filter(kind=squad.kind, service_areas=lane_other.community.parent)
            .exclude(pk=squad.pk)
            .first()
        )
        case_other = _report_on(lane_other, squad.kind.code)
        if other_squad is not None:
            case_other = _assign(case_other, other_squad, users["admin"])
        patrol_own = patrol_services.patrol_start(person=chief, created_by=users["lane_chief"])
        patrol_other = patrol_services.patrol_start(person=person_other)
        w = World(
            case_own=Case.objects.get(pk=case_own.pk),
            case_other=Case.objects.get(pk=case_other.pk),
            patrol_own=patrol_own,
            patrol_other=patrol_other,
            lane_own=lane_own,
            lane_other=lane_other,
            person_own=chief,
            person_other=person_other,
        )
        w.extra["users"] = users
        w.extra["squad"] = squad
        w.extra["office"] = office
    yield w
    with django_db_blocker.unblock():
        case_services.purge_all_cases()
        Patrol.objects.filter(pk__in=[patrol_own.pk, patrol_other.pk]).delete()


@pytest.fixture(scope="module")
def session_keys(demo, world, django_db_blocker) -> dict:
    keys = {}
    with django_db_blocker.unblock():
        for role in ROLES[1:]:
            client = Client()
            client.force_login(world.extra["users"][role])
            keys[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return keys


def client_for(role, session_keys) -> Client:
    client = Client()
    if role:
        client.cookies[settings.SESSION_COOKIE_NAME] = session_keys[role]
    return client


# Tables a write through these endpoints could touch; their rows are hashed around a refused write.
WRITE_TABLES = (
    "cases_case",
    "cases_caseevent",
    "cases_attachment",
    "cases_attendance",
    "patrols_patrol",
    "patrols_patrolpoint",
    "patrols_finding",
    "patrols_dailyreport",
    "stats_bulletin",
    "open311_open311request",
    "people_person",
    "auth_user",
)


def writes_so_far() -> int:
    """Rows inserted, updated or deleted so far in this transaction in any table but the session store, as counted
    by PostgreSQL — rolled-back savepoints included, so a change here only says that the rows must be compared."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_xact_user_tables "
            "WHERE relname <> 'django_session'"
        )
        return int(cursor.fetchone()[0])


def fingerprint() -> list[str]:
    """A hash of every row of WRITE_TABLES (auth_user without last_login, which a login updates)."""
    out = []
    with connection.cursor() as cursor:
        for table in WRITE_TABLES:
            columns = "t.id, t.username, t.is_active, t.is_staff, t.password" if table == "auth_user" else "t.*"
            cursor.execute(
                f"SELECT md5(coalesce(string_agg(({columns})::text, '|' ORDER BY t.id), '')) FROM {table} t"  # noqa: S608
            )
            out.append(cursor.fetchone()[0])
    return out


# --- the matrix ----------------------------------------------------------------------------------------------------
def S(codes: str) -> tuple[int, ...]:
    out = tuple(int(c) for c in codes.split())
    assert len(out) == len(ROLES), codes
    return out


@dataclass(frozen=True)
class Row:
    own: tuple[int, ...]
    other: tuple[int, ...] | None = None  # None: the endpoint is not about one object
    kwargs: object = None  # (world, "own"|"other") -> URL kwargs
    data: object = None  # (world, "own"|"other") -> request body (JSON)
    query: str = ""
    fmt: str = "json"  # content type of the body: "json" or "form"


def case_kw(w, which):
    return {"pk": (w.case_own if which == "own" else w.case_other).pk}


def patrol_kw(w, which):
    return {"pk": (w.patrol_own if which == "own" else w.patrol_other).pk}


def lane_kw(w, which):
    return {"lane_id": (w.lane_own if which == "own" else w.lane_other).pk}


def person_kw(w, which):
    return {"person_id": (w.person_own if which == "own" else w.person_other).pk}


def transition_body(w, which):
    case = w.case_own if which == "own" else w.case_other
    return {"version": case.version, "note": "权限矩阵", "squad": w.extra["squad"].pk, "hours": 4}


# (URL name, method) → (own, other): expected statuses in ROLES order (anonymous, admin, district_admin,
# street_staff, lane_chief, squad_leader, squad_member); other is None for endpoints not about one object.
# Notes on the less obvious ones: case transitions on a dispatched case — 403 for a role the workflow does not give
# the action, 409 for an allowed role in the wrong state (cases.workflow), 404 for a case the caller may not read;
# 400 where the body lacks what the action needs (merge: into; attend: a position; attachments: a file) — checked
# before the case is looked up, so it tells nothing about the case. Daily reports and bulletins: none exist in the
# demo, so an unknown id (404 for readers, 403 for the rest of the API, a login redirect for pages).
MATRIX: dict[tuple[str, str], tuple[tuple[int, ...], tuple[int, ...] | None]] = {}


def endpoint_keys() -> list[tuple[str | None, str]]:
    """(URL name, method) of every endpoint outside the admin site."""
    keys = []
    for ep in ENDPOINTS:
        if ep.name and ep.name.startswith("admin:") or ep.name is None:
            continue
        if ep.drf_class is not None:
            actions = getattr(ep.callback, "actions", None)
            if actions:
                methods = {m.upper() for m in actions}
            else:
                cls = ep.drf_class
                methods = {m.upper() for m in cls.http_method_names if hasattr(cls, m) and m not in ("options", "head")}
        else:
            methods = {"GET"} | PLAIN_POSTS.get(ep.name, set())
        keys += [(ep.name, m) for m in sorted(methods) if (ep.name, m) not in keys]
    return keys


# Plain Django views that take a form POST besides GET.
PLAIN_POSTS = {
    "cases-report": {"POST"},
    "cases-case": {"POST"},
    "login": {"POST"},
    "logout": {"POST"},
    "open311-requests": {"POST"},
    "open311-updates": {"POST"},
}


def build_url(name: str, row: Row, w: World, which: str) -> str:
    kwargs = row.kwargs(w, which) if row.kwargs else {}
    return reverse(name, kwargs=kwargs) + (f"?{row.query}" if row.query else "")


def call(client: Client, method: str, url: str, row: Row, w: World, which: str):
    body = row.data(w, which) if row.data else {}
    with transaction.atomic():
        counted = writes_so_far()
        before = fingerprint() if method != "GET" else None
        if method == "GET":
            response = client.get(url)
        elif row.fmt == "form":
            response = client.generic(
                method, url, data=_urlencode(body), content_type="application/x-www-form-urlencoded"
            )
        else:
            response = client.generic(method, url, data=_json(body), content_type="application/json")
        refused = response.status_code >= 400 or (
            response.status_code == 302 and "/login/" in response.headers.get("Location", "")
        )
        same = True
        if refused and writes_so_far() != counted:
            same = before is not None and fingerprint() == before
        transaction.set_rollback(True)
    return response.status_code, same


def _json(body) -> str:
    import json

    return json.dumps(body)


def _urlencode(body) -> str:
    from urllib.parse import urlencode

    return urlencode(body)


# --- how to call each endpoint (URL kwargs, query, body) -------------------------------------------------------
def _fmt(kw=None):
    def build(w, which):
        return {"fmt": "json", **(kw(w, which) if kw else {})}

    return build


def report_kw(w, which):
    return {"pk": (w.report_own if which == "own" else w.report_other).pk}


def bulletin_kw(w, which):
    return {"pk": w.bulletin.pk}


def new_case_body(w, which):
    lane = w.lane_own
    p = _point_on(lane)
    from cases.models import Category

    code = Category.objects.filter(is_group=False, active=True, sensitive=False).order_by("code")[0].code
    return {"category": code, "lon": p.x, "lat": p.y, "description": "权限矩阵", "lane": lane.pk}


def own_point_query(w):
    p = _point_on(w.lane_own)
    return f"lat={p.y}&lon={p.x}"


CALLS: dict[tuple[str, str], dict] = {
    ("area-at", "GET"): {"query": "lat=31.2304&lon=121.4737"},
    ("area-detail", "GET"): {"kwargs": lambda w, which: {"code": w.lane_own.community.code}},
    ("lane-nearest", "GET"): {"query": "lat=31.2304&lon=121.4737"},
    ("lane-detail", "GET"): {"kwargs": lambda w, which: {"pk": w.lane_own.pk}},
    ("case-list", "POST"): {"data": new_case_body},
    ("case-track", "GET"): {"kwargs": lambda w, which: {"code": w.case_own.tracking_code}},
    ("case-attachment-file", "GET"): {"kwargs": lambda w, which: {**case_kw(w, which), "attachment_id": 1}},
    ("cases-report", "POST"): {"data": new_case_body, "fmt": "form"},
    ("cases-case", "GET"): {"kwargs": case_kw},
    ("cases-case", "POST"): {"kwargs": case_kw, "data": lambda w, which: {"action": "accept"}, "fmt": "form"},
    ("patrols-api-list", "POST"): {"data": lambda w, which: {"notes": "权限矩阵"}},
    ("patrols-api-upload", "POST"): {"data": lambda w, which: {}},
    ("patrols-api-detail", "PATCH"): {"kwargs": patrol_kw, "data": lambda w, which: {"notes": "改"}},
    ("patrols-api-points", "POST"): {
        "kwargs": patrol_kw,
        "data": lambda w, which: {"points": [{"lat": 31.2304, "lon": 121.4737, "t": timezone.now().isoformat()}]},
    },
    ("patrols-api-findings", "POST"): {"kwargs": patrol_kw, "data": lambda w, which: {"note": "权限矩阵"}},
    ("patrols-api-close-day", "POST"): {"kwargs": lambda w, which: {"day": "2026-01-05"}},
    ("stats-bulletin-list", "POST"): {"data": lambda w, which: {"week": "2026-W01"}},
    ("open311-service", "GET"): {"kwargs": _fmt(lambda w, which: {"code": "NOPE"})},
    ("open311-request", "GET"): {"kwargs": _fmt(lambda w, which: {"request_id": w.case_own.tracking_code})},
    ("open311-requests", "POST"): {"kwargs": _fmt(), "data": lambda w, which: {"service_code": "X"}, "fmt": "form"},
    ("open311-updates", "POST"): {"kwargs": _fmt(), "data": lambda w, which: {"action": "accept"}, "fmt": "form"},
    ("login", "POST"): {"data": lambda w, which: {"username": "admin", "password": "wrong"}, "fmt": "form"},
    ("password_reset_confirm", "GET"): {"kwargs": lambda w, which: {"uidb64": "MQ", "token": "x-y"}},
    ("lookup-lane", "GET"): {"kwargs": lambda w, which: {"lane_id": w.lane_own.pk}},
    ("lookup-placard", "GET"): {"kwargs": lambda w, which: {"lane_id": w.lane_own.pk}},
    ("lookup-api-nearest", "GET"): {"query": "lat=31.2304&lon=121.4737"},
    ("dashboard-api-lane", "GET"): {"kwargs": lane_kw},
    ("open311-updates", "GET"): {"kwargs": _fmt()},
    # No daily report or bulletin exists in the demo: an unknown id (404 for those who may read such objects).
    ("patrols-api-report", "GET"): {"kwargs": lambda w, which: {"pk": 999999}},
    ("patrols-api-report-xlsx", "GET"): {"kwargs": lambda w, which: {"pk": 999999}},
    ("patrols-report", "GET"): {"kwargs": lambda w, which: {"pk": 999999}},
    ("patrols-report-xlsx", "GET"): {"kwargs": lambda w, which: {"pk": 999999}},
    ("stats-bulletin-page", "GET"): {"kwargs": lambda w, which: {"pk": 999999}},
    ("stats-bulletin-xlsx", "GET"): {"kwargs": lambda w, which: {"pk": 999999}},
    ("stats-bulletin-detail", "GET"): {"kwargs": lambda w, which: {"pk": 999999}},
}
# Endpoints about one object: the kwargs of the own and other's object.
OBJECT_KWARGS = {
    "case-detail": case_kw,
    "case-timeline": case_kw,
    "case-duplicates": case_kw,
    "case-attachments": case_kw,
    "case-attend": case_kw,
    "patrols-api-detail": patrol_kw,
    "patrols-api-finish": patrol_kw,
    "patrols-api-findings": patrol_kw,
    "patrols-api-photos": patrol_kw,
    "patrols-api-points": patrol_kw,
    "patrols-api-lane-calendar": lane_kw,
    "patrols-lane-calendar": lane_kw,
    "patrols-api-person-stats": person_kw,
    "patrols-api-person-day": person_kw,
    "cases-case": case_kw,
    "dashboard-api-lane": lane_kw,
}
for _name in ("open311-discovery", "open311-services", "open311-requests"):
    CALLS.setdefault((_name, "GET"), {"kwargs": _fmt()})


def call_spec(name: str, method: str) -> tuple[dict, bool]:
    """How to call (name, method), and whether it is about one object (own/other)."""
    spec = dict(CALLS.get((name, method), {}))
    if name.startswith("case-") and method == "POST" and name not in ("case-list", "case-attachments", "case-attend"):
        spec.setdefault("kwargs", case_kw)  # a workflow transition
        spec.setdefault("data", transition_body)
        return spec, True
    if name in OBJECT_KWARGS:
        spec.setdefault("kwargs", OBJECT_KWARGS[name])
        return spec, True
    return spec, False


def observe(name, method, w, session_keys) -> tuple[tuple, tuple | None, list]:
    from django.core.cache import cache

    spec, per_object = call_spec(name, method)
    row = Row(
        own=(),
        kwargs=spec.get("kwargs"),
        data=spec.get("data"),
        query=spec.get("query", ""),
        fmt=spec.get("fmt", "json"),
    )
    results = {}
    unchanged = []
    for which in ("own", "other") if per_object else ("own",):
        url = build_url(name, row, w, which)
        codes = []
        for role in ROLES:
            cache.clear()  # rate limits (anonymous reports) count per process; each call starts afresh
            status, same = call(client_for(role, session_keys), method, url, row, w, which)
            codes.append(status)
            if not same:
                unchanged.append((which, role, status))
        results[which] = tuple(codes)
    return results["own"], results.get("other"), unchanged


@pytest.mark.skipif("MATRIX_OBSERVE" not in __import__("os").environ, reason="prints the observed matrix")
def test_print_observed_matrix(demo, db, world, session_keys):
    only = __import__("os").environ["MATRIX_OBSERVE"].split(",")
    for name, method in endpoint_keys():
        if only != ["1"] and name not in only:
            continue
        try:
            own, other, changed = observe(name, method, world, session_keys)
        except Exception as exc:  # noqa: BLE001 - observation only
            print(f"{name!r:34} {method:6} own=EXC {exc!r:.200}")
            continue
        print(
            f"{name!r:34} {method:6} own={' '.join(map(str, own))}  other={' '.join(map(str, other)) if other else '-'}"
            f"  changed={changed}"
        )


MATRIX.update(
    {
        ("healthz", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("schema", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("api-docs", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("api-redoc", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("area-list", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("area-at", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("area-detail", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("lane-list", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("lane-nearest", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("lane-detail", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("case-list", "GET"): (S("403 200 200 200 200 200 200"), None),
        ("case-list", "POST"): (S("201 201 201 201 201 201 201"), None),
        ("case-attendance-report", "GET"): (S("403 200 200 200 200 200 200"), None),
        ("case-categories", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("case-inbox", "GET"): (S("403 200 200 200 200 200 200"), None),
        ("case-track", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("case-detail", "GET"): (S("403 200 200 200 200 200 200"), S("403 200 200 404 404 404 404")),
        ("case-accept", "POST"): (S("403 403 403 403 403 200 200"), S("403 403 403 404 404 404 404")),
        ("case-approve_extension", "POST"): (S("403 409 409 409 403 403 403"), S("403 409 409 404 404 404 404")),
        ("case-assign", "POST"): (S("403 200 200 200 403 403 403"), S("403 200 200 404 404 404 404")),
        ("case-attachment-file", "GET"): (S("403 404 404 404 404 404 404"), None),
        ("case-attachments", "GET"): (S("403 200 200 200 200 200 200"), S("403 200 200 404 404 404 404")),
        ("case-attachments", "POST"): (S("403 400 400 400 400 400 400"), S("403 400 400 400 400 400 400")),
        ("case-attend", "POST"): (S("403 400 400 400 400 400 400"), S("403 400 400 400 400 400 400")),
        ("case-close", "POST"): (S("403 409 409 409 409 403 403"), S("403 409 409 404 404 404 404")),
        ("case-duplicates", "GET"): (S("403 200 200 200 200 200 200"), S("403 200 200 404 404 404 404")),
        ("case-merge", "POST"): (S("403 400 400 400 400 403 403"), S("403 400 400 404 404 404 404")),
        ("case-recheck_fail", "POST"): (S("403 409 409 409 409 403 403"), S("403 409 409 404 404 404 404")),
        ("case-recheck_pass", "POST"): (S("403 409 409 409 409 403 403"), S("403 409 409 404 404 404 404")),
        ("case-reject_extension", "POST"): (S("403 409 409 409 403 403 403"), S("403 409 409 404 404 404 404")),
        ("case-request_extension", "POST"): (S("403 403 403 403 403 200 200"), S("403 403 403 404 404 404 404")),
        ("case-resolve", "POST"): (S("403 403 403 403 403 409 409"), S("403 403 403 404 404 404 404")),
        ("case-resume", "POST"): (S("403 409 409 409 403 403 403"), S("403 409 409 404 404 404 404")),
        ("case-return", "POST"): (S("403 403 403 403 403 200 200"), S("403 403 403 404 404 404 404")),
        ("case-spot_check_fail", "POST"): (S("403 409 409 409 409 403 403"), S("403 409 409 404 404 404 404")),
        ("case-spot_check_pass", "POST"): (S("403 409 409 409 409 403 403"), S("403 409 409 404 404 404 404")),
        ("case-suspend", "POST"): (S("403 200 200 200 403 403 403"), S("403 200 200 404 404 404 404")),
        ("case-timeline", "GET"): (S("403 200 200 200 200 200 200"), S("403 200 200 404 404 404 404")),
        ("case-void", "POST"): (S("403 200 200 200 403 403 403"), S("403 200 200 404 404 404 404")),
        ("cases-report", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("cases-report", "POST"): (S("302 302 302 302 302 302 302"), None),
        ("cases-track", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("cases-inbox", "GET"): (S("302 200 200 200 200 200 200"), None),
        ("cases-case", "GET"): (S("302 200 200 200 200 200 200"), S("302 200 200 404 404 404 404")),
        ("cases-case", "POST"): (S("302 403 403 403 403 400 400"), S("302 403 403 404 404 404 404")),
        ("patrols-api-list", "GET"): (S("403 200 200 200 200 200 200"), None),
        ("patrols-api-list", "POST"): (S("403 403 403 201 201 201 201"), None),
        ("patrols-api-upload", "POST"): (S("403 403 403 415 415 415 415"), None),
        ("patrols-api-detail", "DELETE"): (S("403 403 403 403 204 404 404"), S("403 403 403 403 404 404 404")),
        ("patrols-api-detail", "GET"): (S("403 200 200 200 200 404 404"), S("403 200 200 200 404 404 404")),
        ("patrols-api-detail", "PATCH"): (S("403 403 403 403 200 404 404"), S("403 403 403 403 404 404 404")),
        ("patrols-api-points", "POST"): (S("403 403 403 403 200 404 404"), S("403 403 403 403 404 404 404")),
        ("patrols-api-finish", "POST"): (S("403 403 403 403 400 404 404"), S("403 403 403 403 404 404 404")),
        ("patrols-api-findings", "GET"): (S("403 200 200 200 200 404 404"), S("403 200 200 200 404 404 404")),
        ("patrols-api-findings", "POST"): (S("403 403 403 403 400 404 404"), S("403 403 403 403 404 404 404")),
        ("patrols-api-photos", "POST"): (S("403 403 403 403 415 404 404"), S("403 403 403 403 404 404 404")),
        ("patrols-api-coverage", "GET"): (S("403 400 400 400 400 400 400"), None),
        ("patrols-api-coverage-lanes", "GET"): (S("403 400 400 400 400 400 400"), None),
        ("patrols-api-reports", "GET"): (S("403 200 200 200 200 200 200"), None),
        ("patrols-api-lane-calendar", "GET"): (S("403 200 200 200 200 200 200"), S("403 200 200 200 200 200 200")),
        ("patrols-api-person-stats", "GET"): (S("403 200 200 200 200 403 403"), S("403 200 200 200 403 403 403")),
        ("patrols-api-person-day", "GET"): (S("403 400 400 400 400 403 403"), S("403 400 400 400 403 403 403")),
        ("patrols-api-close-day", "POST"): (S("403 200 403 403 403 403 403"), None),
        ("patrols-live", "GET"): (S("302 200 200 200 200 200 200"), None),
        ("patrols-reports", "GET"): (S("302 200 200 200 200 200 200"), None),
        ("patrols-lane-calendar", "GET"): (S("302 200 200 200 200 200 200"), S("302 200 200 200 200 200 200")),
        ("stats-indicators", "GET"): (S("403 200 200 200 403 403 403"), None),
        ("stats-rankings", "GET"): (S("403 200 200 200 403 403 403"), None),
        ("stats-ratings", "POST"): (S("400 400 400 400 400 400 400"), None),
        ("stats-surveys", "GET"): (S("403 200 200 200 403 403 403"), None),
        ("stats-surveys", "POST"): (S("403 400 403 403 403 403 403"), None),
        ("stats-bulletin-list", "GET"): (S("403 200 200 200 403 403 403"), None),
        ("stats-bulletin-list", "POST"): (S("403 201 201 403 403 403 403"), None),
        ("open311-discovery", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("open311-services", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("open311-service", "GET"): (S("404 404 404 404 404 404 404"), None),
        ("open311-requests", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("open311-requests", "POST"): (S("403 403 403 403 403 403 403"), None),
        ("open311-updates", "POST"): (S("403 403 403 403 403 403 403"), None),
        ("open311-request", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("login", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("login", "POST"): (S("200 200 200 200 200 200 200"), None),
        ("logout", "GET"): (S("405 405 405 405 405 405 405"), None),
        ("logout", "POST"): (S("302 302 302 302 302 302 302"), None),
        ("password_change", "GET"): (S("302 200 200 200 200 200 200"), None),
        ("password_change_done", "GET"): (S("302 200 200 200 200 200 200"), None),
        ("password_reset", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("password_reset_done", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("password_reset_confirm", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("password_reset_complete", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("set_language", "GET"): (S("302 302 302 302 302 302 302"), None),
        ("home", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("lookup", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("lookup-lane", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("lookup-placard", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("lookup-api-lanes", "GET"): (S("400 400 400 400 400 400 400"), None),
        ("lookup-api-nearest", "GET"): (S("200 200 200 200 200 200 200"), None),
        ("squad-map", "GET"): (S("302 200 200 200 403 200 200"), None),
        ("dashboard", "GET"): (S("302 200 200 200 403 403 403"), None),
        ("dashboard-api-lanes", "GET"): (S("401 200 200 200 403 403 403"), None),
        ("dashboard-api-lane", "GET"): (S("401 200 200 200 403 403 403"), S("401 200 200 404 403 403 403")),
        ("dashboard-api-cells", "GET"): (S("401 200 200 200 403 403 403"), None),
        ("dashboard-api-cases", "GET"): (S("401 200 200 200 403 403 403"), None),
        ("dashboard-api-heat", "GET"): (S("401 200 200 200 403 403 403"), None),
        ("dashboard-api-boundaries", "GET"): (S("401 200 200 200 403 403 403"), None),
        ("patrols-api-report", "GET"): (S("403 404 404 404 404 404 404"), None),
        ("patrols-api-report-xlsx", "GET"): (S("403 404 404 404 404 404 404"), None),
        ("patrols-report", "GET"): (S("302 404 404 404 404 404 404"), None),
        ("patrols-report-xlsx", "GET"): (S("302 404 404 404 404 404 404"), None),
        ("stats-bulletin-page", "GET"): (S("302 404 404 404 403 403 403"), None),
        ("stats-bulletin-xlsx", "GET"): (S("302 404 404 404 403 403 403"), None),
        ("stats-bulletin-detail", "GET"): (S("403 404 404 404 403 403 403"), None),
        ("open311-updates", "GET"): (S("405 405 405 405 405 405 405"), None),
    }
)


KEYS = endpoint_keys()


def test_every_endpoint_has_a_row():
    missing = [k for k in KEYS if k not in MATRIX]
    assert not missing, f"endpoints without a row in MATRIX (add the expected statuses per role): {missing}"
    stale = [k for k in MATRIX if k not in KEYS]
    assert not stale, f"MATRIX rows for endpoints that no longer exist: {stale}"


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k[1]} {k[0]}")
def test_role_matrix(demo, db, world, session_keys, key):
    if key not in MATRIX:
        pytest.fail(f"no MATRIX row for {key}")
    want_own, want_other = MATRIX[key]
    own, other, changed = observe(*key, world, session_keys)
    assert own == want_own, f"{key} own object: got {own}, expected {want_own} (order {ROLES})"
    assert other == want_other, f"{key} other's object: got {other}, expected {want_other} (order {ROLES})"
    assert not changed, f"{key}: refused requests changed the database: {changed}"


def _admin_urls() -> list:
    """Admin URLs without object ids: the index, app indexes and every model's list and add page."""
    urls = []
    for ep in ENDPOINTS:
        if not (ep.name or "").startswith("admin:") or "<" in ep.route or "(?P<" in ep.route:
            continue
        if ep.name in ("admin:login", "admin:logout", "admin:password_change", "admin:password_change_done"):
            continue
        urls.append((ep.name, reverse(ep.name)))
    return urls


def test_admin_site_is_for_staff_with_model_permissions(demo, db, world, session_keys):
    """Anonymous and non-staff users are sent to the admin login; staff reach the index, and a model's list only
    with its view (or change) permission."""
    from django.contrib import admin

    models = {f"admin:{m._meta.app_label}_{m._meta.model_name}_changelist": m for m in admin.site._registry}
    urls = _admin_urls()
    assert len(urls) > 30
    users = world.extra["users"]
    for role in ROLES:
        client = client_for(role, session_keys)
        user = users.get(role)
        staff = bool(user and user.is_active and user.is_staff)
        for name, url in urls:
            if not staff and name != "admin:index" and not name.endswith("_changelist"):
                continue  # the redirect is the same for every view; lists stand for them
            if staff and not (name == "admin:index" or name in models):
                continue
            status = client.get(url).status_code
            if not staff:
                assert status == 302, (role, url, status)
            elif name == "admin:index":
                assert status == 200, (role, url, status)
            else:
                m = models[name]
                perms = (
                    f"{m._meta.app_label}.view_{m._meta.model_name}",
                    f"{m._meta.app_label}.change_{m._meta.model_name}",
                )
                expected = 200 if any(user.has_perm(p) for p in perms) else 403
                assert status == expected, (role, url, status)
