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
