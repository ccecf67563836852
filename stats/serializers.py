from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from stats.indicators import LEVELS, PERIOD_KINDS  # noqa: F401 (LEVELS: the same values as SurveyLevel)
from stats.models import Bulletin, CaseRating, SatisfactionSurvey, SurveyLevel, SurveyMethod


class FigureQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(
        choices=PERIOD_KINDS, default="week", help_text=_("周期：day/week/month/quarter/half_year")
    )
    date = serializers.DateField(required=False, help_text=_("周期内任一日期，默认今天"))
    level = serializers.ChoiceField(choices=SurveyLevel.choices, default="street_office", help_text=_("单位层级"))
    unit = serializers.ListField(
        child=serializers.IntegerField(min_value=1), required=False, help_text=_("只返回这些单位 id（可重复）")
    )

    def validated_date(self):
        return self.validated_data.get("date") or timezone.localdate()


class RankingQuerySerializer(FigureQuerySerializer):
    weights = serializers.CharField(
        required=False,
        help_text=_("综合得分权重，如 closure_rate:0.5,satisfaction_rate:0.5（默认为设置 STATS_WEIGHTS）"),
    )

    def validate_weights(self, value):
        from stats.rankings import parse_weights

        try:
            return parse_weights(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class RatesSerializer(serializers.Serializer):
    closure_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    on_time_closure_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    rework_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    accurate_dispatch_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    on_time_dispatch_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    patrol_coverage_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    attendance_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    attendance_on_time_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    satisfaction_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)


class UnitFiguresSerializer(serializers.Serializer):
    level = serializers.CharField()
    unit_id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    due = serializers.IntegerField()
    closed = serializers.IntegerField()
    closed_on_time = serializers.IntegerField()
    overdue_open = serializers.IntegerField()
    rework = serializers.IntegerField()
    dispatched = serializers.IntegerField()
    returned = serializers.IntegerField()
    dispatch_due = serializers.IntegerField(help_text=_("应派遣数：本期上报、已派遣或已超派遣时限"))
    dispatched_on_time = serializers.IntegerField(help_text=_("按时派遣数"))
    avg_close_hours = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    lanes_due = serializers.IntegerField()
    lanes_covered = serializers.IntegerField()
    must_attend = serializers.IntegerField()
    attended = serializers.IntegerField()
    attended_on_time = serializers.IntegerField()
    ratings = serializers.IntegerField(help_text=_("本期群众评价数"))
    rating_points = serializers.IntegerField(help_text=_("评价得分合计（1–5 星折合 0–100 分）"))
    survey_sample = serializers.IntegerField(help_text=_("满意度调查样本数合计"))
    survey_points = serializers.DecimalField(max_digits=20, decimal_places=2, help_text=_("调查得分 × 样本数合计"))
    rates = RatesSerializer()


class PeriodSerializer(serializers.Serializer):
    kind = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField(help_text=_("不含"))
    label = serializers.CharField()


class IndicatorsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    units = UnitFiguresSerializer(many=True)
    total = UnitFiguresSerializer()


class RankedSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.DecimalField(max_digits=6, decimal_places=2)
    figures = UnitFiguresSerializer()


class RankingSerializer(serializers.Serializer):
    period = PeriodSerializer()
    level = serializers.CharField()
    ranked = RankedSerializer(many=True)
    no_data = UnitFiguresSerializer(many=True)
    red = serializers.ListField(child=serializers.IntegerField())
    black = serializers.ListField(child=serializers.IntegerField())


class BulletinSerializer(serializers.ModelSerializer):
    class Meta:
        model = Bulletin
        fields = ["id", "kind", "period_start", "period_end", "label", "version", "note", "published_at", "sha256"]


class BulletinDetailSerializer(BulletinSerializer):
    class Meta(BulletinSerializer.Meta):
        fields = [*BulletinSerializer.Meta.fields, "content"]


class PublishSerializer(serializers.Serializer):
    week = serializers.DateField(help_text=_("该周内任一日期"))
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class RatingInputSerializer(serializers.Serializer):
    tracking_code = serializers.CharField(max_length=16, help_text=_("案件查询码"))
    score = serializers.IntegerField(min_value=1, max_value=5, help_text=_("评分 1–5（5 为非常满意）"))
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class RatingSerializer(serializers.ModelSerializer):
    tracking_code = serializers.CharField(source="case.tracking_code", read_only=True)

    class Meta:
        model = CaseRating
        fields = ["tracking_code", "score", "comment", "channel", "rated_at"]


class SurveyInputSerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=SurveyLevel.choices)
    unit_id = serializers.IntegerField(min_value=1, help_text=_("区域、中队或部门 id（与层级对应）"))
    period_start = serializers.DateField()
    period_end = serializers.DateField(help_text=_("不含"))
    method = serializers.ChoiceField(choices=SurveyMethod.choices)
    score = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100)
    sample_size = serializers.IntegerField(min_value=1)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class SurveySerializer(serializers.ModelSerializer):
    unit_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = SatisfactionSurvey
        fields = [
            "id",
            "level",
            "unit_id",
            "period_start",
            "period_end",
            "method",
            "score",
            "sample_size",
            "note",
            "entered_by",
            "entered_at",
        ]


class SurveyQuerySerializer(serializers.Serializer):
    level = serializers.ChoiceField(choices=SurveyLevel.choices, required=False)
    start = serializers.DateField(required=False, help_text=_("调查期间起于此日或之后"))
    end = serializers.DateField(required=False, help_text=_("调查期间止于此日或之前（不含）"))
