"""JSON for the map pages.

The public lookup (no login): lanes in the current view and the lane nearest to a point — public data only (a lane's
id, name, kind, community name and outline; nothing about people or cases).
The dashboard (login): its layers for one area and one map view, and one lane's side panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from common.access import login_required_json, public_view
from common.geo import CoordinateError, parse_number, point_from_params
from maps import dashboard, selectors

LOOKUP_NEAREST_DEFAULT_M = 150.0


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=400)


@public_view
@require_GET
@gzip_page
@cache_control(public=True, max_age=60)
def lookup_lanes(request):
    """GET ?bbox=min_lon,min_lat,max_lon,max_lat[&zoom=z] → GeoJSON FeatureCollection of the lanes in view."""
    try:
        bbox = selectors.parse_bbox(request.GET.get("bbox"))
        zoom = parse_number(request.GET["zoom"], "zoom") if request.GET.get("zoom") else None
    except CoordinateError as exc:
        return _bad_request(str(exc))
    body = selectors.public_lanes_in_view(bbox, zoom=zoom)
    return HttpResponse(body, content_type="application/geo+json; charset=utf-8")


@public_view
@require_GET
def lookup_nearest(request):
    """GET ?lat&lon[&coordsys=wgs84|gcj02][&within=metres] → {"lane": {...} | null, "within_m": …}."""
    try:
        point = point_from_params(request.GET)
        within = (
            parse_number(request.GET["within"], "within") if request.GET.get("within") else LOOKUP_NEAREST_DEFAULT_M
        )
    except CoordinateError as exc:
        return _bad_request(str(exc))
    within = max(1.0, min(within, settings.LANE_NEAREST_MAX_M))
    lane = selectors.nearest_public_lane(point, within_m=within)
    if lane:
        lane["url"] = reverse("lookup-lane", args=[lane["id"]])
    return JsonResponse({"lane": lane, "within_m": within}, json_dumps_params={"ensure_ascii": False})


# --- dashboard layers (login; the areas the user works for) ------------------------------------------------------
DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 366


@dataclass
class DashboardRequest:
    filter: dashboard.Filter | None
    areas: list
    category: str
    problems: list[str]


def _date(value: str | None, default: date) -> tuple[date, bool]:
    if not value:
        return default, True
    try:
        return date.fromisoformat(value), True
    except ValueError:
        return default, False


def dashboard_request(request) -> DashboardRequest:
    """The dashboard's filter from the query string (area code, start/end dates, category code), checked against
    the areas the user works for. Bad values fall back to the defaults, with a message in `problems`."""
    from cases.permissions import scope_for

    areas = dashboard.dashboard_areas(scope_for(request.user))
    problems: list[str] = []
    if not areas:
        return DashboardRequest(None, [], "", problems)
    code = request.GET.get("area", "")
    area = next((a for a in areas if a.code == code), None)
    if code and area is None:
        problems.append(_("无权查看或不存在的区域：%(code)s") % {"code": code[:20]})
    area = area or areas[0]
    today = timezone.localdate()
    end, ok_end = _date(request.GET.get("end"), today)
    start, ok_start = _date(request.GET.get("start"), end - timedelta(days=DEFAULT_PERIOD_DAYS - 1))
    if not (ok_end and ok_start):
        problems.append(_("日期格式应为 YYYY-MM-DD，已改用默认时段"))
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_PERIOD_DAYS:
        start = end - timedelta(days=MAX_PERIOD_DAYS - 1)
        problems.append(_("时段最长 %(n)d 天") % {"n": MAX_PERIOD_DAYS})
    category = request.GET.get("category", "")
    ids = None
    if category:
        found = next((c for c in dashboard.category_choices() if c[0] == category), None)
        if found is None:
            problems.append(_("未知的案件类别：%(code)s") % {"code": category[:20]})
            category = ""
        else:
            ids = found[2]
    return DashboardRequest(dashboard.Filter(area, start, end, ids, today), areas, category, problems)


def _view(request) -> tuple[selectors.BBox | None, float | None]:
    bbox = selectors.parse_bbox(request.GET["bbox"]) if request.GET.get("bbox") else None
    zoom = parse_number(request.GET["zoom"], "zoom") if request.GET.get("zoom") else None
    return bbox, zoom


def _layer(kind: str):
    @gzip_page  # layer data only (no secrets, no tokens): compressing it cuts the transfer by 80–90 %
    @login_required_json
    @require_GET
    def view(request):
        req = dashboard_request(request)
        if req.filter is None:
            return JsonResponse({"detail": _("您没有可查看的区域")}, status=403)
        try:
            bbox, zoom = _view(request)
        except CoordinateError as exc:
            return _bad_request(str(exc))
        f = req.filter
        if kind == "lanes":
            body, content_type = dashboard.lanes_layer(f, bbox=bbox, zoom=zoom), "application/geo+json"
        elif kind == "cells":
            body, content_type = dashboard.cells_layer(f, bbox=bbox, zoom=zoom), "application/geo+json"
        elif kind == "boundaries":
            body, content_type = dashboard.boundaries_layer(f, bbox=bbox, zoom=zoom), "application/geo+json"
        elif kind == "cases":
            body = dashboard.dumps(dashboard.cases_layer(f, bbox=bbox, zoom=zoom, now=timezone.now()))
            content_type = "application/json"
        else:
            body, content_type = dashboard.dumps(dashboard.heat_layer(f, bbox=bbox, zoom=zoom)), "application/json"
        return HttpResponse(body, content_type=content_type + "; charset=utf-8")

    view.__name__ = f"dashboard_{kind}"
    return view


dashboard_lanes = _layer("lanes")
dashboard_cells = _layer("cells")
dashboard_boundaries = _layer("boundaries")
dashboard_cases = _layer("cases")
dashboard_heat = _layer("heat")


@login_required_json
@require_GET
def dashboard_lane(request, lane_id: int):
    """One lane's side panel: chief, squads, open cases, last patrol (only lanes of the chosen area)."""
    req = dashboard_request(request)
    if req.filter is None:
        return JsonResponse({"detail": _("您没有可查看的区域")}, status=403)
    if not dashboard.lane_in_area(lane_id, req.filter.area):
        return JsonResponse({"detail": _("这条街巷不在所选区域内")}, status=404)
    from cases.permissions import scope_for

    detail = dashboard.lane_detail(lane_id, req.filter, now=timezone.now(), scope=scope_for(request.user))
    detail["lookup_url"] = reverse("lookup-lane", args=[lane_id])
    return JsonResponse(detail, json_dumps_params={"ensure_ascii": False})
