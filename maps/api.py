"""JSON for the public lookup map (no login): lanes in the current view and the lane nearest to a point.

Public data only: a lane's id, name, kind, community name and outline. Nothing about people or cases.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from common.geo import CoordinateError, parse_number, point_from_params
from maps import selectors

LOOKUP_NEAREST_DEFAULT_M = 150.0


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=400)


@require_GET
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
