"""REST API under /api/stats/: indicators, rankings, bulletins, residents' ratings and satisfaction surveys.
Readers: street office / community staff and district admins; publishing: district admins; rating: the reporter
through the tracking code (anonymous) or their account; survey entry: the permission stats.add_satisfactionsurvey."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from stats import services
from stats.indicators import Period, totals, unit_figures
from stats.models import Bulletin, SatisfactionSurvey
from stats.permissions import BulletinPublisher, StatsReader, SurveyPermission
from stats.rankings import rank
from stats.serializers import (
    BulletinDetailSerializer,
    BulletinSerializer,
    FigureQuerySerializer,
    IndicatorsSerializer,
    PublishSerializer,
    RankingQuerySerializer,
    RankingSerializer,
    RatingInputSerializer,
    RatingSerializer,
    SurveyInputSerializer,
    SurveyQuerySerializer,
    SurveySerializer,
)

ERROR = OpenApiResponse(inline_serializer("StatsError", {"detail": serializers.CharField()}), description=_("错误说明"))


def _query(request, serializer_class=FigureQuerySerializer):
    q = serializer_class(data=request.query_params)
    q.is_valid(raise_exception=True)
    period = Period.of(q.validated_data["period"], q.validated_date())
    return period, q.validated_data["level"], q.validated_data


def _only(figures, units):
    return [f for f in figures if f.unit_id in set(units)] if units else figures


def _error(exc: services.StatsError) -> Response:
    return Response({"detail": exc.message}, status=exc.status_code)


def _period(period: Period) -> dict:
    return {"kind": period.kind, "start": period.start, "end": period.end, "label": period.label}


class IndicatorsView(APIView):
    permission_classes = [StatsReader]

    @extend_schema(parameters=[FigureQuerySerializer], responses=IndicatorsSerializer, summary="各单位指标")
    def get(self, request):
        period, level, q = _query(request)
        figures = _only(unit_figures(period=period, level=level), q.get("unit"))
        data = {"period": _period(period), "units": figures, "total": totals(figures)}
        return Response(IndicatorsSerializer(data).data)


class RankingsView(APIView):
    permission_classes = [StatsReader]

    @extend_schema(parameters=[RankingQuerySerializer], responses=RankingSerializer, summary="排名与红黑榜")
    def get(self, request):
        period, level, q = _query(request, RankingQuerySerializer)
        rk = rank(unit_figures(period=period, level=level), level=level, period=period, w=q.get("weights"))
        data = {
            "period": _period(period),
            "level": level,
            "ranked": [
                {"rank": r, "score": s, "figures": f}
                for r, s, f in rk.ranked
                if not q.get("unit") or f.unit_id in q["unit"]
            ],
            "no_data": _only(rk.no_data, q.get("unit")),
            "red": rk.red,
            "black": rk.black,
        }
        return Response(RankingSerializer(data).data)


class BulletinViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Bulletin.objects.all()
    permission_classes = [BulletinPublisher]

    def get_serializer_class(self):
        return BulletinDetailSerializer if self.action == "retrieve" else BulletinSerializer

    @extend_schema(request=PublishSerializer, responses={201: BulletinSerializer}, summary="发布简报（新版本）")
    def create(self, request):
        s = PublishSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        bulletin = services.publish_bulletin(
            week=s.validated_data["week"], by=request.user, note=s.validated_data["note"]
        )
        return Response(BulletinSerializer(bulletin).data, status=status.HTTP_201_CREATED)


class RatingThrottle(AnonRateThrottle):
    scope = "stats_rating"

    def get_rate(self):
        return "60/hour"


class RatingView(APIView):
    """A reporter rates a closed case through its tracking code (anonymous reports) or as the logged-in account
    that reported it."""

    permission_classes = [AllowAny]
    throttle_classes = [RatingThrottle]

    @extend_schema(
        request=RatingInputSerializer,
        responses={201: RatingSerializer, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
        summary="群众评价（结案后，每案一次）",
    )
    def post(self, request):
        s = RatingInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            rating = services.rate_case(user=request.user, **s.validated_data)
        except services.StatsError as exc:
            return _error(exc)
        return Response(RatingSerializer(rating).data, status=status.HTTP_201_CREATED)


class SurveyView(APIView):
    """Manually entered satisfaction results (电话回访 / 暗访 / 网上评分): read by statistics readers, entered
    by users with the permission stats.add_satisfactionsurvey."""

    permission_classes = [SurveyPermission]

    @extend_schema(parameters=[SurveyQuerySerializer], responses=SurveySerializer(many=True), summary="满意度调查结果")
    def get(self, request):
        q = SurveyQuerySerializer(data=request.query_params)
        q.is_valid(raise_exception=True)
        qs = SatisfactionSurvey.objects.all()
        if q.validated_data.get("level"):
            qs = qs.filter(level=q.validated_data["level"])
        if q.validated_data.get("start"):
            qs = qs.filter(period_start__gte=q.validated_data["start"])
        if q.validated_data.get("end"):
            qs = qs.filter(period_end__lte=q.validated_data["end"])
        return Response(SurveySerializer(qs[:1000], many=True).data)

    @extend_schema(
        request=SurveyInputSerializer,
        responses={201: SurveySerializer, 400: ERROR, 403: ERROR, 409: ERROR},
        summary="录入满意度调查结果",
    )
    def post(self, request):
        s = SurveyInputSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        try:
            survey = services.enter_survey(by=request.user, **s.validated_data)
        except services.StatsError as exc:
            return _error(exc)
        return Response(SurveySerializer(survey).data, status=status.HTTP_201_CREATED)
