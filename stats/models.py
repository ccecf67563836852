"""Published bulletins (简报): a frozen snapshot of the figures of one period. Written only by
stats.services.publish_bulletin; a correction is a new version, never an edit."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Bulletin(models.Model):
    kind = models.CharField(_("周期类型"), max_length=16, default="week")
    period_start = models.DateField(_("起始日期"))
    period_end = models.DateField(_("截止日期(不含)"))
    label = models.CharField(_("期次"), max_length=16)
    version = models.PositiveIntegerField(_("版本"), default=1)
    note = models.TextField(_("更正说明"), blank=True)
    published_at = models.DateTimeField(_("发布时间"))
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("发布人")
    )
    content = models.JSONField(_("冻结数据"))
    html = models.TextField(_("页面"))
    sha256 = models.CharField(_("页面摘要"), max_length=64)

    class Meta:
        verbose_name = _("简报")
        verbose_name_plural = _("简报")
        ordering = ["-period_start", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "period_start", "version"], name="bulletin_unique_version"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="bulletin_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.label} v{self.version}"


class RatingChannel(models.TextChoices):
    TRACKING_CODE = "tracking_code", _("查询码")
    ACCOUNT = "account", _("登录账号")


class CaseRating(models.Model):
    """A reporter's rating of a closed case (群众满意度评价): 1–5, an optional comment, at most one per case.
    Anonymous reporters rate through the case's tracking code, logged-in reporters as themselves. Written only
    by stats.services.rate_case; the database refuses a rating of a case that is not closed (trigger in
    migration 0002) and keeps when the case was closed, which the rating may not precede."""

    case = models.OneToOneField(
        "cases.Case", models.PROTECT, related_name="rating", verbose_name=_("案件"), db_index=True
    )
    score = models.PositiveSmallIntegerField(_("评分(1–5)"))
    comment = models.TextField(_("评价"), max_length=500, blank=True)
    channel = models.CharField(_("评价方式"), max_length=16, choices=RatingChannel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("评价人")
    )
    case_closed_at = models.DateTimeField(_("结案时间"))
    rated_at = models.DateTimeField(_("评价时间"))

    class Meta:
        verbose_name = _("群众评价")
        verbose_name_plural = _("群众评价")
        ordering = ["-rated_at", "-id"]
        indexes = [models.Index(fields=["rated_at"], name="stats_rating_rated_at")]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_5"),
            models.CheckConstraint(
                condition=models.Q(rated_at__gte=models.F("case_closed_at")), name="rating_after_close"
            ),
            models.CheckConstraint(
                condition=models.Q(channel="tracking_code") | models.Q(channel="account", user__isnull=False),
                name="rating_account_has_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.score}"


class SurveyMethod(models.TextChoices):
    PHONE = "phone", _("电话回访")
    VISIT = "visit", _("暗访")
    ONLINE = "online", _("网上评分")


class SurveyLevel(models.TextChoices):
    SQUAD = "squad", _("中队")
    DEPARTMENT = "department", _("部门")
    COMMUNITY = "community", _("社区")
    STREET_OFFICE = "street_office", _("街道")
    DISTRICT = "district", _("区")


class SatisfactionSurvey(models.Model):
    """Residents' satisfaction measured by hand for one unit over one period (电话回访, 暗访, 网上评分): a score
    out of 100 from `sample_size` respondents. The unit is an area (community, street office, district), a squad
    or a department — exactly one, matching `level`. Counts in the figures of every period that contains
    [period_start, period_end). Written only by stats.services.enter_survey."""

    level = models.CharField(_("单位层级"), max_length=16, choices=SurveyLevel.choices)
    area = models.ForeignKey(
        "grid.Area", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("区域")
    )
    squad = models.ForeignKey(
        "people.Squad", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("中队")
    )
    department = models.ForeignKey(
        "people.Department", models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("部门")
    )
    period_start = models.DateField(_("调查起始日期"))
    period_end = models.DateField(_("调查截止日期(不含)"))
    method = models.CharField(_("调查方式"), max_length=16, choices=SurveyMethod.choices)
    score = models.DecimalField(_("满意度得分(0–100)"), max_digits=5, decimal_places=2)
    sample_size = models.PositiveIntegerField(_("样本数"))
    note = models.CharField(_("说明"), max_length=200, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("录入人"))
    entered_at = models.DateTimeField(_("录入时间"))

    class Meta:
        verbose_name = _("满意度调查")
        verbose_name_plural = _("满意度调查")
        ordering = ["-period_start", "level", "id"]
        indexes = [models.Index(fields=["period_start", "period_end"], name="stats_survey_period")]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=0, score__lte=100), name="survey_score_0_100"),
            models.CheckConstraint(condition=models.Q(sample_size__gte=1), name="survey_sample_positive"),
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")), name="survey_period_ordered"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(level__in=["community", "street_office", "district"], area__isnull=False)
                    & models.Q(squad__isnull=True, department__isnull=True)
                )
                | models.Q(level="squad", squad__isnull=False, area__isnull=True, department__isnull=True)
                | models.Q(level="department", department__isnull=False, area__isnull=True, squad__isnull=True),
                name="survey_one_unit_of_level",
            ),
            models.CheckConstraint(
                condition=models.Q(method__in=["phone", "visit", "online"]), name="survey_method_known"
            ),
            models.UniqueConstraint(
                fields=["level", "area", "squad", "department", "period_start", "period_end", "method"],
                name="survey_unique_unit_period_method",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} {self.unit_id} {self.period_start} {self.get_method_display()}"

    @property
    def unit_id(self) -> int:
        return self.area_id or self.squad_id or self.department_id
