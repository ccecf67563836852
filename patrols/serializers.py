from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from lanes.models import Lane
from patrols.models import DailyReport, Finding, Patrol, PatrolPhoto


class CoveredLaneSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    share = serializers.FloatField(help_text=_("轨迹缓冲区内的街巷长度比例"))
    covered = serializers.BooleanField(help_text=_("比例达到最低要求，计为已巡"))


class PatrolSerializer(GeoFeatureModelSerializer):
    """A patrol as a GeoJSON Feature; the geometry is its cleaned track (null while a live patrol has < 2 fixes)."""

    person_name = serializers.CharField(source="person.name", read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True, default=None, allow_null=True)
    work_group_name = serializers.CharField(source="work_group.name", read_only=True, default=None, allow_null=True)
    # Generated from the track in the database; null while a live patrol has no track yet.
    length_m = serializers.FloatField(read_only=True, allow_null=True)
    lanes = serializers.SerializerMethodField()
    findings_count = serializers.SerializerMethodField()

    class Meta:
        model = Patrol
        geo_field = "track"
        fields = [
            "id",
            "person",
            "person_name",
            "department",
            "department_name",
            "work_group",
            "work_group_name",
            "day",
            "started_at",
            "ended_at",
            "length_m",
            "source",
            "coordsys",
            "upload_name",
            "status",
            "notes",
            "cleaning",
            "ticked_lanes",
            "lanes",
            "findings_count",
            "coverage_computed_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(CoveredLaneSerializer(many=True))
    def get_lanes(self, obj):
        links = obj.lane_links.select_related("lane").order_by("-covered", "-share", "lane_id")
        return [
            {"id": ln.lane_id, "name": ln.lane.name, "share": round(ln.share, 4), "covered": ln.covered} for ln in links
        ]

    @extend_schema_field(serializers.IntegerField())
    def get_findings_count(self, obj) -> int:
        return obj.findings.count()


class PatrolStartSerializer(serializers.Serializer):
    coordsys = serializers.ChoiceField(choices=["wgs84", "gcj02"], default="wgs84")
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    ticked_lanes = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)


class PatrolUpdateSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    ticked_lanes = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class PatrolUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("GPX（.gpx）或 GeoJSON（.geojson）轨迹文件"))
    format = serializers.ChoiceField(choices=["gpx", "geojson"], required=False, help_text=_("不填则按内容识别"))
    coordsys = serializers.ChoiceField(choices=["wgs84", "gcj02"], default="wgs84")
    day = serializers.DateField(required=False, help_text=_("巡查日期；轨迹无时间时必填"))
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    ticked_lanes = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)


class UploadResultSerializer(serializers.Serializer):
    created = serializers.BooleanField()
    messages = serializers.ListField(child=serializers.CharField())
    patrols = PatrolSerializer(many=True)


class PointInSerializer(serializers.Serializer):
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    t = serializers.CharField(required=False, allow_null=True, help_text=_("ISO 8601 时间或 Unix 毫秒"))
    accuracy = serializers.FloatField(required=False, allow_null=True, min_value=0)


class PointsInSerializer(serializers.Serializer):
    points = PointInSerializer(many=True, allow_empty=False)


class PointsResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    points_kept = serializers.IntegerField()
    messages = serializers.ListField(child=serializers.CharField())


class PhotoSerializer(serializers.ModelSerializer):
    class Meta:
        model = PatrolPhoto
        fields = ["id", "finding", "image", "created_at"]
        read_only_fields = fields


class FindingSerializer(GeoFeatureModelSerializer):
    lane_name = serializers.CharField(source="lane.name", read_only=True, default=None, allow_null=True)
    photos = PhotoSerializer(many=True, read_only=True)

    class Meta:
        model = Finding
        geo_field = "point"
        fields = [
            "id",
            "patrol",
            "lane",
            "lane_name",
            "category_code",
            "description",
            "case_id",
            "case_error",
            "found_at",
            "photos",
        ]
        read_only_fields = fields


class FindingCreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=2000)
    category_code = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    lon = serializers.FloatField(required=False)
    lat = serializers.FloatField(required=False)
    coordsys = serializers.ChoiceField(choices=["wgs84", "gcj02"], default="wgs84")
    found_at = serializers.DateTimeField(required=False)
    photos = serializers.ListField(child=serializers.FileField(), required=False, default=list)


class PhotoUploadSerializer(serializers.Serializer):
    photos = serializers.ListField(child=serializers.FileField(), allow_empty=False)
    finding = serializers.IntegerField(required=False)


class CoverageRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text=_("为空表示无人负责 / 未划入社区的街巷"))
    name = serializers.CharField(allow_null=True)
    due = serializers.IntegerField()
    covered = serializers.IntegerField()
    missed = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True, help_text=_("覆盖率；无应巡街巷时为 null（无数据）"))


class CoverageSummarySerializer(serializers.Serializer):
    day = serializers.DateField()
    by = serializers.CharField()
    closed = serializers.BooleanField()
    rows = CoverageRowSerializer(many=True)


class LaneDayCoverageSerializer(GeoFeatureModelSerializer):
    """A lane (GeoJSON Feature, its geometry) with its coverage on one closed day (annotated by the view)."""

    day = serializers.DateField(read_only=True)
    due = serializers.BooleanField(read_only=True)
    covered = serializers.BooleanField(read_only=True)
    missed = serializers.SerializerMethodField()
    best_share = serializers.FloatField(read_only=True)
    patrol_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    community_name = serializers.CharField(source="community.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Lane
        geo_field = "geom"
        fields = [
            "id",
            "name",
            "kind",
            "community",
            "community_name",
            "day",
            "due",
            "covered",
            "missed",
            "best_share",
            "patrol_ids",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_missed(self, obj) -> bool:
        return bool(obj.due and not obj.covered)


class DailyReportSerializer(serializers.ModelSerializer):
    coverage_rate = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = DailyReport
        fields = [
            "id",
            "day",
            "scope",
            "scope_id",
            "scope_name",
            "street_office",
            "lanes_due",
            "lanes_covered",
            "lanes_missed",
            "coverage_rate",
            "patrols",
            "findings",
            "created_at",
        ]
        read_only_fields = fields


class DailyReportDetailSerializer(DailyReportSerializer):
    class Meta(DailyReportSerializer.Meta):
        fields = [*DailyReportSerializer.Meta.fields, "data"]
        read_only_fields = fields


class CalendarPatrollerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CalendarDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    due = serializers.BooleanField()
    covered = serializers.BooleanField()
    best_share = serializers.FloatField()
    patrol_ids = serializers.ListField(child=serializers.IntegerField())
    patrollers = CalendarPatrollerSerializer(many=True)


class LaneCalendarSerializer(serializers.Serializer):
    lane = serializers.IntegerField()
    lane_name = serializers.CharField()
    year = serializers.IntegerField()
    days_due = serializers.IntegerField()
    days_covered = serializers.IntegerField()
    days = CalendarDaySerializer(many=True)


class PersonStatsSerializer(serializers.Serializer):
    person_id = serializers.IntegerField()
    patrols = serializers.IntegerField()
    days = serializers.IntegerField()
    distance_km = serializers.FloatField()
    lanes_covered = serializers.IntegerField()
    findings = serializers.IntegerField()
    first_day = serializers.DateField(allow_null=True)
    last_day = serializers.DateField(allow_null=True)
    current_streak = serializers.IntegerField()
    longest_streak = serializers.IntegerField()


class PersonDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    answered_for = serializers.ListField(child=serializers.IntegerField())
    due = serializers.IntegerField()
    covered_by_self = serializers.ListField(child=serializers.IntegerField())
    covered_by_others = serializers.ListField(child=serializers.IntegerField())
    missed = serializers.ListField(child=serializers.IntegerField())
    rate = serializers.FloatField(allow_null=True)


class CloseDayResultSerializer(serializers.Serializer):
    day = serializers.DateField()
    live_finished = serializers.IntegerField()
    patrols = serializers.IntegerField()
    lanes = serializers.IntegerField()
    lanes_due = serializers.IntegerField()
    lanes_covered = serializers.IntegerField()
    reports = serializers.IntegerField()


def _patrol_geometry_is_nullable():
    from drf_spectacular.contrib.rest_framework_gis import GeoFeatureModelSerializerExtension

    class PatrolSerializerSchema(GeoFeatureModelSerializerExtension):
        """A live patrol has no track until it has two fixes: its GeoJSON geometry is null then."""

        target_class = "patrols.serializers.PatrolSerializer"
        match_subclasses = False
        priority = 1

        def map_serializer(self, auto_schema, direction):
            schema = super().map_serializer(auto_schema, direction)
            schema["properties"]["geometry"] = {**schema["properties"]["geometry"], "nullable": True}
            return schema

    return PatrolSerializerSchema


_patrol_geometry_is_nullable()
