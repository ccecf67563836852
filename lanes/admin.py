from django.contrib import admin
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from common.admin_widgets import OfflineGISModelAdmin
from lanes.models import Lane
from people.models import ChiefAssignment, Role

CELL_CODES_SHOWN = 60  # a long trunk road crosses hundreds of cells; the change page lists the first ones


def _current_chiefs(day):
    return ChiefAssignment.objects.on(day).filter(role=Role.LANE_CHIEF)


class HasChiefFilter(admin.SimpleListFilter):
    title = _("现任街巷长")
    parameter_name = "has_chief"

    def lookups(self, request, model_admin):
        return (("yes", _("有")), ("no", _("无")))

    def queryset(self, request, queryset):
        if self.value() not in ("yes", "no"):
            return queryset
        current = Exists(_current_chiefs(timezone.localdate()).filter(lane=OuterRef("pk")))
        return queryset.filter(current) if self.value() == "yes" else queryset.exclude(current)


@admin.register(Lane)
class LaneAdmin(OfflineGISModelAdmin):
    list_display = ("name", "kind", "length_display", "community", "chiefs_display")
    list_filter = ("kind", HasChiefFilter, ("community", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "name_zh")
    list_select_related = ("community",)
    list_per_page = 100
    show_full_result_count = False
    # community and the grid cells are derived from the geometry by database triggers: never edited here.
    readonly_fields = (
        "length_display",
        "community",
        "grid_cell_codes",
        "source_key",
        "osm_way_ids",
        "tags",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "name_zh", "kind")}),
        (_("走向"), {"fields": ("geom",)}),
        (
            _("由走向自动计算"),
            {
                "fields": ("length_display", "community", "grid_cell_codes"),
                "description": _("所属社区和网格由数据库根据走向自动计算，保存走向后随之更新。"),
            },
        ),
        (_("来源"), {"fields": ("source_key", "osm_way_ids", "tags", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        match = request.resolver_match
        if match and match.url_name and (match.url_name.endswith("_changelist") or match.url_name == "autocomplete"):
            qs = qs.defer("geom", "community__geom").prefetch_related(
                # Names only: a person's phones are never shown outside the people admin.
                Prefetch(
                    "chief_assignments",
                    queryset=_current_chiefs(timezone.localdate())
                    .select_related("person")
                    .only("id", "lane_id", "person__id", "person__name"),
                    to_attr="current_chiefs",
                )
            )
        return qs

    @admin.display(description=_("长度(米)"), ordering="length_m")
    def length_display(self, obj: Lane) -> str:
        return f"{obj.length_m:,.0f}" if obj.length_m is not None else "—"

    @admin.display(description=_("现任街巷长"))
    def chiefs_display(self, obj: Lane) -> str:
        chiefs = getattr(obj, "current_chiefs", None)
        if chiefs is None:
            chiefs = list(_current_chiefs(timezone.localdate()).filter(lane=obj).select_related("person"))
        return "、".join(sorted({a.person.name for a in chiefs})) or "—"

    @admin.display(description=_("途经网格"))
    def grid_cell_codes(self, obj: Lane) -> str:
        if obj.pk is None:
            return "—"
        codes = list(obj.grid_cells.order_by("code").values_list("code", flat=True)[: CELL_CODES_SHOWN + 1])
        if not codes:
            return "—"
        if len(codes) > CELL_CODES_SHOWN:
            total = obj.grid_cells.count()
            return _("%(codes)s … 共 %(total)d 个") % {"codes": ", ".join(codes[:CELL_CODES_SHOWN]), "total": total}
        return ", ".join(codes)
