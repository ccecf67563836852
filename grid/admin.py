from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from common.admin_widgets import OfflineGISModelAdmin
from grid.models import Area


@admin.register(Area)
class AreaAdmin(OfflineGISModelAdmin):
    list_display = ("code", "name", "level", "parent", "illustrative", "area_display")
    list_display_links = ("code", "name")
    list_filter = ("level", "illustrative")
    search_fields = ("code", "name")
    list_select_related = ("parent",)
    list_per_page = 100
    show_full_result_count = False  # a city has tens of thousands of grid cells
    autocomplete_fields = ("parent",)
    readonly_fields = ("depth", "area_display", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("level", "code", "name", "parent")}),
        (_("边界"), {"fields": ("geom", "illustrative", "source")}),
        (_("自动计算"), {"fields": ("depth", "area_display", "created_at", "updated_at")}),
    )

    @admin.display(description=_("面积(平方米)"), ordering="area_m2")
    def area_display(self, obj: Area) -> str:
        return f"{obj.area_m2:,.0f}" if obj.area_m2 is not None else "—"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        match = request.resolver_match
        if match and match.url_name and (match.url_name.endswith("_changelist") or match.url_name == "autocomplete"):
            # Lists and the parent picker never draw boundaries: do not ship every polygon from the database.
            qs = qs.defer("geom", "parent__geom")
        return qs
