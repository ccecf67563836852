"""REST API under /api/stats/: indicators, rankings, bulletins. Readers: street office / community staff and
district admins; publishing: district admins."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from stats import services
from stats.indicators import Period, totals, unit_figures
from stats.models import Bulletin
from stats.permissions import BulletinPublisher, StatsReader
from stats.rankings import rank
from stats.serializers import (
    BulletinDetailSerializer,
    BulletinSerializer,
    FigureQuerySerializer,
    IndicatorsSerializer,
    PublishSerializer,
    RankingSerializer,
)


def _query(request):
    q = FigureQuerySerializer(data=request.query_params)
    q.is_valid(raise_exception=True)
    period = Period.of(q.validated_data["period"], q.validated_date())
    return period, q.validated_data["level"]


def _period(period: Period) -> dict:
    return {"kind": period.kind, "start": period.start, "end": period.end, "label": period.label}


class IndicatorsView(APIView):
    permission_classes = [StatsReader]

    @extend_schema(parameters=[FigureQuerySerializer], responses=IndicatorsSerializer, summary="各单位指标")
    def get(self, request):
        period, level = _query(request)
        figures = unit_figures(period=period, level=level)
        data = {"period": _period(period), "units": figures, "total": totals(figures)}
        return Response(IndicatorsSerializer(data).data)


class RankingsView(APIView):
    permission_classes = [StatsReader]

    @extend_schema(parameters=[FigureQuerySerializer], responses=RankingSerializer, summary="排名与红黑榜")
    def get(self, request):
        period, level = _query(request)
        rk = rank(unit_figures(period=period, level=level), level=level, period=period)
        data = {
            "period": _period(period),
            "level": level,
            "ranked": [{"rank": r, "score": s, "figures": f} for r, s, f in rk.ranked],
            "no_data": rk.no_data,
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
