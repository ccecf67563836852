from django.contrib import admin

from stats.models import Bulletin, CaseRating, SatisfactionSurvey


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


@admin.register(CaseRating)
class CaseRatingAdmin(admin.ModelAdmin):
    """Ratings are the reporters' own words: read-only here (written by stats.services.rate_case)."""

    list_display = ["case", "score", "channel", "rated_at"]
    list_filter = ["score", "channel"]
    search_fields = ["case__tracking_code"]
    readonly_fields = [f.name for f in CaseRating._meta.fields]
    list_select_related = ["case", "case__category"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SatisfactionSurvey)
class SatisfactionSurveyAdmin(admin.ModelAdmin):
    """Survey results are entered through stats.services.enter_survey (API); the admin lists and deletes them
    (a correction: delete, then enter again)."""

    list_display = [
        "level",
        "area",
        "squad",
        "department",
        "period_start",
        "period_end",
        "method",
        "score",
        "sample_size",
    ]
    list_filter = ["level", "method"]
    date_hierarchy = "period_start"
    readonly_fields = [f.name for f in SatisfactionSurvey._meta.fields]
    list_select_related = ["area", "squad", "department"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
