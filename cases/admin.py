"""Admin: categories, calendar days and staff scopes are edited here; cases are read here (they change only
through the workflow, so the admin cannot edit their state) and their timeline can never be edited."""

from django.contrib import admin

from cases.models import Attachment, Attendance, CalendarDay, Case, CaseEvent, Category, StaffScope


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "name",
        "kind",
        "parent",
        "owner",
        "deadline_amount",
        "deadline_unit",
        "sensitive",
        "must_attend",
        "active",
    ]
    list_filter = ["kind", "is_group", "owner", "sensitive", "must_attend", "active"]
    search_fields = ["code", "name"]
    list_editable = ["active"]
    ordering = ["order", "code"]


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ["date", "is_workday", "note"]
    list_filter = ["is_workday"]
    date_hierarchy = "date"


@admin.register(StaffScope)
class StaffScopeAdmin(admin.ModelAdmin):
    list_display = ["user", "area"]
    search_fields = ["user__username", "area__name", "area__code"]
    autocomplete_fields = ["user"]
    raw_id_fields = ["area"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CaseEventInline(ReadOnlyInline):
    model = CaseEvent
    fields = ["at", "action", "from_status", "to_status", "actor_name", "actor_role", "note"]
    readonly_fields = fields
    ordering = ["at", "id"]


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ["kind", "content_type", "size_bytes", "width", "height", "created_at"]
    readonly_fields = fields


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = [
        "tracking_code",
        "category",
        "status",
        "owner_queue",
        "squad",
        "lane",
        "street_office",
        "deadline",
        "supervision_level",
        "created_at",
    ]
    list_filter = ["status", "owner_queue", "supervision_level", "source", "category__kind"]
    search_fields = ["tracking_code", "description", "lane__name"]
    date_hierarchy = "created_at"
    list_select_related = ["category", "squad", "lane", "street_office"]
    inlines = [CaseEventInline, AttachmentInline]
    readonly_fields = [f.name for f in Case._meta.fields]

    def has_add_permission(self, request):
        return False  # cases are filed through the API or the report page, and routed there

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CaseEvent)
class CaseEventAdmin(admin.ModelAdmin):
    list_display = ["case", "at", "action", "from_status", "to_status", "actor_name"]
    list_filter = ["action"]
    search_fields = ["case__tracking_code", "note"]
    readonly_fields = [f.name for f in CaseEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Attendance)
class AttendanceAdmin(admin.ModelAdmin):
    list_display = ["case", "person_name", "at", "distance_m", "late"]
    list_filter = ["late"]
    readonly_fields = ["case", "user", "person_name", "point", "distance_m", "at", "late", "note", "photo"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
