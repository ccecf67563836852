"""Screenshots of the map pages for the documentation, taken in headless Chromium from a running site (the demo),
with every request outside that site refused. Used by `manage.py map_screenshots`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def _session_cookie(username: str) -> str:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _lane_with_chief_and_phone() -> tuple[int, float, float]:
    """A lane whose chief publishes a phone (a good placard), and a point on it."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """SELECT l.id, ST_X(p), ST_Y(p) FROM lanes_lane l
               JOIN people_chiefassignment a ON a.lane_id = l.id AND a.role = 'lane_chief' AND a.valid_to IS NULL
               JOIN people_person pp ON pp.id = a.person_id AND pp.public_phone <> ''
               CROSS JOIN LATERAL (SELECT ST_LineInterpolatePoint(ST_GeometryN(l.geom, 1), 0.5) AS p) x
               WHERE l.length_m > 150 ORDER BY l.length_m DESC, l.id LIMIT 1"""
        )
        return cur.fetchone()


def take(
    base_url: str,
    out_dir: Path,
    *,
    staff_user: str,
    squad_user: str | None,
    area_code: str | None,
    say: Callable[[str], None] = print,
) -> list[Path]:
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    out_dir.mkdir(parents=True, exist_ok=True)
    host = urlparse(base_url).hostname
    lane_id, lon, lat = _lane_with_chief_and_phone()
    staff_cookie = _session_cookie(staff_user)
    squad_cookie = _session_cookie(squad_user) if squad_user else None
    written: list[Path] = []

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def tab(viewport, cookie=None, **options):
            context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=1, **options)
            if cookie:
                context.add_cookies([{"name": "sessionid", "value": cookie, "url": base_url}])
            page = context.new_page()
            page.route("**", lambda r: r.continue_() if urlparse(r.request.url).hostname == host else r.abort())
            page.set_default_timeout(30_000)
            return context, page

        def shot(page, name: str, *, full_page: bool = False) -> None:
            path = out_dir / f"{name}.png"
            page.screenshot(path=str(path), full_page=full_page)
            written.append(path)
            say(f"  {path}")

        ready = "() => { const d = document.querySelector('.folium-map').dataset; return %s; }"

        context, page = tab(DESKTOP, staff_cookie)
        query = f"?area={area_code}" if area_code else ""
        page.goto(f"{base_url}/dashboard/{query}")
        page.wait_for_function(
            ready % "d.layerLanes === 'ready' && d.layerCases === 'ready' && d.layerBoundaries === 'ready'"
        )
        page.wait_for_timeout(500)
        shot(page, "dashboard")
        page.get_by_label("网格整改率").check()
        page.get_by_label("上报热力").check()
        page.get_by_label("街巷巡查（今日）").uncheck()
        page.wait_for_function(ready % "d.layerCells === 'ready' && d.layerHeat === 'ready'")
        page.wait_for_timeout(500)
        shot(page, "dashboard-cells-heat")
        context.close()

        if squad_cookie:
            context, page = tab(DESKTOP, squad_cookie)
            page.goto(f"{base_url}/squad/")
            page.wait_for_timeout(1500)
            shot(page, "squad-map")
            context.close()

        context, page = tab(DESKTOP)
        page.goto(f"{base_url}/lookup/?q=南京")
        page.wait_for_function("document.getElementById('map-hint').dataset.state === 'ready'")
        shot(page, "lookup")
        context.close()

        context, page = tab(
            PHONE,
            is_mobile=True,
            has_touch=True,
            geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
            permissions=["geolocation"],
        )
        page.goto(f"{base_url}/lookup/")
        page.click("#locate-me")
        page.wait_for_selector("#nearest-result[data-state=found]")
        page.wait_for_timeout(800)
        shot(page, "lookup-phone")
        page.goto(f"{base_url}/lookup/lanes/{lane_id}/")
        page.wait_for_selector("#lane-map path.leaflet-interactive")
        shot(page, "lane-phone", full_page=True)
        context.close()

        context, page = tab({"width": 900, "height": 1270})
        page.goto(f"{base_url}/lookup/lanes/{lane_id}/placard/")
        page.wait_for_selector("#qr svg")
        page.locator("#placard").screenshot(path=str(out_dir / "placard.png"))
        written.append(out_dir / "placard.png")
        say(f"  {out_dir / 'placard.png'}")
        context.close()
        browser.close()
    return written
