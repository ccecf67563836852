"""The phone-sized pages: report (anonymous, with the idempotency key of the form), tracking, inbox, case page."""

import re

import pytest
from django.core.cache import cache

from cases.models import Case, CaseEvent
from cases.tests.conftest import point_on_street, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()


def test_report_page_works_offline_and_files_a_case(client, world):
    page = client.get("/report/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="locate"' in html and "暴露垃圾" in html and "六必报" in html
    # No CDN: every script and stylesheet is served by the project.
    assert not re.search(r'(src|href)="https?://', html)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)
    p = point_on_street("福州路", 121.4750)
    data = {
        "category": "SJ0101",
        "lon": p.x,
        "lat": p.y,
        "coordsys": "wgs84",
        "description": "垃圾",
        "idempotency_key": key,
        "photos": [upload()],
    }
    first = client.post("/report/", data)
    assert first.status_code == 302 and "/track/?code=" in first["Location"]
    # A double-tap on "submit" sends the same form again: same case, no second one.
    again = client.post("/report/", {**data, "photos": [upload()]})
    assert again["Location"] == first["Location"]
    assert Case.objects.count() == 1
    tracked = client.get(first["Location"])
    assert tracked.status_code == 200
    code = Case.objects.get().tracking_code
    assert code in tracked.content.decode() and "已派遣" in tracked.content.decode()


def test_report_page_errors_say_what_is_wrong_and_keep_the_input(client, world):
    bad = client.post("/report/", {"category": "SJ0101", "lon": "116.397", "lat": "39.909", "description": "留着"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "不在任何街道范围内" in html and "留着" in html
    missing = client.post("/report/", {"category": "SJ0101", "lon": "", "lat": ""})
    assert missing.status_code == 400 and "位置有误" in missing.content.decode()
    assert Case.objects.count() == 0


def test_track_page_unknown_code(client, world):
    assert client.get("/track/?code=NOPE").status_code == 404
    assert client.get("/track/").status_code == 200


def test_inbox_and_case_page_take_actions_with_the_version(client, world):
    assert client.get("/inbox/").status_code == 302  # login required
    p = point_on_street("福州路", 121.4750)
    client.post("/report/", {"category": "SJ0101", "lon": p.x, "lat": p.y})
    case = Case.objects.get()
    client.force_login(world.users["fz_san_member"])
    inbox = client.get("/inbox/").content.decode()
    assert f"/inbox/{case.pk}/" in inbox and "light-green" in inbox
    page = client.get(f"/inbox/{case.pk}/").content.decode()
    assert 'value="accept"' in page and "福州路环卫中队" in page
    stale = client.post(f"/inbox/{case.pk}/", {"action": "accept", "version": case.version - 1})
    assert stale.status_code == 409 and "版本" in stale.content.decode()
    ok = client.post(f"/inbox/{case.pk}/", {"action": "accept", "version": case.version, "note": "收到"})
    assert ok.status_code == 302
    case.refresh_from_db()
    assert case.status == "accepted"
    assert CaseEvent.objects.filter(case=case, action="accept", note="收到").exists()
    client.force_login(world.users["outsider"])
    assert client.get(f"/inbox/{case.pk}/").status_code == 404
