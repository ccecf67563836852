"""The submission answer written out by hand (cases.serializers.case_detail_data / duplicate_data) and the plain-SQL
possible duplicates (cases.selectors.possible_duplicates, cases.permissions.visible_sql) give exactly what the
generic serializers and the ORM queries give: the same bytes once rendered, for cases in every state, seen by every
role, and the same rows in the same order."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.utils import timezone, translation
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from cases import selectors, services
from cases.calendar import WorkCalendar
from cases.models import Case
from cases.permissions import scope_for, visible_q, visible_sql
from cases.serializers import (
    CaseDetailSerializer,
    DuplicateSerializer,
    case_detail_data,
    duplicate_data,
)
from cases.tests.conftest import CELL_CENTRE, act, point_on_street, upload

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday morning
USERS = [
    "chief_fz",
    "chief_jj",
    "chief_former",
    "fz_san_member",
    "fz_san_leader",
    "sw_order_member",
    "staff_w",
    "staff_e",
    "staff_cwn",
    "district",
    "outsider",
]


def render(data) -> bytes:
    return JSONRenderer().render(data)


def report(code, point, user=None, now=NOW, **kw):
    return services.report_case(category_code=code, point=point, reporter=user, now=now, **kw).case


def cases_in_every_state(world):
    """Cases on lanes and off them, in squad / community / street office queues, with contact, in every state."""
    u = world.users
    fz = point_on_street("福州路", 121.4750)
    made = {
        "new": report("SJ0101", fz, u["chief_fz"], contact="13800000000", description="路口垃圾"),
        "public": report("SJ0101", Point(fz.x + 0.0001, fz.y, srid=4326), None, contact="电话 1"),
        "cell": report("SJ0402", Point(*CELL_CENTRE, srid=settings.GEO_SRID), u["chief_jj"]),
        "sensitive": report("LBB05", Point(*CELL_CENTRE, srid=settings.GEO_SRID), None, contact="x"),
        "street_office": report("SJ0501", point_on_street("福州路", 121.4790), u["staff_e"]),
        "accepted": report("SJ0101", fz, u["chief_fz"]),
        "suspended": report("SJ0101", fz, None),
        "extension": report("SJ0101", fz, None),
        "resolved": report("SJ0101", fz, None),
        "closed": report("SJ0101", fz, None),
        "void": report("SJ0101", fz, None),
        "merged": report("SJ0101", Point(fz.x + 0.0002, fz.y, srid=4326), None),
    }
    later = NOW + timedelta(minutes=30)
    act(made["accepted"], "accept", u["fz_san_member"], now=later)
    for name in ("suspended", "extension", "resolved", "closed"):
        act(made[name], "accept", u["fz_san_member"], now=later)
    act(made["suspended"], "suspend", u["staff_w"], now=later, note="等待产权单位")
    act(made["extension"], "request_extension", u["fz_san_member"], now=later, note="需要调车", hours=3)
    for name in ("resolved", "closed"):
        act(made[name], "resolve", u["fz_san_member"], now=later, note="已清理", photos=[upload()])
    act(made["closed"], "recheck_pass", u["chief_fz"], now=later + timedelta(hours=1))
    act(made["closed"], "close", u["staff_w"], now=later + timedelta(hours=2))
    act(made["void"], "void", u["staff_w"], now=later, note="误报")
    act(made["merged"], "merge", u["chief_fz"], now=later, into=made["new"].pk, note="同一处")
    return made


def test_case_detail_data_is_the_serializers_output(world):
    written = cases_in_every_state(world)
    calendar = WorkCalendar.load()
    # As written by report_case (what a new submission is answered from), and as read back in every later state.
    instances = [written["new"], written["public"], written["cell"], written["sensitive"], written["street_office"]]
    instances += list(selectors.base_queryset().filter(pk__in=[c.pk for c in written.values()]).order_by("pk"))
    instances.append(Case.objects.get(pk=written["merged"].pk))  # nothing selected: relations read on access
    for now in (NOW + timedelta(hours=1), NOW + timedelta(days=3), timezone.now()):
        for username in USERS:
            context = {"now": now, "calendar": calendar, "scope": scope_for(world.users[username])}
            for case in instances:
                expected = render(CaseDetailSerializer(case, context=context).data)
                assert render(case_detail_data(case, context)) == expected, (username, case.status)
    # Without a scope (roles empty), in English, and in another current time zone.
    for case in instances:
        context = {"now": NOW, "calendar": calendar}
        with translation.override("en"), timezone.override(ZoneInfo("UTC")):
            assert render(case_detail_data(case, context)) == render(CaseDetailSerializer(case, context=context).data)


def _orm_duplicates(case, scope, limit=20):
    qs = selectors.duplicates_near(category=case.category, point=case.point, exclude_id=case.pk)
    return qs.filter(pk__in=selectors.visible_cases(scope).values("pk"))[:limit]


def test_possible_duplicates_are_the_orm_querys_rows(world):
    u = world.users
    fz = point_on_street("福州路", 121.4750)
    near = [Point(fz.x + i * 4 / 95_000, fz.y + (i % 3) / 111_000, srid=4326) for i in range(-6, 7)]
    made = [report("SJ0101", p, [u["chief_fz"], None, u["staff_w"], u["chief_jj"]][i % 4]) for i, p in enumerate(near)]
    made.append(report("SJ0402", fz, None))  # another category
    act(made[3], "void", u["staff_w"], now=NOW, note="误报")  # no longer open
    for case in made[:5] + [made[-1]]:
        for username in USERS:
            scope = scope_for(u[username])
            for limit in (20, 3):
                expected = render(DuplicateSerializer(_orm_duplicates(case, scope, limit), many=True).data)
                rows = selectors.possible_duplicates(
                    scope=scope, category_id=case.category_id, point=case.point, exclude_id=case.pk, limit=limit
                )
                assert render([duplicate_data(r) for r in rows]) == expected, (username, limit)
    # Some scopes see several of them, and some none.
    seen = {
        username: len(
            selectors.possible_duplicates(scope=scope_for(u[username]), category_id=made[0].category_id, point=fz)
        )
        for username in USERS
    }
    assert seen["district"] >= 10 and seen["outsider"] == 0 and 0 < seen["chief_jj"] < seen["district"]


def test_visible_sql_selects_what_visible_q_selects(world):
    cases_in_every_state(world)
    for username in USERS:
        scope = scope_for(world.users[username])
        q = visible_q(scope)
        expected = sorted(
            (Case.objects.filter(q) if q is not None else Case.objects.all()).values_list("pk", flat=True)
        )
        visible = visible_sql(scope, "c")
        condition, params = visible if visible is not None else ("TRUE", {})
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT c.id FROM cases_case c WHERE {condition} ORDER BY c.id", params)
            assert [pk for (pk,) in cursor.fetchall()] == expected, username


def test_the_api_answers_a_new_report_as_the_serializer_would(world, monkeypatch):
    """The whole answer of POST /api/cases/ (with duplicates nearby) is the serializer's output for the case."""
    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)
    chief = APIClient()
    chief.force_authenticate(world.users["chief_fz"])
    p = point_on_street("福州路", 121.4750)
    first = chief.post("/api/cases/", {"category": "SJ0101", "lon": p.x, "lat": p.y}, format="json")
    r = chief.post("/api/cases/", {"category": "SJ0101", "lon": p.x + 1e-5, "lat": p.y, "contact": "1"}, format="json")
    assert first.status_code == r.status_code == 201
    body = r.json()
    assert [d["id"] for d in body["properties"]["possible_duplicates"]] == [first.json()["id"]]
    case = selectors.base_queryset().get(pk=body["id"])
    context = {
        "now": frozen,
        "calendar": WorkCalendar.load(),
        "scope": scope_for(world.users["chief_fz"]),
    }
    expected = CaseDetailSerializer(case, context=context).data
    expected["properties"]["possible_duplicates"] = DuplicateSerializer(
        _orm_duplicates(case, context["scope"]), many=True
    ).data
    assert r.content == render(expected)


def test_the_one_statement_insert_writes_the_objects_as_they_are(world):
    """report_case writes the case and both events in one statement: every column holds the instance's value, and
    the actor is named as before (person's name, else full name or username; public; system)."""
    from cases.models import CaseEvent

    u = world.users
    fz = point_on_street("福州路", 121.4750)
    for user, name in ((u["chief_fz"], u["chief_fz"].person.name), (u["staff_w"], "staff_w"), (None, "公众")):
        result = services.report_case(
            category_code="SJ0101", point=fz, reporter=user, contact="c", idempotency_key=f"one-{name}"
        )
        written = result.case
        assert result.created and written.pk is not None and not written._state.adding
        stored = Case.objects.get(pk=written.pk)
        for f in Case._meta.concrete_fields:
            mine, theirs = getattr(written, f.attname), getattr(stored, f.attname)
            assert mine.equals_exact(theirs) if f.name == "point" else mine == theirs, f.name
        events = list(CaseEvent.objects.filter(case=written).order_by("id"))
        assert [(e.action, e.actor_id, e.actor_name) for e in events] == [
            ("report", user.pk if user else None, name),
            ("dispatch", None, "系统"),
        ]
        assert events[0].point.equals_exact(fz) and events[1].data["squad_id"] == written.squad_id


def test_scope_and_calendar_are_scope_for_and_the_calendar(world):
    from datetime import date

    from cases.models import CalendarDay

    CalendarDay.objects.create(date=date(2026, 10, 1), is_workday=False)
    CalendarDay.objects.create(date=date(2026, 10, 11), is_workday=True)
    expected_calendar = WorkCalendar.load()
    assert len(expected_calendar.exceptions) >= 2
    for username in [*USERS, None]:
        user = world.users[username] if username else None
        if user is None:
            from django.contrib.auth.models import AnonymousUser

            user = AnonymousUser()
        scope, calendar = selectors.scope_and_calendar(user)
        assert scope == scope_for(user), username
        assert calendar.exceptions == expected_calendar.exceptions and calendar.periods == expected_calendar.periods
        assert calendar.weekdays == expected_calendar.weekdays and calendar.tz == expected_calendar.tz
