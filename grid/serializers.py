"""Read-only representations of areas (public: names, codes and outlines of administrative and grid areas).

Also the small building blocks the lanes API shares: `GeoFeatureSerializer` (a GeoJSON Feature whose id is also one of
its properties) and `RoundedFloatField`.
"""

from __future__ import annotations

from drf_spectacular.contrib.rest_framework_gis import GeoFeatureModelSerializerExtension
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from grid.models import Area, Level

# Coordinates leave the API with 7 decimals (about 1 cm), enough for any street or boundary.
COORD_DECIMALS = 7


class RoundedFloatField(serializers.FloatField):
    """A float rounded to `decimals` places on output (lengths 0.1 m, areas 1 m²)."""

    def __init__(self, *, decimals: int, **kwargs):
        self.decimals = decimals
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return round(float(value), self.decimals)


class GeoFeatureSerializer(GeoFeatureModelSerializer):
    """A GeoJSON Feature (drf-gis) whose top-level "id" repeats the property `feature_id_field`, so clients get a
    standard Feature id and still find the id among the properties. Subclasses set `id_field = False` in Meta."""

    feature_id_field = "id"

    def to_representation(self, instance):
        feature = super().to_representation(instance)
        return {"id": feature["properties"][self.feature_id_field], **feature}


class GeoFeatureSerializerExtension(GeoFeatureModelSerializerExtension):
    """OpenAPI for GeoFeatureSerializer: drf-spectacular's GeoJSON Feature schema plus the top-level id."""

    target_class = GeoFeatureSerializer
    match_subclasses = True
    priority = 1

    def map_serializer(self, auto_schema, direction):
        schema = super().map_serializer(auto_schema, direction)
        id_schema = dict(schema["properties"]["properties"]["properties"][self.target.feature_id_field])
        schema["properties"] = {"id": id_schema, **schema["properties"]}
        return schema


class AreaFeatureSerializer(GeoFeatureSerializer):
    """One area as a GeoJSON Feature; its id is the area code."""

    feature_id_field = "code"
    geom = GeometryField(precision=COORD_DECIMALS)
    level_name = serializers.CharField(source="get_level_display", read_only=True, help_text="层级名称")
    parent = serializers.CharField(source="parent.code", read_only=True, allow_null=True, help_text="上级区域编码")
    area_m2 = RoundedFloatField(decimals=0, help_text="面积（平方米，椭球面）")

    class Meta:
        model = Area
        geo_field = "geom"
        id_field = False
        fields = ("code", "name", "level", "level_name", "illustrative", "parent", "area_m2")


class AreaAtSerializer(serializers.Serializer):
    """One area holding the point (from a values() row)."""

    level = serializers.ChoiceField(choices=Level.choices)
    level_name = serializers.SerializerMethodField(help_text="层级名称")
    code = serializers.CharField()
    name = serializers.CharField()
    illustrative = serializers.BooleanField(help_text="边界非官方，仅作示意")
    parent = serializers.CharField(source="parent__code", allow_null=True, help_text="上级区域编码")

    def get_level_name(self, row) -> str:
        return str(Level(row["level"]).label)


class PointSerializer(serializers.Serializer):
    lon = serializers.FloatField(help_text="经度（WGS-84）")
    lat = serializers.FloatField(help_text="纬度（WGS-84）")


class AreasAtSerializer(serializers.Serializer):
    point = PointSerializer(help_text="查询点（已换算为 WGS-84）")
    areas = AreaAtSerializer(many=True, help_text="包含该点的全部区域，由外到内：区、街道、社区、网格")
