"""The public lookup in a real browser, offline, on the demo: the map draws the lanes of the view (and nothing when
zoomed out), search → lane page → printable placard with its QR code, and "use my location" on a phone."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection

from tests.browser import PHONE, browser, demo_activity, demo_site, drawn_paths, login_as, open_tab  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAP = ".map-box .folium-map"


def sql_one(query: str, params=()):
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()


def lanes_in_view(bounds: dict) -> int:
    return sql_one(
        "SELECT count(*) FROM lanes_lane WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
        [bounds["west"], bounds["south"], bounds["east"], bounds["north"]],
    )[0]


def map_state(page) -> dict:
    return page.evaluate(
        """() => { const m = window[JSON.parse(document.getElementById('lookup-config').textContent).mapName];
                   const b = m.getBounds();
                   return {zoom: m.getZoom(), west: b.getWest(), south: b.getSouth(), east: b.getEast(),
                           north: b.getNorth(), hint: document.getElementById('map-hint').dataset.state}; }"""
    )


def test_lookup_map_draws_the_lanes_of_the_view_only(browser, demo_site):  # noqa: F811
    tab = open_tab(browser, demo_site)
    try:
        page = tab.page
        tab.goto("/lookup/")
        page.wait_for_function("document.getElementById('map-hint').dataset.state === 'ready'")
        state = map_state(page)
        assert state["zoom"] >= 15
        expected = lanes_in_view(state)
        assert expected > 50  # the demo's centre is full of streets
        assert drawn_paths(page, MAP) == expected
        tab.screenshot("lookup-map")

        # zoomed out to the whole city: nothing is drawn, the page asks to zoom in
        page.evaluate(
            "() => window[JSON.parse(document.getElementById('lookup-config').textContent).mapName].setZoom(12, {animate: false})"
        )
        page.wait_for_function("document.getElementById('map-hint').dataset.state === 'zoom-in'")
        assert drawn_paths(page, MAP) == 0

        # the browser's GCJ-02 shift is the server's (common.geo)
        from common.geo import gcj02_to_wgs84, wgs84_to_gcj02

        js = page.evaluate(
            "() => [LaneChiefMap.wgs84ToGcj02(121.4737, 31.2304), LaneChiefMap.gcj02ToWgs84(121.4782, 31.2284)]"
        )
        assert js[0] == pytest.approx(list(wgs84_to_gcj02(121.4737, 31.2304)), abs=1e-9)
        assert js[1] == pytest.approx(list(gcj02_to_wgs84(121.4782, 31.2284)), abs=1e-8)
    finally:
        tab.close()
    assert tab.outside == [] and tab.errors == []


def test_search_then_lane_page_then_printed_placard(browser, demo_site):  # noqa: F811
    tab = open_tab(browser, demo_site)
    try:
        page = tab.page
        tab.goto("/lookup/")
        page.fill("#q", "南京")
        page.press("#q", "Enter")
        page.wait_for_selector("#search-results ul.results li")
        names = page.locator("#search-results .name").all_inner_texts()
        assert names and all("南京" in n for n in names)
        first = page.locator("#search-results ul.results a").first
        lane_id = int(re.search(r"/lookup/lanes/(\d+)/", first.get_attribute("href")).group(1))
        first.click()
        page.wait_for_selector("#lane-name")
        assert page.inner_text("#lane-name") == sql_one("SELECT name FROM lanes_lane WHERE id = %s", [lane_id])[0]
        page.wait_for_selector("#lane-map path.leaflet-interactive")
        assert drawn_paths(page, "#lane-map") == 1
        assert page.locator("#squads .squad").count() == 3
        assert page.get_attribute("#report-link", "href").endswith(f"?lane={lane_id}")
        tab.screenshot("lookup-lane")

        page.click("#print-link")
        page.wait_for_selector("#placard #qr svg")
        assert page.locator("#placard .squad").count() == 3
        tab.screenshot("lookup-placard")
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4", prefer_css_page_size=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # the placard fits one A4 sheet
    finally:
        tab.close()
    assert tab.outside == [] and tab.errors == []


def test_use_my_location_on_a_phone_finds_the_nearest_lane(browser, demo_site):  # noqa: F811
    # a point a few metres off the middle of a long demo lane
    lon, lat = sql_one(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5) AS p "
        "FROM lanes_lane ORDER BY length_m DESC, id LIMIT 1) s"
    )
    lat += 0.00003
    nearest_id, nearest_name = sql_one(
        "SELECT id, name FROM lanes_lane ORDER BY ST_Distance(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), id LIMIT 1",
        [lon, lat],
    )
    tab = open_tab(
        browser,
        demo_site,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
        permissions=["geolocation"],
    )
    try:
        page = tab.page
        tab.goto("/lookup/")
        page.click("#locate-me")
        page.wait_for_selector("#nearest-result[data-state=found]")
        assert page.get_attribute("#nearest-result", "data-lane-id") == str(nearest_id)
        assert nearest_name in page.inner_text("#nearest-result h2")
        # the chosen lane is highlighted on the map, on top of the lanes of the view
        page.wait_for_function("document.getElementById('map-hint').dataset.state === 'ready'")
        assert page.locator(f"{MAP} path[stroke='#c0392b']").count() == 1
        tab.screenshot("lookup-phone-located")
        page.click("#nearest-result a.button")
        page.wait_for_selector("#lane-name")
        assert page.url.endswith(f"/lookup/lanes/{nearest_id}/")
        config = json.loads(page.evaluate("() => JSON.stringify(document.querySelectorAll('.squad').length)"))
        assert config == 3
    finally:
        tab.close()
    assert tab.outside == [] and tab.errors == []


def test_on_an_amap_base_map_overlays_and_clicks_are_shifted(browser, demo_site):  # noqa: F811
    """With GCJ-02 tiles (Amap) configured but unreachable, the map still draws every lane, shifted WGS-84 → GCJ-02,
    and a click on a drawn lane finds that lane (the click is shifted back)."""
    from django.test.utils import override_settings

    from common.geo import wgs84_to_gcj02

    lane_id, lon, lat, x0, y0 = sql_one(
        "SELECT id, ST_X(p), ST_Y(p), ST_X(ST_StartPoint(ST_GeometryN(geom, 1))), ST_Y(ST_StartPoint(ST_GeometryN(geom, 1))) "
        "FROM (SELECT id, geom, ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5) AS p FROM lanes_lane "
        "WHERE ST_NumGeometries(geom) = 1 ORDER BY length_m DESC, id LIMIT 1) s"
    )
    nearest_id = sql_one(
        "SELECT id FROM lanes_lane ORDER BY ST_Distance(geom::geography, "
        "ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography), id LIMIT 1",
        [lon, lat],
    )[0]
    gx, gy = wgs84_to_gcj02(lon, lat)
    tab = open_tab(browser, demo_site)
    try:
        page = tab.page
        with override_settings(MAP_TILES="amap"):
            tab.goto("/lookup/")
            page.wait_for_function("document.getElementById('map-hint').dataset.state === 'ready'")
            name = json.loads(page.inner_text("#lookup-config"))["mapName"]
            page.evaluate(f"() => window['{name}'].setView([{gy}, {gx}], 17, {{animate: false}})")
            page.wait_for_function("document.getElementById('map-hint').dataset.state === 'ready'")
            first = page.evaluate(
                f"""() => {{ let found = null;
                    window['{name}'].eachLayer(l => {{ if (l.feature && l.feature.id === {lane_id}) {{
                        let ll = l.getLatLngs(); while (Array.isArray(ll[0])) ll = ll[0]; found = [ll[0].lng, ll[0].lat]; }} }});
                    return found; }}"""
            )
            assert first == pytest.approx(list(wgs84_to_gcj02(x0, y0)), abs=2e-6)
            point = page.evaluate(f"() => window['{name}'].latLngToContainerPoint([{gy}, {gx}])")
            box = page.locator(MAP).bounding_box()
            page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
            page.wait_for_selector("#nearest-result[data-state=found]")
            assert page.get_attribute("#nearest-result", "data-lane-id") == str(nearest_id)
            assert drawn_paths(page, MAP) > 10
            tab.screenshot("lookup-amap-offline")
    finally:
        tab.close()
    assert tab.outside and all("autonavi.com" in url for url in tab.outside)  # tiles were asked for, and refused
    assert tab.errors == []


def test_a_lane_chief_reports_a_problem_from_a_phone(browser, demo_site, demo_activity):  # noqa: F811
    """Phone-sized, with the position granted: find my lane, open its placard, report a problem there."""
    from django.contrib.auth import get_user_model

    from cases.models import Case

    lane = demo_activity["lanes"][1]
    lon, lat = sql_one(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.4) AS p "
        "FROM lanes_lane WHERE id = %s) s",
        [lane.pk],
    )
    tab = open_tab(
        browser,
        demo_site,
        viewport=PHONE,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": lat, "longitude": lon, "accuracy": 8},
        permissions=["geolocation"],
    )
    try:
        page = tab.page
        login_as(tab, "lane_chief")
        tab.goto("/lookup/")
        page.click("#locate-me")
        page.wait_for_selector("#nearest-result[data-state=found]")
        found = int(page.get_attribute("#nearest-result", "data-lane-id"))
        page.click("#nearest-result a.button")
        page.wait_for_selector("#report-link")
        page.click("#report-link")
        page.wait_for_selector("#report-form")
        assert f"lane={found}" in page.url
        page.click("#locate")
        page.wait_for_function("document.getElementById('lon').value !== ''")
        page.select_option("select[name=category]", "SJ0101")
        page.fill("textarea[name=description]", "路边堆放垃圾（浏览器测试）")
        tab.screenshot("report-phone")
        page.click("#report-form button[type=submit]")
        page.wait_for_url("**/track/**")
        code = re.search(r"code=(\w+)", page.url).group(1)
        tab.screenshot("report-phone-tracked")
    finally:
        tab.close()
    assert tab.outside == [] and tab.errors == []
    case = Case.objects.get(tracking_code=code)
    assert case.reporter == get_user_model().objects.get(username="lane_chief")
    assert case.point.x == pytest.approx(lon, abs=1e-6) and case.point.y == pytest.approx(lat, abs=1e-6)
    assert case.category.code == "SJ0101" and case.description.startswith("路边堆放垃圾")
