"""Open311 GeoReport v2 (/open311/v2/): API keys of the client systems allowed to file requests, and the link from a
case to the request that created it (which key, the media_url and attributes the client sent)."""

from django.conf import settings
from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiKey(models.Model):
    """A key held by one client system (a reporting app, a 12345 back office). Only the SHA-256 of the key is
    stored; the key itself is shown once, when issued (open311.services.issue_api_key). Revoke by clearing
    `active`."""

    name = models.CharField(_("持有方"), max_length=100)
    contact = models.CharField(_("联系人"), max_length=200, blank=True)
    prefix = models.CharField(_("密钥前缀"), max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(_("启用"), default=True)
    can_post = models.BooleanField(_("可提交诉求"), default=True)
    rate_per_hour = models.PositiveIntegerField(_("每小时提交上限"), default=600)
    acts_as = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="open311_keys",
        verbose_name=_("回传进度所用账号"),
        help_text=_("后台系统回传办理进度（servicerequestupdates）时以此账号的角色执行；留空则不能回传"),
    )
    created_at = models.DateTimeField(_("签发时间"), default=timezone.now)

    class Meta:
        verbose_name = _("Open311 接口密钥")
        verbose_name_plural = _("Open311 接口密钥")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Open311Request(models.Model):
    """Which key filed which case through Open311, with the fields our cases have no place for."""

    case = models.OneToOneField("cases.Case", models.CASCADE, related_name="open311_request", verbose_name=_("案件"))
    api_key = models.ForeignKey(ApiKey, models.PROTECT, related_name="requests", verbose_name=_("接口密钥"))
    media_url = models.URLField(_("图片链接"), max_length=1000, blank=True)
    attributes = models.JSONField(_("附加属性"), default=dict, blank=True)
    created_at = models.DateTimeField(_("提交时间"), default=timezone.now)

    class Meta:
        verbose_name = _("Open311 诉求")
        verbose_name_plural = _("Open311 诉求")
        ordering = ["-created_at", "-id"]
