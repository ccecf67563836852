"""Serializers: input checking and output shapes only; decisions live in cases.services / selectors."""

from __future__ import annotations

import copy

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from cases import workflow as wf
from cases.models import Attachment, AttachmentKind, Attendance, Case, CaseEvent, Category, Status
from cases.permissions import roles_for
from cases.selectors import case_clock
from common.geo import COORDSYS


class FieldsOnceMixin:
    """For output-only model serializers: the fields are introspected from the model once per class, then copied
    for each instance (DRF otherwise rebuilds them for every instance: more than half the CPU of serialising a case).
    The fields depend only on the class (Meta and declared fields), never on the instance or the context."""

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built")
        if built is None:
            built = super().get_fields()
            cls._fields_built = built
        return copy.deepcopy(built)


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Category
        fields = [
            "code",
            "name",
            "kind",
            "parent",
            "is_group",
            "owner",
            "deadline_amount",
            "deadline_unit",
            "sensitive",
            "must_attend",
        ]


class PointInput(serializers.Serializer):
    lon = serializers.FloatField(help_text=_("经度"))
    lat = serializers.FloatField(help_text=_("纬度"))
    coordsys = serializers.ChoiceField(
        choices=COORDSYS, default="wgs84", help_text=_("坐标系：wgs84（GPS）或 gcj02（高德/腾讯地图）")
    )


class CaseCreateSerializer(PointInput):
    category = serializers.CharField(max_length=32, help_text=_("类别编码，见 /api/cases/categories/"))
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    lane = serializers.IntegerField(required=False, allow_null=True, default=None, help_text=_("街巷 id（可选）"))
    contact = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text=_("联系方式（不公开，仅办理人员可见）")
    )
    idempotency_key = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("客户端生成的唯一键；重试时相同的键返回第一次创建的案件。也可用请求头 Idempotency-Key"),
    )
    photos = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, help_text=_("照片（multipart，可多张）")
    )


class TransitionSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text=_("客户端看到的案件版本号；已被他人更新时返回 409"))
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    lon = serializers.FloatField(required=False, allow_null=True, default=None)
    lat = serializers.FloatField(required=False, allow_null=True, default=None)
    coordsys = serializers.ChoiceField(choices=COORDSYS, default="wgs84")
    squad = serializers.IntegerField(required=False, help_text=_("assign：指派的中队 id"))
    hours = serializers.FloatField(required=False, help_text=_("request_extension：延期小时数"))
    into = serializers.IntegerField(required=False, help_text=_("merge：合并到的案件 id"))
    photos = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, help_text=_("resolve：处置后照片")
    )


class AttendanceInputSerializer(PointInput):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    photo = serializers.FileField(required=False, allow_null=True, default=None)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(
        choices=[k for k in AttachmentKind.choices if k[0] != AttachmentKind.ATTENDANCE], default=AttachmentKind.BEFORE
    )


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    exif_location = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "kind", "content_type", "size_bytes", "width", "height", "exif_location", "created_at", "url"]

    def get_url(self, obj) -> str:
        return reverse("case-attachment-file", kwargs={"pk": obj.case_id, "attachment_id": obj.pk})

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_exif_location(self, obj):
        return {"lon": obj.exif_point.x, "lat": obj.exif_point.y} if obj.exif_point else None


class CaseEventSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    action_label = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = [
            "id",
            "at",
            "action",
            "action_label",
            "from_status",
            "to_status",
            "actor_name",
            "actor_role",
            "note",
            "location",
            "data",
        ]

    def get_action_label(self, obj) -> str:
        t = wf.TRANSITIONS.get(obj.action)
        labels = {"report": _("上报"), "merged_in": _("并入重复案件")}
        return str(t.label if t else labels.get(obj.action, obj.action))

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_location(self, obj):
        return {"lon": obj.point.x, "lat": obj.point.y} if obj.point else None


class AttendanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attendance
        fields = ["id", "case", "person_name", "distance_m", "at", "late", "note", "photo"]


def _clock(obj, context):
    calendar = context.get("calendar")
    return case_clock(obj, now=context.get("now") or timezone.now(), calendar=calendar)


class CaseFeatureSerializer(FieldsOnceMixin, GeoFeatureModelSerializer):
    """A case as a GeoJSON feature (lists and maps)."""

    category = serializers.CharField(source="category.code")
    category_name = serializers.CharField(source="category.name")
    status_label = serializers.CharField(source="get_status_display")
    squad_name = serializers.CharField(source="squad.name", default=None, allow_null=True)
    lane_name = serializers.CharField(source="lane.name", default=None, allow_null=True)
    street_office_code = serializers.CharField(source="street_office.code")
    light = serializers.SerializerMethodField(help_text=_("红绿灯：green / yellow / red，未计时为空"))

    class Meta:
        model = Case
        geo_field = "point"
        fields = [
            "id",
            "tracking_code",
            "category",
            "category_name",
            "status",
            "status_label",
            "owner_queue",
            "squad",
            "squad_name",
            "lane",
            "lane_name",
            "street_office_code",
            "deadline",
            "light",
            "supervision_level",
            "version",
            "created_at",
        ]

    def get_light(self, obj) -> str:
        return _clock(obj, self.context).light


class CaseDetailSerializer(CaseFeatureSerializer):
    community_code = serializers.CharField(source="community.code", default=None, allow_null=True)
    grid_cell_code = serializers.CharField(source="grid_cell.code", default=None, allow_null=True)
    clock = serializers.SerializerMethodField()
    roles = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()
    reporter_contact = serializers.SerializerMethodField()
    merged_into_code = serializers.CharField(source="merged_into.tracking_code", default=None, allow_null=True)
    sensitive = serializers.BooleanField(source="category.sensitive")
    must_attend = serializers.BooleanField(source="category.must_attend")

    class Meta(CaseFeatureSerializer.Meta):
        fields = CaseFeatureSerializer.Meta.fields + [
            "description",
            "source",
            "sensitive",
            "must_attend",
            "lane_distance_m",
            "grid_cell_code",
            "community_code",
            "routing_reason",
            "dispatched_at",
            "accepted_at",
            "resolved_at",
            "closed_at",
            "clock",
            "extension_request",
            "supervision_due",
            "spot_check_due",
            "merged_into",
            "merged_into_code",
            "reporter_contact",
            "roles",
            "allowed_actions",
            "updated_at",
        ]

    def _roles(self, obj) -> set[str]:
        scope = self.context.get("scope")
        return roles_for(scope, obj) if scope is not None else set()

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_clock(self, obj):
        clock = _clock(obj, self.context)
        return {"light": clock.light, "used": clock.used, "remaining_seconds": clock.remaining_seconds}

    def get_roles(self, obj) -> list[str]:
        return sorted(self._roles(obj))

    def get_allowed_actions(self, obj) -> list[str]:
        return wf.allowed_actions(status=obj.status, roles=self._roles(obj))

    def get_reporter_contact(self, obj) -> str | None:
        """Private: only the people handling the case (its squad, the staff, the district) see it."""
        roles = self._roles(obj)
        if roles & {wf.HANDLER, wf.STREET_STAFF, wf.DISTRICT_ADMIN}:
            return obj.reporter_contact
        return None


# --- the answer to a new report, written out by hand ---------------------------------------------------------------
# POST /api/cases/ answers every submission with the whole case; through the generic GeoJSON serializer machinery
# (field objects, attribute lookups by dotted source, a GeoJSON round trip for the point) that was a quarter of the
# CPU of a submission. These functions build the same output directly. They must give exactly what
# CaseDetailSerializer / DuplicateSerializer give (same keys in the same order, same values and types):
# cases/tests/test_submission.py compares them on cases in every state. A field added to either serializer must be
# added here too (the tests fail until it is).
_DATETIME = serializers.DateTimeField()  # DRF's own formatting: ISO 8601 in the current time zone, "Z" for UTC


def _dt(value):
    return None if value is None else _DATETIME.to_representation(value)


def _str(value):
    return None if value is None else str(value)


_STATUS_LABELS = dict(Status.choices)  # what Case.get_status_display looks up (translated when rendered)


def _status_label(status) -> str:
    """str(case.get_status_display()) without rebuilding the field's flat choices on every call."""
    return str(_STATUS_LABELS.get(status, status))


_GEOMETRY = GeometryField()  # the point through GDAL's GeoJSON, as GeoFeatureModelSerializer writes it (GDAL rounds)


def case_detail_data(case: Case, context: dict) -> dict:
    """CaseDetailSerializer(case, context=context).data, built directly (see above)."""
    clock = _clock(case, context)
    scope = context.get("scope")
    roles = roles_for(scope, case) if scope is not None else set()
    category = case.category
    squad = case.squad if case.squad_id is not None else None
    lane = case.lane if case.lane_id is not None else None
    grid_cell = case.grid_cell if case.grid_cell_id is not None else None
    community = case.community if case.community_id is not None else None
    merged_into = case.merged_into if case.merged_into_id is not None else None
    contact = case.reporter_contact if roles & {wf.HANDLER, wf.STREET_STAFF, wf.DISTRICT_ADMIN} else None
    properties = {
        "tracking_code": _str(case.tracking_code),
        "category": _str(category.code),
        "category_name": _str(category.name),
        "status": _str(case.status),
        "status_label": _status_label(case.status),
        "owner_queue": _str(case.owner_queue),
        "squad": case.squad_id,
        "squad_name": _str(squad.name) if squad is not None else None,
        "lane": case.lane_id,
        "lane_name": _str(lane.name) if lane is not None else None,
        "street_office_code": _str(case.street_office.code),
        "deadline": _dt(case.deadline),
        "light": clock.light,
        "supervision_level": None if case.supervision_level is None else int(case.supervision_level),
        "version": None if case.version is None else int(case.version),
        "created_at": _dt(case.created_at),
        "description": _str(case.description),
        "source": _str(case.source),
        "sensitive": None if category.sensitive is None else bool(category.sensitive),
        "must_attend": None if category.must_attend is None else bool(category.must_attend),
        "lane_distance_m": None if case.lane_distance_m is None else float(case.lane_distance_m),
        "grid_cell_code": _str(grid_cell.code) if grid_cell is not None else None,
        "community_code": _str(community.code) if community is not None else None,
        "routing_reason": _str(case.routing_reason),
        "dispatched_at": _dt(case.dispatched_at),
        "accepted_at": _dt(case.accepted_at),
        "resolved_at": _dt(case.resolved_at),
        "closed_at": _dt(case.closed_at),
        "clock": {"light": clock.light, "used": clock.used, "remaining_seconds": clock.remaining_seconds},
        "extension_request": case.extension_request,
        "supervision_due": _dt(case.supervision_due),
        "spot_check_due": None if case.spot_check_due is None else bool(case.spot_check_due),
        "merged_into": case.merged_into_id,
        "merged_into_code": _str(merged_into.tracking_code) if merged_into is not None else None,
        "reporter_contact": contact,
        "roles": sorted(roles),
        "allowed_actions": wf.allowed_actions(status=case.status, roles=roles),
        "updated_at": _dt(case.updated_at),
    }
    return {
        "id": int(case.pk),
        "type": "Feature",
        "geometry": _GEOMETRY.to_representation(case.point),
        "properties": properties,
    }


def duplicate_data(row) -> dict:
    """DuplicateSerializer's output for a row of cases.selectors.possible_duplicates."""
    return {
        "id": int(row.id),
        "tracking_code": _str(row.tracking_code),
        "status": _str(row.status),
        "status_label": _status_label(row.status),
        "distance_m": float(row.distance_m),
        "created_at": _dt(row.created_at),
        "version": int(row.version),
    }


class InboxItemSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    category_name = serializers.CharField(source="category.name")
    status_label = serializers.CharField(source="get_status_display")
    squad_name = serializers.CharField(source="squad.name", default=None, allow_null=True)
    lane_name = serializers.CharField(source="lane.name", default=None, allow_null=True)
    light = serializers.SerializerMethodField()
    remaining_seconds = serializers.SerializerMethodField()
    lon = serializers.FloatField(source="point.x")
    lat = serializers.FloatField(source="point.y")

    class Meta:
        model = Case
        fields = [
            "id",
            "tracking_code",
            "category_name",
            "status",
            "status_label",
            "owner_queue",
            "squad_name",
            "lane_name",
            "description",
            "deadline",
            "light",
            "remaining_seconds",
            "supervision_level",
            "version",
            "lon",
            "lat",
        ]

    def get_light(self, obj) -> str:
        return _clock(obj, self.context).light

    def get_remaining_seconds(self, obj) -> int:
        return _clock(obj, self.context).remaining_seconds


class DuplicateSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    distance_m = serializers.FloatField()
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = Case
        fields = ["id", "tracking_code", "status", "status_label", "distance_m", "created_at", "version"]


class PublicCaseSerializer(serializers.Serializer):
    """The public tracking view (cases.selectors.public_view)."""

    tracking_code = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    sensitive = serializers.BooleanField()
    category = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    lane = serializers.CharField(required=False)
    street_office = serializers.CharField(required=False)
    lon = serializers.FloatField(required=False)
    lat = serializers.FloatField(required=False)
    merged_into = serializers.CharField(required=False)
    timeline = serializers.ListField(child=serializers.DictField())


class AttendanceReportSerializer(serializers.Serializer):
    case = serializers.IntegerField()
    tracking_code = serializers.CharField()
    category_name = serializers.CharField()
    created_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=["on_time", "late", "missing", "pending"])
    attendances = AttendanceSerializer(many=True)
