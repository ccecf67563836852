from django.contrib import admin, messages
from django.utils.translation import gettext as _

from open311.models import ApiKey, Open311Request
from open311.services import issue_api_key


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """New keys are issued by open311.services.issue_api_key: the key is shown once, in a message."""

    list_display = ["name", "prefix", "active", "can_post", "rate_per_hour", "created_at"]
    list_filter = ["active", "can_post"]
    search_fields = ["name", "contact", "prefix"]
    readonly_fields = ["prefix", "created_at"]
    fields = ["name", "contact", "active", "can_post", "rate_per_hour", "acts_as", "prefix", "created_at"]
    raw_id_fields = ["acts_as"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = issue_api_key(
            name=obj.name,
            contact=obj.contact,
            rate_per_hour=obj.rate_per_hour,
            can_post=obj.can_post,
            acts_as=obj.acts_as,
        )
        obj.pk = key.pk
        obj.prefix, obj.key_hash, obj.created_at = key.prefix, key.key_hash, key.created_at
        obj._state.adding = False
        obj._state.db = key._state.db
        messages.warning(request, _("新密钥（只显示这一次，请妥善转交）：%(key)s") % {"key": raw})


@admin.register(Open311Request)
class Open311RequestAdmin(admin.ModelAdmin):
    list_display = ["case", "api_key", "created_at"]
    list_filter = ["api_key"]
    raw_id_fields = ["case"]
    readonly_fields = ["case", "api_key", "media_url", "attributes", "created_at"]
