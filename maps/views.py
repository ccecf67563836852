"""Map pages. The public lookup (/lookup/…) needs no login and shows public data only."""

from __future__ import annotations

import folium
import segno
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from lanes.models import Lane, LaneKind
from maps import selectors
from maps.api import LOOKUP_NEAREST_DEFAULT_M
from maps.datum import overlay_datum, shift_geometry, shift_latlon
from maps.embed import render_map
from maps.offline import offline_map

LOOKUP_MIN_ZOOM = 15


def home(request):
    return render(request, "maps/home.html")


def report_url(lane_id: int) -> str:
    """The page where anyone reports a problem at a lane (the cases app's report page)."""
    try:
        base = reverse("report")
    except NoReverseMatch:
        base = "/report/"
    return f"{base}?lane={lane_id}"


def public_url(request, path: str) -> str:
    """Absolute URL of `path` for printed material: settings.PUBLIC_BASE_URL when set (placards are often printed
    from an office network whose host name residents cannot reach), else the host of this request."""
    base = (getattr(settings, "PUBLIC_BASE_URL", "") or "").rstrip("/")
    return base + path if base else request.build_absolute_uri(path)


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
            "map": render_map(fmap),
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
            "map": render_map(fmap),
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


def lookup_placard(request, lane_id: int):
    """The printable A4 contact placard (街巷长联系牌) with a QR code to the lane's public page."""
    placard = _placard(lane_id)
    url = public_url(request, reverse("lookup-lane", args=[lane_id]))
    return render(
        request,
        "maps/placard.html",
        {"placard": placard, "qr_svg": mark_safe(qr_svg(url)), "public_url": url},  # noqa: S308 - segno's own SVG
    )
