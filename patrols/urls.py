"""Included at the site root: API under api/patrols/, pages under patrols/."""

from django.urls import path

from patrols import api, views

urlpatterns = [
    path("api/patrols/", api.PatrolListView.as_view(), name="patrols-api-list"),
    path("api/patrols/upload/", api.PatrolUploadView.as_view(), name="patrols-api-upload"),
    path("api/patrols/<int:pk>/", api.PatrolDetailView.as_view(), name="patrols-api-detail"),
    path("api/patrols/<int:pk>/points/", api.PatrolPointsView.as_view(), name="patrols-api-points"),
    path("api/patrols/<int:pk>/finish/", api.PatrolFinishView.as_view(), name="patrols-api-finish"),
    path("api/patrols/<int:pk>/findings/", api.PatrolFindingsView.as_view(), name="patrols-api-findings"),
    path("api/patrols/<int:pk>/photos/", api.PatrolPhotosView.as_view(), name="patrols-api-photos"),
    path("api/patrols/coverage/", api.CoverageSummaryView.as_view(), name="patrols-api-coverage"),
    path("api/patrols/coverage/lanes/", api.LaneCoverageView.as_view(), name="patrols-api-coverage-lanes"),
    path("api/patrols/reports/", api.ReportListView.as_view(), name="patrols-api-reports"),
    path("api/patrols/reports/<int:pk>/", api.ReportDetailView.as_view(), name="patrols-api-report"),
    path("api/patrols/reports/<int:pk>/xlsx/", api.ReportXlsxView.as_view(), name="patrols-api-report-xlsx"),
    path("api/patrols/lanes/<int:lane_id>/calendar/", api.LaneCalendarView.as_view(), name="patrols-api-lane-calendar"),
    path("api/patrols/people/<int:person_id>/stats/", api.PersonStatsView.as_view(), name="patrols-api-person-stats"),
    path("api/patrols/people/<int:person_id>/day/", api.PersonDayView.as_view(), name="patrols-api-person-day"),
    path("api/patrols/days/<str:day>/close/", api.CloseDayView.as_view(), name="patrols-api-close-day"),
    path("patrols/live/", views.live, name="patrols-live"),
    path("patrols/reports/", views.report_list, name="patrols-reports"),
    path("patrols/reports/<int:pk>/", views.report_detail, name="patrols-report"),
    path("patrols/reports/<int:pk>/xlsx/", views.report_download, name="patrols-report-xlsx"),
    path("patrols/lanes/<int:lane_id>/calendar/", views.lane_calendar, name="patrols-lane-calendar"),
]
