"""Read API for areas (区/街道/社区/网格): public data — codes, names, levels and outlines (AllowAny, GET only).

- GET /api/areas/?level=&parent=&in_bbox=   GeoJSON FeatureCollection, paginated, ordered by code
- GET /api/areas/{code}/                    one area as a GeoJSON Feature
- GET /api/areas/at/?lat=&lon=[&coordsys=]  every area holding the point, outermost first (one SQL statement)
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.viewsets import ReadOnlyModelViewSet

from common.pagination import GeoJsonPagination
from common.params import BAD_REQUEST, NOT_FOUND, POINT_PARAMS, DetailFilterBackend, InBBoxFilter, parse_point
from grid.models import Area, Level
from grid.selectors import areas_at_rows
from grid.serializers import AreaFeatureSerializer, AreasAtSerializer


class AreaFilter(filters.FilterSet):
    level = filters.ChoiceFilter(choices=Level.choices, help_text="层级：district、street_office、community、grid_cell")
    parent = filters.CharFilter(field_name="parent__code", help_text="上级区域编码：只列出它的直接下级")

    class Meta:
        model = Area
        fields = ["level", "parent"]


@extend_schema_view(
    list=extend_schema(
        summary="区域列表（GeoJSON）",
        description="按编码排序的区域（区、街道、社区、网格）边界，GeoJSON FeatureCollection，分页。",
        responses={200: AreaFeatureSerializer(many=True), 400: BAD_REQUEST},
    ),
    retrieve=extend_schema(
        summary="单个区域（GeoJSON）",
        description="按区域编码（6/9/12/15 位）取一个区域的边界与属性。",
        responses={200: AreaFeatureSerializer, 404: NOT_FOUND},
    ),
)
class AreaViewSet(ReadOnlyModelViewSet):
    # Area names, codes and outlines are public (they are printed on contact placards and maps).
    permission_classes = [AllowAny]
    serializer_class = AreaFeatureSerializer
    pagination_class = GeoJsonPagination
    filter_backends = [DetailFilterBackend, InBBoxFilter]
    filterset_class = AreaFilter
    bbox_filter_field = "geom"
    bbox_filter_include_overlapping = True
    lookup_field = "code"
    lookup_value_regex = "[^/]+"

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise NotFound(_("没有编码为 %(code)s 的区域") % {"code": str(self.kwargs.get("code", ""))[:40]}) from None

    def get_queryset(self):
        return (
            Area.objects.select_related("parent")
            .only("code", "name", "level", "illustrative", "geom", "area_m2", "parent__code")
            .order_by("code")
        )

    @extend_schema(
        summary="某点所在的全部区域",
        description=(
            "返回包含该点（含边界上）的全部区域，由外到内：区、街道、社区、网格。"
            "点在两个区域的共同边界上时两者都返回。一次 SQL 查询。"
        ),
        parameters=POINT_PARAMS,
        responses={200: AreasAtSerializer, 400: BAD_REQUEST},
        examples=[
            OpenApiExample(
                "黄浦区某点",
                value={
                    "point": {"lon": 121.4737, "lat": 31.2304},
                    "areas": [
                        {
                            "level": "district",
                            "level_name": "区",
                            "code": "310101",
                            "name": "黄浦区",
                            "illustrative": True,
                            "parent": None,
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    @action(detail=False, methods=["get"], url_path="at", filter_backends=[], pagination_class=None)
    def at(self, request):
        point = parse_point(request.query_params)
        # Hot path: one raw statement and plain rows (grid.selectors.areas_at_rows); AreasAtSerializer documents it.
        rows = areas_at_rows(point.x, point.y)
        return Response({"point": {"lon": point.x, "lat": point.y}, "areas": rows})
