"""Dashboard at scale: one street office with 1,000 lanes, 2,000 unit grid cells and 10,000 open cases (plus 5,000
cases closed in the past month and today's patrols over 60 % of the lanes), built in PostGIS; then the dashboard's
page and each of its layer responses for the street office's whole view are timed and weighed, server side
(Django test client, as many rounds as asked) and in headless Chromium (page load until every layer is drawn).

    DATABASE_URL=postgis://…/some_bench_db DEBUG=true .venv/bin/python bench/dashboard.py [--rounds 5] [--no-browser]

Never run it on the demo or a real database: it adds a synthetic district 370698 (removed with --drop).
Writes bench/results/dashboard.json and prints a table.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import sys
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

DISTRICT = "370698"
OFFICE = DISTRICT + "001"
ORIGIN = (700000.0, 4150000.0)  # UTM 51N, about 122.2 E, 37.5 N
SIDE_M = 4500.0  # the street office: 4.5 km square → 2,025 cells of 100 m
LANE_SPACING_M = 195.0  # a 23 × 23 junction lattice → 1,012 lanes
OPEN_CASES = 10_000
CLOSED_CASES = 5_000
COVERED_SHARE = 0.6
USERNAME = "bench_dashboard"
MAP_PX = (900, 780)  # the dashboard's map on a 1280 × 900 screen


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rect(ax, ay, bx, by) -> str:
    return f"ST_Multi(ST_Transform(ST_MakeEnvelope({ax},{ay},{bx},{by},32651),4326))"


def drop() -> None:
    from django.contrib.auth import get_user_model

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "DELETE FROM patrols_patrollane WHERE lane_id IN (SELECT id FROM lanes_lane WHERE source_key LIKE 'benchdash:%%')"
        )
        cur.execute("DELETE FROM patrols_patrol WHERE notes = 'benchdash'")
        cur.execute("DELETE FROM cases_case WHERE description = 'benchdash'")
        cur.execute(
            "DELETE FROM cases_staffscope WHERE area_id IN (SELECT id FROM grid_area WHERE code LIKE %s)",
            [DISTRICT + "%"],
        )
        cur.execute(
            "DELETE FROM lanes_lanecell WHERE lane_id IN (SELECT id FROM lanes_lane WHERE source_key LIKE 'benchdash:%%')"
        )
        cur.execute("DELETE FROM lanes_lane WHERE source_key LIKE 'benchdash:%%'")
        for depth in (3, 2, 1, 0):
            cur.execute("DELETE FROM grid_area WHERE code LIKE %s AND depth = %s", [DISTRICT + "%", depth])
        cur.execute("DELETE FROM people_person WHERE name = '基准巡查员'")
    get_user_model().objects.filter(username=USERNAME).delete()


def build() -> dict:
    from django.contrib.auth import get_user_model

    from cases.models import StaffScope
    from grid.models import Area
    from grid.services import generate_grid_cells

    t0 = time.perf_counter()
    x0, y0 = ORIGIN
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO grid_area (level, code, name, parent_id, geom, illustrative, source, created_at, updated_at) "
            f"VALUES ('district', %s, '基准区（看板）', NULL, {rect(x0, y0, x0 + SIDE_M, y0 + SIDE_M)}, true, 'bench', now(), now()) "
            f"RETURNING id",
            [DISTRICT],
        )
        district_id = cur.fetchone()[0]
        cur.execute(
            f"INSERT INTO grid_area (level, code, name, parent_id, geom, illustrative, source, created_at, updated_at) "
            f"VALUES ('street_office', %s, '基准街道', %s, {rect(x0, y0, x0 + SIDE_M, y0 + SIDE_M)}, true, 'bench', now(), now()) "
            f"RETURNING id",
            [OFFICE, district_id],
        )
        office_id = cur.fetchone()[0]
        step = SIDE_M / 4
        seq = 0
        for row in range(4):
            for col in range(4):
                seq += 1
                ax, ay = x0 + col * step, y0 + (3 - row) * step
                cur.execute(
                    f"INSERT INTO grid_area (level, code, name, parent_id, geom, illustrative, source, created_at, updated_at) "
                    f"VALUES ('community', %s, %s, %s, {rect(ax, ay, ax + step, ay + step)}, true, 'bench', now(), now())",
                    [f"{OFFICE}{seq:03d}", f"基准社区{seq}", office_id],
                )
    office = Area.objects.get(code=OFFICE)
    generate_grid_cells(area=office, size_m=100.0)
    cells = Area.objects.filter(level="grid_cell", code__startswith=OFFICE).count()
    log(f"  areas and {cells:,} grid cells ({time.perf_counter() - t0:.1f} s)")

    t1 = time.perf_counter()
    n = int(SIDE_M // LANE_SPACING_M)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT setseed(0.24)")
        cur.execute(
            """
            CREATE TEMP TABLE benchdash_nodes ON COMMIT DROP AS
            SELECT i, j, %(x0)s + 100 + i * %(s)s + (random() - 0.5) * 40 AS x,
                   %(y0)s + 100 + j * %(s)s + (random() - 0.5) * 40 AS y
            FROM generate_series(0, %(n)s - 1) i, generate_series(0, %(n)s - 1) j""",
            {"x0": x0, "y0": y0, "s": LANE_SPACING_M, "n": n},
        )
        cur.execute(
            """
            INSERT INTO lanes_lane (name, name_zh, kind, geom, source_key, osm_way_ids, tags, created_at, updated_at)
            SELECT name, name, CASE WHEN street % 5 = 0 THEN 'main' ELSE 'back' END,
                   ST_Multi(ST_Transform(ST_SetSRID(ST_MakeLine(ARRAY[
                     ST_MakePoint(ax, ay),
                     ST_MakePoint((ax + bx) / 2 + (random() - 0.5) * 30, (ay + by) / 2 + (random() - 0.5) * 30),
                     ST_MakePoint((ax * 3 + bx) / 4 + (random() - 0.5) * 10, (ay * 3 + by) / 4 + (random() - 0.5) * 10),
                     ST_MakePoint(bx, by)]), 32651), 4326)),
                   'benchdash:' || name || ':' || seg, '{}', '{}', now(), now()
            FROM (
              SELECT '看板纬' || a.j || '路' AS name, a.j AS street, a.i AS seg, a.x ax, a.y ay, b.x bx, b.y by
              FROM benchdash_nodes a JOIN benchdash_nodes b ON b.j = a.j AND b.i = a.i + 1
              UNION ALL
              SELECT '看板经' || a.i || '路', a.i, a.j, a.x, a.y, b.x, b.y
              FROM benchdash_nodes a JOIN benchdash_nodes b ON b.i = a.i AND b.j = a.j + 1
            ) e""",
        )
        lanes = cur.rowcount
    log(f"  {lanes:,} lanes ({time.perf_counter() - t1:.1f} s)")

    t2 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT setseed(0.5)")
        cur.execute("SELECT id, deadline_amount, deadline_unit FROM cases_category WHERE NOT is_group AND active")
        categories = cur.fetchall()
        cur.execute("CREATE TEMP TABLE benchdash_cat (n int, id bigint, seconds int, unit text) ON COMMIT DROP")
        for i, (pk, amount, unit) in enumerate(categories):
            seconds = amount * (3600 if unit != "working_days" else 8 * 3600)
            cur.execute(
                "INSERT INTO benchdash_cat VALUES (%s, %s, %s, %s)",
                [i, pk, seconds, "natural" if unit == "hours" else "working"],
            )
        for count, closed in ((OPEN_CASES, False), (CLOSED_CASES, True)):
            cur.execute(
                f"""
                INSERT INTO cases_case (tracking_code, category_id, point, description, source, owner_queue, routing_reason,
                  returned_squad_ids, status, version, clock_unit, dispatched_at, deadline, limit_seconds,
                  status_before_suspend, supervision_level, spot_check_due, reporter_contact, created_at, updated_at,
                  closed_at, street_office_id, community_id, grid_cell_id)
                SELECT 'BD' || lpad(to_hex(%(base)s + p.g), 8, '0'), c.id, p.pt, 'benchdash', 'chief', 'street_office',
                  'bench', '{{}}', %(status)s, 1, c.unit, p.at, p.at + make_interval(secs => c.seconds * 1.5),
                  c.seconds, '', 0, false, '', p.at, now(), {"p.at + interval '2 hours'" if closed else "NULL"},
                  %(office)s,
                  (SELECT id FROM grid_area WHERE level = 'community' AND geom && p.pt AND ST_Intersects(geom, p.pt) LIMIT 1),
                  (SELECT id FROM grid_area WHERE level = 'grid_cell' AND geom && p.pt AND ST_Intersects(geom, p.pt) LIMIT 1)
                FROM (
                  SELECT g, ST_Transform(ST_SetSRID(ST_MakePoint(%(x0)s + 50 + random() * %(span)s,
                                                                 %(y0)s + 50 + random() * %(span)s), 32651), 4326) AS pt,
                         floor(random() * %(ncat)s)::int AS k,
                         now() - make_interval(secs => random() * 86400 * {30 if closed else 6}) AS at
                  FROM generate_series(1, %(count)s) g
                ) p
                JOIN benchdash_cat c ON c.n = p.k""",
                {
                    "base": 0 if not closed else OPEN_CASES,
                    "status": "closed" if closed else "dispatched",
                    "count": count,
                    "x0": x0,
                    "y0": y0,
                    "span": SIDE_M - 100,
                    "ncat": len(categories),
                    "office": office.pk,
                },
            )
        cur.execute(
            "INSERT INTO people_person (name, title, private_phone, public_phone, is_volunteer, is_party_member) "
            "VALUES ('基准巡查员', '', '', '', false, false) RETURNING id"
        )
        person_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO patrols_patrol (person_id, day, source, coordsys, upload_name, upload_hash, status, notes, cleaning, "
            "created_at, updated_at) VALUES (%s, (now() AT TIME ZONE %s)::date, 'gpx', 'wgs84', '', '', 'finished', "
            "'benchdash', '{}', now(), now()) RETURNING id",
            [person_id, django.conf.settings.TIME_ZONE],
        )
        patrol_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO patrols_patrollane (patrol_id, lane_id, covered_m, share, covered) "
            "SELECT %s, id, length_m, 1.0, true FROM lanes_lane WHERE source_key LIKE 'benchdash:%%' AND random() < %s",
            [patrol_id, COVERED_SHARE],
        )
        cur.execute("ANALYZE cases_case; ANALYZE grid_area; ANALYZE lanes_lane; ANALYZE patrols_patrollane")
    log(f"  {OPEN_CASES:,} open and {CLOSED_CASES:,} closed cases, today's patrols ({time.perf_counter() - t2:.1f} s)")

    # a district admin (sees every district and street office), so the district-wide view can be measured too
    user, _ = get_user_model().objects.get_or_create(username=USERNAME, defaults={"is_superuser": True})
    StaffScope.objects.get_or_create(user=user, area=office)
    return {"lanes": lanes, "grid_cells": cells, "build_seconds": round(time.perf_counter() - t0, 1)}


def initial_view(area_code: str) -> tuple[str, int]:
    """The bbox and zoom the dashboard's map opens on for an area (Leaflet fitBounds into MAP_PX)."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grid_area "
            "WHERE code = %s) s",
            [area_code],
        )
        x0, y0, x1, y1 = cur.fetchone()

    def merc_y(lat):
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    zx = math.log2(MAP_PX[0] * 360 / (256 * (x1 - x0)))
    zy = math.log2(MAP_PX[1] * 2 * math.pi / (256 * (merc_y(y1) - merc_y(y0))))
    return f"{x0:.6f},{y0:.6f},{x1:.6f},{y1:.6f}", int(math.floor(min(zx, zy)))


def measure(rounds: int, area_code: str) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import override_settings

    bbox, zoom = initial_view(area_code)
    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    query = {"area": area_code, "bbox": bbox, "zoom": zoom}
    urls = {"page": ("/dashboard/", {"area": area_code})}
    for kind in ("lanes", "cells", "cases", "heat", "boundaries"):
        urls[kind] = (f"/dashboard/api/{kind}/", query)
    out = {"area": area_code, "bbox": bbox, "zoom": zoom, "rounds": rounds, "responses": {}}
    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False):
        for name, (url, params) in urls.items():
            times, size, gz = [], 0, 0
            for _ in range(rounds + 1):  # the first round warms caches and is not counted
                t = time.perf_counter()
                response = client.get(url, params)
                times.append(time.perf_counter() - t)
                assert response.status_code == 200, (url, response.status_code)
                size, gz = len(response.content), len(gzip.compress(response.content, 6))
            out["responses"][name] = {
                "median_s": round(median(times[1:]), 3),
                "max_s": round(max(times[1:]), 3),
                "bytes": size,
                "gzip_bytes": gz,
            }
    r = out["responses"]
    out["total_bytes"] = sum(v["bytes"] for v in r.values())
    out["total_gzip_bytes"] = sum(v["gzip_bytes"] for v in r.values())
    out["server_seconds_sequential"] = round(sum(v["median_s"] for v in r.values()), 3)
    # the browser fetches the page, then the layers in parallel: page + the slowest layer
    out["server_seconds_page_then_parallel_layers"] = round(
        r["page"]["median_s"] + max(v["median_s"] for k, v in r.items() if k != "page"), 3
    )
    return out


def measure_browser(area_code: str, rounds: int) -> dict:
    """Headless Chromium against a live server: navigation start → every layer drawn (cells and heat switched on)."""
    from django.contrib.auth import get_user_model
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test import Client
    from django.test.testcases import LiveServerThread
    from django.test.utils import override_settings
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    overrides = override_settings(ALLOWED_HOSTS=["127.0.0.1"], SESSION_COOKIE_SECURE=False, MAP_TILES="none")
    overrides.enable()
    server = LiveServerThread("127.0.0.1", StaticFilesHandler)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    base = f"http://127.0.0.1:{server.port}"
    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    session = client.cookies["sessionid"].value
    results = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for _ in range(rounds + 1):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
                page = context.new_page()
                page.route("**", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
                received = []
                page.on("response", lambda resp, sink=received: sink.append(resp))
                t = time.perf_counter()
                page.goto(f"{base}/dashboard/?area={area_code}")
                page.wait_for_function(
                    """() => { const d = document.querySelector('.folium-map').dataset;
                               return d.layerLanes === 'ready' && d.layerCases === 'ready' && d.layerBoundaries === 'ready'; }""",
                    timeout=60_000,
                )
                default_layers = time.perf_counter() - t
                sizes = sum(len(r.body()) for r in received if "/dashboard" in r.url)
                for label in ("网格整改率", "上报热力"):
                    page.get_by_label(label).check()
                page.wait_for_function(
                    """() => { const d = document.querySelector('.folium-map').dataset;
                               return d.layerCells === 'ready' && d.layerHeat === 'ready'; }""",
                    timeout=60_000,
                )
                all_layers = time.perf_counter() - t
                markers = page.locator(".leaflet-marker-icon").count()
                paths = page.locator("path.lc-lane").count()
                cells = page.locator("path.lc-cell").count()
                results.append((default_layers, all_layers, sizes, markers, paths, cells))
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.join(timeout=10)
        overrides.disable()
    counted = results[1:]
    return {
        "rounds": rounds,
        "default_layers_median_s": round(median(r[0] for r in counted), 3),
        "all_layers_median_s": round(median(r[1] for r in counted), 3),
        "dynamic_bytes_default_layers": counted[-1][2],
        "drawn": {"case_markers_and_clusters": counted[-1][3], "lanes": counted[-1][4], "cells": counted[-1][5]},
    }


NAME = "dashboard"


def collect(*, rounds: int = 5, browser: bool = True) -> dict:
    from grid.models import Area

    built = None
    if not Area.objects.filter(code=OFFICE).exists():
        log("building the dashboard bench street office …")
        built = build()
    result = {"built": built or built_counts(), "server": measure(rounds, OFFICE)}
    from bench import city

    # the city-wide view: the synthetic 100,000-lane city of bench/city.py when it is there, else our district
    wide = city.DISTRICT_CODE if Area.objects.filter(code=city.DISTRICT_CODE).exists() else DISTRICT
    result["district_view"] = measure(rounds, wide)
    if browser:
        result["browser"] = measure_browser(OFFICE, max(2, rounds // 2))
    srv, br = result["server"], result.get("browser", {})
    result["targets"] = {"seconds_max": 2.0, "bytes_max": 3_000_000}
    drawn_s = br.get("default_layers_median_s")
    result["met"] = (
        srv["server_seconds_page_then_parallel_layers"] < 2.0
        and srv["total_bytes"] < 3_000_000
        and (drawn_s is None or drawn_s < 2.0)
    )
    return result


def built_counts() -> dict:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM lanes_lane WHERE source_key LIKE 'benchdash:%%'),"
            " (SELECT count(*) FROM grid_area WHERE level = 'grid_cell' AND code LIKE %s)",
            [OFFICE + "%"],
        )
        lanes, cells = cur.fetchone()
    return {"lanes": lanes, "grid_cells": cells}


def run(ctx) -> dict:
    return collect(rounds=int(os.environ.get("BENCH_DASHBOARD_ROUNDS", "5")), browser=True)


def summary(result: dict) -> list[str]:
    srv, br = result["server"], result.get("browser", {})
    return [
        f"dashboard: server {srv['server_seconds_page_then_parallel_layers']} s, {srv['total_bytes']:,} bytes, "
        f"drawn in Chromium in {br.get('default_layers_median_s', '?')} s"
    ]


def markdown(d: dict) -> list[str]:
    srv, br = d["server"], d.get("browser", {})
    lines = [
        "## Street-office dashboard (`bench/dashboard.py`)",
        "",
        f"One street office with {d['built']['lanes']:,} lanes, {d['built']['grid_cells']:,} grid cells, 10,000 open and "
        f"5,000 closed cases, opened at zoom {srv['zoom']} (median of {srv['rounds']}):",
        "",
        "| response | server time (median) | bytes | gzip bytes |",
        "|---|---|---|---|",
    ]
    for name, r in srv["responses"].items():
        lines.append(f"| {name} | {r['median_s']} s | {r['bytes']:,} | {r['gzip_bytes']:,} |")
    lines += [
        f"| **total** | page then layers in parallel: {srv['server_seconds_page_then_parallel_layers']} s "
        f"(sequential {srv['server_seconds_sequential']} s) | {srv['total_bytes']:,} | {srv['total_gzip_bytes']:,} |",
        "",
        f"In Chromium (headless, no tiles): default layers drawn in {br.get('default_layers_median_s', '?')} s, all five "
        f"layers in {br.get('all_layers_median_s', '?')} s; drawn: {br.get('drawn', {})}. Target: under 2 s and 3 MB — "
        f"{'met' if d.get('met') else 'missed'}.",
        f"The district-wide view ({d['district_view']['area']}, zoom {d['district_view']['zoom']}) ships "
        f"{d['district_view']['total_bytes']:,} bytes: lanes and cells are not sent below zoom 13.",
        "",
        "Vector tiles are not used: the dashboard's layers are served per map view as simplified GeoJSON, so there is no "
        "tile scenario to measure.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the synthetic street office")
    parser.add_argument("--drop", action="store_true", help="remove the synthetic street office and stop")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    if args.drop or args.rebuild:
        drop()
        if args.drop:
            return
    result = collect(rounds=args.rounds, browser=not args.no_browser)
    from bench.common import save_result

    save_result(NAME, result)
    s = result["server"]
    print(f"dashboard of one street office (1,000 lanes / 2,000 cells / 10,000 open cases), zoom {s['zoom']}:")
    print(f"{'response':<12}{'median s':>10}{'max s':>9}{'bytes':>12}{'gzip':>10}")
    for name, v in s["responses"].items():
        print(f"{name:<12}{v['median_s']:>10.3f}{v['max_s']:>9.3f}{v['bytes']:>12,}{v['gzip_bytes']:>10,}")
    print(
        f"{'total':<12}{s['server_seconds_sequential']:>10.3f}{'':>9}{s['total_bytes']:>12,}{s['total_gzip_bytes']:>10,}"
    )
    print(f"page, then the layers in parallel: {s['server_seconds_page_then_parallel_layers']:.3f} s (server)")
    d = result["district_view"]
    print(
        f"district {d['area']} at zoom {d['zoom']}: {d['total_bytes']:,} bytes, "
        + ", ".join(f"{k} {v['bytes']:,} B / {v['median_s']:.3f} s" for k, v in d["responses"].items())
    )
    if "browser" in result:
        b = result["browser"]
        print(
            f"chromium: default layers drawn in {b['default_layers_median_s']:.2f} s, all five in "
            f"{b['all_layers_median_s']:.2f} s (median of {b['rounds']}); drawn {b['drawn']}"
        )


if __name__ == "__main__":
    main()
