"""Patrol API (under /api/patrols/). Every view names its permission classes; row-level access comes from
patrols.selectors (a patroller: own patrols; a work group leader: the group's; street office staff and general
lane chiefs: their street office's; superusers, district admins and holders of patrols.view_all_patrols: all).
Only the patroller writes to a patrol. Input problems answer 400 with a message, oversized uploads 413."""

from __future__ import annotations

from datetime import date

from django.contrib.gis.geos import Point
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_gis.pagination import GeoJsonPagination

from common.geo import CoordinateError, to_wgs84
from patrols import selectors, serializers, services
from patrols.importers.tracks import TrackError
from patrols.models import DailyReport, Finding, PatrolStatus
from patrols.reports import report_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CanCloseDay(BasePermission):
    message = _("需要“执行巡查日结”权限。")

    def has_permission(self, request, view):
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("patrols.close_patrol_day")
        )


def error_response(exc: TrackError) -> Response:
    if isinstance(exc, services.UploadTooLarge):
        code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exc, services.PatrolStateError):
        code = status.HTTP_409_CONFLICT
    else:
        code = status.HTTP_400_BAD_REQUEST
    return Response({"detail": str(exc)}, status=code)


def person_of(request):
    from people.models import Person

    person = Person.objects.filter(user=request.user).select_related("department").first()
    if person is None:
        raise PermissionDenied(_("当前账号未关联人员档案，不能记录巡查。请联系管理员。"))
    return person


def parse_day(value, name: str = "day", *, default: date | None = None) -> date:
    if value in (None, ""):
        if default is not None:
            return default
        raise ValidationError({name: _("请提供日期，格式 YYYY-MM-DD。")})
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError({name: _("日期格式应为 YYYY-MM-DD。")}) from None


def own_patrol(request, pk: int):
    patrol = get_object_or_404(selectors.visible_patrols(request.user), pk=pk)
    if not selectors.can_manage_patrol(request.user, patrol):
        raise PermissionDenied(_("只有巡查人本人可以修改这次巡查。"))
    return patrol


# ---------------------------------------------------------------------------------------------------------------
# Patrols


class PatrolListView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        summary="巡查记录列表",
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE),
            OpenApiParameter("person", OpenApiTypes.INT),
            OpenApiParameter("work_group", OpenApiTypes.INT),
            OpenApiParameter("department", OpenApiTypes.INT),
            OpenApiParameter("status", OpenApiTypes.STR, enum=PatrolStatus.values),
        ],
        responses=serializers.PatrolSerializer(many=True),
    )
    def get(self, request):
        qs = selectors.visible_patrols(request.user).prefetch_related("ticked_lanes")
        params = request.query_params
        if params.get("day"):
            qs = qs.filter(day=parse_day(params["day"]))
        for key in ("person", "work_group", "department"):
            if params.get(key):
                try:
                    qs = qs.filter(**{f"{key}_id": int(params[key])})
                except ValueError:
                    raise ValidationError({key: _("应为整数编号。")}) from None
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        paginator = GeoJsonPagination()
        page = paginator.paginate_queryset(qs.order_by("-day", "-started_at", "-id"), request, view=self)
        return paginator.get_paginated_response(serializers.PatrolSerializer(page, many=True).data)

    @extend_schema(
        summary="开始实时巡查（手机逐点上报）",
        request=serializers.PatrolStartSerializer,
        responses={201: serializers.PatrolSerializer},
    )
    def post(self, request):
        person = person_of(request)
        s = serializers.PatrolStartSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            patrol = services.patrol_start(
                person=person,
                coordsys=s.validated_data["coordsys"],
                notes=s.validated_data["notes"],
                ticked_lane_ids=s.validated_data["ticked_lanes"],
                created_by=request.user,
            )
        except TrackError as exc:
            return error_response(exc)
        return Response(serializers.PatrolSerializer(patrol).data, status=status.HTTP_201_CREATED)


class PatrolUploadView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="上传巡查轨迹（GPX / GeoJSON）",
        description=(
            "清洗轨迹（剔除速度超过上限的漂移点等）后记录巡查并计算覆盖街巷。同一文件重复上传返回 200 和已有记录；"
            "跨越午夜的轨迹按日期拆分；格式错误、点数不足、坐标越界、日期不符、远离所有街巷返回 400；过大返回 413。"
        ),
        request={"multipart/form-data": serializers.PatrolUploadSerializer},
        responses={
            201: serializers.UploadResultSerializer,
            200: serializers.UploadResultSerializer,
            400: OpenApiResponse(description="轨迹不可用（原因见 detail）"),
            413: OpenApiResponse(description="文件或点数超过上限"),
        },
    )
    def post(self, request):
        person = person_of(request)
        upload = request.FILES.get("file")
        from patrols import conf

        if upload is not None and upload.size == 0:
            return error_response(TrackError(_("轨迹文件是空的。")))
        if upload is not None and upload.size > conf.get("PATROL_UPLOAD_MAX_BYTES"):
            return error_response(
                services.UploadTooLarge(
                    _("轨迹文件 %(size).1f MB，超过 %(max).1f MB 上限。请分段导出后分别上传。")
                    % {"size": upload.size / 1048576, "max": conf.get("PATROL_UPLOAD_MAX_BYTES") / 1048576}
                )
            )
        s = serializers.PatrolUploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        try:
            outcome = services.patrol_upload(
                person=person,
                data=v["file"].read(),
                filename=v["file"].name or "",
                fmt=v.get("format"),
                coordsys=v["coordsys"],
                day=v.get("day"),
                notes=v["notes"],
                ticked_lane_ids=v["ticked_lanes"],
                created_by=request.user,
            )
        except TrackError as exc:
            return error_response(exc)
        body = {
            "created": outcome.created,
            "messages": outcome.messages,
            "patrols": serializers.PatrolSerializer(outcome.patrols, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK)


class PatrolDetailView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(summary="巡查详情（GeoJSON 要素）", responses=serializers.PatrolSerializer)
    def get(self, request, pk: int):
        patrol = get_object_or_404(selectors.visible_patrols(request.user), pk=pk)
        return Response(serializers.PatrolSerializer(patrol).data)

    @extend_schema(
        summary="修改备注 / 自报已巡街巷",
        request=serializers.PatrolUpdateSerializer,
        responses=serializers.PatrolSerializer,
    )
    def patch(self, request, pk: int):
        patrol = own_patrol(request, pk)
        s = serializers.PatrolUpdateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            patrol = services.patrol_update(
                patrol=patrol, notes=s.validated_data.get("notes"), ticked_lane_ids=s.validated_data.get("ticked_lanes")
            )
        except TrackError as exc:
            return error_response(exc)
        return Response(serializers.PatrolSerializer(patrol).data)

    @extend_schema(summary="删除进行中的巡查", responses={204: None, 409: OpenApiResponse(description="已结束")})
    def delete(self, request, pk: int):
        patrol = own_patrol(request, pk)
        try:
            services.patrol_discard(patrol=patrol)
        except TrackError as exc:
            return error_response(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PatrolPointsView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="实时巡查：上报定位点",
        description="按巡查开始时选择的坐标系（wgs84 / gcj02）上报；同一时间的点重复上报会被忽略。",
        request=serializers.PointsInSerializer,
        responses={200: serializers.PointsResultSerializer, 409: OpenApiResponse(description="巡查已结束")},
    )
    def post(self, request, pk: int):
        patrol = own_patrol(request, pk)
        s = serializers.PointsInSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            result = services.patrol_add_points(patrol=patrol, points=[dict(p) for p in s.validated_data["points"]])
        except TrackError as exc:
            return error_response(exc)
        return Response(result)


class PatrolFinishView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="结束实时巡查",
        request=None,
        responses={200: serializers.PatrolSerializer, 400: OpenApiResponse(description="轨迹不可用")},
    )
    def post(self, request, pk: int):
        patrol = own_patrol(request, pk)
        try:
            patrol = services.patrol_finish(patrol=patrol)
        except TrackError as exc:
            return error_response(exc)
        return Response(serializers.PatrolSerializer(patrol).data)


class PatrolFindingsView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(summary="巡查发现列表", responses=serializers.FindingSerializer(many=True))
    def get(self, request, pk: int):
        patrol = get_object_or_404(selectors.visible_patrols(request.user), pk=pk)
        qs = patrol.findings.select_related("lane").prefetch_related("photos")
        return Response(serializers.FindingSerializer(qs, many=True).data)

    @extend_schema(
        summary="记录巡查发现（自动转为案件）",
        request={
            "multipart/form-data": serializers.FindingCreateSerializer,
            "application/json": serializers.FindingCreateSerializer,
        },
        responses={201: serializers.FindingSerializer},
    )
    def post(self, request, pk: int):
        patrol = own_patrol(request, pk)
        s = serializers.FindingCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        point = None
        if v.get("lon") is not None or v.get("lat") is not None:
            if v.get("lon") is None or v.get("lat") is None:
                raise ValidationError({"detail": _("经度和纬度须同时提供。")})
            try:
                ll = to_wgs84(v["lon"], v["lat"], v["coordsys"])
            except CoordinateError as exc:
                return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
            point = Point(ll.lon, ll.lat, srid=4326)
        try:
            finding = services.finding_add(
                patrol=patrol,
                description=v["description"],
                category_code=v["category_code"],
                point=point,
                found_at=v.get("found_at"),
                photos=request.FILES.getlist("photos"),
            )
        except TrackError as exc:
            return error_response(exc)
        return Response(serializers.FindingSerializer(finding).data, status=status.HTTP_201_CREATED)


class PatrolPhotosView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="上传巡查照片",
        request={"multipart/form-data": serializers.PhotoUploadSerializer},
        responses={201: serializers.PhotoSerializer(many=True)},
    )
    def post(self, request, pk: int):
        patrol = own_patrol(request, pk)
        finding = None
        if request.data.get("finding"):
            finding = get_object_or_404(Finding, pk=request.data["finding"], patrol=patrol)
        try:
            photos = services.patrol_add_photos(patrol=patrol, photos=request.FILES.getlist("photos"), finding=finding)
        except TrackError as exc:
            return error_response(exc)
        return Response(serializers.PhotoSerializer(photos, many=True).data, status=status.HTTP_201_CREATED)


# ---------------------------------------------------------------------------------------------------------------
# Coverage


def _summary_ids(user, by: str) -> list[int] | None:
    """Rows of coverage_summary a user may see (None: all)."""
    from grid.models import Area
    from people.models import Department, WorkGroup

    v = selectors.viewer(user)
    if v.everything:
        return None
    offices = v.street_office_ids
    if by == "street_office":
        return sorted(offices)
    if by == "community":
        return sorted(set(Area.objects.filter(parent_id__in=offices).values_list("id", flat=True)) | v.community_ids)
    led_depts = set(WorkGroup.objects.filter(id__in=v.led_group_ids).values_list("department_id", flat=True))
    depts = set(Department.objects.filter(street_office_id__in=offices).values_list("id", flat=True))
    if by == "department":
        return sorted(depts | led_depts)
    return sorted(set(WorkGroup.objects.filter(department_id__in=depts).values_list("id", flat=True)) | v.led_group_ids)


class CoverageSummaryView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="每日巡查覆盖统计",
        description="已日结日期的应巡、已巡、漏巡街巷数与覆盖率（无应巡街巷时覆盖率为 null，即“无数据”）。",
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE, required=True),
            OpenApiParameter("by", OpenApiTypes.STR, enum=list(selectors.BY_COLUMNS), default="department"),
        ],
        responses=serializers.CoverageSummarySerializer,
    )
    def get(self, request):
        day = parse_day(request.query_params.get("day"))
        by = request.query_params.get("by") or "department"
        if by not in selectors.BY_COLUMNS:
            raise ValidationError({"by": _("只能是 %(v)s。") % {"v": "、".join(selectors.BY_COLUMNS)}})
        ids = _summary_ids(request.user, by)
        rows = [] if ids == [] else selectors.coverage_summary(day=day, by=by, ids=ids)
        return Response({"day": day, "by": by, "closed": selectors.day_closed(day), "rows": rows})


class LaneCoverageView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="街巷每日覆盖（GeoJSON）",
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE, required=True),
            OpenApiParameter("missed", OpenApiTypes.BOOL, description="只看漏巡街巷"),
            OpenApiParameter("work_group", OpenApiTypes.INT),
            OpenApiParameter("department", OpenApiTypes.INT),
            OpenApiParameter("community", OpenApiTypes.INT),
            OpenApiParameter("street_office", OpenApiTypes.INT),
        ],
        responses=serializers.LaneDayCoverageSerializer(many=True),
    )
    def get(self, request):
        from django.contrib.postgres.fields import ArrayField
        from django.db.models import BigIntegerField, BooleanField, DateField, FloatField, OuterRef, Subquery

        from lanes.models import Lane
        from patrols.models import LaneDayCoverage

        params = request.query_params
        day = parse_day(params.get("day"))
        rows = selectors.visible_lane_coverage(request.user).filter(day=day)
        if params.get("missed") in ("1", "true", "True"):
            rows = rows.filter(due=True, covered=False)
        try:
            if params.get("work_group"):
                rows = rows.filter(work_group_ids__contains=[int(params["work_group"])])
            if params.get("department"):
                rows = rows.filter(department_ids__contains=[int(params["department"])])
            if params.get("community"):
                rows = rows.filter(community_id=int(params["community"]))
            if params.get("street_office"):
                rows = rows.filter(street_office_id=int(params["street_office"]))
        except ValueError:
            raise ValidationError({"detail": _("筛选编号应为整数。")}) from None
        row = LaneDayCoverage.objects.filter(lane=OuterRef("pk"), day=day)

        def col(name, field):
            return Subquery(row.values(name)[:1], output_field=field)

        lanes = (
            Lane.objects.filter(pk__in=rows.values("lane_id"))
            .select_related("community")
            .annotate(
                day=col("day", DateField()),
                due=col("due", BooleanField()),
                covered=col("covered", BooleanField()),
                best_share=col("best_share", FloatField()),
                patrol_ids=col("patrol_ids", ArrayField(BigIntegerField())),
            )
            .order_by("name", "id")
        )
        paginator = GeoJsonPagination()
        page = paginator.paginate_queryset(lanes, request, view=self)
        return paginator.get_paginated_response(serializers.LaneDayCoverageSerializer(page, many=True).data)


# ---------------------------------------------------------------------------------------------------------------
# Reports and history


class ReportListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="巡查日报列表",
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE),
            OpenApiParameter("scope", OpenApiTypes.STR, enum=["work_group", "department", "street_office"]),
        ],
        responses=serializers.DailyReportSerializer(many=True),
    )
    def get(self, request):
        qs = selectors.visible_reports(request.user)
        if request.query_params.get("day"):
            qs = qs.filter(day=parse_day(request.query_params["day"]))
        if request.query_params.get("scope"):
            qs = qs.filter(scope=request.query_params["scope"])
        return Response(serializers.DailyReportSerializer(qs[:500], many=True).data)


class ReportDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="巡查日报详情", responses=serializers.DailyReportDetailSerializer)
    def get(self, request, pk: int):
        report = get_object_or_404(selectors.visible_reports(request.user), pk=pk)
        return Response(serializers.DailyReportDetailSerializer(report).data)


def xlsx_response(report: DailyReport) -> HttpResponse:
    from urllib.parse import quote

    response = HttpResponse(report_xlsx(report), content_type=XLSX)
    name = f"巡查日报_{report.scope_name}_{report.day.isoformat()}.xlsx"
    response["Content-Disposition"] = (
        f"attachment; filename=\"patrol-report-{report.id}.xlsx\"; filename*=UTF-8''{quote(name)}"
    )
    return response


class ReportXlsxView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="导出巡查日报（XLSX）", responses={(200, XLSX): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        report = get_object_or_404(selectors.visible_reports(request.user), pk=pk)
        return xlsx_response(report)


class LaneCalendarView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="街巷巡查日历（哪天、由谁巡查）",
        parameters=[OpenApiParameter("year", OpenApiTypes.INT)],
        responses=serializers.LaneCalendarSerializer,
    )
    def get(self, request, lane_id: int):
        from lanes.models import Lane

        lane = get_object_or_404(Lane, pk=lane_id)
        try:
            year = int(request.query_params.get("year") or timezone.localdate().year)
        except ValueError:
            raise ValidationError({"year": _("年份应为整数。")}) from None
        return Response(lane_calendar_data(request.user, lane, year))


def lane_calendar_data(user, lane, year: int) -> dict:
    visible_days = set(
        selectors.visible_lane_coverage(user).filter(lane_id=lane.id, day__year=year).values_list("day", flat=True)
    )
    days = [d for d in selectors.lane_calendar(lane_id=lane.id, year=year) if d["day"] in visible_days]
    return {
        "lane": lane.id,
        "lane_name": lane.name,
        "year": year,
        "days_due": sum(1 for d in days if d["due"]),
        "days_covered": sum(1 for d in days if d["due"] and d["covered"]),
        "days": days,
    }


def may_view_person(user, person) -> bool:
    from people.models import WorkGroup

    v = selectors.viewer(user)
    if v.everything or v.person_id == person.id:
        return True
    if WorkGroup.objects.filter(id__in=v.led_group_ids, members=person).exists():
        return True
    return bool(person.department_id and person.department.street_office_id in v.street_office_ids)


class PersonStatsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(summary="个人巡查累计与连续天数", responses=serializers.PersonStatsSerializer)
    def get(self, request, person_id: int):
        from people.models import Person

        person = get_object_or_404(Person.objects.select_related("department"), pk=person_id)
        if not may_view_person(request.user, person):
            raise PermissionDenied(_("无权查看此人的巡查统计。"))
        return Response(selectors.person_stats(person_id=person.id))


class PersonDayView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        summary="个人某日负责街巷的巡查情况",
        parameters=[OpenApiParameter("day", OpenApiTypes.DATE, required=True)],
        responses=serializers.PersonDaySerializer,
    )
    def get(self, request, person_id: int):
        from people.models import Person

        person = get_object_or_404(Person.objects.select_related("department"), pk=person_id)
        if not may_view_person(request.user, person):
            raise PermissionDenied(_("无权查看此人的巡查统计。"))
        return Response(selectors.person_day(person_id=person.id, day=parse_day(request.query_params.get("day"))))


class CloseDayView(APIView):
    permission_classes = [IsAuthenticated, CanCloseDay]

    @extend_schema(
        summary="立即日结（计算覆盖并生成日报）",
        description="重复日结会替换该日已有的覆盖结果和日报（例如补传轨迹之后）。",
        request=None,
        responses=serializers.CloseDayResultSerializer,
    )
    def post(self, request, day: str):
        d = parse_day(day)
        if d > timezone.localdate():
            raise ValidationError({"day": _("不能日结未来的日期。")})
        result = services.close_day(day=d)
        return Response(result.__dict__)
