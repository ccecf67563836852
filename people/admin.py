"""Admin for people, appointments, work groups and squads. Lanes and areas are picked by id (raw_id_fields):
their tables are large and their admins belong to other apps."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from people.models import ChiefAssignment, Department, Person, Squad, SquadKind, SquadMembership, WorkGroup


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "street_office")
    search_fields = ("name", "code")
    raw_id_fields = ("street_office",)
    list_select_related = ("street_office",)


class AssignmentInline(admin.TabularInline):
    model = ChiefAssignment
    extra = 0
    fields = ("role", "lane", "area", "valid_from", "valid_to", "duties")
    raw_id_fields = ("lane", "area")
    show_change_link = True


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    # The private phone is shown on the person's own page only, never in lists.
    list_display = ("name", "title", "department", "public_phone", "is_volunteer", "is_party_member")
    list_filter = ("is_volunteer", "is_party_member", "department")
    search_fields = ("name", "title", "department__name", "public_phone", "private_phone")
    raw_id_fields = ("user",)
    autocomplete_fields = ("department",)
    list_select_related = ("department",)
    fieldsets = (
        (None, {"fields": ("name", "title", "department", "user")}),
        (_("联系方式"), {"fields": ("public_phone", "private_phone")}),
        (_("身份"), {"fields": ("is_volunteer", "is_party_member")}),
    )
    inlines = [AssignmentInline]


class CurrentFilter(admin.SimpleListFilter):
    title = _("是否在任")
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return (("yes", _("在任")), ("no", _("已卸任或未开始")))

    def queryset(self, request, queryset):
        from django.utils import timezone

        today = timezone.localdate()
        if self.value() == "yes":
            return queryset.on(today)
        if self.value() == "no":
            return queryset.exclude(pk__in=queryset.on(today).values("pk"))
        return queryset


@admin.register(ChiefAssignment)
class ChiefAssignmentAdmin(admin.ModelAdmin):
    list_display = ("person", "role", "lane", "area", "valid_from", "valid_to")
    list_filter = (CurrentFilter, "role")
    search_fields = ("person__name", "lane__name", "area__name", "area__code")
    raw_id_fields = ("lane", "area")
    autocomplete_fields = ("person",)
    list_select_related = ("person", "lane", "area")
    date_hierarchy = "valid_from"


@admin.register(WorkGroup)
class WorkGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "department", "leader")
    list_filter = ("department",)
    search_fields = ("name", "department__name", "leader__name")
    autocomplete_fields = ("department", "leader", "members")
    raw_id_fields = ("lanes",)
    list_select_related = ("department", "leader")


@admin.register(SquadKind)
class SquadKindAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "order")
    list_editable = ("order",)
    search_fields = ("name", "code")


class SquadMembershipInline(admin.TabularInline):
    model = SquadMembership
    extra = 0
    autocomplete_fields = ("person",)


@admin.register(Squad)
class SquadAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "duty_phone", "street_office")
    list_filter = ("kind",)
    search_fields = ("name", "duty_phone", "street_office__name")
    raw_id_fields = ("street_office", "service_areas", "lanes")
    list_select_related = ("kind", "street_office")
    inlines = [SquadMembershipInline]
