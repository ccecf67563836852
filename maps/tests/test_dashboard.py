"""The dashboard (/dashboard/ and its layer endpoints): who may open which area, and that each layer tells the truth
about that area — lanes by today's patrols, open cases with their light (points or clusters), grid cells by
rectification rate, the heatmap, the boundaries — plus today's counts, one lane's panel and bounded responses."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.gis.geos import LineString, Point
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, Status
from cases.selectors import case_clock
from maps import dashboard
from maps.tests.conftest import make_user, point_on, report
from people.tests.conftest import CROSSING

pytestmark = pytest.mark.django_db

LAYERS = ("lanes", "cells", "cases", "heat", "boundaries")
WHOLE_VIEW = {"bbox": "121.455,31.215,121.492,31.245", "zoom": 15}


def api(client, kind: str, **params):
    response = client.get(reverse(f"dashboard-api-{kind}"), {**WHOLE_VIEW, **params})
    assert response.status_code == 200, response.content[:300]
    return json.loads(response.content)


@pytest.fixture
def staff(client, place):
    user = make_user("staff101", staff_area=place.so)
    client.force_login(user)
    return user


@pytest.fixture
def world(place):
    """Cases in the street office (at the crossing, in the grid cell, and on 福州路 east), one in the other street
    office, one closed and one void; a finished patrol today that covered 福州路 (west) only."""
    from patrols.models import Patrol, PatrolLane

    now = timezone.now()
    crossing = Point(*CROSSING, srid=4326)
    cases = {
        "old": report("SJ0402", crossing, now=now - timedelta(days=6)),  # 4 working hours: red
        "fresh": report("SJ0104", crossing, now=now),  # 15 working days: green
        "east": report("SJ0101", point_on(place.fuzhou_e), now=now - timedelta(days=2)),
        "closed": report("SJ0402", crossing, now=now - timedelta(days=3)),
        "void": report("SJ0402", crossing, now=now - timedelta(days=3)),
        "elsewhere": report("SJ0101", Point(121.465, 31.235, srid=4326), now=now),
    }
    Case.objects.filter(pk=cases["closed"].pk).update(status=Status.CLOSED, closed_at=now)
    Case.objects.filter(pk=cases["void"].pk).update(status=Status.VOID)
    for key in cases:
        cases[key].refresh_from_db()
    assert cases["elsewhere"].street_office_id == place.other_so.pk
    assert cases["old"].grid_cell_id == place.cell.pk
    start, end = place.fuzhou_w.geom[0][0], place.fuzhou_w.geom[0][-1]
    patrol = Patrol.objects.create(
        person=place.cadre,
        day=timezone.localdate(),
        source="gpx",
        status="finished",
        track=LineString(start, end, srid=4326),
        started_at=now - timedelta(hours=1),
        ended_at=now,
    )
    PatrolLane.objects.create(patrol=patrol, lane=place.fuzhou_w, covered_m=100.0, share=0.9, covered=True)
    return cases


def test_dashboard_needs_a_login_and_an_area(client, place):
    assert client.get(reverse("dashboard")).status_code == 302
    for kind in LAYERS:
        assert client.get(reverse(f"dashboard-api-{kind}")).status_code == 401
    client.force_login(make_user("member201", squad=place.squads["sanitation"]))
    assert client.get(reverse("dashboard")).status_code == 403
    assert client.get(reverse("dashboard-api-lanes")).status_code == 403


def test_page_shows_todays_counts_and_a_map_with_every_layer(client, staff, place, world):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    counts = re.search(r'<div class="counts" id="today-counts">(.*?)</div>\s*</div>', html, re.S).group(1)
    numbers = [int(n) for n in re.findall(r"<b>(\d+)</b>", counts)]
    # opened today in this street office: fresh (the other one is elsewhere); closed today: 1; overdue: old, east?
    opened = Case.objects.filter(street_office=place.so, created_at__date=timezone.localdate()).exclude(status="merged")
    overdue = Case.objects.filter(
        street_office=place.so, status__in=["dispatched", "accepted", "rework"], deadline__lt=timezone.now()
    )
    assert numbers == [opened.count(), 1, overdue.count()]
    assert "33.3%" in counts and "1/3" in counts  # 福州路 (west) of three lanes, all due today
    config = json.loads(
        re.search(r'<script id="dashboard-config" type="application/json">(.*?)</script>', html, re.S).group(1)
    )
    assert set(config["groups"]) == set(LAYERS)
    for name in config["groups"].values():
        assert f"var {name} = L.featureGroup(" in html
    assert "L.control.layers(" in html
    for url in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html):
        assert url.startswith("/static/"), url
    assert len(response.content) < 60_000  # the page itself carries no layer data


def test_lanes_are_coloured_by_todays_patrols(client, staff, place, world):
    data = api(client, "lanes")
    cov = {f["id"]: f["properties"]["cov"] for f in data["features"]}
    assert cov == {place.fuzhou_w.pk: "covered", place.fuzhou_e.pk: "missed", place.hubei.pk: "missed"}
    assert data["closed"] is False


def test_a_closed_day_uses_its_coverage_record(client, staff, place, world):
    from patrols.models import LaneDayCoverage

    today = timezone.localdate()
    for lane, due, covered in (
        (place.fuzhou_w, True, False),
        (place.fuzhou_e, False, False),
        (place.hubei, True, True),
    ):
        LaneDayCoverage.objects.create(day=today, lane=lane, due=due, covered=covered, computed_at=timezone.now())
    cov = {f["id"]: f["properties"]["cov"] for f in api(client, "lanes")["features"]}
    assert cov == {place.fuzhou_w.pk: "missed", place.fuzhou_e.pk: "rest", place.hubei.pk: "covered"}


def test_open_cases_carry_the_cases_apps_light(client, staff, place, world):
    data = api(client, "cases")
    got = {p[3]: dashboard.LIGHTS_BY_CODE[p[2]] for p in data["points"]}
    assert set(got) == {world["old"].pk, world["fresh"].pk, world["east"].pk}  # not closed, void or elsewhere
    now = timezone.now()
    for pk, light in got.items():
        assert light == case_clock(Case.objects.select_related("category").get(pk=pk), now=now).light
    assert got[world["old"].pk] == "red" and got[world["fresh"].pk] == "green"
    only_sanitation = api(client, "cases", category="SJ0101")
    assert [p[3] for p in only_sanitation["points"]] == [world["east"].pk]


def test_many_cases_are_clustered_on_the_server(place, world):
    f = dashboard.Filter(place.so, timezone.localdate(), timezone.localdate(), None, timezone.localdate())
    points = dashboard.cases_layer(f, bbox=None, zoom=15, now=timezone.now())
    clustered = dashboard.cases_layer(f, bbox=None, zoom=15, now=timezone.now(), point_limit=1)
    assert "points" not in clustered and clustered["total"] == len(points["points"]) == 3
    assert sum(c[2] for c in clustered["clusters"]) == 3
    for c in clustered["clusters"]:
        assert c[2] == sum(c[3:])  # red + yellow + green + other
    reds = sum(1 for p in points["points"] if dashboard.LIGHTS_BY_CODE[p[2]] == "red")
    assert sum(c[3] for c in clustered["clusters"]) == reds


def test_grid_cells_show_the_rectification_rate_of_the_period(client, staff, place, world):
    today = timezone.localdate()
    data = api(client, "cells", start=(today - timedelta(days=7)).isoformat(), end=today.isoformat())
    (cell,) = [f for f in data["features"] if f["id"] == place.cell.pk]
    # old, fresh and closed were filed at the crossing in the period; void is left out; closed is rectified
    assert (cell["properties"]["found"], cell["properties"]["fixed"]) == (3, 1)
    assert cell["properties"]["rate"] == pytest.approx(1 / 3, abs=1e-3)
    last_two_days = api(client, "cells", start=(today - timedelta(days=1)).isoformat(), end=today.isoformat())
    (cell,) = [f for f in last_two_days["features"] if f["id"] == place.cell.pk]
    assert (cell["properties"]["found"], cell["properties"]["fixed"]) == (1, 0)


def test_heatmap_counts_the_reports_of_the_period(client, staff, place, world):
    today = timezone.localdate()
    data = api(client, "heat", start=(today - timedelta(days=7)).isoformat(), end=today.isoformat())
    # every report in this street office in the period (void included: it was reported), not the other office's
    assert sum(p[2] for p in data["points"]) == 5
    assert data["max"] == max(p[2] for p in data["points"])


def test_boundaries_are_the_areas_street_office_and_communities_marked_illustrative(client, staff, place, world):
    data = api(client, "boundaries")
    assert {f["id"] for f in data["features"]} == {place.so.pk, place.west.pk, place.east.pk}
    assert data["illustrative"] is True
    assert all(f["properties"]["illustrative"] for f in data["features"])


def test_lane_panel_shows_chief_squads_open_cases_and_last_patrol(client, staff, place, world):
    response = client.get(reverse("dashboard-api-lane", args=[place.fuzhou_w.pk]))
    assert response.status_code == 200
    d = response.json()
    assert [c["name"] for c in d["chiefs"]] == ["王建国"]
    assert "private_phone" not in json.dumps(d) and "13800001111" not in json.dumps(d)
    assert {s["kind"]: s["duty_phone"] for s in d["squads"]}["sanitation"] == "021-63210002"
    assert d["open_total"] == Case.objects.filter(lane=place.fuzhou_w, status__in=["dispatched", "accepted"]).count()
    assert d["last_patrol"]["person"] == "王建国" and d["last_patrol"]["day"] == timezone.localdate().isoformat()


def test_other_areas_stay_closed(client, staff, place, world):
    # an area the user does not work for falls back to their own; a lane outside it is not found
    data = api(client, "cases", area=place.other_so.code)
    assert world["elsewhere"].pk not in [p[3] for p in data["points"]]
    outside = make_user("staff102", staff_area=place.other_so)
    client.force_login(outside)
    assert client.get(reverse("dashboard-api-lane", args=[place.fuzhou_w.pk])).status_code == 404
    assert client.get(reverse("dashboard-api-lanes"), {"bbox": "1,2,3"}).status_code == 400


def test_zoomed_out_views_get_no_lanes_or_cells(client, staff, place, world):
    for kind in ("lanes", "cells"):
        data = api(client, kind, zoom=dashboard.DETAIL_MIN_ZOOM - 1)
        assert data["too_wide"] is True and data["features"] == []
    # boundaries and cases still answer (clustered if many)
    assert api(client, "boundaries", zoom=10)["features"]
    assert api(client, "cases", zoom=10)["total"] == 3


def test_layers_are_capped(place, world):
    f = dashboard.Filter(place.so, timezone.localdate(), timezone.localdate(), None, timezone.localdate())
    lanes = json.loads(dashboard.lanes_layer(f, bbox=None, zoom=15, limit=2))
    assert len(lanes["features"]) == 2 and lanes["truncated"] is True
    # the longest lanes are kept
    kept = {feature["id"] for feature in lanes["features"]}
    longest = sorted([place.fuzhou_w, place.fuzhou_e, place.hubei], key=lambda lane: -lane.length_m)[:2]
    assert kept == {lane.pk for lane in longest}
    cells = json.loads(dashboard.cells_layer(f, bbox=None, zoom=15, limit=0))
    assert cells["features"] == [] and cells["truncated"] is True


def test_the_lane_panel_lists_only_cases_the_user_may_read(client, place, world):
    from cases.models import StaffScope

    # a case filed for 福州路 (west) from just across the border: it belongs to the east community
    from people.tests.conftest import BORDER_X

    x, y = max((v for part in place.fuzhou_w.geom for v in part), key=lambda v: v[0])
    across = report("SJ0101", Point(max(x, BORDER_X) + 0.0003, y, srid=4326), lane=place.fuzhou_w)
    assert across.lane_id == place.fuzhou_w.pk and across.community_id == place.east.pk
    # staff of the west community only: that case is not theirs to read
    user = make_user("staff103")
    StaffScope.objects.create(user=user, area=place.west)
    client.force_login(user)
    d = client.get(reverse("dashboard-api-lane", args=[place.fuzhou_w.pk]), {"area": place.west.code}).json()
    visible = Case.objects.filter(lane=place.fuzhou_w, community=place.west, status__in=["dispatched", "accepted"])
    assert d["open_total"] == visible.count()
    assert across.pk not in [c["id"] for c in d["open_cases"]]
    client.force_login(make_user("staff104", staff_area=place.so))  # the street office's staff do see it
    d = client.get(reverse("dashboard-api-lane", args=[place.fuzhou_w.pk])).json()
    assert across.pk in [c["id"] for c in d["open_cases"]]
