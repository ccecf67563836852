"""The public lookup: search, the lanes of a map view, the nearest lane, the lane's placard page and the printable
A4 placard with its QR code. No login anywhere, and never a private phone."""

from __future__ import annotations

import json
import re

import pytest
import segno
from django.contrib.gis.geos import Point
from django.db import connection
from django.urls import reverse

from lanes.models import Lane
from maps.tests.conftest import PRIVATE_PHONES

pytestmark = pytest.mark.django_db


def assert_no_private_phone(text: str) -> None:
    for phone in PRIVATE_PHONES:
        assert phone not in text


def test_search_finds_lanes_by_chinese_partial_name_with_their_community(client, place):
    response = client.get(reverse("lookup"), {"q": "福州"})
    assert response.status_code == 200
    html = response.content.decode()
    for lane, community in ((place.fuzhou_w, "西片社区"), (place.fuzhou_e, "东片社区")):
        link = reverse("lookup-lane", args=[lane.pk])
        match = re.search(rf'<a href="{link}">(.*?)</a>', html, re.S)
        assert match, f"no result for {lane}"
        assert "福州路" in match.group(1) and community in match.group(1)
    assert reverse("lookup-lane", args=[place.hubei.pk]) not in html


def test_search_without_match_says_so(client, place):
    html = client.get(reverse("lookup"), {"q": "不存在的路名"}).content.decode()
    assert "没有找到名称包含" in html
    assert 'class="results"' not in html


def test_lookup_page_is_public_and_carries_an_offline_map(client, place):
    response = client.get(reverse("lookup"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "使用我的位置" in html
    # every script and stylesheet is ours: nothing from a CDN
    for url in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html):
        assert url.startswith("/static/"), url
    config = json.loads(re.search(r'<script id="lookup-config" type="application/json">(.*?)</script>', html).group(1))
    assert config["mapName"] in html
    assert config["minZoom"] >= 15


def lanes_in_bbox_sql(bbox) -> set[int]:
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM lanes_lane WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)", bbox)
        return {row[0] for row in cur.fetchall()}


def test_view_endpoint_returns_the_lanes_of_the_view_as_geojson(client, place):
    bbox = (121.472, 31.232, 121.477, 31.237)  # around the 福州路 × 湖北路 crossing, west community
    response = client.get(reverse("lookup-api-lanes"), {"bbox": ",".join(map(str, bbox)), "zoom": 17})
    assert response.status_code == 200
    data = json.loads(response.content)
    assert data["type"] == "FeatureCollection" and not data["too_wide"] and not data["truncated"]
    ids = {f["id"] for f in data["features"]}
    assert ids == lanes_in_bbox_sql(bbox)
    assert {place.fuzhou_w.pk, place.hubei.pk} <= ids and place.fuzhou_e.pk not in ids
    feature = next(f for f in data["features"] if f["id"] == place.hubei.pk)
    assert feature["properties"] == {"name": "湖北路", "kind": place.hubei.kind, "community": "西片社区"}
    assert feature["geometry"]["type"] in ("LineString", "MultiLineString")


def test_view_endpoint_refuses_a_city_wide_view_and_bad_boxes(client, place):
    wide = client.get(reverse("lookup-api-lanes"), {"bbox": "121.0,31.0,122.0,32.0"})
    assert wide.status_code == 200
    data = json.loads(wide.content)
    assert data["too_wide"] is True and data["features"] == []
    for bad in ("", "1,2,3", "121.5,31,121.4,31.1", "a,b,c,d", "200,0,201,1"):
        assert client.get(reverse("lookup-api-lanes"), {"bbox": bad}).status_code == 400


def test_view_endpoint_keeps_the_longest_lanes_when_cut(place):
    from maps import selectors

    text = selectors.public_lanes_in_view(selectors.parse_bbox("121.470,31.230,121.4865,31.2415"), limit=1)
    data = json.loads(text)
    assert data["truncated"] is True and len(data["features"]) == 1
    longest = Lane.objects.filter(pk__in=lanes_in_bbox_sql((121.470, 31.230, 121.4865, 31.2415))).order_by("-length_m")[
        0
    ]
    assert data["features"][0]["id"] == longest.pk


def test_nearest_finds_the_lane_under_a_click_and_returns_its_page(client, place):
    # a point 20 m north of the middle of 湖北路's first vertex pair: the lane itself is nearest
    line = place.hubei.geom[0]
    mid = Point((line[0][0] + line[1][0]) / 2, (line[0][1] + line[1][1]) / 2 + 0.00018, srid=4326)
    response = client.get(reverse("lookup-api-nearest"), {"lat": mid.y, "lon": mid.x})
    assert response.status_code == 200
    lane = json.loads(response.content)["lane"]
    with connection.cursor() as cur:
        cur.execute(
            "SELECT id, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) AS d "
            "FROM lanes_lane ORDER BY d LIMIT 1",
            [mid.x, mid.y],
        )
        nearest_id, distance = cur.fetchone()
    assert lane["id"] == nearest_id
    assert lane["distance_m"] == pytest.approx(distance, abs=0.1)
    assert lane["url"] == reverse("lookup-lane", args=[nearest_id])
    assert set(lane) == {"id", "name", "kind", "community", "distance_m", "geometry", "url"}


def test_nearest_accepts_gcj02_clicks_and_reports_nothing_far_away(client, place):
    from common.geo import wgs84_to_gcj02

    x, y = place.hubei.geom[0][0]
    gx, gy = wgs84_to_gcj02(x, y)
    on_gcj_map = json.loads(
        client.get(reverse("lookup-api-nearest"), {"lat": gy, "lon": gx, "coordsys": "gcj02"}).content
    )
    assert on_gcj_map["lane"]["distance_m"] < 1.0
    # the same numbers read as WGS-84 are hundreds of metres off (the GCJ-02 offset)
    as_wgs = json.loads(client.get(reverse("lookup-api-nearest"), {"lat": gy, "lon": gx, "within": 5}).content)
    assert as_wgs["lane"] is None or as_wgs["lane"]["id"] != place.hubei.pk
    far = json.loads(client.get(reverse("lookup-api-nearest"), {"lat": 31.30, "lon": 121.60}).content)
    assert far["lane"] is None
    assert client.get(reverse("lookup-api-nearest"), {"lat": "x", "lon": 121}).status_code == 400


def test_lane_page_shows_the_public_placard_and_no_private_phone(client, place):
    response = client.get(reverse("lookup-lane", args=[place.fuzhou_w.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert_no_private_phone(html)
    assert "王建国" in html and "科长" in html and "0535-6001234" in html
    for phone in ("021-63210001", "021-63210002", "021-63210003"):
        assert f'href="tel:{phone}"' in html
    for duty in ("居民困难重重必到", "社区志愿服务必到", "乱丢乱放垃圾必报", "社区不稳定因素必报"):
        assert duty in html
    assert f'href="/report/?lane={place.fuzhou_w.pk}"' in html or f"?lane={place.fuzhou_w.pk}" in html
    assert reverse("lookup-placard", args=[place.fuzhou_w.pk]) in html
    assert "西片社区" in html and "南京东路街道" in html
    assert 'class="folium-map"' in html


def test_volunteer_without_a_published_phone_shows_no_number(client, place):
    html = client.get(reverse("lookup-lane", args=[place.hubei.pk])).content.decode()
    assert "李秀英" in html
    assert_no_private_phone(html)
    chief = re.search(r'<dl class="contacts chief">(.*?)</dl>', html, re.S).group(1)
    assert "tel:" not in chief and "未公开个人电话" in chief


def test_public_json_never_carries_people(client, place):
    bbox = "121.470,31.230,121.4865,31.2415"
    body = client.get(reverse("lookup-api-lanes"), {"bbox": bbox}).content.decode()
    x, y = place.hubei.geom[0][0]
    body += client.get(reverse("lookup-api-nearest"), {"lat": y, "lon": x}).content.decode()
    assert_no_private_phone(body)
    assert "王建国" not in body and "李秀英" not in body


def test_unknown_lane_is_404(client, place):
    assert client.get(reverse("lookup-lane", args=[999_999_999])).status_code == 404
    assert client.get(reverse("lookup-placard", args=[999_999_999])).status_code == 404


def qr_matrix_from_svg(svg: str) -> list[list[int]]:
    """The dark modules of a segno SVG path ("M x y.5 h n m dx dy …", one unit per module)."""
    size = int(re.search(r'viewBox="0 0 (\d+) \d+"', svg).group(1))
    grid = [[0] * size for _ in range(size)]
    x = y = 0.0
    path = re.search(r' d="([^"]+)"', svg).group(1)
    for cmd, args in re.findall(r"([MmHh])([^MmHh]*)", path):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd == "M":
            x, y = nums
        elif cmd == "m":
            x, y = x + nums[0], y + nums[1]
        elif cmd == "h":
            for i in range(int(nums[0])):
                grid[int(y)][int(x) + i] = 1
            x += nums[0]
    return grid


def test_printable_placard_is_a4_with_a_qr_code_to_the_public_page(client, place, settings):
    url = reverse("lookup-placard", args=[place.fuzhou_w.pk])
    html = client.get(url).content.decode()
    assert_no_private_phone(html)
    assert re.search(r"@page\s*{\s*size:\s*A4", html)
    assert "王建国" in html and "0535-6001234" in html and "021-63210002" in html
    svg = re.search(r'<figure class="qr".*?(<svg.*?</svg>)', html, re.S).group(1)
    expected = f"http://testserver{reverse('lookup-lane', args=[place.fuzhou_w.pk])}"
    border = 2
    want = [[int(bool(v)) for v in row] for row in segno.make(expected, error="m").matrix_iter(scale=1, border=border)]
    assert qr_matrix_from_svg(svg) == want

    settings.PUBLIC_BASE_URL = "https://jiexiang.example.cn/"
    svg = re.search(r"(<svg.*?</svg>)", client.get(url).content.decode(), re.S).group(1)
    public = f"https://jiexiang.example.cn{reverse('lookup-lane', args=[place.fuzhou_w.pk])}"
    assert qr_matrix_from_svg(svg) == [
        [int(bool(v)) for v in row] for row in segno.make(public, error="m").matrix_iter(scale=1, border=border)
    ]


def drawn_outline(html: str):
    """The coordinates of the lane the small map draws (folium's GeoJSON data in the page's script)."""
    data = json.loads(re.search(r"geo_json_\w+_add\((\{.*?\})\);", html, re.S).group(1))
    return data["features"][0]["geometry"]["coordinates"]


def test_on_an_amap_base_map_the_lane_page_draws_the_lane_shifted_to_gcj02(client, place, settings):
    from common.geo import wgs84_to_gcj02

    settings.MAP_TILES = "amap"
    html = client.get(reverse("lookup-lane", args=[place.hubei.pk])).content.decode()
    assert "autonavi.com" in html  # the Amap tile layer
    drawn = drawn_outline(html)
    first = drawn[0][0] if isinstance(drawn[0][0], list) else drawn[0]
    x, y = place.hubei.geom[0][0]
    assert first == pytest.approx(list(wgs84_to_gcj02(x, y)), abs=2e-6)  # simplified, rounded to 6 decimals
    settings.MAP_TILES = "none"
    html = client.get(reverse("lookup-lane", args=[place.hubei.pk])).content.decode()
    assert "tileLayer" not in html
    drawn = drawn_outline(html)
    first = drawn[0][0] if isinstance(drawn[0][0], list) else drawn[0]
    assert first == pytest.approx([x, y], abs=2e-6)


def test_nothing_about_cases_reaches_the_public_pages(client, place):
    """A sensitive matter filed on a lane (a resident in hardship falling ill) leaves no trace on its public pages."""
    from maps.tests.conftest import point_on, report

    sensitive = report("LBB04", point_on(place.fuzhou_w), description="某某家老人病重需要帮助", contact="13912345678")
    plain = report("SJ0101", point_on(place.fuzhou_w), description="垃圾桶满溢")
    pages = [
        client.get(reverse("lookup-lane", args=[place.fuzhou_w.pk])).content.decode(),
        client.get(reverse("lookup-placard", args=[place.fuzhou_w.pk])).content.decode(),
        client.get(reverse("lookup"), {"q": "福州"}).content.decode(),
        client.get(reverse("lookup-api-lanes"), {"bbox": "121.470,31.230,121.4865,31.2415"}).content.decode(),
    ]
    for text in pages:
        # (the category's name is also one of the six must-report duties printed on every placard)
        for secret in ("老人病重", "13912345678", "垃圾桶满溢", sensitive.tracking_code, plain.tracking_code):
            assert secret not in text


def test_public_responses_stay_small(client, place):
    assert len(client.get(reverse("lookup")).content) < 40_000
    assert len(client.get(reverse("lookup-lane", args=[place.fuzhou_w.pk])).content) < 40_000
    from maps import selectors

    cut = json.loads(selectors.public_lanes_in_view(selectors.parse_bbox("121.470,31.230,121.4865,31.2415"), limit=2))
    assert len(cut["features"]) == 2 and cut["truncated"] is True
