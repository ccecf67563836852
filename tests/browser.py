"""Playwright helpers for the browser tests (tests/test_browser_*.py, marker `browser`).

Debian's chromium driven through the `playwright` package (sync API). One browser per test session; each test opens
its own context (viewport, geolocation, cookies) and page. Every request that is not to our own server is aborted and
recorded, so a page that still needs the internet fails its test. Screenshots go to test-artifacts/ (git-ignored).

The site under test is the committed demo data set (`demo` in tests/conftest.py) served by a LiveServerThread:
pytest-django's `live_server` would force `transactional_db`, whose teardown flushes every table, demo included.
Import the fixtures into a test module: `from tests.browser import browser, demo_site  # noqa: F401`.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


_SHARED: dict = {}


@pytest.fixture(scope="session")
def browser(request):
    """One Chromium for the whole session. Test modules import this fixture, which makes one fixture per module
    for pytest; they all share the browser started by the first (Playwright's sync API allows one per thread)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    if "browser" not in _SHARED:
        # Playwright's sync API keeps an event loop on this thread; Django refuses database calls from a thread with
        # a running loop unless told it is safe (it is: the loop only drives the browser, never Django).
        previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        playwright = sync_api.sync_playwright().start()
        _SHARED["browser"] = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def stop():
            _SHARED.pop("browser").close()
            playwright.stop()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous

        request.addfinalizer(stop)
    return _SHARED["browser"]


@pytest.fixture(scope="module")
def demo_site(demo, django_db_blocker):
    """Base URL of a live server on the committed demo data (maps without tiles: nothing to fetch outside)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread
    from django.test.utils import override_settings

    overrides = override_settings(
        ALLOWED_HOSTS=["127.0.0.1"],
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        MAP_TILES="none",
        PUBLIC_BASE_URL="",
    )
    overrides.enable()
    django_db_blocker.unblock()  # the server thread opens its own connection to the test database
    server = LiveServerThread("127.0.0.1", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    try:
        if server.error:
            raise server.error
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.terminate()
        server.join(timeout=10)
        django_db_blocker.restore()
        overrides.disable()


@dataclass
class Tab:
    """A page in its own browser context, with what it tried to fetch outside and the script errors it raised."""

    context: object
    page: object
    base_url: str
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def goto(self, path: str, **kwargs):
        return self.page.goto(self.base_url + path, **kwargs)

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


def open_tab(browser, base_url: str, *, viewport: dict | None = None, **context_options) -> Tab:
    """A new context and page; requests to any host but the live server are aborted and recorded."""
    host = urlparse(base_url).hostname
    context = browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN", **context_options)
    page = context.new_page()
    tab = Tab(context=context, page=page, base_url=base_url)
    lock = threading.Lock()

    def route(r):
        url = r.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname == host:
            r.continue_()
        else:
            with lock:
                tab.outside.append(url)
            r.abort()

    page.route("**", route)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    _wait_without_eval(page)
    page.set_default_timeout(15_000)
    return tab


_FUNCTION = re.compile(r"^(async\s+)?(function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)")


def _wait_without_eval(page) -> None:
    """The site's Content-Security-Policy (common/csp.py) forbids eval, which Playwright's wait_for_function uses
    to poll a bare expression ("a === b"); a function ("() => a === b") is polled without it. Bare expressions are
    wrapped into functions, so tests keep running under the real policy."""
    original = page.wait_for_function

    def wait_for_function(expression: str, **kwargs):
        text = expression.strip()
        if not _FUNCTION.match(text):
            expression = f"() => ({text})"
        return original(expression, **kwargs)

    page.wait_for_function = wait_for_function


def login_as(tab: Tab, username: str) -> None:
    """Give the tab a logged-in session of `username` (a session made on the server side, as Client.force_login
    does, and handed to the browser as its cookie) — independent of which login page the site offers."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    tab.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": tab.base_url, "httpOnly": True}]
    )


def drawn_paths(page, selector: str = "") -> int:
    """How many interactive vector features (SVG paths) Leaflet has drawn, optionally inside `selector`."""
    return page.locator(f"{selector} path.leaflet-interactive".strip()).count()


@pytest.fixture(scope="module")
def demo_activity(demo, django_db_blocker):
    """Work on the demo, committed so the live server sees it: 60 cases filed through the cases app over the past
    five days at points on demo lanes (routing, squads and clocks as in real use), a finished patrol today that
    covered a third of one street office's lanes, and the demo's street office staff account tied to that street
    office (cases.StaffScope). Removed afterwards (cases only when the demo had none before: the case timeline
    refuses row deletes by design, so cases go by cases.services.purge_all_cases)."""
    import random
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.contrib.gis.geos import LineString, Point
    from django.db import connection
    from django.utils import timezone

    from cases.models import Case, StaffScope
    from cases.services import purge_all_cases, report_case
    from grid.models import Area
    from lanes.models import Lane
    from patrols.models import Patrol, PatrolLane
    from people.models import ChiefAssignment

    rng = random.Random(20240601)
    with django_db_blocker.unblock():
        cases_before = Case.objects.count()
        office = Area.objects.filter(level="street_office", code__startswith="370602").order_by("code").first()
        now = timezone.now()
        with connection.cursor() as cur:
            cur.execute("SELECT setseed(0.61)")
            cur.execute(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_GeometryN(l.geom, 1), random()) AS p "
                "FROM lanes_lane l JOIN grid_area c ON c.id = l.community_id WHERE c.code LIKE '370602%%' "
                "ORDER BY l.id) s ORDER BY random() LIMIT 60"
            )
            points = cur.fetchall()
        codes = ["SJ0101", "SJ0402", "SJ0502", "LBB02", "SJ0104", "SJ0201", "LBB05", "SJ0103"]
        cases = [
            report_case(
                category_code=codes[i % len(codes)],
                point=Point(x, y, srid=4326),
                description="浏览器测试",
                now=now - timedelta(hours=rng.uniform(0, 120)),
            ).case
            for i, (x, y) in enumerate(points)
        ]
        lanes = list(Lane.objects.filter(community__parent=office).order_by("id"))
        covered = lanes[::3]
        chief = ChiefAssignment.objects.filter(lane__in=lanes).select_related("person").first().person
        patrol = Patrol.objects.create(
            person=chief,
            day=timezone.localdate(),
            source="gpx",
            status="finished",
            track=LineString(covered[0].geom[0][0], covered[0].geom[0][-1], srid=4326),
            started_at=now - timedelta(hours=2),
            ended_at=now - timedelta(hours=1),
        )
        PatrolLane.objects.bulk_create(
            PatrolLane(patrol=patrol, lane=lane, covered_m=lane.length_m, share=1.0, covered=True) for lane in covered
        )
        staff = get_user_model().objects.get(username="street_staff")
        scope, scope_created = StaffScope.objects.get_or_create(user=staff, area=office)
    yield {"office": office, "cases": cases, "covered": covered, "lanes": lanes, "patrol": patrol}
    with django_db_blocker.unblock():
        Patrol.objects.filter(pk=patrol.pk).delete()
        if scope_created:
            scope.delete()
        if cases_before == 0:
            purge_all_cases()
