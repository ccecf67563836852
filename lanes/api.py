"""Read API for lanes (街巷): public data — names, kinds, lengths, communities and lines (AllowAny, GET only).

- GET /api/lanes/?in_bbox=&kind=&community=&name=   GeoJSON FeatureCollection, paginated, ordered by (name, id)
- GET /api/lanes/{id}/                              one lane as a GeoJSON Feature with the grid cells it runs through
- GET /api/lanes/nearest/?lat=&lon=[&within=][&limit=][&coordsys=]   nearest lanes in metres (one SQL statement)
"""

from __future__ import annotations

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q
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
from common.params import (
    BAD_REQUEST,
    LIMIT_PARAM,
    NOT_FOUND,
    POINT_PARAMS,
    DetailFilterBackend,
    InBBoxFilter,
    parse_limit,
    parse_point,
    parse_within,
    within_param,
)
from lanes.models import Lane, LaneCell, LaneKind
from lanes.selectors import nearest_lanes
from lanes.serializers import LaneDetailSerializer, LaneFeatureSerializer, NearestLanesSerializer

# What the API reads of a lane and its community: never the community's polygon.
PROPERTY_FIELDS = ("id", "name", "name_zh", "kind", "length_m", "community__code", "community__name")


class LaneFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(
        choices=LaneKind.choices, help_text="类型：main 主干道、secondary 次干道、back 背街小巷"
    )
    community = filters.CharFilter(field_name="community__code", help_text="所属社区编码（12 位）")
    name = filters.CharFilter(method="filter_name", help_text="名称包含此文字（中文名或名称，不区分大小写）")

    class Meta:
        model = Lane
        fields = ["kind", "community", "name"]

    def filter_name(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(name_zh__icontains=value))


def cell_codes():
    """The codes of the grid cells a lane runs through, as one array column (no extra query per lane)."""
    return ArraySubquery(LaneCell.objects.filter(lane=OuterRef("pk")).order_by("cell__code").values("cell__code"))


@extend_schema_view(
    list=extend_schema(
        summary="街巷列表（GeoJSON）",
        description="按名称、编号排序的街巷，GeoJSON FeatureCollection，分页（每页 100 条，page_size 最多 1000）。",
        responses={200: LaneFeatureSerializer(many=True), 400: BAD_REQUEST},
    ),
    retrieve=extend_schema(
        summary="单条街巷（GeoJSON）",
        description="一条街巷的走向与属性，以及它经过的单元网格编码。",
        responses={200: LaneDetailSerializer, 404: NOT_FOUND},
    ),
)
class LaneViewSet(ReadOnlyModelViewSet):
    # Lane names, lines and communities are public (printed on contact placards, shown on the lookup map).
    permission_classes = [AllowAny]
    pagination_class = GeoJsonPagination
    filter_backends = [DetailFilterBackend, InBBoxFilter]
    filterset_class = LaneFilter
    bbox_filter_field = "geom"
    bbox_filter_include_overlapping = True

    def get_queryset(self):
        qs = Lane.objects.select_related("community").only(*PROPERTY_FIELDS, "geom").order_by("name", "id")
        if self.action == "retrieve":
            qs = qs.annotate(cell_codes=cell_codes())
        return qs

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise NotFound(_("没有编号为 %(id)s 的街巷") % {"id": str(self.kwargs.get("pk", ""))[:40]}) from None

    def get_serializer_class(self):
        return LaneDetailSerializer if self.action == "retrieve" else LaneFeatureSerializer

    @extend_schema(
        summary="最近的街巷",
        description=(
            "按椭球面距离（米）由近到远返回查询点附近的街巷，只含搜索半径内的。"
            "坐标可用 GCJ-02（coordsys=gcj02），服务端换算为 WGS-84。一次 SQL 查询。"
        ),
        parameters=[*POINT_PARAMS, within_param(), LIMIT_PARAM],
        responses={200: NearestLanesSerializer, 400: BAD_REQUEST},
        examples=[
            OpenApiExample(
                "人民广场附近",
                value={
                    "point": {"lon": 121.4737, "lat": 31.2304},
                    "within_m": 50.0,
                    "lanes": [
                        {
                            "id": 84,
                            "name": "延安东路",
                            "name_zh": "延安东路",
                            "kind": "main",
                            "length_m": 1830.4,
                            "community": None,
                            "distance_m": 21.7,
                        }
                    ],
                },
                response_only=True,
            )
        ],
    )
    @action(detail=False, methods=["get"], url_path="nearest", filter_backends=[], pagination_class=None)
    def nearest(self, request):
        params = request.query_params
        point = parse_point(params)
        within = parse_within(params.get("within"))
        limit = parse_limit(params.get("limit"))
        # Hot path: one raw statement and plain rows (lanes.selectors.nearest_lanes); NearestLanesSerializer only
        # documents the shape.
        lanes = nearest_lanes(point.x, point.y, within_m=within.m, limit=limit)
        return Response({"point": {"lon": point.x, "lat": point.y}, "within_m": within.m, "lanes": lanes})
