"""Two people act on one case at the same moment, each on their own database connection: one wins, the other
gets 409, and the timeline records the winner only. A retried submission racing itself makes one case.

transactional_db: the threads' transactions really commit (each thread has its own Django connection)."""

import threading

from django.db import connection
from rest_framework.test import APIClient

from cases import services
from cases.models import Case, CaseEvent
from cases.tests.conftest import point_on_street

URL = "/api/cases/"


def _race(calls):
    """Run the callables in parallel threads, released together; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_simultaneous_accepts_one_wins_one_gets_409(live_world):
    case = services.report_case(
        category_code="SJ0101", point=point_on_street("福州路", 121.4750), reporter=live_world.users["chief_fz"]
    ).case
    version = case.version

    def accept(username):
        def call():
            c = APIClient()
            c.force_authenticate(live_world.users[username])
            return c.post(f"{URL}{case.pk}/accept/", {"version": version}, format="json")

        return call

    results = _race([accept("fz_san_member"), accept("fz_san_leader")])
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], results
    loser = next(r for r in results if r.status_code == 409)
    assert "版本" in loser.json()["detail"]
    fresh = Case.objects.get(pk=case.pk)
    assert fresh.status == "accepted" and fresh.version == version + 1
    assert CaseEvent.objects.filter(case=case, action="accept").count() == 1


def test_a_retried_submission_racing_itself_makes_one_case(live_world):
    point = point_on_street("福州路", 121.4750)

    def submit():
        return services.report_case(
            category_code="SJ0101", point=point, reporter=live_world.users["chief_fz"], idempotency_key="race-key-1"
        )

    results = _race([submit, submit, submit])
    assert all(isinstance(r, services.ReportResult) for r in results), results
    assert len({r.case.pk for r in results}) == 1
    assert sorted(r.created for r in results) == [False, False, True]
    assert Case.objects.count() == 1
