from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from notify import services
from notify.models import Endpoint, Notification, Status


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ("recipient_name", "recipient_kind", "recipient_id", "channel", "address_display", "is_active")
    list_filter = ("channel", "recipient_kind", "is_active")
    search_fields = ("recipient_name",)
    readonly_fields = ("created_at", "updated_at")
    fields = (
        "recipient_kind",
        "recipient_id",
        "recipient_name",
        "channel",
        "address",
        "events",
        "is_active",
        "created_at",
        "updated_at",
    )

    @admin.display(description=_("地址"))
    def address_display(self, obj: Endpoint) -> str:
        return obj.masked_address


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: notifications are written by notify() and the delivery jobs. Failed ones can be sent again."""

    list_display = (
        "created_at",
        "event",
        "recipient_name",
        "recipient_kind",
        "channel",
        "address_display",
        "status",
        "attempts",
        "sent_at",
    )
    list_filter = ("status", "channel", "event", "recipient_kind")
    search_fields = ("delivery_key", "recipient_name", "event")
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False
    actions = ["resend"]
    exclude = ("address",)
    readonly_fields = (
        "event",
        "recipient_kind",
        "recipient_id",
        "recipient_name",
        "channel",
        "address_display",
        "endpoint",
        "payload",
        "delivery_key",
        "status",
        "attempts",
        "last_error",
        "job_id",
        "created_at",
        "last_attempt_at",
        "sent_at",
    )

    @admin.display(description=_("地址"))
    def address_display(self, obj: Notification) -> str:
        return obj.masked_address

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("重新发送所选的失败通知"), permissions=["resend"])
    def resend(self, request, queryset):
        count = 0
        for notification in queryset.filter(status=Status.FAILED):
            services.notification_resend(notification=notification)
            count += 1
        self.message_user(request, _("已重新排队 %(count)d 条通知。") % {"count": count}, messages.SUCCESS)

    def has_resend_permission(self, request):
        return request.user.has_perm("notify.change_notification")
