"""Map pages. The public lookup (/lookup/…) needs no login and shows public data only."""

from __future__ import annotations

import folium
import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from common.access import public_view
from grid.models import Area
from lanes.models import Lane, LaneKind
from maps import dashboard as dashboard_module
from maps import selectors
from maps.api import LOOKUP_NEAREST_DEFAULT_M, dashboard_request
from maps.datum import overlay_datum, shift_geometry, shift_latlon
from maps.embed import render_map
from maps.offline import offline_map

LOOKUP_MIN_ZOOM = 15


def _embed(request, fmap):
    """The folium map rendered for this page, its inline blocks carrying the request's CSP nonce (common/csp.py)."""
    return render_map(fmap, nonce=getattr(request, "csp_nonce", None))


@public_view
def home(request):
    return render(request, "maps/home.html")


def report_url(lane_id: int) -> str:
    """The page where anyone reports a problem at a lane (the cases app's report page)."""
    try:
        base = reverse("cases-report")
    except NoReverseMatch:
        base = "/report/"
    return f"{base}?lane={lane_id}"


def case_url(case_id: int) -> str:
    """A case's page for the people handling it (the cases app's)."""
    try:
        return reverse("cases-case", args=[case_id])
    except NoReverseMatch:
        return ""


def remaining_text(seconds: int, *, working: bool) -> str:
    """ "剩余 3 小时 20 分（工作时间）" / "已超时 1 天 2 小时": the time left on a case's clock, in words."""
    late = seconds < 0
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400) if not working else (0, seconds)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(_("%d 天") % days)
    if hours:
        parts.append(_("%d 小时") % hours)
    if minutes and not days:
        parts.append(_("%d 分") % minutes)
    amount = " ".join(parts) or _("不到 1 分钟")
    text = (_("已超时 %s") if late else _("剩余 %s")) % amount
    return text + (_("（工作时间）") if working else "")


def public_url(request, path: str) -> str:
    """Absolute URL of `path` for printed material: settings.PUBLIC_BASE_URL when set (placards are often printed
    from an office network whose host name residents cannot reach), else the host of this request."""
    base = (getattr(settings, "PUBLIC_BASE_URL", "") or "").rstrip("/")
    return base + path if base else request.build_absolute_uri(path)


@public_view
def lookup(request):
    """Find a lane's chief: search by name, click the map, or use the phone's position."""
    query = request.GET.get("q", "").strip()[:50]
    results = list(selectors.lanes_matching(query)) if query else []
    datum = overlay_datum()
    lat, lon = selectors.map_centre()
    fmap = offline_map(
        light=True, location=list(shift_latlon(lat, lon, datum)), zoom_start=LOOKUP_MIN_ZOOM, max_zoom=19
    )
    config = {
        "mapName": fmap.get_name(),
        "datum": datum,
        "minZoom": LOOKUP_MIN_ZOOM,
        "lanesUrl": reverse("lookup-api-lanes"),
        "nearestUrl": reverse("lookup-api-nearest"),
        "locateWithin": LOOKUP_NEAREST_DEFAULT_M * 2,
        "text": {
            "zoomIn": _("放大地图以显示街巷"),
            "loading": _("正在加载街巷…"),
            "clickHint": _("点击地图上的任意位置，查找最近的街巷"),
            "noLanes": _("此范围内没有街巷"),
            "truncated": _("街巷较多，只显示了较长的街巷；放大地图查看全部"),
            "error": _("出错了："),
            "searching": _("正在查找最近的街巷…"),
            "locating": _("正在获取您的位置…"),
            "noPosition": _("无法获取您的位置，请在地图上点击或搜索街巷名称"),
            "noneNear": _("附近没有街巷。请在街巷上点击，或搜索街巷名称。"),
            "distance": _("距离约 %s 米"),
            "openPlacard": _("查看街巷长和中队电话"),
        },
    }
    return render(
        request,
        "maps/lookup.html",
        {
            "query": query,
            "results": results,
            "map": _embed(request, fmap),
            "config": config,
            "kinds": dict(LaneKind.choices),
        },
    )


def _placard(lane_id: int) -> dict:
    from people.selectors import placard_for_lane

    try:
        return placard_for_lane(lane_id, on=timezone.localdate())
    except Lane.DoesNotExist:
        raise Http404(_("没有这条街巷")) from None


@public_view
def lookup_lane(request, lane_id: int):
    """A lane's public placard: chief, squads' duty phones, duties, a report link and a small map."""
    placard = _placard(lane_id)
    datum = overlay_datum()
    outline = shift_geometry(selectors.lane_outline(lane_id), datum)
    fmap = offline_map(light=True, location=[0, 0], zoom_start=17, max_zoom=19, scroll_wheel_zoom=False)
    layer = folium.GeoJson(
        {"type": "Feature", "geometry": outline, "properties": {}},
        name=placard["lane"]["name"],
        style_function=lambda _f: {"color": "#c0392b", "weight": 6, "opacity": 0.9},
    )
    layer.add_to(fmap)
    bounds = _bounds(outline)
    fmap.fit_bounds(bounds, padding=(20, 20), max_zoom=18)
    path = reverse("lookup-lane", args=[lane_id])
    return render(
        request,
        "maps/lane.html",
        {
            "placard": placard,
            "map": _embed(request, fmap),
            "report_url": report_url(lane_id),
            "print_url": reverse("lookup-placard", args=[lane_id]),
            "public_url": public_url(request, path),
        },
    )


def _bounds(geometry: dict) -> list[list[float]]:
    xs, ys = [], []

    def walk(coords):
        if coords and isinstance(coords[0], (int, float)):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    walk(geometry["coordinates"])
    return [[min(ys), min(xs)], [max(ys), max(xs)]]


def qr_svg(url: str) -> str:
    """An inline SVG QR code (error correction M) for `url`."""
    qr = segno.make(url, error="m")
    return qr.svg_inline(scale=1, border=2, omitsize=True, title=url)


@public_view
def lookup_placard(request, lane_id: int):
    """The printable A4 contact placard (街巷长联系牌) with a QR code to the lane's public page."""
    placard = _placard(lane_id)
    url = public_url(request, reverse("lookup-lane", args=[lane_id]))
    return render(
        request,
        "maps/placard.html",
        {"placard": placard, "qr_svg": mark_safe(qr_svg(url)), "public_url": url},  # noqa: S308 - segno's own SVG
    )


@login_required
def squad_map(request):
    """A squad's open dispatches as a map and a list, earliest deadline first, with the traffic light."""
    from cases.permissions import scope_for

    scope = scope_for(request.user)
    squads = list(selectors.squads_for_scope(scope))
    if not squads:
        return render(request, "maps/squad_none.html", status=403)
    wanted = request.GET.get("squad", "")
    own = [s for s in squads if s.pk in scope.squad_ids]
    squad = next((s for s in squads if str(s.pk) == wanted), None) or (own or squads)[0]
    now = timezone.now()
    rows = selectors.squad_dispatches(squad, scope, now=now)
    counts = {light: sum(1 for r in rows if r["light"] == light) for light in ("red", "yellow", "green")}
    for row in rows:
        row["remaining"] = (
            remaining_text(row["remaining_seconds"], working=row["working_clock"]) if row["deadline"] else ""
        )
        row["url"] = case_url(row["id"])
    datum = overlay_datum()
    lat, lon = (rows[0]["lat"], rows[0]["lon"]) if rows else selectors.map_centre()
    fmap = offline_map(light=True, location=list(shift_latlon(lat, lon, datum)), zoom_start=15, max_zoom=19)
    points = [
        {k: row[k] for k in ("id", "code", "category", "lane", "light", "remaining", "url", "lat", "lon")}
        | {"lat": round(row["lat"], 6), "lon": round(row["lon"], 6), "suspended": row["suspended"]}
        for row in rows
    ]
    config = {
        "mapName": fmap.get_name(),
        "datum": datum,
        "points": points,
        "contextUrl": reverse("lookup-api-lanes"),
        "text": {"open": _("查看案件"), "suspended": _("挂账")},
    }
    return render(
        request,
        "maps/squad.html",
        {
            "squad": squad,
            "squads": squads,
            "rows": rows,
            "counts": counts,
            "map": _embed(request, fmap),
            "config": config,
            "limit": selectors.SQUAD_MAP_LIMIT,
        },
    )


DASHBOARD_LAYERS = (
    # key, label, shown at first
    ("boundaries", _lazy("社区与街道边界"), True),
    ("cells", _lazy("网格整改率"), False),
    ("heat", _lazy("上报热力"), False),
    ("lanes", _lazy("街巷巡查（今日）"), True),
    ("cases", _lazy("在办案件"), True),
)


@login_required
def dashboard(request):
    """The street office's map: layers (lane coverage today, open cases, grid rectification rate, report heatmap,
    boundaries) loaded for the view, filters, today's counts and a lane's details."""
    from django.contrib.gis.db.models import Extent

    req = dashboard_request(request)
    if req.filter is None:
        return render(request, "maps/dashboard_none.html", status=403)
    f = req.filter
    counts = dashboard_module.today_counts(f, now=timezone.now())
    extent = Area.objects.filter(pk=f.area.pk).aggregate(e=Extent("geom"))["e"]
    datum = overlay_datum()
    fmap = offline_map(light=True, location=[0, 0], zoom_start=14, max_zoom=19, prefer_canvas=False)
    groups = {}
    for key, label, shown in DASHBOARD_LAYERS:
        group = folium.FeatureGroup(name=str(label), show=shown)
        group.add_to(fmap)
        groups[key] = group.get_name()
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    if extent:
        (s_lat, w_lon), (n_lat, e_lon) = (
            shift_latlon(extent[1], extent[0], datum),
            shift_latlon(extent[3], extent[2], datum),
        )
        fmap.fit_bounds([[s_lat, w_lon], [n_lat, e_lon]], padding=(10, 10))
    query = {"area": f.area.code, "start": f.start.isoformat(), "end": f.end.isoformat()}
    if req.category:
        query["category"] = req.category
    config = {
        "mapName": fmap.get_name(),
        "datum": datum,
        "groups": groups,
        "query": query,
        "detailMinZoom": dashboard_module.DETAIL_MIN_ZOOM,
        "urls": {
            "lanes": reverse("dashboard-api-lanes"),
            "cells": reverse("dashboard-api-cells"),
            "cases": reverse("dashboard-api-cases"),
            "heat": reverse("dashboard-api-heat"),
            "boundaries": reverse("dashboard-api-boundaries"),
            "lane": reverse("dashboard-api-lane", args=[0]),
            "case": case_url(0),
        },
        "text": _dashboard_text(),
    }
    rate = counts["coverage_rate"]
    return render(
        request,
        "maps/dashboard.html",
        {
            "filter": f,
            "areas": req.areas,
            "category": req.category,
            "categories": dashboard_module.category_choices(),
            "problems": req.problems,
            "counts": counts,
            "coverage_percent": None if rate is None else round(rate * 100, 1),
            "map": _embed(request, fmap),
            "config": config,
        },
    )


def _dashboard_text() -> dict:
    return {
        "covered": _("已巡"),
        "missed": _("未巡"),
        "rest": _("休息日"),
        "lanesTitle": _("街巷巡查（今日）"),
        "casesTitle": _("在办案件（期限）"),
        "green": _("正常"),
        "yellow": _("临期"),
        "red": _("超时"),
        "none": _("未计时/挂账"),
        "cellsTitle": _("网格整改率"),
        "noCases": _("无案件"),
        "heatTitle": _("上报热力"),
        "boundaryTitle": _("边界"),
        "streetOffice": _("街道"),
        "community": _("社区"),
        "illustrative": _("示意边界，非官方"),
        "zoomIn": _("放大地图以显示街巷和网格"),
        "truncated": _("数量过多，只显示了一部分；请放大地图"),
        "loading": _("加载中…"),
        "error": _("加载失败："),
        "chief": _("街巷长"),
        "noChief": _("暂无街巷长"),
        "squads": _("中队"),
        "openCases": _("在办案件"),
        "lastPatrol": _("最近巡查"),
        "never": _("暂无巡查记录"),
        "placard": _("公开联系牌"),
        "openCase": _("查看"),
        "cases": _("件"),
    }
