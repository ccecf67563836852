"""Query parameters shared by the read API: parse and validate them once, at the edge.

Every function raises either `common.geo.CoordinateError` (a coordinate or box that cannot be used) or a DRF
`ValidationError` whose body is {"detail": "<what is wrong>"}; the API exception handler (common.api) turns both
into HTTP 400 with that body. The OpenAPI parameter objects below document the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.contrib.gis.measure import D
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers
from rest_framework_gis.filters import InBBoxFilter as _GisInBBoxFilter

from common.api import bad_request
from common.geo import COORDSYS, CoordinateError, parse_number, point_from_params

BBOX_PARAM = "in_bbox"
DEFAULT_BBOX_MAX_DEG2 = 1.0  # square degrees: about 95 km × 111 km at Shanghai's latitude
NEAREST_LIMIT_DEFAULT = 5
NEAREST_LIMIT_MAX = 50


def bbox_max_deg2() -> float:
    """The largest `in_bbox` accepted, in square degrees (settings.BBOX_MAX_DEG2)."""
    return float(getattr(settings, "BBOX_MAX_DEG2", DEFAULT_BBOX_MAX_DEG2))


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @property
    def area_deg2(self) -> float:
        return (self.max_lon - self.min_lon) * (self.max_lat - self.min_lat)

    @property
    def polygon(self) -> Polygon:
        return Polygon.from_bbox((self.min_lon, self.min_lat, self.max_lon, self.max_lat))


def parse_point(params) -> Point:
    """A WGS-84 point from `lat`, `lon` and optional `coordsys` (wgs84 | gcj02, converted with common.geo)."""
    return point_from_params(params)


def parse_bbox(value: str | None, *, name: str = BBOX_PARAM, max_deg2: float | None = None) -> BBox | None:
    """`min_lon,min_lat,max_lon,max_lat` in WGS-84 degrees, or None when absent. Rejects a wrong count, non-numbers,
    NaN/inf, coordinates out of range, min > max and boxes larger than `max_deg2` square degrees."""
    if value is None or value.strip() == "":
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise CoordinateError(
            _("%(name)s 须为 4 个以逗号分隔的数：最小经度,最小纬度,最大经度,最大纬度（收到 %(count)d 个）")
            % {"name": name, "count": len(parts)}
        )
    labels = ("min_lon", "min_lat", "max_lon", "max_lat")
    numbers = [parse_number(part, f"{name} {label}") for part, label in zip(parts, labels, strict=True)]
    for label, number in zip(labels, numbers, strict=True):
        bound = 180.0 if label.endswith("lon") else 90.0
        if not -bound <= number <= bound:
            raise CoordinateError(
                _("%(name)s 的 %(label)s 超出范围 [-%(bound)g, %(bound)g]：%(value)g")
                % {"name": name, "label": label, "bound": bound, "value": number}
            )
    bbox = BBox(*numbers)
    if bbox.min_lon > bbox.max_lon or bbox.min_lat > bbox.max_lat:
        raise CoordinateError(
            _("%(name)s 的最小值大于最大值：应为 最小经度,最小纬度,最大经度,最大纬度") % {"name": name}
        )
    limit = bbox_max_deg2() if max_deg2 is None else max_deg2
    if bbox.area_deg2 > limit:
        raise CoordinateError(
            _("%(name)s 范围过大（%(area).4g 平方度，上限 %(limit).4g 平方度），请缩小范围")
            % {"name": name, "area": bbox.area_deg2, "limit": limit}
        )
    return bbox


def parse_int(value, *, name: str, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter within [minimum, maximum]; `default` when absent."""
    if value is None or str(value).strip() == "":
        return default
    text = str(value).strip()
    try:
        number = int(text)
    except ValueError:
        raise bad_request(_("%(name)s 须为整数，收到 %(value)r") % {"name": name, "value": text[:40]}) from None
    if not minimum <= number <= maximum:
        raise bad_request(
            _("%(name)s 须在 %(min)d 到 %(max)d 之间，收到 %(value)d")
            % {"name": name, "min": minimum, "max": maximum, "value": number}
        )
    return number


def parse_within(value, *, name: str = "within", default_m: float | None = None, max_m: float | None = None) -> D:
    """A search radius in metres: > 0 and ≤ `max_m` (settings.LANE_NEAREST_MAX_M); `default_m`
    (settings.LANE_NEAREST_DEFAULT_M) when absent."""
    default_m = settings.LANE_NEAREST_DEFAULT_M if default_m is None else default_m
    max_m = settings.LANE_NEAREST_MAX_M if max_m is None else max_m
    if value is None or str(value).strip() == "":
        return D(m=default_m)
    try:
        metres = parse_number(value, name)
    except CoordinateError as exc:
        raise bad_request(str(exc)) from None
    if not 0 < metres <= max_m:
        raise bad_request(
            _("%(name)s（米）须大于 0 且不超过 %(max)g，收到 %(value)g") % {"name": name, "max": max_m, "value": metres}
        )
    return D(m=metres)


def parse_limit(value, *, name: str = "limit", default: int = NEAREST_LIMIT_DEFAULT, maximum: int = NEAREST_LIMIT_MAX):
    return parse_int(value, name=name, default=default, minimum=1, maximum=maximum)


class InBBoxFilter(_GisInBBoxFilter):
    """drf-gis's `in_bbox` filter (configured by the view's `bbox_filter_field` and
    `bbox_filter_include_overlapping`), with the box validated by `parse_bbox`."""

    bbox_param = BBOX_PARAM

    def get_filter_bbox(self, request):
        bbox = parse_bbox(request.query_params.get(self.bbox_param), name=self.bbox_param)
        if bbox is None:
            return None
        polygon = bbox.polygon
        polygon.srid = settings.GEO_SRID
        return polygon

    def get_schema_operation_parameters(self, view):
        [param] = super().get_schema_operation_parameters(view)
        param["description"] = (
            "只返回外包矩形与此范围相交的对象：min_lon,min_lat,max_lon,max_lat（WGS-84 度），"
            f"最小值不大于最大值，面积不超过 {bbox_max_deg2():g} 平方度（settings.BBOX_MAX_DEG2）。"
        )
        param["schema"]["example"] = [121.47, 31.225, 121.48, 31.235]
        return [param]


class DetailFilterBackend(DjangoFilterBackend):
    """django-filter, but an invalid filter value is a 400 {"detail": "<parameter>: <what is wrong>"} like every
    other bad parameter (django-filter's own body is keyed by field)."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            problems = [
                f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in filterset.errors.items()
            ]
            raise bad_request("; ".join(problems))
        return filterset.qs


# OpenAPI: the same parameters and the error body, for extend_schema.
LAT = OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True, description="纬度（-90 到 90），坐标系见 coordsys")
LON = OpenApiParameter("lon", OpenApiTypes.DOUBLE, required=True, description="经度（-180 到 180），坐标系见 coordsys")
COORDSYS_PARAM = OpenApiParameter(
    "coordsys",
    OpenApiTypes.STR,
    enum=list(COORDSYS),
    default="wgs84",
    description="lat/lon 的坐标系：wgs84（GPS，默认）或 gcj02（高德、腾讯等国内地图），gcj02 在服务端换算为 WGS-84",
)
POINT_PARAMS = [LAT, LON, COORDSYS_PARAM]


def within_param() -> OpenApiParameter:
    return OpenApiParameter(
        "within",
        OpenApiTypes.DOUBLE,
        description=(
            f"搜索半径（米，椭球面距离），大于 0 且不超过 {settings.LANE_NEAREST_MAX_M:g}；"
            f"默认 {settings.LANE_NEAREST_DEFAULT_M:g}"
        ),
    )


LIMIT_PARAM = OpenApiParameter(
    "limit",
    OpenApiTypes.INT,
    default=NEAREST_LIMIT_DEFAULT,
    description=f"最多返回几条，1 到 {NEAREST_LIMIT_MAX}",
)

ErrorSerializer = inline_serializer("ApiError", fields={"detail": serializers.CharField(help_text="出错原因")})
BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="参数错误：detail 说明哪里不对")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="不存在")
