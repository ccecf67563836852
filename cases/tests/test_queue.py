"""Cases on the real queue: dispatches and supervision notices are queued while no worker runs, and delivered when
one starts (a real procrastinate worker on its own psycopg 3 connection, to a local webhook receiver). The periodic
tasks are registered on the queue and do their work when called with the scheduler's timestamp."""

import http.server
import json
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from procrastinate.contrib.django import app

from cases import services, tasks
from cases.models import Case, CaseEvent
from cases.tests.conftest import point_on_street, upload

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def webhook(settings):
    settings.NOTIFY_WEBHOOK_SECRET = "cases-test-secret"
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()


def run_worker():
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(queues=["notifications"], wait=False, install_signal_handlers=False, listen_notify=False)


def test_notifications_wait_for_the_worker_and_are_delivered_when_it_starts(live_world, webhook):
    from notify.models import Notification
    from notify.recipients import Recipient
    from notify.services import endpoint_upsert

    url, received = webhook
    squad = live_world.squads["福州路环卫中队"]
    endpoint_upsert(recipient=Recipient.for_squad(squad), channel="webhook", address=url)
    endpoint_upsert(recipient=Recipient.for_area(live_world.so_w), channel="webhook", address=url + "/office")
    reported_at = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    case = services.report_case(
        category_code="SJ0101",
        point=point_on_street("福州路", 121.4750),
        reporter=live_world.users["chief_fz"],
        now=reported_at,
    ).case
    # The periodic sweep runs (as the scheduler would call it) after the deadline, still without a worker.
    result = tasks.sweep_overdue(int((reported_at + timedelta(days=1)).timestamp()))
    assert result["supervised"] == [case.pk]
    assert received == []
    assert set(Notification.objects.values_list("event", "status")) == {
        ("case.dispatched", "queued"),
        ("case.supervision", "queued"),
    }

    run_worker()  # the worker comes back

    assert sorted(Notification.objects.values_list("status", flat=True)) == ["sent", "sent", "sent"]
    text = json.dumps(received, ensure_ascii=False)
    assert case.tracking_code in text and "case.dispatched" in text and "case.supervision" in text
    assert len(received) == 3  # dispatch → squad; supervision → squad and street office


def test_periodic_tasks_are_registered_on_the_periodic_queue():
    periodic = {p.task.name: p for p in app.periodic_registry.periodic_tasks.values()}
    assert periodic["cases.sweep_overdue"].cron == "*/10 * * * *"
    assert periodic["cases.sample_spot_checks"].cron == "0 0 * * 1"
    assert periodic["cases.sweep_overdue"].task.queue == "periodic"


def test_spot_check_task_samples_last_weeks_closed_cases(live_world, settings):
    settings.CASE_SPOT_CHECK_SHARE = 1.0
    u = live_world.users
    t = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    case = services.report_case(
        category_code="SJ0101", point=point_on_street("福州路", 121.4750), reporter=u["chief_fz"], now=t
    ).case
    for action, user, extra in (
        ("accept", "fz_san_member", {}),
        ("resolve", "fz_san_member", {"note": "ok"}),
        ("recheck_pass", "chief_fz", {}),
        ("close", "chief_fz", {}),
    ):
        case.refresh_from_db()
        photos = [upload()] if action == "resolve" else []
        services.transition(
            case_id=case.pk, action=action, user=u[user], version=case.version, now=t, photos=photos, **extra
        )
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=TZ)
    assert tasks.sample_spot_checks(int(monday.timestamp())) == {"sampled": [case.pk]}
    assert Case.objects.get(pk=case.pk).spot_check_due
    assert CaseEvent.objects.filter(case=case, action="spot_sample").count() == 1
