"""Notifications and where they go.

An Endpoint says "recipient (kind, id) receives notifications on channel C at address A"; notify() creates one
Notification per (recipient, endpoint) and a queue job that delivers it. Addresses (webhook URLs, e-mail addresses,
phone numbers) are private: they are never shown on public pages or endpoints, never put in job arguments, logs or
error messages in clear.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from notify.recipients import Recipient


class RecipientKind(models.TextChoices):
    SQUAD = "squad", _("中队")
    PERSON = "person", _("人员")
    STREET_OFFICE = "street_office", _("街道")
    DISTRICT = "district", _("区")
    COMMUNITY = "community", _("社区")


class Channel(models.TextChoices):
    WEBHOOK = "webhook", _("Webhook")
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")


class Status(models.TextChoices):
    QUEUED = "queued", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


ADDRESS_FORMATS = {
    Channel.WEBHOOK: r"^https?://[^\s/?#]+[^\s]*$",
    Channel.EMAIL: r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    Channel.SMS: r"^\+?[0-9][0-9\- ]{2,31}$",
}


def mask_address(channel: str, address: str) -> str:
    """What may be shown of a private address: a phone keeps its first 3 and last 4 digits (138****5678), an
    e-mail its first letter and domain (z***@example.org), a webhook its scheme and host only."""
    if not address:
        return ""
    if channel == Channel.SMS:
        digits = "".join(ch for ch in address if ch.isdigit())
        if len(digits) >= 11:
            return f"{digits[:3]}****{digits[-4:]}"
        return "*" * max(len(digits) - 2, 1) + digits[-2:]
    if channel == Channel.EMAIL:
        local, _sep, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    scheme, _sep, rest = address.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/***"


class RecipientFields(models.Model):
    recipient_kind = models.CharField(_("接收方类型"), max_length=20, choices=RecipientKind.choices)
    recipient_id = models.BigIntegerField(_("接收方编号"))
    recipient_name = models.CharField(_("接收方名称"), max_length=100, blank=True)

    class Meta:
        abstract = True

    @property
    def recipient(self) -> Recipient:
        return Recipient(kind=self.recipient_kind, id=self.recipient_id, name=self.recipient_name)

    @property
    def masked_address(self) -> str:
        return mask_address(self.channel, self.address)


class Endpoint(RecipientFields):
    """Where a recipient receives notifications: one address per (recipient, channel). `events` limits the
    endpoint to some events (empty: every event)."""

    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    address = models.CharField(
        _("地址(不公开)"), max_length=500, help_text=_("Webhook 网址、电子邮箱或手机号码;不在任何公开页面显示。")
    )
    events = ArrayField(
        models.CharField(max_length=100),
        blank=True,
        default=list,
        verbose_name=_("事件"),
        help_text=_("只接收这些事件;留空表示接收全部事件。"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知端点")
        verbose_name_plural = _("通知端点")
        ordering = ["recipient_kind", "recipient_id", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_kind", "recipient_id", "channel"],
                name="notify_endpoint_one_per_channel",
                violation_error_message=_("该接收方在此渠道已有通知端点。"),
            ),
            models.CheckConstraint(condition=Q(recipient_id__gt=0), name="notify_endpoint_recipient_id_positive"),
            models.CheckConstraint(
                condition=Q(recipient_kind__in=RecipientKind.values), name="notify_endpoint_recipient_kind_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(channel=Channel.WEBHOOK, address__regex=ADDRESS_FORMATS[Channel.WEBHOOK])
                    | Q(channel=Channel.EMAIL, address__regex=ADDRESS_FORMATS[Channel.EMAIL])
                    | Q(channel=Channel.SMS, address__regex=ADDRESS_FORMATS[Channel.SMS])
                ),
                name="notify_endpoint_address_format",
                violation_error_message=_(
                    "地址与渠道不符:Webhook 须以 http:// 或 https:// 开头,电子邮箱须含 @ 和域名,短信须为电话号码。"
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_name or self.recipient} · {self.get_channel_display()}"


class Notification(RecipientFields):
    """One delivery of one event to one recipient on one channel. `delivery_key` is unique: the same event
    notified twice (a retried request, a re-run sweep) is one row and one delivery."""

    event = models.CharField(_("事件"), max_length=100)
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    address = models.CharField(_("地址(不公开)"), max_length=500)
    endpoint = models.ForeignKey(
        Endpoint, models.SET_NULL, null=True, blank=True, related_name="notifications", verbose_name=_("通知端点")
    )
    payload = models.JSONField(_("内容"), default=dict, blank=True)
    delivery_key = models.CharField(_("投递键"), max_length=300, unique=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    job_id = models.BigIntegerField(_("队列任务"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    last_attempt_at = models.DateTimeField(_("最近尝试时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient_kind", "recipient_id", "-created_at"], name="notify_notif_recipient_idx"),
            models.Index(fields=["created_at"], condition=Q(status="queued"), name="notify_notif_queued_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="notify_notification_status_valid"),
            models.CheckConstraint(
                condition=Q(recipient_kind__in=RecipientKind.values), name="notify_notification_recipient_kind_valid"
            ),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="notify_notification_channel_valid"),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="notify_notification_sent_at_iff_sent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.recipient_name or self.recipient} · {self.get_channel_display()}"
