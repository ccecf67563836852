from django.contrib import admin

from stats.models import Bulletin


@admin.register(Bulletin)
class BulletinAdmin(admin.ModelAdmin):
    list_display = ["label", "version", "kind", "published_at", "published_by"]
    list_filter = ["kind"]
    readonly_fields = [f.name for f in Bulletin._meta.fields]

    def has_add_permission(self, request):
        return False  # published through stats.services.publish_bulletin only

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
