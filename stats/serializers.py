from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from stats.indicators import LEVELS, PERIOD_KINDS
from stats.models import Bulletin


class FigureQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(
        choices=PERIOD_KINDS, default="week", help_text=_("周期：day/week/month/quarter/half_year")
    )
    date = serializers.DateField(required=False, help_text=_("周期内任一日期，默认今天"))
    level = serializers.ChoiceField(choices=LEVELS, default="street_office", help_text=_("单位层级"))

    def validated_date(self):
        return self.validated_data.get("date") or timezone.localdate()


class RatesSerializer(serializers.Serializer):
    closure_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    on_time_closure_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    rework_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    accurate_dispatch_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    patrol_coverage_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    attendance_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    attendance_on_time_rate = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)


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
    avg_close_hours = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    lanes_due = serializers.IntegerField()
    lanes_covered = serializers.IntegerField()
    must_attend = serializers.IntegerField()
    attended = serializers.IntegerField()
    attended_on_time = serializers.IntegerField()
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
