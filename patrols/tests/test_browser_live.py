"""The phone page records a live patrol in a real browser (Debian's chromium, offline): the emulated GPS walks a
real street, the page posts the fixes, finishing shows the lanes the track covered; the daily report page and its
XLSX link work for the group leader."""

from __future__ import annotations

import time

import pytest
from shapely.geometry import Point as SPoint

from patrols.tests.conftest import TO_WGS, single_line
from tests.browser import PHONE, browser, open_tab  # noqa: F401

# django_db: makes pytest-django set up the test database even when this module runs alone.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(scope="module")
def site(city, django_db_blocker):
    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread
    from django.test.utils import override_settings

    from lanes.models import Lane
    from people.models import Department, Person, WorkGroup

    overrides = override_settings(
        ALLOWED_HOSTS=["127.0.0.1"],
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        ROOT_URLCONF="patrols.tests.urls",
    )
    overrides.enable()
    django_db_blocker.unblock()
    users = get_user_model().objects
    walker = users.create_user("walker", password="x-Secret-1")
    dept = Department.objects.create(name="浏览器测试部门", street_office=city["offices"][1])
    person = Person.objects.create(name="步行者", department=dept, user=walker)
    # a short street (150–300 m, one piece) so that the emulated walk takes seconds
    lanes = sorted(
        (lane for lane in Lane.objects.order_by("name", "id") if (ln := single_line(lane)) and 150 <= ln.length <= 300),
        key=lambda lane: (lane.name, lane.id),
    )
    lane = lanes[0]
    group = WorkGroup.objects.create(name="浏览器组", department=dept, leader=person)
    group.lanes.set([lane])
    # the session is made here, committed, so that the server thread sees it (the test itself runs in a
    # transaction the server cannot see into)
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(walker)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    server = LiveServerThread("127.0.0.1", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    try:
        if server.error:
            raise server.error
        yield {"url": f"http://127.0.0.1:{server.port}", "lane": lane, "person": person, "session": session}
    finally:
        server.terminate()
        server.join(timeout=10)
        from patrols.models import Patrol

        Patrol.objects.filter(person=person).delete()
        group.delete()
        person.delete()
        dept.delete()
        from django.contrib.sessions.models import Session

        Session.objects.all().delete()
        walker.delete()
        django_db_blocker.restore()
        overrides.disable()


def test_a_live_patrol_on_the_phone_page(browser, site):  # noqa: F811
    from patrols.models import Patrol, PatrolLane

    lane = site["lane"]
    line = single_line(lane)
    steps = [line.interpolate(d) for d in range(0, int(line.length) + 1, 6)]
    first = TO_WGS.transform(steps[0].x, steps[0].y)
    tab = open_tab(
        browser,
        site["url"],
        viewport=PHONE,
        geolocation={"longitude": first[0], "latitude": first[1], "accuracy": 5},
        permissions=["geolocation"],
    )
    try:
        from django.conf import settings

        tab.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": site["session"], "url": site["url"], "httpOnly": True}]
        )
        page = tab.page
        tab.goto("/patrols/live/")
        page.evaluate("localStorage.clear()")
        page.get_by_role("button", name="开始巡查").click()
        page.wait_for_function("document.getElementById('finish').disabled === false")
        for p in steps:
            lon, lat = TO_WGS.transform(p.x, p.y)
            tab.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 5})
            time.sleep(0.3)  # 6 m in 0.3 s: within 50 km/h plus GPS tolerance
        page.wait_for_function(f"Number(document.getElementById('n-recorded').textContent) >= {len(steps) // 2}")
        page.locator("#f-desc").fill("人行道上有暴露垃圾")
        page.get_by_role("button", name="提交（使用当前位置）").click()
        page.wait_for_function("document.getElementById('messages').textContent.indexOf('已记录发现') >= 0")
        page.get_by_role("button", name="结束巡查").click()
        page.wait_for_function(
            "document.getElementById('status').textContent.indexOf('巡查已结束') >= 0", timeout=30_000
        )
        status = page.locator("#status").text_content()
        assert lane.name in status
        assert tab.outside == [] and tab.errors == []
        tab.screenshot("patrol-live-finished")
    finally:
        tab.close()
    patrol = Patrol.objects.get(person=site["person"])
    assert patrol.status == "finished" and patrol.source == "live"
    assert PatrolLane.objects.filter(patrol=patrol, lane=lane, covered=True).exists()
    (finding,) = patrol.findings.all()
    assert finding.category_code == "" and finding.case_id is None  # no category chosen: recorded, not filed
    assert finding.lane_id == lane.id  # the fix was taken on the street
    start = SPoint(patrol.track.coords[0])
    assert start.distance(SPoint(first)) < 0.0002  # the track starts where the emulated walk began
