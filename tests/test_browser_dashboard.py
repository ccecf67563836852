"""The street office dashboard and the squad map in a real browser, offline, on the demo with cases and a patrol
(tests.browser.demo_activity): each layer draws what the database holds for the view."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from tests.browser import browser, demo_activity, demo_site, login_as, open_tab  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAP = "#dashboard-map .folium-map"
READY = (
    "(keys) => keys.every(k => document.querySelector('#dashboard-map .folium-map').dataset['layer' + k] === 'ready')"
)


def sql_one(query: str, params=()):
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchone()


def view_of(page) -> dict:
    return page.evaluate(
        """() => { const m = window[JSON.parse(document.getElementById('dashboard-config').textContent).mapName];
                   const b = m.getBounds();
                   return {zoom: m.getZoom(), west: b.getWest(), south: b.getSouth(), east: b.getEast(), north: b.getNorth()}; }"""
    )


def envelope(v: dict) -> list:
    return [v["west"], v["south"], v["east"], v["north"]]


def test_dashboard_draws_every_layer_of_the_street_office(browser, demo_site, demo_activity):  # noqa: F811
    office = demo_activity["office"]
    tab = open_tab(browser, demo_site)
    try:
        page = tab.page
        login_as(tab, "street_staff")
        tab.goto("/dashboard/")
        page.wait_for_function(READY, arg=["Boundaries", "Lanes", "Cases"])
        v = view_of(page)
        env = envelope(v)
        lanes = sql_one(
            "SELECT count(*) FROM lanes_lane l JOIN grid_area c ON c.id = l.community_id "
            "WHERE c.code LIKE %s AND l.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
            [office.code + "%", *env],
        )[0]
        assert lanes > 20
        assert page.locator(f"{MAP} path.lc-lane").count() == lanes
        # today's patrol covered every third lane of the office: those are green
        assert page.locator(f"{MAP} path.lc-lane-covered").count() == len(demo_activity["covered"])
        boundaries = sql_one(
            "SELECT count(*) FROM grid_area WHERE level IN ('street_office', 'community') AND code LIKE %s "
            "AND geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
            [office.code + "%", *env],
        )[0]
        assert page.locator(f"{MAP} path.lc-boundary").count() == boundaries
        open_cases = sql_one(
            "SELECT count(*) FROM cases_case WHERE street_office_id = %s AND status NOT IN ('closed', 'void', 'merged') "
            "AND point && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
            [office.pk, *env],
        )[0]
        assert open_cases > 0
        assert page.get_attribute(MAP, "data-cases") == str(open_cases)
        assert page.locator(f"{MAP} .leaflet-marker-icon").count() > 0  # single cases and clusters
        assert "示意边界" in page.inner_text("#map-legend")
        tab.screenshot("dashboard")

        # the two layers that start hidden: grid cells by rectification rate and the heatmap
        page.get_by_label("网格整改率").check()
        page.get_by_label("上报热力").check()
        page.wait_for_function(READY, arg=["Cells", "Heat"])
        cells = sql_one(
            "SELECT count(*) FROM grid_area WHERE level = 'grid_cell' AND code LIKE %s "
            "AND geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)",
            [office.code + "%", *env],
        )[0]
        assert page.locator(f"{MAP} path.lc-cell").count() == cells
        assert page.locator(f"{MAP} canvas.leaflet-heatmap-layer").count() == 1
        tab.screenshot("dashboard-cells-heat")

        # a lane's panel: its name, chief, squads and open cases
        page.get_by_label("网格整改率").uncheck()
        lane = demo_activity["covered"][0]
        page.evaluate(
            f"""() => {{ const m = window[JSON.parse(document.getElementById('dashboard-config').textContent).mapName];
                       m.eachLayer(l => {{ if (l.feature && l.feature.id === {lane.pk} && l.feature.properties.cov)
                                           l.fire('click'); }}); }}"""
        )
        page.wait_for_selector("#lane-panel[data-state=ready]")
        assert page.get_attribute("#lane-panel", "data-lane-id") == str(lane.pk)
        assert lane.name in page.inner_text("#lane-panel h2")
        assert timezone.localdate().isoformat() in page.inner_text("#lane-panel")  # last patrol: today
    finally:
        tab.close()
    assert tab.outside == [] and tab.errors == []


def test_squad_map_shows_the_squads_open_dispatches(browser, demo_site, demo_activity):  # noqa: F811
    from django.contrib.auth import get_user_model

    from people.models import SquadMembership

    user = get_user_model().objects.get(username="squad_member")
    squad_id = SquadMembership.objects.filter(person__user=user).values_list("squad_id", flat=True).first()
    expected = sql_one(
        "SELECT count(*) FROM cases_case WHERE squad_id = %s AND owner_queue = 'squad' "
        "AND status IN ('dispatched', 'accepted', 'rework', 'suspended')",
        [squad_id],
    )[0]
    assert expected > 0
    tab = open_tab(browser, demo_site)
    try:
        page = tab.page
        login_as(tab, "squad_member")
        tab.goto("/squad/")
        page.wait_for_selector("#squad-map path.case-marker")
        assert page.locator("#squad-map path.case-marker").count() == expected
        assert page.locator("tr.case-row").count() == expected
        reds = page.locator("tr.case-row[data-light=red]").count()
        assert page.locator("#squad-map path.light-red").count() == reds
        page.locator("tr.case-row").first.click()
        page.wait_for_selector("#squad-map .leaflet-popup-content")
        code = page.locator("tr.case-row").first.locator("a").inner_text()
        assert code in page.inner_text("#squad-map .leaflet-popup-content")
        tab.screenshot("squad-map")
    finally:
        tab.close()
    assert tab.outside == [] and tab.errors == []
