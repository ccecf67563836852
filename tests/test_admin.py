"""The admin for geographic models works offline: OpenLayers from /static/, tiles only when configured."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.urls import reverse

from grid.models import Area
from lanes.models import Lane, LaneCell
from people.models import ChiefAssignment, Person
from tests.browser import browser, open_tab  # noqa: F401

pytestmark = pytest.mark.django_db


class AssetParser(HTMLParser):
    """URLs of scripts and stylesheets a page loads, and its inline scripts."""

    def __init__(self):
        super().__init__()
        self.assets: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            if attrs.get("src"):
                self.assets.append(attrs["src"])
            else:
                self._in_script = True
        elif tag == "link" and "stylesheet" in (attrs.get("rel") or ""):
            self.assets.append(attrs.get("href") or "")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline.append(data)


def parse(html: str) -> AssetParser:
    parser = AssetParser()
    parser.feed(html)
    return parser


def local(asset: str) -> bool:
    """A static file of ours, or the admin's own JavaScript catalogue (same origin, no CDN)."""
    if asset == reverse("admin:jsi18n"):
        return True
    return asset.startswith("/static/") and bool(finders.find(urlparse(asset).path.removeprefix("/static/")))


@pytest.fixture
def admin_client_demo(demo, client):
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


def community() -> Area:
    return Area.objects.communities().filter(code__startswith="370602").order_by("code").first()


def lane_with_cells() -> Lane:
    return Lane.objects.filter(pk__in=LaneCell.objects.values("lane")).order_by("-length_m").first()


def pages() -> list[str]:
    cell = Area.objects.grid_cells().order_by("code").first()
    return [
        reverse("admin:grid_area_changelist"),
        reverse("admin:grid_area_changelist") + "?level__exact=community",
        reverse("admin:grid_area_changelist") + "?q=" + community().name,
        reverse("admin:grid_area_change", args=[community().pk]),
        reverse("admin:grid_area_change", args=[cell.pk]),
        reverse("admin:grid_area_add"),
        reverse("admin:lanes_lane_changelist"),
        reverse("admin:lanes_lane_changelist") + "?kind__exact=main&q=路",
        reverse("admin:lanes_lane_change", args=[lane_with_cells().pk]),
        reverse("admin:lanes_lane_add"),
    ]


def test_admin_pages_load_nothing_from_the_internet(admin_client_demo, settings):
    settings.MAP_TILES = "none"
    for url in pages():
        response = admin_client_demo.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        page = parse(html)
        assert page.assets, url
        for asset in page.assets:
            assert local(asset), (url, asset)
        inline = "\n".join(page.inline)
        assert not re.search(r"https?://", inline), url
        if "_change" in url or url.endswith("/add/"):
            assert "/static/vendor/ol/ol.js" in page.assets
            assert "ol.source.OSM" not in inline and "cdn.jsdelivr" not in html


def test_osm_tiles_when_configured(admin_client_demo, settings):
    settings.MAP_TILES = "osm"
    response = admin_client_demo.get(reverse("admin:lanes_lane_change", args=[lane_with_cells().pk]))
    page = parse(response.content.decode())
    assert all(local(asset) for asset in page.assets)
    inline = "\n".join(page.inline)
    assert "tile.openstreetmap.org" in inline and "OpenStreetMap contributors" in inline


def test_lane_change_page_shows_derived_fields_read_only(admin_client_demo):
    lane = lane_with_cells()
    response = admin_client_demo.get(reverse("admin:lanes_lane_change", args=[lane.pk]))
    html = response.content.decode()
    form = response.context["adminform"].form
    assert set(form.fields) == {"name", "name_zh", "kind", "geom"}
    assert 'name="community"' not in html and 'name="length_m"' not in html
    assert lane.community.name in html
    codes = sorted(LaneCell.objects.filter(lane=lane).values_list("cell__code", flat=True))
    assert codes and codes[0] in html


def test_area_change_page_shows_generated_fields_read_only(admin_client_demo):
    area = community()
    response = admin_client_demo.get(reverse("admin:grid_area_change", args=[area.pk]))
    form = response.context["adminform"].form
    assert "area_m2" not in form.fields and "depth" not in form.fields
    assert set(form.fields) >= {"level", "code", "name", "parent", "geom", "illustrative", "source"}
    html = response.content.decode()
    assert 'name="area_m2"' not in html
    assert f"{area.area_m2:,.0f}" in html  # the generated area, shown read-only in square metres


def test_lane_list_filters_and_shows_chiefs_without_phones(admin_client_demo):
    url = reverse("admin:lanes_lane_changelist")
    response = admin_client_demo.get(url)
    html = response.content.decode()
    lanes = list(response.context["cl"].result_list)
    chiefs = Person.objects.filter(
        assignments__in=ChiefAssignment.objects.filter(lane__in=lanes, role="lane_chief")
    ).distinct()
    assert chiefs.exists()
    assert any(chief.name in html for chief in chiefs)
    for chief in chiefs:
        if chief.private_phone:
            assert chief.private_phone not in html
        if chief.public_phone:
            assert chief.public_phone not in html
    # Every demo lane has a chief: the "no chief" filter is empty, the "has chief" filter lists them all.
    assert admin_client_demo.get(url + "?has_chief=no").context["cl"].result_count == 0
    assert admin_client_demo.get(url + "?has_chief=yes").context["cl"].result_count == Lane.objects.count()


def test_area_list_does_not_load_boundaries(admin_client_demo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = admin_client_demo.get(reverse("admin:grid_area_changelist"))
    assert response.status_code == 200
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "grid_area" in q["sql"]]
    assert selects and not any('"grid_area"."geom"' in sql for sql in selects)


def test_street_staff_may_view_but_not_change(demo, client):
    client.force_login(get_user_model().objects.get(username="street_staff"))
    lane = lane_with_cells()
    url = reverse("admin:lanes_lane_change", args=[lane.pk])
    assert client.get(reverse("admin:lanes_lane_changelist")).status_code == 200
    response = client.get(url)
    assert response.status_code == 200 and not response.context["has_change_permission"]
    assert client.post(url, {"name": "改名", "kind": "back"}).status_code == 403
    lane.refresh_from_db()
    assert lane.name != "改名"


def test_home_page(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    page = parse(html)
    assert all(local(asset) for asset in page.assets) and not page.inline
    for url in (reverse("admin:index"), reverse("api-docs")):
        assert f'href="{url}"' in html
    assert "地图数据 © OpenStreetMap contributors (ODbL)" in html
    assert "示意边界" in html and "并非官方边界" in html


# ---------------------------------------------------------------------------------------------------------------
# In a real browser, with every request outside 127.0.0.1 blocked


@pytest.fixture
def demo_server(demo, settings, django_db_blocker):
    """A live server on the committed demo data. pytest-django's live_server would force transactional_db,
    whose teardown flushes every table (the session's demo included); this server needs no transaction."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.MAP_TILES = "none"
    django_db_blocker.unblock()  # the server thread opens its own connection to the test database
    server = LiveServerThread("127.0.0.1", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://127.0.0.1:{server.port}"
    server.terminate()
    server.join(timeout=10)
    django_db_blocker.restore()


@pytest.mark.browser
@pytest.mark.slow
def test_lane_map_draws_offline_in_chromium(demo_server, browser):  # noqa: F811
    lane = lane_with_cells()
    tab = open_tab(browser, demo_server)
    page = tab.page
    try:
        page.goto(demo_server + "/admin/login/?next=/admin/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", "demo12345")
        page.click("input[type=submit]")
        page.wait_for_url(demo_server + "/admin/")
        page.goto(demo_server + reverse("admin:lanes_lane_change", args=[lane.pk]))
        page.wait_for_selector("#id_geom_map canvas", timeout=15_000)
        # OpenLayers draws asynchronously: wait until the lane's strokes are on the canvas.
        page.wait_for_function(
            """() => [...document.querySelectorAll('#id_geom_map canvas')].some(c => {
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   for (let i = 3; i < d.length; i += 4) if (d[i] > 0) return true;
                   return false;
               })""",
            timeout=15_000,
        )
        state = page.evaluate(
            """() => ({
                features: geodjango_geom.featureOverlay.getSource().getFeatures().length,
                modify: geodjango_geom.interactions.modify.getActive(),
                value: document.getElementById('id_geom').value.slice(0, 40),
            })"""
        )
    finally:
        tab.context.close()
    outside, errors = tab.outside, tab.errors
    assert outside == []
    assert errors == []
    assert state["features"] >= 1 and state["modify"] is True
    assert state["value"].startswith('{"type":"MultiLineString"') or state["value"].startswith(
        '{ "type": "MultiLineString"'
    )
