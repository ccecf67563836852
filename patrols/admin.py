from django.contrib import admin

from patrols.models import DailyReport, Finding, LaneDayCoverage, Patrol, PatrolLane, PatrolPhoto


class PatrolLaneInline(admin.TabularInline):
    model = PatrolLane
    extra = 0
    can_delete = False
    fields = ["lane", "share", "covered_m", "covered"]
    readonly_fields = fields
    raw_id_fields = ["lane"]

    def has_add_permission(self, request, obj=None):
        return False


class FindingInline(admin.TabularInline):
    model = Finding
    extra = 0
    fields = ["found_at", "category_code", "description", "lane", "case_id", "case_error"]
    readonly_fields = ["case_id", "case_error"]
    raw_id_fields = ["lane"]


@admin.register(Patrol)
class PatrolAdmin(admin.ModelAdmin):
    """Tracks, coverage and cleaning are derived: read-only here (upload or record through the API)."""

    list_display = ["day", "person", "department", "work_group", "source", "status", "length_m", "started_at"]
    list_filter = ["status", "source", "day"]
    search_fields = ["person__name", "notes"]
    date_hierarchy = "day"
    raw_id_fields = ["person", "department", "work_group", "ticked_lanes", "created_by"]
    readonly_fields = [
        "track",
        "length_m",
        "source",
        "coordsys",
        "upload_name",
        "upload_hash",
        "cleaning",
        "coverage_computed_at",
        "created_at",
        "updated_at",
    ]
    inlines = [PatrolLaneInline, FindingInline]


@admin.register(LaneDayCoverage)
class LaneDayCoverageAdmin(admin.ModelAdmin):
    list_display = ["day", "lane", "community", "due", "covered", "best_share"]
    list_filter = ["day", "due", "covered"]
    search_fields = ["lane__name"]
    raw_id_fields = ["lane", "community", "street_office"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DailyReport)
class DailyReportAdmin(admin.ModelAdmin):
    list_display = ["day", "scope", "scope_name", "lanes_due", "lanes_covered", "lanes_missed", "patrols", "findings"]
    list_filter = ["scope", "day"]
    search_fields = ["scope_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PatrolPhoto)
class PatrolPhotoAdmin(admin.ModelAdmin):
    list_display = ["id", "patrol", "finding", "created_at"]
    raw_id_fields = ["patrol", "finding"]
    readonly_fields = ["sha256", "created_at"]
