"""REST API under /api/cases/. Thin: input through serializers, decisions in cases.services (writes) and
cases.selectors (reads, with the role rules of cases.permissions applied in every queryset)."""

from __future__ import annotations

from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from cases import conf, selectors, services
from cases import workflow as wf
from cases.calendar import WorkCalendar
from cases.models import Attachment, Case, Category, Status
from cases.permissions import scope_for
from cases.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    AttendanceInputSerializer,
    AttendanceReportSerializer,
    AttendanceSerializer,
    CaseCreateSerializer,
    CaseDetailSerializer,
    CaseEventSerializer,
    CaseFeatureSerializer,
    CategorySerializer,
    DuplicateSerializer,
    InboxItemSerializer,
    PublicCaseSerializer,
    TransitionSerializer,
    case_detail_data,
    duplicate_data,
)
from common.geo import point_from_params
from common.pagination import GeoJsonPagination

ERROR = OpenApiResponse(inline_serializer("CaseError", {"detail": serializers.CharField()}), description=_("错误说明"))


class PublicReportThrottle(AnonRateThrottle):
    """Anonymous reports per client IP (settings CASE_PUBLIC_REPORT_RATE); logged-in users are not throttled."""

    scope = "case_report"

    def get_rate(self):
        return conf.get("CASE_PUBLIC_REPORT_RATE")


class PublicTrackThrottle(AnonRateThrottle):
    scope = "case_track"

    def get_rate(self):
        return "120/hour"


class CaseFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=Status.choices, help_text=_("状态（可重复）"))
    category = filters.CharFilter(field_name="category__code", help_text=_("类别编码"))
    squad = filters.NumberFilter(field_name="squad_id", help_text=_("中队 id"))
    area = filters.CharFilter(method="filter_area", help_text=_("区域编码：区 6 位、街道 9 位、社区 12 位、网格 15 位"))
    created_after = filters.DateFilter(field_name="created_at", lookup_expr="date__gte", help_text=_("上报日期起"))
    created_before = filters.DateFilter(field_name="created_at", lookup_expr="date__lte", help_text=_("上报日期止"))
    overdue = filters.BooleanFilter(method="filter_overdue", help_text=_("是否超期"))

    class Meta:
        model = Case
        fields = ["status", "category", "squad", "area", "created_after", "created_before", "overdue"]

    def filter_area(self, queryset, name, value):
        field = {
            15: "grid_cell__code",
            12: "community__code",
            9: "street_office__code",
            6: "street_office__parent__code",
        }
        key = field.get(len(value or ""))
        if key is None or not value.isdigit():
            return queryset.none()
        return queryset.filter(**{key: value})

    def filter_overdue(self, queryset, name, value):
        q = selectors.overdue_q()
        return queryset.filter(q) if value else queryset.exclude(q)


class CasePagination(GeoJsonPagination):
    page_size = 100
    max_page_size = 500


def _scope(request):
    if not hasattr(request, "_case_scope"):
        request._case_scope = scope_for(request.user)
    return request._case_scope


def _error(exc: services.CaseError) -> Response:
    return Response({"detail": exc.message}, status=exc.status_code)


def _optional_point(data):
    if data.get("lon") is None and data.get("lat") is None:
        return None
    return point_from_params(data)


class CaseViewSet(viewsets.GenericViewSet):
    """Cases (案件): report, list (GeoJSON), read, and move through the workflow one explicit action at a time."""

    serializer_class = CaseFeatureSerializer
    filterset_class = CaseFilter
    pagination_class = CasePagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    lookup_value_regex = r"[0-9]+"

    def get_permissions(self):
        if self.action in ("create", "track", "categories"):
            return [AllowAny()]
        return [IsAuthenticated()]

    def get_throttles(self):
        if self.action == "create":
            return [PublicReportThrottle()]
        if self.action == "track":
            return [PublicTrackThrottle()]
        return []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        return selectors.visible_cases(_scope(self.request))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["now"] = timezone.now()
        if getattr(self, "swagger_fake_view", False):
            context["calendar"] = WorkCalendar.load()
        elif hasattr(self.request, "_case_scope"):
            context["calendar"] = WorkCalendar.load()
            context["scope"] = self.request._case_scope
        else:  # the scope and the calendar in one statement
            self.request._case_scope, context["calendar"] = selectors.scope_and_calendar(self.request.user)
            context["scope"] = self.request._case_scope
        return context

    def handle_exception(self, exc):
        if isinstance(exc, services.CaseError):
            return _error(exc)
        return super().handle_exception(exc)

    def _detail(self, case, *, status_code=status.HTTP_200_OK, extra=None):
        case = selectors.base_queryset().get(pk=case.pk)
        data = CaseDetailSerializer(case, context=self.get_serializer_context()).data
        if extra:
            data["properties"].update(extra)
        return Response(data, status=status_code)

    def _visible(self, pk) -> Case:
        case = selectors.get_visible(_scope(self.request), pk)
        if case is None:
            raise services.CaseNotFound(_("案件不存在"))
        return case

    # --- collection ---------------------------------------------------------------------------------------------
    @extend_schema(summary=_("案件列表（GeoJSON，按角色过滤）"), responses=CaseFeatureSerializer(many=True))
    def list(self, request):
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer(page, many=True)
        return self.get_paginated_response(serializer.data)

    @extend_schema(
        summary=_("上报案件（街巷长登录或公众匿名）"),
        description=_(
            "上报后立即按位置和类别派遣。请求头 Idempotency-Key（或字段 idempotency_key）相同的重试返回第一次创建的案件"
            "（200），新建返回 201。匿名上报限流，返回查询码和公开信息；登录用户返回完整案件及 50 米内同类未办结的疑似重复案件。"
        ),
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        request={"application/json": CaseCreateSerializer, "multipart/form-data": CaseCreateSerializer},
        responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT, 400: ERROR, 429: ERROR},
    )
    def create(self, request):
        serializer = CaseCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        point = point_from_params(data)
        key = request.headers.get("Idempotency-Key") or data.get("idempotency_key") or None
        authenticated = request.user.is_authenticated
        context = self.get_serializer_context()  # the scope and the work calendar, read once for the request
        result = services.report_case(
            category_code=data["category"],
            point=point,
            description=data["description"],
            lane_id=data.get("lane"),
            reporter=request.user,
            contact=data["contact"],
            idempotency_key=key,
            photos=data["photos"],
            reporter_scope=context["scope"] if authenticated else None,
            calendar=context["calendar"],
        )
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        case = result.case
        if not authenticated:
            body = PublicCaseSerializer(selectors.public_view(case)).data
            return Response(body, status=code)
        duplicates = selectors.possible_duplicates(
            scope=context["scope"], category_id=case.category_id, point=case.point, exclude_id=case.pk, limit=20
        )
        extra = {"possible_duplicates": [duplicate_data(row) for row in duplicates]}
        if not result.created:
            return self._detail(case, status_code=code, extra=extra)
        # A new case is answered from the objects report_case wrote (no second read of the row), written out by
        # case_detail_data: the same body as CaseDetailSerializer, without its generic machinery.
        body = case_detail_data(case, context)
        body["properties"].update(extra)
        return Response(body, status=code)

    @extend_schema(summary=_("案件详情"), responses={200: CaseDetailSerializer, 404: ERROR})
    def retrieve(self, request, pk=None):
        return self._detail(self._visible(pk))

    @extend_schema(summary=_("承办收件箱：按处置期限排序"), responses=InboxItemSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def inbox(self, request):
        items = selectors.inbox(_scope(request))[:500]
        return Response(InboxItemSerializer(items, many=True, context=self.get_serializer_context()).data)

    @extend_schema(summary=_("案件类别"), responses=CategorySerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def categories(self, request):
        return Response(
            CategorySerializer(Category.objects.filter(active=True).select_related("parent"), many=True).data
        )

    @extend_schema(
        summary=_("凭查询码查看本人举报（公开字段；涉及居民个人信息的事项只显示状态）"),
        responses={200: PublicCaseSerializer, 404: ERROR},
    )
    @action(detail=False, methods=["get"], url_path=r"track/(?P<code>[A-Za-z0-9]{1,16})", url_name="track")
    def track(self, request, code=None):
        case = selectors.by_tracking_code(code)
        if case is None:
            return Response({"detail": _("查询码不存在")}, status=status.HTTP_404_NOT_FOUND)
        return Response(PublicCaseSerializer(selectors.public_view(case)).data)

    @extend_schema(summary=_("必到事项到场情况（迟到、缺到）"), responses=AttendanceReportSerializer(many=True))
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[], url_path="attendance-report")
    def attendance_report(self, request):
        rows = [
            {
                "case": case.pk,
                "tracking_code": case.tracking_code,
                "category_name": case.category.name,
                "created_at": case.created_at,
                "state": state,
                "attendances": attendances,
            }
            for case, state, attendances in selectors.attendance_report(_scope(request))
        ]
        return Response(AttendanceReportSerializer(rows, many=True).data)

    # --- one case -----------------------------------------------------------------------------------------------
    @extend_schema(
        summary=_("案件记录（时间线，只增不改）"), responses={200: CaseEventSerializer(many=True), 404: ERROR}
    )
    @action(detail=True, methods=["get"])
    def timeline(self, request, pk=None):
        case = self._visible(pk)
        return Response(CaseEventSerializer(selectors.timeline(case), many=True).data)

    @extend_schema(methods=["GET"], summary=_("案件照片"), responses={200: AttachmentSerializer(many=True), 404: ERROR})
    @extend_schema(
        methods=["POST"],
        summary=_("上传照片（JPEG/PNG/WebP；EXIF 位置读取后删除）"),
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    @action(detail=True, methods=["get", "post"])
    def attachments(self, request, pk=None):
        if request.method == "GET":
            case = self._visible(pk)
            return Response(AttachmentSerializer(case.attachments.all(), many=True).data)
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = services.add_attachment(
            case_id=pk,
            user=request.user,
            upload=serializer.validated_data["file"],
            kind=serializer.validated_data["kind"],
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary=_("照片文件"), responses={(200, "image/*"): OpenApiTypes.BINARY, 404: ERROR})
    @action(
        detail=True,
        methods=["get"],
        url_path=r"attachments/(?P<attachment_id>[0-9]+)/file",
        url_name="attachment-file",
    )
    def attachment_file(self, request, pk=None, attachment_id=None):
        case = self._visible(pk)
        attachment = Attachment.objects.filter(case=case, pk=attachment_id).first()
        if attachment is None:
            raise services.CaseNotFound(_("照片不存在"))
        response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @extend_schema(
        summary=_("疑似重复：50 米内同类别未办结案件"), responses={200: DuplicateSerializer(many=True), 404: ERROR}
    )
    @action(detail=True, methods=["get"])
    def duplicates(self, request, pk=None):
        case = self._visible(pk)
        qs = selectors.duplicates_near(category=case.category, point=case.point, exclude_id=case.pk).filter(
            pk__in=selectors.visible_cases(_scope(request)).values("pk")
        )
        return Response(DuplicateSerializer(qs[:50], many=True).data)

    @extend_schema(
        summary=_("街巷长到场登记（六必到）"),
        request={"application/json": AttendanceInputSerializer, "multipart/form-data": AttendanceInputSerializer},
        responses={201: AttendanceSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    @action(detail=True, methods=["post"])
    def attend(self, request, pk=None):
        serializer = AttendanceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attendance = services.record_attendance(
            case_id=pk, user=request.user, point=point_from_params(data), note=data["note"], photo=data["photo"]
        )
        return Response(AttendanceSerializer(attendance).data, status=status.HTTP_201_CREATED)

    def _transition(self, request, pk, action_name):
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        case = services.transition(
            case_id=pk,
            action=action_name,
            user=request.user,
            version=data["version"],
            note=data["note"],
            point=_optional_point(data),
            params={k: data[k] for k in ("squad", "hours", "into") if k in data},
            photos=data["photos"],
        )
        return self._detail(case)


ACTION_HELP = {
    "assign": _("街道/区：指派到指定中队（squad）"),
    "accept": _("承办人受理"),
    "return": _("中队退回（须填理由），自动改派下一候选中队或转街道"),
    "resolve": _("处置完毕：须填说明并上传处置后照片（photos）"),
    "recheck_pass": _("街巷长/街道/区：核查通过"),
    "recheck_fail": _("核查不通过（须填理由），返工"),
    "close": _("结案"),
    "request_extension": _("承办人申请延期（hours，须填理由）"),
    "approve_extension": _("街道/区：批准延期"),
    "reject_extension": _("街道/区：驳回延期（须填理由）"),
    "suspend": _("街道/区：挂账（须填理由），停止计时"),
    "resume": _("街道/区：恢复办理，计时继续"),
    "void": _("街道/区：作废（须填理由）"),
    "merge": _("合并为重复案件（into：目标案件 id）"),
    "spot_check_pass": _("回头看通过"),
    "spot_check_fail": _("回头看不通过（须填理由），返工"),
}


def _make_transition_view(action_name: str):
    transition = wf.TRANSITIONS[action_name]

    def view(self, request, pk=None):
        return self._transition(request, pk, action_name)

    view.__name__ = f"{action_name}_action"
    view.__doc__ = str(ACTION_HELP.get(action_name, transition.label))
    view = action(detail=True, methods=["post"], url_path=action_name.replace("_", "-"), url_name=action_name)(view)
    return extend_schema(
        summary=str(transition.label),
        description=str(ACTION_HELP.get(action_name, "")),
        request={"application/json": TransitionSerializer, "multipart/form-data": TransitionSerializer},
        responses={200: CaseDetailSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )(view)


for _action in wf.USER_ACTIONS:
    if _action != "attend":
        setattr(CaseViewSet, f"{_action}_action", _make_transition_view(_action))
