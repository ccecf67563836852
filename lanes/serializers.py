"""Read-only representations of lanes (public: name, kind, length, community and the line itself)."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework_gis.fields import GeometryField

from grid.serializers import COORD_DECIMALS, GeoFeatureSerializer, PointSerializer, RoundedFloatField
from lanes.models import Lane, LaneKind


class CommunityRefSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="社区编码（12 位）")
    name = serializers.CharField(help_text="社区名称")


class LaneFeatureSerializer(GeoFeatureSerializer):
    """One lane as a GeoJSON Feature (MultiLineString, WGS-84)."""

    geom = GeometryField(precision=COORD_DECIMALS)
    length_m = RoundedFloatField(decimals=1, help_text="长度（米，椭球面），保留一位小数")
    community = CommunityRefSerializer(read_only=True, allow_null=True, help_text="所属社区（无则为 null）")

    class Meta:
        model = Lane
        geo_field = "geom"
        id_field = False
        fields = ("id", "name", "name_zh", "kind", "length_m", "community")


class LaneDetailSerializer(LaneFeatureSerializer):
    grid_cells = serializers.ListField(
        child=serializers.CharField(),
        source="cell_codes",
        read_only=True,
        help_text="街巷经过的单元网格编码（15 位），按编码排序",
    )

    class Meta(LaneFeatureSerializer.Meta):
        fields = (*LaneFeatureSerializer.Meta.fields, "grid_cells")


class NearestLaneSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    name_zh = serializers.CharField()
    kind = serializers.ChoiceField(choices=LaneKind.choices)
    length_m = RoundedFloatField(decimals=1, help_text="长度（米）")
    community = CommunityRefSerializer(allow_null=True, help_text="所属社区（无则为 null）")
    distance_m = RoundedFloatField(decimals=1, help_text="到查询点的距离（米，椭球面），保留一位小数")


class NearestLanesSerializer(serializers.Serializer):
    point = PointSerializer(help_text="查询点（已换算为 WGS-84）")
    within_m = serializers.FloatField(help_text="实际使用的搜索半径（米）")
    lanes = NearestLaneSerializer(many=True, help_text="由近到远；半径内没有街巷时为空列表")
